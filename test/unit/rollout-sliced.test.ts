// The fleet passes that run with turns of the event loop (issue 12: no stall over 100 ms at 1,000
// gateways) give exactly what the one-pass versions give, and do give the loop its turns.
import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTopology } from '../../scripts/bench/generate.mjs';
import { compile } from '../../src/compile.js';
import { Journal, type JournalRecord } from '../../src/rollout/journal.js';
import { changeToIntents } from '../../src/rollout/owned.js';
import { unfinished } from '../../src/rollout/recover.js';
import { noteUnfinished } from '../../src/cli/remote.js';
import { computeScope, computeScopeSliced, type KnownState, type ScopeInput } from '../../src/rollout/scope.js';
import { runSliced, runWhole, type Steps } from '../../src/timeslice.js';

/** A 60-gateway fleet where natchain's knowledge is every kind there is, and a third of the forwards differ. */
function mixedFleet(): ScopeInput {
  const { topology, solution } = compile(generateTopology(60, 300, 7), 'fleet.yaml');
  const before = compile(generateTopology(60, 200, 7), 'fleet.yaml');
  const desired = new Map(topology.gateways.map((g) => [g.name, changeToIntents(g, solution.intents[g.name] ?? []).expected]));
  const old = new Map(before.topology.gateways.map((g) => [g.name, changeToIntents(g, before.solution.intents[g.name] ?? []).expected]));
  const known = new Map<string, KnownState>();
  topology.gateways.forEach((g, i) => {
    const was = old.get(g.name)!;
    const now = desired.get(g.name)!;
    const kinds: KnownState[] = [
      { source: 'recorded', canonical: i % 2 ? was : now, since: '2026-01-01T00:00:00.000Z' },
      { source: 'live', canonical: now },
      { source: 'live', canonical: was, busy: 'locked by transaction T of someone' },
      { source: 'unread' },
      { source: 'unknown', reason: 'connection refused' },
      { source: 'last-known', canonical: now, reason: 'timed out' },
      { source: 'recorded', canonical: now, since: '2026-01-02T00:00:00.000Z' },
    ];
    known.set(g.name, kinds[i % kinds.length]!);
  });
  return { gateways: topology.gateways.map((g) => g.name), chains: solution.chains, desired, known };
}

/** Turns of the event loop (setImmediate callbacks) while `work` runs. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = () => {
    turns++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  const value = await work();
  on = false;
  return { value, turns };
}

describe('sliced fleet passes', () => {
  it("runWhole and runSliced give the generator's result; runSliced yields when the budget is spent", async () => {
    function* count(n: number): Steps<number> {
      let sum = 0;
      for (let i = 1; i <= n; i++) {
        yield;
        sum += i;
      }
      return sum;
    }
    expect(runWhole(count(100))).to.equal(5050);
    const { value, turns } = await turnsDuring(() => runSliced(count(100), 0));
    expect(value).to.equal(5050);
    expect(turns).to.be.at.least(100);
  });

  it('loops sliced at once take one slice per turn of the event loop, never two back to back', async () => {
    const seen: string[] = [];
    let on = true;
    const tick = () => {
      seen.push('turn');
      if (on) setImmediate(tick);
    };
    setImmediate(tick);
    function* steps(name: string): Steps<void> {
      for (let i = 0; i < 20; i++) {
        yield;
        seen.push(name);
      }
    }
    await Promise.all([runSliced(steps('a'), 0), runSliced(steps('b'), 0), runSliced(steps('c'), 0)]);
    on = false;
    const work = seen.filter((x) => x !== 'turn');
    expect(work.length).to.equal(60);
    expect(new Set(work.slice(0, 3))).to.deep.equal(new Set(['a', 'b', 'c']), 'first come, first served: every loop gets its turns');
    seen.forEach((x, i) => {
      if (x !== 'turn' && i > 0) expect(seen[i - 1], `step ${i}`).to.equal('turn');
    });
  });

  it('computeScopeSliced is computeScope, with turns of the event loop between gateways', async () => {
    const input = mixedFleet();
    const whole = computeScope(input);
    // The fixture must exercise every part: changed forwards, blocked gateways, both kinds of outside.
    expect(whole.forwards.length).to.be.greaterThan(10);
    expect(whole.blocked.length).to.be.greaterThan(0);
    expect(new Set(whole.outside.map((x) => x.status))).to.deep.equal(new Set(['unchanged', 'unreachable']));
    expect(whole.components.length).to.be.greaterThan(1);
    const { value: sliced, turns } = await turnsDuring(() => computeScopeSliced(input, 0));
    expect(sliced).to.deep.equal(whole);
    expect(turns).to.be.at.least(input.gateways.length);
  });

  describe('the journal', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-sliced-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const tx = (id: string, gateway: string, outcome?: 'committed'): JournalRecord[] => [
      { type: 'begin', tx: id, time: '2026-01-01T00:00:00.000Z', kind: 'apply', owner: 'me@host:1', topology: '/t.yaml', gateways: [gateway], confirmTimeoutSec: 60 },
      { type: 'plan', tx: id, time: '2026-01-01T00:00:01.000Z', gateways: { [gateway]: { backend: 'nftables', snapshot: 'table ip natchain {\n}\n', expectedHash: 'h', ipForward: '1', enableIpForward: false, changed: true } } },
      { type: 'phase', tx: id, time: '2026-01-01T00:00:02.000Z', gateway, phase: 'locked' },
      { type: 'readback', tx: id, time: '2026-01-01T00:00:03.000Z', gateway, dump: 'table ip natchain {\n\tchain x {\n\t}\n}\n' },
      ...(outcome ? [{ type: 'end' as const, tx: id, time: '2026-01-01T00:00:04.000Z', outcome, states: { [gateway]: 'committed' as const } }] : []),
    ];

    it('transactionsSliced reads what transactions() reads; writtenTransactions is what this object flushed, as read back', async () => {
      const other = new Journal(dir);
      for (const r of tx('T1', 'gw-a', 'committed')) other.append(r);
      other.flush();
      const mine = new Journal(dir);
      for (const r of [...tx('T2', 'constructor', 'committed'), ...tx('T3', 'gw-b')]) mine.write(r);
      mine.append(tx('T4', 'gw-c')[0]!);
      expect(await mine.transactionsSliced()).to.deep.equal(mine.transactions());
      expect(mine.transactions().map((h) => h.tx)).to.deep.equal(['T1', 'T2', 'T3', 'T4']);
      // T4 is only queued: not written yet.
      const readBack = new Journal(dir).transactions().filter((h) => h.tx === 'T2' || h.tx === 'T3');
      expect(mine.writtenTransactions()).to.deep.equal(readBack);
      expect(Object.getPrototypeOf(mine.writtenTransactions()[0]!.plan!.gateways)).to.equal(null);
      expect(unfinished(await mine.transactionsSliced()).map((h) => h.tx)).to.deep.equal(['T3', 'T4']);
    });

    it('compaction keeps every unfinished transaction and the newest finished ones within the byte budget (the newest always), lines as written; nothing to drop: no rewrite', () => {
      const j = new Journal(dir);
      const big = (id: string, outcome?: 'committed'): JournalRecord[] => tx(id, 'gw-a', outcome).map((r) => (r.type === 'readback' ? { ...r, dump: 'x'.repeat(1000) } : r));
      for (const r of [...big('T1', 'committed'), ...big('U1'), ...big('T2', 'committed'), ...big('T3', 'committed'), ...big('T4', 'committed')]) j.append(r);
      j.append({ type: 'end', tx: 'U2', time: '2026-01-01T00:00:05.000Z', outcome: 'committed', states: {} });
      j.flush();
      const before = readFileSync(j.file, 'utf8');
      const perTx = before.split('\n').filter((l) => l.includes('"tx":"T4"')).reduce((n, l) => n + l.length + 1, 0);
      expect(j.compact(200, 1, 1 << 30)).to.equal(true, 'U2 has no begin: its line goes');
      const ino = statSync(j.file).ino;
      expect(j.compact(200, 1, 1 << 30)).to.equal(false);
      expect(statSync(j.file).ino).to.equal(ino);
      expect(j.compact(200, 1, 2 * perTx + 10)).to.equal(true);
      expect(j.transactions().map((h) => h.tx)).to.deep.equal(['U1', 'T3', 'T4']);
      const after = readFileSync(j.file, 'utf8');
      expect(after.split('\n').filter((l) => l !== '').every((l) => before.includes(l + '\n'))).to.equal(true);
      expect(j.compact(200, 1, 1)).to.equal(true);
      expect(j.transactions().map((h) => h.tx)).to.deep.equal(['U1', 'T4']);
      expect(j.compact(1, 1, 1 << 30)).to.equal(false);
    });

    it('a flush of megabytes (a fleet\'s read-backs) is written whole, in order', () => {
      const j = new Journal(dir);
      const dumps = ['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(600_000));
      for (const r of tx('T1', 'gw-0', 'committed')) j.append(r);
      dumps.forEach((dump, i) => j.append({ type: 'readback', tx: 'T1', time: '2026-01-01T00:00:03.000Z', gateway: `gw-${i}`, dump }));
      j.flush();
      const h = new Journal(dir).transactions()[0]!;
      expect(h.records.length).to.equal(10);
      expect(dumps.map((_, i) => h.readback[`gw-${i}`])).to.deep.equal(dumps);
      expect(readFileSync(j.file, 'utf8').split('\n').filter((l) => l !== '').length).to.equal(10);
    });

    it('a record written after a torn last line (a crash mid-write) starts a line of its own', () => {
      const j = new Journal(dir);
      for (const r of tx('T1', 'gw-a', 'committed')) j.append(r);
      j.flush();
      appendFileSync(j.file, '{"type":"phase","tx":"T1","time":"2026-01-01T00:00:0');
      for (const r of tx('T2', 'gw-b')) j.write(r);
      expect(new Journal(dir).transactions().map((h) => [h.tx, h.records.length])).to.deep.equal([
        ['T1', 5],
        ['T2', 4],
      ]);
    });

    it('noteUnfinished names each unfinished transaction of the journal on stderr, and returns them', async () => {
      const j = new Journal(dir);
      for (const r of [...tx('T1', 'gw-a', 'committed'), ...tx('T2', 'gw-b')]) j.append(r);
      j.flush();
      const said: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => (said.push(String(chunk)), true)) as typeof process.stderr.write;
      let named;
      try {
        named = await noteUnfinished({ stateDir: dir });
      } finally {
        process.stderr.write = write;
      }
      expect(named.map((h) => h.tx)).to.deep.equal(['T2']);
      expect(said).to.deep.equal(['natchain: transaction T2 (apply of /t.yaml, started 2026-01-01T00:00:00.000Z by me@host:1) was interrupted and is not finished: run natchain recover\n']);
    });
  });
});
