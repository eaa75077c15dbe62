import { expect } from 'chai';
import { mergeLog } from '../../src/rollout/fleetlog.js';
import type { GatewayHistoryEntry } from '../../src/rollout/history.js';
import type { TxHistory } from '../../src/rollout/journal.js';

const entry = (tx: string, outcome: string, time: string): GatewayHistoryEntry => ({ tx, time, owner: 'ops@b:1', kind: 'apply', outcome, topologyHash: 'abcd' });
const T1 = '20260101T100000Z-aaaaaa';
const T2 = '20260101T110000Z-bbbbbb';
const T3 = '20260101T120000Z-cccccc';

describe('rollout: natchain log merges the gateways\' histories and the journal', () => {
  it('one entry per transaction, outcomes agreed or mixed, journal-only ones marked, rollouts named', () => {
    const histories = new Map<string, GatewayHistoryEntry[] | Error>([
      ['gw-a', [entry(T1, 'committed', '2026-01-01T10:00:02.000Z'), entry(T2, 'committed', '2026-01-01T11:00:01.000Z')]],
      ['gw-b', [entry(T1, 'committed', '2026-01-01T10:00:01.000Z'), entry(T2, 'reverted', '2026-01-01T11:00:09.000Z')]],
      ['gw-c', new Error('no route')],
    ]);
    const journal = [
      { tx: T1, phases: {}, readback: {}, deadlines: {}, records: [], begin: { type: 'begin', tx: T1, time: '2026-01-01T10:00:00.000Z', kind: 'apply', owner: 'me@a:2', topology: '/t.yaml', gateways: ['gw-a', 'gw-b'], confirmTimeoutSec: 60 } },
      { tx: T3, phases: {}, readback: {}, deadlines: {}, records: [], begin: { type: 'begin', tx: T3, time: '2026-01-01T12:00:00.000Z', kind: 'rollback', owner: 'me@a:3', topology: '/t.yaml', gateways: ['gw-c'], confirmTimeoutSec: 60 } },
    ] as unknown as TxHistory[];
    const rollouts = [{ id: 'R', start: {} as never, waves: [{ type: 'wave', rollout: 'R', time: '', index: 1, canary: true, gateways: ['gw-a'], tx: T2, status: 'committed' }] }] as never;
    const log = mergeLog(histories, journal, rollouts);
    expect(log.map((e) => [e.tx, e.outcome, e.source])).to.deep.equal([
      [T1, 'committed', 'both'],
      [T2, 'mixed', 'gateways'],
      [T3, 'unfinished', 'journal'],
    ]);
    expect(log[0]!.time).to.equal('2026-01-01T10:00:01.000Z');
    expect(log[1]!.gateways).to.deep.equal([
      { gateway: 'gw-a', outcome: 'committed' },
      { gateway: 'gw-b', outcome: 'reverted' },
    ]);
    expect(log[1]!.rollout).to.equal('R');
    expect(log[2]!.gateways).to.deep.equal([{ gateway: 'gw-c', outcome: '?' }]);
  });
});
