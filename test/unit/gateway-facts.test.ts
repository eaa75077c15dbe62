import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { checkFacts, compareFacts, FACTS_SHELL, parseFacts, parseIpAddrJson, type GatewayFacts } from '../../src/gateway/facts.js';
import { example } from '../support/topo.js';

const IP_J = JSON.stringify([
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }, { family: 'inet6', local: '::1', prefixlen: 128 }] },
  { ifindex: 2, ifname: 'eth0', flags: ['BROADCAST', 'UP'], addr_info: [{ family: 'inet', local: '143.89.135.171', prefixlen: 24 }] },
  { ifindex: 3, ifname: 'eth1', flags: ['BROADCAST'], addr_info: [{ family: 'inet', local: '10.0.9.2', prefixlen: 24 }] },
]);

const report = (addr: string, tools = ['nft', 'iptables-restore', 'iptables-save', 'ip']) =>
  ['ip_forward=1', ...['nft', 'iptables-restore', 'iptables-save', 'ip'].map((t) => `tool=${t} ${tools.includes(t) ? `/usr/sbin/${t}` : ''}`), `addr=${addr}`].join('\n') + '\n';

describe('gateway facts', () => {
  const gwB = example('seed-vpn').gateways.find((g) => g.name === 'gw-b')!;

  it('parses ip -j addr: names, UP flag, IPv4 addresses only', () => {
    const ifs = parseIpAddrJson(IP_J);
    expect(ifs.map((i) => i.name)).to.deep.equal(['lo', 'eth0', 'eth1']);
    expect(ifs[0]!.addresses).to.deep.equal([{ address: '127.0.0.1', prefix: 8 }]);
    expect(ifs[2]!.up).to.equal(false);
  });

  it('parses the facts section: ip_forward, tools found and not found', () => {
    const f = parseFacts(report(IP_J, ['iptables-restore', 'iptables-save', 'ip']));
    expect(f.ipForward).to.equal('1');
    expect([...f.tools.keys()]).to.deep.equal(['iptables-restore', 'iptables-save', 'ip']);
    expect(f.interfaces).to.have.length(3);
  });

  it('names a wrong address exactly as the issue asks', () => {
    const m = compareFacts(gwB, parseFacts(report(IP_J)));
    expect(m.map((x) => x.message)).to.deep.equal(['gw-b: interface eth1 has 10.0.1.2/24 in the topology but 10.0.9.2/24 on the gateway']);
    expect(m[0]!.kind).to.equal('address-mismatch');
  });

  it('a wrong prefix is a mismatch too; an extra address on the interface is not', () => {
    const facts: GatewayFacts = {
      ipForward: '1',
      tools: new Map([['iptables-restore', 'x'], ['iptables-save', 'x']]),
      interfaces: [
        { name: 'eth0', up: true, addresses: [{ address: '143.89.135.171', prefix: 16 }] },
        { name: 'eth1', up: true, addresses: [{ address: '10.0.1.9', prefix: 24 }, { address: '10.0.1.2', prefix: 24 }] },
      ],
    };
    expect(compareFacts(gwB, facts).map((x) => x.message)).to.deep.equal(['gw-b: interface eth0 has 143.89.135.171/24 in the topology but 143.89.135.171/16 on the gateway']);
  });

  it('a renamed interface: missing, and where its address is now', () => {
    const renamed = IP_J.replace('"eth1"', '"ens4"').replace('10.0.9.2', '10.0.1.2');
    expect(compareFacts(gwB, parseFacts(report(renamed))).map((x) => x.message)).to.deep.equal([
      'gw-b: interface eth1 (10.0.1.2/24 in the topology) does not exist on the gateway; 10.0.1.2 is on ens4 (10.0.1.2/24)',
    ]);
  });

  it('the backend tool must be there', () => {
    const ok = IP_J.replace('10.0.9.2', '10.0.1.2');
    const m = compareFacts({ ...gwB, backend: 'nftables' }, parseFacts(report(ok, ['iptables-restore', 'iptables-save', 'ip'])));
    expect(m.map((x) => x.message)).to.deep.equal(['gw-b: backend nftables needs nft, not found on the gateway (iptables-restore is: backend iptables?)']);
    expect(compareFacts(gwB, parseFacts(report(ok)))).to.deep.equal([]);
  });

  it('a missing or unreadable report is a mismatch, never a pass', () => {
    expect(checkFacts(gwB, undefined).mismatches[0]!.kind).to.equal('unreadable');
    expect(checkFacts(gwB, 'ip_forward=1\naddr=\n').mismatches[0]!.message).to.match(/iproute2/);
    expect(checkFacts(gwB, 'addr=[{oops\n').mismatches[0]!.message).to.match(/cannot read `ip -j addr`/);
  });

  it('the shell snippet runs under sh and its output parses (read-only, this machine)', () => {
    const r = spawnSync('sh', ['-c', `${FACTS_SHELL}\nfacts`], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const f = parseFacts(r.stdout);
    expect(f.interfaces.map((i) => i.name)).to.include('lo');
    expect(f.ipForward).to.match(/^[01]$/);
    expect(f.tools.has('ip')).to.equal(true);
  });
});
