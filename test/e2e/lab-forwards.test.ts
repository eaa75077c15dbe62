// Real packets through natchain's rules: every example topology, both backends, in the lab.
// Each gateway's rendered ruleset is loaded into its namespace directly (iptables-restore
// --noflush / nft -f through lab exec); the SSH rollout is tested elsewhere. For every chain of
// every forward: the connection fails without the rules; with them it reaches the right host,
// which sees the source natchain means it to see; conntrack on every gateway of the chain holds
// the tuples of that hop; and with the gateways' FORWARD policy on DROP the forwards still work
// while other traffic is dropped.
//
// Traffic safety: public addresses are in the documentation ranges; every packet goes from one
// lab namespace to another (the lab adds nothing to the root namespace, checked by labUp/labDown).
import { expect } from 'chai';
import type { Backend, Proto } from '../../src/topology/index.js';
import type { Chain } from '../../src/solve/index.js';
import {
  clientFor,
  conntrack,
  controlFlow,
  expectedTuple,
  labLeftovers,
  labRun,
  loadRules,
  portAt,
  probeChain,
  probeChains,
  sourcePort,
  sourcesAlong,
  targetFor,
  topologyFile,
  useLab,
  withBackend,
  type CtEntry,
  type LabFixture,
} from '../support/lab.js';
import { labProbe } from '../../src/lab/index.js';

const TOPOLOGIES: Array<[string, string]> = [
  ['pf', 'test/e2e/fixtures/seed-portforward-doc.yaml'],
  ['vpn', 'test/e2e/fixtures/seed-vpn-doc.yaml'],
  ['3hop', 'topologies/three-hop.yaml'],
  ['hub', 'topologies/hub-vpn.yaml'],
];
const BACKENDS: Backend[] = ['iptables', 'nftables'];

/** Every (chain, proto, port) the topology's forwards carry; port ranges: every port. */
function flows(chains: Chain[]): Array<{ chain: Chain; proto: Proto; port: number }> {
  const out = [];
  for (const chain of chains) {
    for (const proto of chain.protos) {
      for (let port = chain.dial.ports.from; port <= chain.dial.ports.to; port++) out.push({ chain, proto, port });
    }
  }
  return out;
}

const describeFlow = (c: Chain, proto: Proto, port: number) => `${c.forward} from ${c.source.kind === 'network' ? c.source.network : c.source.kind === 'site' ? c.source.site : c.source.cidr.address}: ${proto} ${c.dial.address}:${port}`;

/** Sends every flow, checks who answered and whom it saw; returns the source port each used. */
async function checkAllFlows(f: LabFixture): Promise<Array<{ chain: Chain; proto: Proto; port: number; sport: number }>> {
  const all = flows(f.solution.chains).map((x) => ({ ...x, sport: sourcePort() }));
  const results = await probeChains(f.lab, all);
  const problems: string[] = [];
  all.forEach((x, i) => {
    const r = results[i]!;
    const client = clientFor(f.lab, x.chain);
    const want = { host: targetFor(f.lab, x.chain).name, peer: sourcesAlong(x.chain, client.address).at(-1)!, port: String(portAt(x.chain.target.ports, x.chain.dial.ports, x.port)) };
    if (!r.ok) problems.push(`${describeFlow(x.chain, x.proto, x.port)} from ${client.name}: ${r.error}`);
    else if (r.fields.host !== want.host || r.fields.peer !== want.peer || r.fields.port !== want.port || r.fields.proto !== x.proto) {
      problems.push(`${describeFlow(x.chain, x.proto, x.port)}: got "${r.reply}", want host=${want.host} peer=${want.peer} port=${want.port}`);
    }
  });
  expect(problems, problems.join('\n')).to.deep.equal([]);
  return all;
}

for (const [short, file] of TOPOLOGIES) {
  for (const backend of BACKENDS) {
    describe(`lab forwards: ${file} (${backend})`, function () {
      this.timeout(60_000);
      const f = useLab(async () => withBackend(await topologyFile(file), backend), `${short}-${backend.slice(0, 3)}`);
      let sent: Awaited<ReturnType<typeof checkAllFlows>> = [];

      it('without natchain rules, no forward gets through', async () => {
        const all = f.solution.chains.flatMap((chain) => chain.protos.map((proto) => ({ chain, proto, port: chain.dial.ports.from, sport: sourcePort() })));
        const results = await probeChains(f.lab, all, 1200);
        const through = all.flatMap((x, i) => (results[i]!.ok ? [`${describeFlow(x.chain, x.proto, x.port)}: ${JSON.stringify(results[i])}`] : []));
        expect(through, 'flows that got through without rules').to.deep.equal([]);
      });

      it('plain routing works before any policy (the control flow the DROP test needs)', async () => {
        const c = controlFlow(f);
        await labRun(f.lab, c.from, c.route);
        const r = await labProbe(f.lab, c.from, { proto: 'tcp', address: c.target.address, port: f.lab.controlPort, timeoutMs: 3000 });
        expect(r.ok, JSON.stringify(r)).to.equal(true);
        if (r.ok) expect(r.fields).to.include({ host: c.target.name, peer: c.seen });
      });

      it('with the rendered rules loaded, every chain reaches its target, which sees the expected source (TCP and UDP, every port)', async () => {
        await loadRules(f);
        sent = await checkAllFlows(f);
      });

      it('conntrack on every gateway of every chain shows that hop\'s original and reply tuples', async () => {
        expect(sent, 'the flows of the previous test').to.not.deep.equal([]);
        const gateways = [...new Set(f.solution.chains.flatMap((c) => c.hops.map((h) => h.gateway)))];
        const tables = new Map<string, CtEntry[]>(await Promise.all(gateways.map(async (g) => [g, await conntrack(f.lab, g)] as [string, CtEntry[]])));
        const problems: string[] = [];
        for (const x of sent) {
          const seen = sourcesAlong(x.chain, clientFor(f.lab, x.chain).address);
          x.chain.hops.forEach((hop, k) => {
            const want = expectedTuple(hop, seen[k]!, portAt(hop.dst.ports, x.chain.dial.ports, x.port), portAt(hop.dnat.ports, x.chain.dial.ports, x.port), x.sport);
            const got = tables.get(hop.gateway)!.find((e) => e.proto === x.proto && e.orig.sport === x.sport && e.orig.src === want.orig.src);
            if (!got) problems.push(`${hop.gateway}: no ${x.proto} entry for ${describeFlow(x.chain, x.proto, x.port)} sport ${x.sport}`);
            else if (JSON.stringify({ orig: got.orig, reply: got.reply }) !== JSON.stringify(want)) {
              problems.push(`${hop.gateway}: ${got.line}\n   want orig ${JSON.stringify(want.orig)} reply ${JSON.stringify(want.reply)}`);
            }
          });
        }
        expect(problems, problems.join('\n')).to.deep.equal([]);
      });

      if (short === 'vpn') {
        it('gw-a\'s conntrack holds the seed\'s entry: orig src=<gw-b public> dst=<gw-a public> dport=22012, reply src=10.0.0.12 sport=22', async () => {
          const sport = 2182; // the seed's client port
          const r = await labProbe(f.lab, 'client-b', { proto: 'tcp', address: '10.0.0.12', port: 22, sourcePort: sport, timeoutMs: 3000 });
          expect(r.ok && r.fields).to.include({ host: 'server-ssh-12', peer: '203.0.113.171', peerport: '2182' });
          const a = (await conntrack(f.lab, 'gw-a')).find((e) => e.orig.sport === sport);
          expect(a?.orig).to.deep.equal({ src: '203.0.113.171', dst: '198.51.100.180', sport, dport: 22012 });
          expect(a?.reply).to.deep.equal({ src: '10.0.0.12', dst: '203.0.113.171', sport: 22, dport: sport });
          const b = (await conntrack(f.lab, 'gw-b')).find((e) => e.orig.sport === sport);
          expect(b?.orig).to.deep.equal({ src: '10.0.1.13', dst: '10.0.0.12', sport, dport: 22 });
          expect(b?.reply).to.deep.equal({ src: '198.51.100.180', dst: '203.0.113.171', sport: 22012, dport: sport });
        });
      }

      if (short === 'pf') {
        it('hairpin: a LAN client dialing the public address reaches the server, which sees the gateway\'s LAN address', async () => {
          const lan = f.lab.hosts.find((h) => h.role === 'client' && h.site === 'lan')!;
          const r = await labProbe(f.lab, lan.name, { proto: 'tcp', address: '203.0.113.4', port: 81, sourcePort: sourcePort(), timeoutMs: 3000 });
          expect(r.ok && r.fields).to.include({ host: 'server-web', peer: '192.168.0.1', port: '8180' });
          // The internet client is seen as itself (no SNAT on the way in).
          const inet = await labProbe(f.lab, 'client-internet', { proto: 'tcp', address: '203.0.113.4', port: 81, timeoutMs: 3000 });
          expect(inet.ok && inet.fields).to.include({ host: 'server-web', peer: '203.0.113.200' });
        });
      }

      it('with FORWARD policy DROP on every gateway, the forwards still work and other traffic is dropped', async () => {
        if (backend === 'iptables') {
          // natchain's NATCHAIN-FORWARD is jumped to first from the same FORWARD chain: its accepts are enough.
          await Promise.all(f.topology.gateways.map((g) => labRun(f.lab, g.name, ['iptables', '-P', 'FORWARD', 'DROP'])));
        } else {
          // nftables: a drop in another table is final (docs/architecture.md, "forward-DROP caveat"), so the
          // admin's policy accepts natchain's flows by the mark natchain sets (acceptMark).
          await loadRules(f, { acceptMark: 0x100 });
          const admin = 'table inet admin {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tmeta mark & 0x100 == 0x100 accept\n\t}\n}\n';
          await Promise.all(f.topology.gateways.map((g) => labRun(f.lab, g.name, ['nft', '-f', '-'], admin)));
        }
        await checkAllFlows(f);
        const c = controlFlow(f);
        const r = await labProbe(f.lab, c.from, { proto: 'tcp', address: c.target.address, port: f.lab.controlPort, timeoutMs: 1200 });
        expect(r, `plain routing through ${c.gateway} must be dropped`).to.deep.equal({ ok: false, error: 'timeout' });
      });

      if (backend === 'nftables') {
        it('an nft drop in another table is final: without accepting natchain\'s mark, the forwards are dropped too (documented caveat)', async () => {
          await Promise.all(f.topology.gateways.map((g) => labRun(f.lab, g.name, ['nft', 'flush', 'chain', 'inet', 'admin', 'forward'])));
          const x = flows(f.solution.chains)[0]!;
          const dropped = await probeChain(f.lab, x.chain, x.proto, x.port, sourcePort(), 1200);
          expect(dropped.ok, 'a forward through an admin drop without the mark rule').to.equal(false);
          // The other documented remedy: the admin accepts DNATed flows.
          await Promise.all(f.topology.gateways.map((g) => labRun(f.lab, g.name, ['nft', 'add', 'rule', 'inet', 'admin', 'forward', 'ct', 'status', 'dnat', 'accept'])));
          await checkAllFlows(f);
        });
      }
    });
  }
}

describe('lab forwards: nothing left behind', () => {
  it('no namespace, process, socket or directory of these labs remains', async function () {
    // Runs after the describes above (mocha runs a file's suites in order), each of which took its lab down.
    expect(await labLeftovers()).to.deep.equal([]);
  });
});

