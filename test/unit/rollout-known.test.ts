// What natchain knows of each gateway without reading it: the newer of the journal's last
// transaction and the known-state cache (plan/status/apply reads), and the scope worked out from it.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetKnowledge } from '../../src/rollout/fleet-knowledge.js';
import type { TxHistory } from '../../src/rollout/journal.js';
import { journalRecords, lastKnownStates } from '../../src/rollout/known.js';
import { KnownStore, knownRecord, type KnownRecord } from '../../src/rollout/known-store.js';
import { canonicalOf, changeToIntents } from '../../src/rollout/owned.js';
import { notContacted } from '../../src/rollout/outside.js';
import { computeScope, withReach, type KnownState } from '../../src/rollout/scope.js';
import { solve } from '../../src/solve/index.js';
import type { Topology } from '../../src/topology/index.js';
import { THREE_GATEWAYS_YAML, topo } from '../support/topo.js';

// Three nftables gateways (a journal snapshot is then the rendered table itself); forward `new` crosses gw-b and gw-a only.
const hub = topo(THREE_GATEWAYS_YAML);
const names = hub.gateways.map((g) => g.name);
const backendOf = (g: string) => hub.gateways.find((x) => x.name === g)?.backend ?? 'nftables';
/** Per gateway: the rendered table (a dump, as the journal keeps it) and its canonical state. */
const render = (t: Topology) => {
  const s = solve(t);
  return new Map(t.gateways.map((g) => [g.name, changeToIntents(g, s.intents[g.name] ?? [])]));
};
const full = new Map([...render(hub)].map(([g, c]) => [g, c.expected]));
const oldDumps = new Map([...render({ ...hub, forwards: hub.forwards.filter((f) => f.name !== 'new') })].map(([g, c]) => [g, c.text]));

/** A finished transaction as the journal tells it: every gateway left in `snapshot` (nothing changed). */
function tx(id: string, time: string, states: Map<string, string>, opts: { finished?: boolean } = {}): TxHistory {
  const gateways = Object.fromEntries(
    [...states].map(([g, snapshot]) => [g, { backend: backendOf(g), snapshot, expectedHash: '', ipForward: '1', enableIpForward: false, changed: false }]),
  );
  const h: TxHistory = {
    tx: id,
    begin: { type: 'begin', tx: id, time, kind: 'apply', owner: 'me', topology: '/t.yaml', gateways: [...states.keys()], confirmTimeoutSec: 60 },
    plan: { type: 'plan', tx: id, time, gateways },
    phases: {},
    readback: {},
    deadlines: {},
    records: [],
  };
  if (opts.finished !== false) h.end = { type: 'end', tx: id, time, outcome: 'noop', states: {} };
  return h;
}
const rec = (gateway: string, canonical: string | null, time: string, by = 'plan'): KnownRecord => ({ gateway, backend: backendOf(gateway), canonical, time, by });

describe('rollout: last known state (journal + known-state cache)', () => {
  const [g1, g2, g3] = names as [string, string, string];
  const old = oldDumps;

  it('the newer record wins: a plan that read drift after the last transaction, or a transaction after the plan', () => {
    const journal = [tx('T1', '2026-01-01T10:00:00.000Z', old)];
    const cache = new Map([
      [g1, rec(g1, full.get(g1)!, '2026-01-01T11:00:00.000Z')],
      [g2, rec(g2, full.get(g2)!, '2026-01-01T09:00:00.000Z')],
    ]);
    const k = lastKnownStates(journal, hub, cache);
    expect(k.get(g1)).to.deep.equal({ canonical: full.get(g1), time: '2026-01-01T11:00:00.000Z', from: 'plan' });
    expect(k.get(g2)).to.deep.include({ canonical: canonicalOf(backendOf(g2), old.get(g2)!), from: 'tx T1' });
    expect(k.get(g3)!.from).to.equal('tx T1');
  });

  it('a read that found the gateway locked or armed, an unfinished transaction, or another backend: unknown', () => {
    const journal = [tx('T1', '2026-01-01T10:00:00.000Z', old), tx('T2', '2026-01-01T12:00:00.000Z', new Map([[g3, old.get(g3)!]]), { finished: false })];
    const cache = new Map([
      [g1, rec(g1, null, '2026-01-01T11:00:00.000Z')],
      [g2, { ...rec(g2, full.get(g2)!, '2026-01-01T11:00:00.000Z'), backend: backendOf(g2) === 'nftables' ? ('iptables' as const) : ('nftables' as const) }],
    ]);
    const k = lastKnownStates(journal, hub, cache);
    expect([...k.keys()]).to.deep.equal([]);
    expect(knownRecord(g1, 'nftables', 'x', true, 'status').canonical).to.equal(null);
  });

  it('journalRecords: what the transactions left, for the cache (only the gateways asked for); a tie with the journal is the cache\'s, already canonical', async () => {
    const journal = [tx('T1', '2026-01-01T10:00:00.000Z', old)];
    const r = await journalRecords(journal, hub, [g2]);
    expect(r).to.deep.equal([{ gateway: g2, backend: backendOf(g2), canonical: canonicalOf(backendOf(g2), old.get(g2)!), time: '2026-01-01T10:00:00.000Z', by: 'tx T1' }]);
    // Only the cache says "cached" for g2: the state comes from it, not from parsing the journal's dump again.
    const k = lastKnownStates(journal, hub, new Map([[g2, { ...r[0]!, canonical: 'cached' }]]));
    expect(k.get(g2)).to.deep.equal({ canonical: 'cached', time: '2026-01-01T10:00:00.000Z', from: 'tx T1' });
    expect(k.get(g1)!.canonical).to.equal(canonicalOf(backendOf(g1), old.get(g1)!));
  });

  it('the scope from recorded states: only the changed forward\'s gateways; those outside are unchanged "as recorded", then unreachable if their check failed', () => {
    const known = new Map<string, KnownState>(names.map((g) => [g, { source: 'recorded', canonical: canonicalOf('nftables', old.get(g)!), since: '2026-01-01T10:00:00.000Z' }]));
    const s = computeScope({ gateways: names, chains: solve(hub).chains, desired: full, known });
    expect(s.forwards.map((f) => `${f.change}:${f.forward}`)).to.deep.equal(['added:new']);
    expect(s.gateways).to.deep.equal(['gw-a', 'gw-b']);
    expect(s.blocked).to.deep.equal([]);
    const out = s.outside.map((x) => x.gateway);
    expect(out).to.deep.equal(['gw-c']);
    for (const x of s.outside) expect(x).to.deep.equal({ gateway: x.gateway, status: 'unchanged', detail: 'not in this change', since: '2026-01-01T10:00:00.000Z' });
    const failed = withReach(s.outside, { failed: new Map([[out[0]!, 'ProxyCommand exited with code 1: Connection refused']]), pending: [] });
    expect(failed[0]).to.include({ status: 'unreachable', detail: 'unreachable (not in this change; last known state in sync): ProxyCommand exited with code 1: Connection refused' });
    expect(withReach(s.outside, { failed: new Map(), pending: [] })[0]).to.include({ status: 'unchanged', reach: 'answered', detail: 'not in this change' });
    expect(withReach(s.outside, { failed: new Map(), pending: [out[0]!] })[0]).to.include({ status: 'unchanged', reach: 'pending', detail: 'not in this change; its sshd had not answered yet when the change was done' });
    // --no-check-outside: nobody contacted it; reported from the record, saying so (never "answered").
    expect(notContacted(s.outside)[0]).to.deep.equal({ gateway: 'gw-c', status: 'unchanged', reach: 'not-checked', detail: 'not in this change; not contacted: as natchain last recorded it', since: '2026-01-01T10:00:00.000Z' });
    const read = { gateway: 'gw-x', status: 'unreachable' as const, detail: 'unreachable (not in this change; state unknown): refused' };
    expect(notContacted([read])).to.deep.equal([read]);
  });

  it('a plan that saw drift on a gateway (forward old deleted by hand on gw-c) puts it, and the other end of old, into the next scope', () => {
    const drifted = canonicalOf('nftables', render({ ...hub, forwards: [] }).get(g3)!.text);
    const known = new Map<string, KnownState>(names.map((g) => [g, { source: 'recorded', canonical: g === g3 ? drifted : full.get(g)!, since: 't' }]));
    const s = computeScope({ gateways: names, chains: solve(hub).chains, desired: full, known });
    expect(s.gateways).to.deep.equal(['gw-a', 'gw-c']);
    expect(s.forwards.map((f) => `${f.change}:${f.forward}`)).to.deep.equal(['changed:old']);
  });
});

describe('rollout: the known-state cache on disk', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-known-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('one file per gateway, overwritten; unreadable or foreign files count as no record', async () => {
    const store = new KnownStore(dir);
    expect(await store.write([rec('gw-hq', 'a', 't1'), rec('gw-branch-1', 'b', 't1')])).to.equal(undefined);
    expect(await store.write([rec('gw-hq', 'c', 't2')])).to.equal(undefined);
    writeFileSync(join(store.dir, 'gw-branch-2.json'), '{"torn');
    const r = await store.read(['gw-hq', 'gw-branch-1', 'gw-branch-2', 'gw-none']);
    expect([...r.keys()]).to.deep.equal(['gw-hq', 'gw-branch-1']);
    expect(r.get('gw-hq')).to.include({ canonical: 'c', time: 't2' });
    expect(readdirSync(store.dir).sort()).to.deep.equal(['gw-branch-1.json', 'gw-branch-2.json', 'gw-hq.json']);
  });

  it('bounded: past the limit, the least recently written records go', async () => {
    const store = new KnownStore(dir);
    await store.write(['a', 'b', 'c'].map((g) => rec(g, g, 't')));
    utimesSync(join(store.dir, 'a.json'), new Date(1000), new Date(1000));
    (store as unknown as { prune(keep: number): void }).prune(2);
    expect(readdirSync(store.dir).sort()).to.deep.equal(['b.json', 'c.json']);
  });

  it('a state directory it cannot write is reported, not thrown', async () => {
    writeFileSync(join(dir, 'known'), 'a file where the directory should be');
    expect(await new KnownStore(dir).write([rec('gw-hq', 'a', 't')])).to.match(/^cannot record what was read in .*known: /);
  });
});

describe('rollout: what a rollout knows (FleetKnowledge)', () => {
  const solution = solve(hub);
  const build = (transactions: TxHistory[]) => FleetKnowledge.build({ topology: hub, intents: solution.intents, chains: solution.chains, transactions });

  it('a gateway read under the lock keeps its change inside the wave only if every gateway of the changing forward is in it (chains and holders, kept up to date)', async () => {
    // Recorded: gw-c and gw-a hold forward old (as the topology wants); nothing of gw-b.
    const k = await build([tx('T1', '2026-01-01T10:00:00.000Z', new Map([...oldDumps].filter(([g]) => g !== 'gw-b')))]);
    expect(k.assumed('gw-b')).to.equal(undefined);
    expect(k.knownMap().get('gw-b')).to.deep.equal({ source: 'unread' });
    expect(k.knownMap().get('gw-c')).to.deep.include({ source: 'recorded' });
    // gw-b read under the lock: empty, so forward new (gw-b and gw-a) changes there.
    expect(k.closedIn('gw-b', '', new Set(['gw-b']))).to.equal(false);
    expect(k.closedIn('gw-b', '', new Set(['gw-b', 'gw-a']))).to.equal(true);
    // gw-c read holding forward new by hand: new's holders now include gw-c too.
    const cWithNew = render(hub).get('gw-a')!.expected;
    k.noteLocked('gw-c', cWithNew);
    expect(k.closedIn('gw-b', '', new Set(['gw-b', 'gw-a']))).to.equal(false);
    expect(k.closedIn('gw-b', '', new Set(['gw-a', 'gw-b', 'gw-c']))).to.equal(true);
    expect(k.seen.map((r) => `${r.gateway} ${r.by}`)).to.deep.equal(['gw-c prepare']);
  });
});
