import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { starterTopology } from '../../src/author/starter.js';
import { compile } from '../../src/compile.js';
import { infer, parseReport, proposalText, type GatewayReport } from '../../src/discover/index.js';
import { natchain } from '../support/cli.js';

/** A gateway report as DISCOVER_COMMAND prints it. */
function report(name: string, addrs: [string, string][], routes: object[] = [], tools = 'nft iptables-restore iptables-save ip', ipf = '1'): GatewayReport {
  const addr = [{ ifname: 'lo', flags: ['UP'], addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] }, ...addrs.map(([ifname, cidr]) => {
    const [local, len] = cidr.split('/');
    return { ifname, flags: ['UP'], addr_info: [{ family: 'inet', local, prefixlen: Number(len) }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] };
  })];
  const t = tools.split(' ').map((x) => `tool=${x} /usr/sbin/${x}`).join('\n');
  return parseReport(name, `ip_forward=${ipf}\n${t}\naddr=${JSON.stringify(addr)}\nroute=${JSON.stringify(routes)}\n`);
}

describe('init: the starter and the discovery proposal', () => {
  it('the starter validates and starts with the schema line; its example forward is commented out', () => {
    const text = starterTopology('../schema/topology.schema.json');
    expect(text.split('\n')[0]).to.equal('# yaml-language-server: $schema=../schema/topology.schema.json');
    const t = compile(text, 'new.yaml').topology;
    expect([t.sites.length, t.networks.length, t.gateways.length, t.forwards.length]).to.deep.equal([1, 1, 1, 0]);
    expect(text).to.match(/^ {2}# ssh-10:$/m);
  });

  it('natchain init writes it (schema path relative to the file), refuses to overwrite', () => {
    const dir = mkdtempSync(join(tmpdir(), 'natchain-init-'));
    try {
      const file = join(dir, 'site.yaml');
      const r = natchain(['init', file]);
      expect(r.code, r.stderr).to.equal(0);
      const first = readFileSync(file, 'utf8').split('\n')[0]!;
      const ref = first.replace('# yaml-language-server: $schema=', '');
      expect(readFileSync(join(dir, ref), 'utf8')).to.contain('natchain topology');
      expect(natchain(['validate', file]).code).to.equal(0);
      writeFileSync(file, 'mine\n');
      const again = natchain(['init', file]);
      expect(again.code).to.equal(64);
      expect(again.stderr).to.contain('exists already');
      expect(readFileSync(file, 'utf8')).to.equal('mine\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('discovery: sites from LANs, networks from shared subnets and public addresses, notes on every guess', () => {
    const p = infer([
      report('gw-hq', [['eth0', '192.0.2.10/24'], ['wg0', '10.255.0.1/24'], ['eth1', '10.10.0.1/24']], [{ dst: '10.10.1.0/24', dev: 'eth1' }, { dst: 'default', dev: 'eth0' }]),
      report('gw-branch-1', [['wg0', '10.255.0.2/24'], ['eth1', '10.20.0.1/24']], [], 'iptables-restore iptables-save ip', '0'),
      report('gw-edge', [['eth0', '203.0.113.20/24'], ['eth1', '10.250.0.1/30']], [{ dst: '10.3.0.0/24', gateway: '10.250.0.2', dev: 'eth1' }]),
    ]);
    expect(p.sites.map((s) => [s.name, s.subnets.map((c) => `${c.address}/${c.prefix}`)])).to.deep.equal([
      ['hq', ['10.10.0.0/24', '10.10.1.0/24']],
      ['branch-1', ['10.20.0.0/24']],
    ]);
    expect(p.networks.map((n) => [n.name, n.public])).to.deep.equal([['internet', true], ['transit', false], ['vpn', false]]);
    expect(p.networks.find((n) => n.name === 'transit')!.note).to.contain('routes 10.3.0.0/24 through it');
    expect(p.gateways.map((g) => g.backend)).to.deep.equal(['nftables', 'iptables', 'nftables']);
    expect(p.gateways[1]!.notes.join()).to.contain('ip_forward is 0');
    expect(p.gateways[2]!.notes.join()).to.be.a('string');
    const text = proposalText(p, 'x.json', ['gw-hq', 'gw-branch-1', 'gw-edge']);
    expect(text).to.contain('wg0: { address: 10.255.0.1/24, network: vpn }');
    const t = compile(text, 'p.yaml').topology;
    expect(t.gateways.map((g) => g.interfaces.length)).to.deep.equal([3, 2, 2]);
  });

  it('discovery: a gateway with one usable interface gets a CHECK note (the proposal then does not validate)', () => {
    const p = infer([report('gw', [['eth0', '10.0.0.1/24']], [], 'ip')]);
    expect(p.gateways[0]!.notes.join('\n')).to.contain('CHECK: only 1 usable interface');
    expect(p.gateways[0]!.notes.join('\n')).to.contain('neither nft nor iptables-restore');
  });
});
