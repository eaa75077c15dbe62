// Path choice, client addresses and allow-lists with real packets (issue 10): one lab, built from
// test/e2e/fixtures/hub-paths.yaml (a hub and two branches on the internet and on a VPN; gw-hq on
// nftables, the branches on iptables), the rendered rules loaded directly into each gateway.
//
// Traffic safety: public addresses are in the documentation ranges; every packet goes from one
// lab namespace to another (the lab adds nothing to the root namespace).
import { expect } from 'chai';
import { labProbe } from '../../src/lab/index.js';
import type { Chain } from '../../src/solve/index.js';
import { clientFor, conntrack, labLeftovers, loadRules, sourcePort, topologyFile, useLab } from '../support/lab.js';

const FILE = 'test/e2e/fixtures/hub-paths.yaml';

describe('lab paths: VPN before internet, client addresses kept, allow-lists (hub-paths.yaml)', function () {
  this.timeout(60_000);
  const f = useLab(() => topologyFile(FILE), 'paths');
  const chain = (forward: string, source: string): Chain =>
    f.solution.chains.find((c) => c.forward === forward && (c.source.kind === 'site' ? c.source.site : c.source.kind === 'network' ? c.source.network : '') === source)!;

  before(async function () {
    if (!f.lab) this.skip();
    await loadRules(f);
  });

  it('branch-to-hq chains cross the VPN although eth0 (internet) sorts before wg0: conntrack on gw-hq sees VPN addresses', async () => {
    // The names that fooled the old solver are there.
    const gw = f.topology.gateways.find((g) => g.name === 'gw-branch-2')!;
    expect(gw.interfaces.find((i) => i.name === 'eth0')!.attach).to.deep.equal({ kind: 'network', name: 'internet' });
    expect(gw.interfaces.find((i) => i.name === 'wg0')!.attach).to.deep.equal({ kind: 'network', name: 'vpn' });
    for (const source of ['branch-1', 'branch-2']) expect(chain('erp', source).hops[0]!.network).to.equal('vpn');

    const b2 = chain('erp', 'branch-2');
    const sport = sourcePort();
    const r = await labProbe(f.lab, clientFor(f.lab, b2).name, { proto: 'tcp', address: '10.10.0.20', port: 443, sourcePort: sport, timeoutMs: 3000 });
    // branch-2 is not routed on the VPN: its gateway SNATs to its VPN address (over the internet it would be 192.0.2.31).
    expect(r.ok && r.fields, JSON.stringify(r)).to.include({ host: 'server-erp', peer: '10.255.0.3' });
    const hq = (await conntrack(f.lab, 'gw-hq')).find((e) => e.orig.sport === sport);
    expect(hq?.orig, hq?.line).to.include({ src: '10.255.0.3', dst: '10.255.0.1' });
    const b2ct = (await conntrack(f.lab, 'gw-branch-2')).find((e) => e.orig.sport === sport);
    expect(b2ct?.reply, b2ct?.line).to.include({ src: '10.255.0.1', dst: '10.255.0.3' });
  });

  it('snat: auto on a routed VPN: hq\'s server sees the branch-1 client\'s own address', async () => {
    const b1 = chain('erp', 'branch-1');
    const client = clientFor(f.lab, b1);
    expect(client.address).to.match(/^10\.20\.0\./);
    const sport = sourcePort();
    const r = await labProbe(f.lab, client.name, { proto: 'tcp', address: '10.10.0.20', port: 443, sourcePort: sport, timeoutMs: 3000 });
    expect(r.ok && r.fields, JSON.stringify(r)).to.include({ host: 'server-erp', peer: client.address });
    // The packet crossed the VPN with the client's address: gw-hq's conntrack entry says so.
    const hq = (await conntrack(f.lab, 'gw-hq')).find((e) => e.orig.sport === sport);
    expect(hq?.orig, hq?.line).to.include({ src: client.address, dst: '10.255.0.1' });
    expect(hq?.reply, hq?.line).to.include({ src: '10.10.0.20', dst: client.address });
  });

  it('snat: always: the server sees gw-hq\'s LAN address; snat: never (accepted: the VPN routes branch-1): the client\'s', async () => {
    const client = clientFor(f.lab, chain('erp-always', 'branch-1'));
    const always = await labProbe(f.lab, client.name, { proto: 'tcp', address: '10.10.0.20', port: 444, timeoutMs: 3000 });
    expect(always.ok && always.fields, JSON.stringify(always)).to.include({ host: 'server-erp', port: '444', peer: '10.10.0.1' });
    const never = await labProbe(f.lab, clientFor(f.lab, chain('erp-never', 'branch-1')).name, { proto: 'tcp', address: '10.10.0.20', port: 445, timeoutMs: 3000 });
    expect(never.ok && never.fields, JSON.stringify(never)).to.include({ host: 'server-erp', port: '445', peer: client.address });
  });

  for (const [forward, address, port, gateway, backend] of [
    ['web-hq', '192.0.2.10', 80, 'gw-hq', 'nftables'],
    ['web-b2', '192.0.2.31', 8080, 'gw-branch-2', 'iptables'],
  ] as const) {
    it(`allow-list (${gateway}, ${backend}): an allowed internet client reaches ${forward}, another one is not even DNATed`, async () => {
      const server = forward === 'web-hq' ? 'server-web-hq' : 'server-web-b2';
      const ok = await labProbe(f.lab, 'insider', { proto: 'tcp', address, port, timeoutMs: 3000 });
      expect(ok.ok && ok.fields, JSON.stringify(ok)).to.include({ host: server, peer: '203.0.113.200' });
      const refused = await labProbe(f.lab, 'outsider', { proto: 'tcp', address, port, timeoutMs: 2000 });
      // Not DNATed: the gateway's own stack got the SYN and refused it (nothing listens there on that port);
      // DNATed, it would have reached the server, which listens and would have answered (as for the insider).
      expect(refused, JSON.stringify(refused)).to.deep.equal({ ok: false, error: 'ECONNREFUSED' });
    });
  }
});

describe('lab paths: nothing left behind', () => {
  it('no namespace, process, socket or directory of this lab remains', async function () {
    expect(await labLeftovers()).to.deep.equal([]);
  });
});
