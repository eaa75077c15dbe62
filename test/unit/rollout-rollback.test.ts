// What a rollback restores, decided from the gateways' own records (src/rollout/rollback.ts).
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatchainError } from '../../src/errors.js';
import { parseHistory, type GatewayHistoryEntry } from '../../src/rollout/history.js';
import { HISTORY_KEEP } from '../../src/rollout/remote-scripts.js';
import { dumpBackend, lastCommitted, rolloutOnGateways, targetDumps, toChoice, undoChoice, type GatewayRecords } from '../../src/rollout/rollback.js';
import { RolloutLog, rolloutWaves } from '../../src/rollout/rollouts.js';

const T1 = '20260101T120000Z-000001';
const T2 = '20260101T120100Z-000002';
const T3 = '20260101T120200Z-000003';
const T4 = '20260101T120300Z-000004';

/** A history line finished at minute `min` past 12:00. */
const line = (tx: string, min: number, outcome = 'committed', sec = 5): GatewayHistoryEntry => ({
  tx,
  time: `2026-01-01T12:${String(min).padStart(2, '0')}:${String(sec).padStart(2, '0')}.000Z`,
  owner: 'op@laptop:1',
  kind: 'apply',
  outcome,
  topologyHash: '-',
});
const gw = (gateway: string, history: GatewayHistoryEntry[], extra: Partial<GatewayRecords> = {}): GatewayRecords => ({ gateway, backend: 'nftables', history, ...extra });
const none = new Map<string, string>();
const sources = (c: { sources: Map<string, { tx: string; file: string }> }) => Object.fromEntries([...c.sources].map(([g, s]) => [g, `${s.tx}/${s.file}`]));
const refusal = (f: () => unknown): NatchainError => {
  try {
    f();
  } catch (e) {
    return e as NatchainError;
  }
  throw new Error('not refused');
};

describe('rollback: what each gateway goes back to, from the gateways\' records', () => {
  // T1 changed a and b; T2 changed b and c; T3 was rolled back on c (nothing changed); a is untouched since T1.
  const fleet = () => [gw('a', [line(T1, 0)]), gw('b', [line(T1, 0), line(T2, 1)], { files: { tx: T1, members: ['a', 'b'] } }), gw('c', [line(T2, 1), line(T3, 2, 'rolled-back')]), gw('d', [])];

  it('the last committed transaction of the fleet is the latest still committed (an undone commit does not count)', () => {
    expect(lastCommitted(fleet())!.tx).to.equal(T2);
    const undone = [gw('a', [line(T1, 0)]), gw('b', [line(T2, 1), line(T2, 1, 'undone', 9)])];
    expect(lastCommitted(undone)!.tx).to.equal(T1);
    expect(lastCommitted([gw('a', [line(T1, 0, 'rolled-back')])])).to.equal(undefined);
  });

  it('undo: each gateway the transaction changed goes back to its snapshot there; the others keep their state', () => {
    expect(sources(undoChoice(fleet(), [T2], none))).to.deep.equal({ b: `${T2}/snapshot`, c: `${T2}/snapshot` });
  });

  it('undo of a rollout: each gateway goes back to its snapshot in the first of the waves that changed it', () => {
    const f = [gw('a', [line(T1, 0), line(T3, 2)]), gw('b', [line(T2, 1)]), gw('c', [line(T4, 3)])];
    expect(sources(undoChoice(f, [T1, T2, T3], none))).to.deep.equal({ a: `${T1}/snapshot`, b: `${T2}/snapshot` });
  });

  it('undo is refused, naming the gateway, when another transaction committed there after it', () => {
    const f = [gw('a', [line(T1, 0), line(T2, 1)]), gw('b', [line(T3, 2)])];
    const e = refusal(() => undoChoice(f, [T1, T3], none));
    expect(e.message).to.match(/nothing was changed/);
    expect(e.details.join('\n')).to.match(new RegExp(`^a: transaction ${T2} .* committed there after ${T1}`));
  });

  it('--to TX: where TX changed a gateway, what it left; elsewhere the snapshot of the first transaction after TX, or nothing to do', () => {
    // a: TX is its last (its applied = live). b: TX's applied. c: untouched by T1: T2's snapshot (its state right after T1). d: untouched since.
    expect(sources(toChoice(fleet(), T1, none, 't.yaml'))).to.deep.equal({ a: `${T1}/applied`, b: `${T1}/applied`, c: `${T2}/snapshot` });
    // T2: c's next transaction was rolled back; its snapshot is still c's state right after T2.
    expect(sources(toChoice(fleet(), T2, none, 't.yaml'))).to.deep.equal({ b: `${T2}/applied`, c: `${T2}/applied` });
  });

  it('--to a transaction that is not committed everywhere it ran is refused', () => {
    const e = refusal(() => toChoice(fleet(), T3, none, 't.yaml'));
    expect(e.message).to.match(new RegExp(`transaction ${T3} is not committed \\(c: rolled-back\\)`));
  });

  it('--to a transaction pruned on one of its gateways names that gateway and the retention', () => {
    // b's history was pruned past T1 (T1 changed a and b, as a's record of T1 says).
    const f = [gw('a', [line(T1, 0)], { files: { tx: T1, members: ['a', 'b'] } }), gw('b', [line(T3, 2)], { pruned: line(T2, 1) })];
    const e = refusal(() => toChoice(f, T1, none, 't.yaml'));
    expect(e.message).to.include(`keeps at least its last ${HISTORY_KEEP} transactions`).and.include('nothing was changed');
    expect(e.details).to.deep.equal([`b: ${T1} changed it, but its history no longer holds ${T1} (history pruned up to ${T2}, 2026-01-01T12:01:05.000Z)`]);
    // A gateway T1 did not change but whose history no longer reaches back to T1: its state then is unknown.
    const g = [gw('a', [line(T1, 0)]), gw('c', [line(T3, 2)], { pruned: line(T2, 1) })];
    expect(refusal(() => toChoice(g, T1, none, 't.yaml')).details[0]).to.match(/^c: its history no longer reaches back to .* its state then is unknown/);
    // Pruned before T1: nothing after T1 is missing.
    expect(sources(toChoice([gw("a", [line(T2, 1)]), gw("c", [line(T3, 2)], { pruned: line(T1, 0) })], T2, none, "t.yaml"))).to.deep.equal({ a: `${T2}/applied`, c: `${T3}/snapshot` });
  });

  it('--to a transaction in no gateway\'s history: pruned (naming where) or never recorded', () => {
    const e = refusal(() => toChoice([gw('a', [line(T3, 2)], { pruned: line(T2, 1) }), gw('b', [])], T1, none, 't.yaml'));
    expect(e.message).to.equal(`transaction ${T1} is no longer in the history of any gateway of t.yaml: pruned on a (a gateway keeps at least its last ${HISTORY_KEEP} transactions (HISTORY_KEEP); older ones are pruned with their snapshots)`);
    expect(refusal(() => toChoice([gw('a', [])], T1, none, 't.yaml')).message).to.match(/no gateway of t.yaml records transaction/);
  });

  it('--to: a gateway TX changed that cannot be read stops it; one it did not is left as it is (said in a note)', () => {
    const f = [gw('a', [line(T1, 0)], { files: { tx: T1, members: ['a', 'b'] } })];
    expect(refusal(() => toChoice(f, T1, new Map([['b', 'connection refused']]), 't.yaml')).details).to.deep.equal([`b: ${T1} changed it, but it cannot be read now: connection refused`]);
    const c = toChoice(f, T1, new Map([['z', 'connection refused']]), 't.yaml');
    expect(c.notes[0]).to.match(/^z: could not be read \(connection refused\)/);
  });

  it('the dumps: every file must be there, and of the backend the gateway uses now', () => {
    const c = toChoice(fleet(), T1, none, 't.yaml');
    const backends = new Map([...'abcd'].map((g) => [g, 'nftables' as const]));
    const nft = 'table ip natchain {\n}\n';
    const files = new Map([...'abc'].map((g) => [g, { members: [], applied: nft, snapshot: '' }]));
    expect([...targetDumps(c, backends, files).keys()]).to.deep.equal(['a', 'b', 'c']);
    files.set('a', { members: [], applied: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', snapshot: '' });
    expect(refusal(() => targetDumps(c, backends, files)).message).to.equal(`a used iptables in ${T1} but nftables now; a rollback cannot cross backends`);
    files.set('a', { members: [], applied: nft, snapshot: '' });
    files.delete('c');
    expect(refusal(() => targetDumps(c, backends, files)).message).to.match(new RegExp(`^c: the directory of transaction ${T2} has no snapshot any more`));
    expect(dumpBackend('')).to.equal(undefined);
  });

  it('a wave rollout and its resumes: every committed wave, oldest first, when the last commit was one of them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'natchain-rollouts-'));
    try {
      const log = new RolloutLog(dir);
      const time = '2026-01-01T12:00:00Z';
      const start = (rollout: string, resumes?: string) => log.append({ type: 'start', rollout, time, owner: 'op@laptop:1', topology: '/t.yaml', topologySha256: 'x', settings: { maxFail: '0' }, waves: [], ...(resumes ? { resumes } : {}) });
      const wave = (rollout: string, index: number, tx: string, status: 'committed' | 'rolled-back') => log.append({ type: 'wave', rollout, time, index, canary: false, gateways: ['a'], tx, status });
      start('R1');
      wave('R1', 1, T1, 'committed');
      wave('R1', 2, T2, 'rolled-back');
      start('R2', 'R1');
      wave('R2', 1, T3, 'committed');
      expect(rolloutWaves(log, T3)).to.deep.equal({ rollout: 'R1', waves: [T1, T3] });
      expect(rolloutWaves(log, T1)).to.deep.equal({ rollout: 'R1', waves: [T1, T3] });
      expect(rolloutWaves(log, T2), 'a wave that did not commit').to.equal(undefined);
      expect(rolloutWaves(log, T4), 'not a wave').to.equal(undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a wave rollout as the gateways record it: its committed waves, oldest first, whichever gateways hold them', () => {
    const w = (tx: string, min: number, outcome = 'committed') => ({ ...line(tx, min, outcome), rollout: 'R' });
    const f = [gw('a', [w(T1, 0), line(T2, 1)]), gw('b', [w(T3, 2), w(T4, 3, 'rolled-back')]), gw('c', [w(T3, 2)])];
    expect(rolloutOnGateways(f, w(T3, 2))).to.deep.equal({ rollout: 'R', waves: [T1, T3] });
    expect(rolloutOnGateways(f, line(T2, 1)), 'not a wave').to.equal(undefined);
    // The history line's 7th field; older 6-field lines have none.
    expect(parseHistory(`${T1}\t1767268800\t-\tapply\tcommitted\t-\t${T2}\n${T3}\t1767268800\t-\tapply\tcommitted\t-\n`).map((e) => e.rollout)).to.deep.equal([T2, undefined]);
  });
});
