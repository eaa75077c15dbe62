import { expect } from 'chai';
import { changeToIntents } from '../../src/rollout/owned.js';
import { computeScope, limitScope, type KnownState } from '../../src/rollout/scope.js';
import { example, THREE_GATEWAYS_YAML, topo } from '../support/topo.js';
import { solve } from '../../src/solve/index.js';
import type { Topology } from '../../src/topology/index.js';

/** Desired canonical state per gateway of a topology. */
function desiredOf(t: Topology): { desired: Map<string, string>; chains: ReturnType<typeof solve>['chains'] } {
  const s = solve(t);
  return { desired: new Map(t.gateways.map((g) => [g.name, changeToIntents(g, s.intents[g.name] ?? []).expected])), chains: s.chains };
}

/** hub-vpn with a subset of its forwards (the others removed from the YAML). */
function hubWith(keep: string[]): Topology {
  const t = example('hub-vpn');
  return { ...t, forwards: t.forwards.filter((f) => keep.includes(f.name)) };
}

const live = (canonical: string): KnownState => ({ source: 'live', canonical });

describe('rollout: scope of a change', () => {
  const all = example('hub-vpn');
  const names = all.gateways.map((g) => g.name);
  const full = desiredOf(all);

  it('in sync everywhere: nothing in scope, every gateway outside and in sync', () => {
    const s = computeScope({ gateways: names, chains: full.chains, desired: full.desired, known: new Map(names.map((g) => [g, live(full.desired.get(g)!)])) });
    expect(s.gateways).to.deep.equal([]);
    expect(s.outside.map((o) => o.status)).to.deep.equal(['unchanged', 'unchanged', 'unchanged']);
  });

  it('adding a forward: only the gateways of its chain; an unreachable gateway outside does not block and is named', () => {
    const before = desiredOf(hubWith(['erp', 'syslog', 'web']));
    const known = new Map<string, KnownState>(names.map((g) => [g, live(before.desired.get(g)!)]));
    const s = computeScope({ gateways: names, chains: full.chains, desired: full.desired, known });
    expect(s.forwards.map((f) => `${f.change}:${f.forward}`)).to.deep.equal(['added:cam']);
    const camGws = s.forwards[0]!.gateways;
    expect(s.gateways).to.deep.equal(camGws);
    expect(s.why.get(camGws[0]!)).to.equal('on the chain of +cam');
  });

  it('a gateway outside the change that cannot be reached is reported, not blocking; one inside blocks', () => {
    const t = topo(THREE_GATEWAYS_YAML);
    const gws = t.gateways.map((g) => g.name);
    const after = desiredOf(t);
    const before = desiredOf({ ...t, forwards: t.forwards.filter((f) => f.name === 'old') });
    const known = new Map<string, KnownState>([
      ['gw-a', live(before.desired.get('gw-a')!)],
      ['gw-b', live(before.desired.get('gw-b')!)],
      ['gw-c', { source: 'last-known', canonical: before.desired.get('gw-c')!, reason: 'connection refused' }],
    ]);
    const s = computeScope({ gateways: gws, chains: after.chains, desired: after.desired, known });
    expect(s.gateways).to.deep.equal(['gw-a', 'gw-b']);
    expect(s.blocked).to.deep.equal([]);
    expect(s.outside).to.have.length(1);
    expect(s.outside[0]!.gateway).to.equal('gw-c');
    expect(s.outside[0]!.detail).to.match(/^unreachable \(not in this change; last known state in sync\): connection refused/);
    // Never seen and unreachable, but not on a changed chain: still not blocking.
    known.set('gw-c', { source: 'unknown', reason: 'timeout' });
    expect(computeScope({ gateways: gws, chains: after.chains, desired: after.desired, known }).blocked).to.deep.equal([]);
    // Never seen and unreachable, on the chain of a forward no other gateway shows in place: it cannot be left out.
    const none = computeScope({ gateways: gws, chains: before.chains, desired: before.desired, known: new Map(gws.map((g): [string, KnownState] => [g, { source: 'unknown', reason: 'down' }])) });
    expect(none.blocked.map((b) => b.gateway)).to.deep.equal(['gw-a', 'gw-c']);
    expect(none.why.get('gw-c')).to.equal('state unknown, and no other gateway shows its forward old in place');
    const confirmed = new Map<string, KnownState>([
      ['gw-a', live(before.desired.get('gw-a')!)],
      ['gw-b', live(before.desired.get('gw-b')!)],
      ['gw-c', { source: 'unknown', reason: 'down' }],
    ]);
    expect(computeScope({ gateways: gws, chains: before.chains, desired: before.desired, known: confirmed }).gateways).to.deep.equal([]);
    // Never seen and not read yet: it takes part (its prepare reads it), without blocking.
    const unread = computeScope({ gateways: gws, chains: after.chains, desired: after.desired, known: new Map([...known, ['gw-c', { source: 'unread' }]]) });
    expect(unread.gateways).to.include('gw-c');
    expect(unread.blocked).to.deep.equal([]);
    expect(unread.why.get('gw-c')).to.match(/^natchain has no record of it here/);
    // gw-b unreachable: it is on the changed chain, so the scope is blocked.
    known.set('gw-b', { source: 'unknown', reason: 'no route' });
    const blocked = computeScope({ gateways: gws, chains: after.chains, desired: after.desired, known });
    expect(blocked.blocked).to.deep.equal([{ gateway: 'gw-b', reason: 'no route' }]);
    // A removed forward's gateways come from the state that holds it.
    const removed = computeScope({ gateways: gws, chains: before.chains, desired: before.desired, known: new Map(gws.map((g) => [g, live(after.desired.get(g)!)])) });
    expect(removed.forwards).to.deep.equal([{ forward: 'new', change: 'removed', gateways: ['gw-a', 'gw-b'] }]);
  });

  it('components: gateways sharing changed forwards are closed transitively', () => {
    const empty = new Map(names.map((g) => [g, live(changeToIntents(all.gateways.find((x) => x.name === g)!, []).expected)]));
    const s = computeScope({ gateways: names, chains: full.chains, desired: full.desired, known: empty });
    expect(s.components).to.deep.equal([names]);
  });

  it('--limit widens to whole components and says why; a pattern matching nothing is refused', () => {
    const empty = new Map(names.map((g) => [g, live(changeToIntents(all.gateways.find((x) => x.name === g)!, []).expected)]));
    const s = computeScope({ gateways: names, chains: full.chains, desired: full.desired, known: empty });
    const forwards = all.forwards.map((f) => f.name);
    const r = limitScope(s, names, forwards, ['gw-hq']);
    expect(r.scope.gateways).to.deep.equal(names);
    expect(r.added.map((a) => a.gateway)).to.deep.equal(['gw-branch-1', 'gw-branch-2']);
    expect(r.added[0]!.why).to.match(/^shares the changed forward \w+ with gw-hq$/);
    const f = limitScope(s, names, forwards, ['forward:we*']);
    expect(f.added.find((a) => a.gateway === 'gw-branch-2')!.why).to.equal('on the chain of forward web, named by --limit');
    expect(() => limitScope(s, names, forwards, ['gw-nope', 'forward:zzz'])).to.throw(/--limit "gw-nope", "forward:zzz" matches no gateway or forward/);
    // A typo gets the closest name; a forward named without `forward:` is shown how to name it.
    expect(() => limitScope(s, names, forwards, ['gw-hqq'])).to.throw(/matches no gateway or forward of the topology; did you mean "gw-hq"\?$/);
    expect(() => limitScope(s, names, forwards, ['forward:wbe'])).to.throw(/did you mean "forward:web"\?$/);
    expect(() => limitScope(s, names, forwards, ['web'])).to.throw(/did you mean "forward:web"\?$/);
    // Several typos: one hint per pattern, as details.
    try {
      limitScope(s, names, forwards, ['gw-hqq', 'forward:wbe']);
      expect.fail('no error');
    } catch (e) {
      expect((e as { details: string[] }).details).to.deep.equal(['"gw-hqq": did you mean "gw-hq"?', '"forward:wbe": did you mean "forward:web"?']);
    }
  });
});
