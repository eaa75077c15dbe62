import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { applyPatch } from 'diff';
import { buildState, diffRulesets, diffStates, formatDiff, ruleLineNumbers, solvePartial, type Diff, type State } from '../../src/plan/index.js';
import { renderRuleset } from '../../src/render/index.js';
import { EMPTY_LOCK, solve, type PortLock } from '../../src/solve/index.js';
import { parseTopology } from '../../src/topology/index.js';

const fixture = (name: string) => readFileSync(`test/fixtures/diff/${name}`, 'utf8');
const MESH = fixture('mesh.yaml');

/** One side of a diff from inline YAML. */
function state(yaml: string, label = 't.yaml', lock: PortLock = EMPTY_LOCK): State {
  return buildState({ label, topology: parseTopology(yaml, label), lock, lockLabel: null });
}

/** Diff of two YAML texts (labels old.yaml/new.yaml). */
function diff(a: string, b: string, locks: { old?: PortLock; new?: PortLock } = {}): Diff {
  return diffStates(state(a, 'old.yaml', locks.old), state(b, 'new.yaml', locks.new));
}

/** Replaces exactly one occurrence of `from`, so a test never edits something it did not mean to. */
function edit(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`expected one "${from}", found ${n}`);
  return text.replace(from, to);
}

const GW_A_ETH0 = '      eth0: { address: 198.51.100.1/24, network: internet }\n';
/** gw-a cut off: its only network is an island no other gateway is on. */
const ISLAND = edit(
  edit(edit(MESH, GW_A_ETH0, '      eth0: { address: 10.99.0.1/24, network: island }\n'), '      eth2: { address: 10.250.0.1/24, network: backbone }\n', ''),
  '  backbone:\n',
  '  island: {}\n  backbone:\n',
);

describe('diff engine: nothing changed', () => {
  it('the same topology is no difference', () => {
    const d = diff(MESH, MESH);
    expect(d.identical).to.equal(true);
    expect(d.summary.text).to.equal('no difference');
    expect(d.model).to.deep.equal([]);
    expect(d.chains).to.deep.equal([]);
    expect(d.flags).to.deep.equal([]);
    expect(d.gateways.map((g) => g.change)).to.deep.equal(['untouched', 'untouched', 'untouched']);
  });

  it('reordered keys, other YAML styles, reordered lists and comments are no difference', () => {
    const d = diff(MESH, fixture('mesh-reordered.yaml'));
    expect(d.identical, formatDiff(d)).to.equal(true);
    expect(d.gateways.every((g) => g.change === 'untouched' && g.diff === '')).to.equal(true);
  });

  it('comments alone are no difference, for every example topology', () => {
    for (const name of ['seed-vpn', 'seed-portforward', 'three-hop', 'hub-vpn']) {
      const text = readFileSync(`topologies/${name}.yaml`, 'utf8');
      const commented = '# reviewed\n' + text.replace(/\n/g, '   # note\n').replace(/^(\s+)#.*$/gm, '');
      expect(diff(text, commented).identical, name).to.equal(true);
    }
  });
});

describe('diff engine: model changes', () => {
  it('names the field that changed, old -> new, for every kind of entity', () => {
    let b = MESH;
    b = edit(b, '  a:\n    subnets: [10.1.0.0/24]', '  a:\n    subnets: [10.1.0.0/24, 10.1.1.0/24]'); // subnet added
    b = edit(b, '  backbone:\n    subnet: 10.250.0.0/24', '  backbone:\n    subnet: 10.250.0.0/24\n  spare:\n    public: false'); // network added
    b = edit(b, '  internet:\n    public: true', '  internet:\n    public: true\n    subnet: 198.51.100.0/24'); // network changed
    b = edit(b, '  gw-b:\n    interfaces:', '  gw-b:\n    ssh: { port: 2222, user: admin }\n    interfaces:'); // gateway changed
    b = edit(b, '      eth1: { address: 10.2.0.1/24, site: b }', '      eth1: { address: 10.2.0.254/24, site: b }'); // interface changed
    b = edit(b, '    to: 10.3.0.10:8080', '    to: 10.3.0.10:8443'); // forward changed
    b = edit(b, '    client-b: { address: 10.2.0.13, site: b }', '    client-b: { address: 10.2.0.14, site: b }'); // lab host changed
    const d = diff(MESH, b);
    const m = Object.fromEntries(d.model.map((x) => [`${x.kind} ${x.name}`, x]));
    expect(Object.keys(m)).to.deep.equal(['subnet 10.1.1.0/24', 'network internet', 'network spare', 'gateway gw-b', 'interface gw-b/eth1', 'forward app', 'lab-host client-b']);
    expect(m['subnet 10.1.1.0/24']).to.include({ change: 'added' });
    expect(m['subnet 10.1.1.0/24']!.fields).to.deep.equal([{ field: 'site', old: null, new: 'a' }]);
    expect(m['network internet']!.fields).to.deep.equal([{ field: 'subnet', old: null, new: '198.51.100.0/24' }]);
    expect(m['network spare']).to.include({ change: 'added' });
    expect(m['gateway gw-b']!.fields).to.deep.equal([
      { field: 'ssh.port', old: null, new: '2222' },
      { field: 'ssh.user', old: null, new: 'admin' },
    ]);
    expect(m['interface gw-b/eth1']!.fields).to.deep.equal([{ field: 'address', old: '10.2.0.1/24', new: '10.2.0.254/24' }]);
    expect(m['forward app']!.fields).to.deep.equal([{ field: 'to', old: '10.3.0.10:8080', new: '10.3.0.10:8443' }]);
    expect(m['forward app']!.at).to.match(/^new\.yaml:\d+:\d+$/);
    expect(m['lab-host client-b']!.fields).to.deep.equal([{ field: 'address', old: '10.2.0.13/24', new: '10.2.0.14/24' }]);
    expect(d.identical).to.equal(false);
  });

  it('lists added and removed entities with all their fields', () => {
    const b = edit(MESH, '  dns:\n    from: a\n    to: 10.2.0.53:53\n    proto: both\n', '  ntp:\n    from: b\n    to: 10.3.0.123:123\n    proto: udp\n');
    const d = diff(MESH, b);
    const fwd = d.model.filter((x) => x.kind === 'forward');
    expect(fwd.map((x) => [x.name, x.change])).to.deep.equal([
      ['dns', 'removed'],
      ['ntp', 'added'],
    ]);
    expect(fwd[0]!.fields).to.deep.include({ field: 'proto', old: 'tcp, udp', new: null });
    expect(fwd[1]!.fields).to.deep.include({ field: 'to', old: null, new: '10.3.0.123:123' });
    expect(d.chains.map((c) => [c.forward, c.source, c.change])).to.deep.equal([
      ['dns', 'a', 'removed'],
      ['ntp', 'b', 'added'],
    ]);
    expect(d.summary.forwardsChanged).to.equal(2);
  });

  it('a subnet moving between sites is a subnet change (site old -> new)', () => {
    const a = edit(MESH, '  c:\n    subnets: [10.3.0.0/24]', '  c:\n    subnets: [10.3.0.0/24]\n  d:\n    subnets: [10.4.0.0/24]');
    const b = edit(edit(MESH, '  c:\n    subnets: [10.3.0.0/24]', '  c:\n    subnets: [10.3.0.0/24, 10.4.0.0/24]\n  d:\n    subnets: [10.5.0.0/24]'), 'version: 1', 'version: 1');
    const sub = diff(a, b).model.filter((x) => x.kind === 'subnet');
    expect(sub.map((x) => [x.name, x.change, x.fields])).to.deep.equal([
      ['10.4.0.0/24', 'changed', [{ field: 'site', old: 'd', new: 'c' }]],
      ['10.5.0.0/24', 'added', [{ field: 'site', old: null, new: 'd' }]],
    ]);
  });
});

describe('diff engine: path, address and allow-list fields', () => {
  it('shows allow-lists, via, snat and network routes as model changes', () => {
    let b = edit(MESH, '    from: [internet, a]', '    from: [{ internet: [203.0.113.0/24] }, a]\n    via: [backbone]\n    snat: always');
    b = edit(b, '    subnet: 10.250.0.0/24\n', '    subnet: 10.250.0.0/24\n    routes: [a]\n');
    const d = diff(MESH, b);
    const fields = Object.fromEntries(d.model.map((x) => [`${x.kind} ${x.name}`, x.fields.map((f) => `${f.field}: ${f.old} -> ${f.new}`)]));
    expect(fields).to.deep.equal({
      'network backbone': ['routes: null -> 10.1.0.0/24'],
      'forward web': ['from: a, internet -> a, internet [203.0.113.0/24]', 'via: null -> backbone', 'snat: null -> always'],
    });
  });
});

describe('diff engine: chain changes', () => {
  it('shows chains that moved only because something else changed (a link removed), with the forward marked unchanged', () => {
    const b = edit(MESH, GW_A_ETH0, '');
    const d = diff(MESH, b);
    expect(d.model.map((x) => `${x.change} ${x.kind} ${x.name}`)).to.deep.equal(['removed interface gw-a/eth0']);
    const byKey = Object.fromEntries(d.chains.map((c) => [`${c.forward} from ${c.source}`, c]));
    // web from a crossed the private backbone already (private networks before public ones), so it did not move.
    expect(Object.keys(byKey)).to.deep.equal(['dns from a']);
    for (const c of d.chains) expect(c).to.include({ change: 'changed', forwardChanged: false });
    // dns from a gains a hop: gw-a -> backbone -> gw-c -> internet -> gw-b.
    expect(byKey['dns from a']!.new!.hops.map((h) => h.gateway)).to.deep.equal(['gw-a', 'gw-c', 'gw-b']);
    const text = formatDiff(d);
    expect(text).to.include('dns from a  (forward unchanged: moved by other changes)');
    expect(text).to.match(/old\s+\| new/);
    // what clients dial did not move: no warning for that
    expect(d.flags.filter((f) => f.kind !== 'hop-port-moved')).to.deep.equal([]);
  });

  it('a subnet moved to another site moves the chains to it (forward unchanged)', () => {
    const withFwd = (t: string) => t.replace('forwards:\n', 'forwards:\n  files:\n    from: b\n    to: 10.4.0.10:445\n    proto: tcp\n');
    const a = withFwd(edit(MESH, '  c:\n    subnets: [10.3.0.0/24]', '  c:\n    subnets: [10.3.0.0/24, 10.4.0.0/24]'));
    const b = withFwd(edit(MESH, '  a:\n    subnets: [10.1.0.0/24]', '  a:\n    subnets: [10.1.0.0/24, 10.4.0.0/24]'));
    const d = diff(a, b);
    expect(d.model.map((m) => [m.kind, m.name, m.fields])).to.deep.equal([['subnet', '10.4.0.0/24', [{ field: 'site', old: 'c', new: 'a' }]]]);
    expect(d.chains.map((c) => [c.forward, c.forwardChanged])).to.deep.equal([['files', false]]);
    expect(d.chains[0]!.old!.hops.map((h) => h.gateway)).to.deep.equal(['gw-b', 'gw-c']);
    expect(d.chains[0]!.new!.hops.map((h) => h.gateway)).to.deep.equal(['gw-b', 'gw-a']);
    expect(d.gateways.filter((g) => g.change !== 'untouched').map((g) => g.gateway)).to.deep.equal(['gw-a', 'gw-b', 'gw-c']);
  });

  it('an edited forward\'s chain is marked as edited', () => {
    const d = diff(MESH, edit(MESH, '    to: 10.3.0.10:8080', '    to: 10.3.0.11:8080'));
    expect(d.chains.map((c) => [c.forward, c.forwardChanged])).to.deep.equal([['app', true]]);
    expect(d.flags.map((f) => f.kind)).to.deep.equal(['dial-changed']);
    expect(d.flags[0]!.message).to.include('clients must dial 10.3.0.11:8080 instead of 10.3.0.10:8080');
  });
});

describe('diff engine: what a reviewer must not miss', () => {
  const solved = solve(parseTopology(MESH, 'old.yaml'));
  const appPort = solved.allocations.find((x) => x.forward === 'app' && x.gateway === 'gw-c')!.ports.from;

  it('a hop port that moves because its lock entry is gone', () => {
    // The old side had 25000 in its lock; the new side lost the lock.
    const lock: PortLock = { version: 1, ports: { ...solved.lock.ports, app: { 'gw-c/198.51.100.3': 25000 } } };
    const d = diff(MESH, MESH, { old: lock });
    expect(d.identical).to.equal(false);
    expect(d.model).to.deep.equal([]);
    const f = d.flags.find((x) => x.kind === 'hop-port-moved')!;
    expect(f).to.deep.include({ forward: 'app', gateway: 'gw-c' });
    expect(f.old).to.deep.equal({ address: '198.51.100.3', ports: { from: 25000, to: 25000 }, origin: 'lock' });
    expect(f.new!.ports.from).to.equal(appPort);
    expect(f.message).to.equal(`forward app: port 198.51.100.3:25000 on gateway gw-c moves to ${appPort} (not in the port lock): breaks clients that use it`);
    expect(d.chains.map((c) => [c.forward, c.forwardChanged])).to.deep.equal([['app', false]]);
    expect(d.summary.text).to.match(/^1 forward changed, 2 gateways touched, \d+ rules added, \d+ removed; 1 warning$/);
  });

  it('a hop port that moves because a pin changed', () => {
    const pin = (p: number) => edit(MESH, '    to: 10.3.0.10:8080\n', `    to: 10.3.0.10:8080\n    ports: { gw-c: ${p} }\n`);
    const d = diff(pin(25001), pin(25002));
    expect(d.flags.map((f) => f.message)).to.deep.equal(['forward app: port 198.51.100.3:25001 on gateway gw-c moves to 25002 (pin changed): breaks clients that use it']);
    expect(d.model[0]!.fields).to.deep.equal([{ field: 'ports', old: 'gw-c=25001', new: 'gw-c=25002' }]);
  });

  it('an exposed port that changes', () => {
    const d = diff(MESH, edit(MESH, 'expose: 198.51.100.3:80', 'expose: 198.51.100.3:8080'));
    expect(d.flags.map((f) => f.kind)).to.deep.equal(['hop-port-moved']);
    expect(d.flags[0]!.message).to.include('(exposed port changed): breaks clients that use it');
  });

  it('another forward added never moves an existing one (stable allocation): no warning', () => {
    const lock = solved.lock;
    const b = MESH.replace('forwards:\n', 'forwards:\n  extra:\n    from: b\n    to: 10.3.0.12:9000\n    proto: tcp\n');
    const d = diff(MESH, b, { old: lock, new: lock });
    // Only the new forward's own warning (site b reaches c over the internet only), nothing about ports.
    expect(d.flags.map((f) => [f.kind, f.forward])).to.deep.equal([['public-network', 'extra']]);
    expect(d.chains.map((c) => `${c.change} ${c.forward}`)).to.deep.equal(['added extra']);
  });

  it('a forward that becomes unreachable, with the solver\'s reason', () => {
    const d = diff(MESH, ISLAND);
    const un = d.flags.filter((f) => f.kind === 'unreachable');
    expect(un.map((f) => f.forward)).to.deep.equal(['dns', 'web']);
    expect(un[0]!.message).to.match(/^forward dns becomes unreachable: new\.yaml:\d+:\d+: forward "dns": /);
    expect(d.unsolved.new.map((u) => u.forward)).to.deep.equal(['dns', 'web']);
    // A forward that does not solve has no chain at all (apply would refuse it), so web from the internet goes too.
    expect(d.chains.map((c) => `${c.change} ${c.forward} from ${c.source}`)).to.deep.equal(['removed dns from a', 'removed web from a', 'removed web from internet']);
    expect(d.chains.find((c) => c.forward === 'app')).to.equal(undefined);
    expect(d.flags[0]!.kind).to.equal('unreachable'); // first: the worst news leads
  });

  it('a gateway removed: its rules all go, the forwards through it become unreachable', () => {
    const b = edit(MESH, '  gw-b:\n    interfaces:\n      eth0: { address: 198.51.100.2/24, network: internet }\n      eth1: { address: 10.2.0.1/24, site: b }\n', '');
    const d = diff(MESH, b);
    const gwB = d.gateways.find((g) => g.gateway === 'gw-b')!;
    expect(gwB.change).to.equal('removed');
    expect(gwB.rulesAdded).to.equal(0);
    expect(gwB.rulesRemoved).to.equal(ruleLineNumbers('iptables', state(MESH).rulesets.find((r) => r.gateway === 'gw-b')!.text).size);
    expect(d.model.filter((m) => m.change === 'removed').map((m) => `${m.kind} ${m.name}`)).to.deep.equal(['gateway gw-b', 'interface gw-b/eth0', 'interface gw-b/eth1']);
    expect(d.flags.filter((f) => f.kind === 'unreachable').map((f) => f.forward)).to.deep.equal(['app', 'dns']);
  });

  it('a gateway whose backend changes: flagged, old backend rules removed and new ones added', () => {
    const d = diff(MESH, edit(MESH, '  gw-a:\n    interfaces:', '  gw-a:\n    backend: nftables\n    interfaces:'));
    expect(d.flags.map((f) => [f.kind, f.gateway])).to.deep.equal([['backend-changed', 'gw-a']]);
    const a = d.gateways.filter((g) => g.gateway === 'gw-a');
    expect(a.map((g) => [g.backend, g.change])).to.deep.equal([
      ['iptables', 'removed'],
      ['nftables', 'added'],
    ]);
    expect(a[0]!.rulesRemoved).to.be.greaterThan(0);
    expect(a[1]!.rulesAdded).to.be.greaterThan(0);
    expect(d.model[0]!.fields).to.deep.equal([{ field: 'backend', old: 'iptables', new: 'nftables' }]);
    expect(d.summary.gatewaysTouched).to.equal(1);
  });
});

describe('diff engine: gateway impact is exactly the difference of the rendered rulesets', () => {
  const variants: Record<string, string> = {
    same: MESH,
    reordered: fixture('mesh-reordered.yaml'),
    'link removed': edit(MESH, GW_A_ETH0, ''),
    'gateway removed': edit(MESH, '  gw-b:\n    interfaces:\n      eth0: { address: 198.51.100.2/24, network: internet }\n      eth1: { address: 10.2.0.1/24, site: b }\n', ''),
    'backend changed': edit(MESH, '  gw-a:\n    interfaces:', '  gw-a:\n    backend: nftables\n    interfaces:'),
    'forward removed': edit(MESH, '  dns:\n    from: a\n    to: 10.2.0.53:53\n    proto: both\n', ''),
    'target moved': edit(MESH, '    to: 10.3.0.80:80', '    to: 10.3.0.81:8081'),
    unreachable: ISLAND,
    'hairpin added': edit(MESH, '    expose: 198.51.100.3:80', '    expose: 198.51.100.3:80\n    hairpin: true'),
  };
  /** What each gateway's ruleset is, rendered straight from the solver: the diff engine is not involved. */
  const rendered = (yaml: string) => {
    const t = parseTopology(yaml, 'x.yaml');
    const { solution } = solvePartial(t);
    return new Map(t.gateways.map((g) => [`${g.name} ${g.backend}`, renderRuleset(g, solution.intents[g.name] ?? [])]));
  };

  for (const [na, a] of Object.entries(variants)) {
    for (const [nb, b] of Object.entries(variants)) {
      it(`${na} -> ${nb}`, () => {
        const d = diff(a, b);
        const before = rendered(a);
        const after = rendered(b);
        expect(d.gateways.map((g) => `${g.gateway} ${g.backend}`).sort()).to.deep.equal([...new Set([...before.keys(), ...after.keys()])].sort());
        for (const g of d.gateways) {
          const k = `${g.gateway} ${g.backend}`;
          const o = before.get(k) ?? '';
          const n = after.get(k) ?? '';
          if (g.change === 'untouched') {
            expect(o, k).to.equal(n);
            expect(g.diff).to.equal('');
            continue;
          }
          // Applying the shown diff to the old ruleset gives the new one, byte for byte: nothing invented, nothing hidden.
          expect(applyPatch(o, g.diff), k).to.equal(n);
          expect(g.rulesAdded - g.rulesRemoved, k).to.equal(ruleLineNumbers(g.backend, n).size - ruleLineNumbers(g.backend, o).size);
          expect(g.change).to.equal(!before.has(k) ? 'added' : !after.has(k) ? 'removed' : 'changed');
        }
        expect(d.summary.rulesAdded).to.equal(d.gateways.reduce((s, g) => s + g.rulesAdded, 0));
      });
    }
  }
});

describe('diff engine: plain ruleset texts (desired vs. live)', () => {
  it('compares any per-gateway texts, keyed by gateway and backend, counting rules per backend', () => {
    const live = [
      { gateway: 'gw-1', backend: 'iptables' as const, text: '*nat\n:NATCHAIN-PREROUTING - [0:0]\n-A NATCHAIN-PREROUTING -j DNAT --to-destination 10.0.0.1:22\nCOMMIT\n' },
      { gateway: 'gw-2', backend: 'nftables' as const, text: 'table ip natchain {\n\tchain c {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\ttcp dport 22 dnat to 10.0.0.1\n\t}\n}\n' },
    ];
    const desired = [
      { gateway: 'gw-1', backend: 'iptables' as const, text: '*nat\n:NATCHAIN-PREROUTING - [0:0]\n-A NATCHAIN-PREROUTING -j DNAT --to-destination 10.0.0.2:22\n-A NATCHAIN-PREROUTING -j DNAT --to-destination 10.0.0.3:22\nCOMMIT\n' },
      live[1]!,
      { gateway: 'gw-3', backend: 'nftables' as const, text: 'table ip natchain {\n\tmap m {\n\t\ttype ipv4_addr : verdict\n\t\telements = {\n\t\t\t10.0.0.1 : jump c\n\t\t}\n\t}\n\tchain c {\n\t\tdnat to 10.0.0.9\n\t\tudp dport 53 accept\n\t}\n}\n' },
    ];
    const impact = diffRulesets(live, desired, { oldLabel: 'live', newLabel: 'desired' });
    expect(impact.map((g) => [g.gateway, g.change, g.rulesAdded, g.rulesRemoved])).to.deep.equal([
      ['gw-1', 'changed', 2, 1],
      ['gw-2', 'untouched', 0, 0],
      ['gw-3', 'added', 2, 0], // map elements and the map's type line are not rules
    ]);
    expect(impact[0]!.diff).to.include('--- live/gw-1.iptables\n+++ desired/gw-1.iptables\n');
    expect(applyPatch(live[0]!.text, impact[0]!.diff)).to.equal(desired[0]!.text);
  });

  it('honours the context size', () => {
    const lines = (k: number) => Array.from({ length: 20 }, (_, i) => (i === 10 ? `-A X ${k}` : `# ${i}`)).join('\n') + '\n';
    const one = diffRulesets([{ gateway: 'g', backend: 'iptables', text: lines(1) }], [{ gateway: 'g', backend: 'iptables', text: lines(2) }], { context: 0 });
    expect(one[0]!.diff.split('\n').filter((l) => l.startsWith(' '))).to.deep.equal([]);
  });
});

describe('diff engine: solvePartial', () => {
  it('sets aside the forwards that do not solve and solves the rest', () => {
    const t = parseTopology(ISLAND, 'x.yaml');
    expect(() => solve(t)).to.throw();
    const { solution, unsolved } = solvePartial(t);
    expect(unsolved.map((u) => u.forward)).to.deep.equal(['dns', 'web']);
    expect(unsolved[0]!.diagnostics[0]!.message).to.match(/^forward "dns": /);
    expect([...new Set(solution.chains.map((c) => c.forward))]).to.deep.equal(['app']);
  });
});

describe('diff engine: text output', () => {
  it('has warnings first, then model, chains, gateway impact, and the summary last', () => {
    const d = diff(MESH, edit(MESH, 'expose: 198.51.100.3:80', 'expose: 198.51.100.3:8080'));
    const text = formatDiff(d);
    const at = (s: string) => text.indexOf(s);
    expect(at('Review carefully')).to.be.greaterThan(0);
    expect(at('Review carefully')).to.be.lessThan(at('Model changes'));
    expect(at('Model changes')).to.be.lessThan(at('Chain changes'));
    expect(at('Chain changes')).to.be.lessThan(at('Gateway impact'));
    expect(text).to.include('  ~ forward web  new.yaml:');
    expect(text).to.include('      expose: 198.51.100.3:80 -> 198.51.100.3:8080');
    // web from a reaches gw-c over the backbone (not at the exposed port), so only gw-c changes.
    expect(text).to.match(/untouched: gw-a \(iptables\), gw-b \(iptables\)\n/);
    expect(text.trimEnd().split('\n').at(-1)).to.equal(d.summary.text);
    expect(d.summary.text).to.match(/^1 forward changed, 1 gateway touched, \d+ rules added, \d+ removed; 1 warning$/);
  });

  it('colours through the given paint only', () => {
    const d = diff(MESH, edit(MESH, '    to: 10.3.0.10:8080', '    to: 10.3.0.10:8443'));
    const tag = (t: string) => (s: string) => `<${t}>${s}</${t}>`;
    const text = formatDiff(d, { bold: tag('b'), dim: tag('d'), red: tag('r'), green: tag('g'), yellow: tag('y'), cyan: tag('c') });
    expect(text).to.include('<r>10.3.0.10:8080</r> -> <g>10.3.0.10:8443</g>');
    expect(formatDiff(d)).not.to.match(/<[a-z]>/);
  });
});
