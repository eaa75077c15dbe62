import { expect } from 'chai';
import type { LiveGateway } from '../../src/rollout/live.js';
import { describeSplit, splitTransactions } from '../../src/rollout/split.js';
import { splitNotes } from '../../src/rollout/tx-prepare.js';
import type { Gw } from '../../src/rollout/tx-run.js';
import type { Gateway } from '../../src/topology/types.js';

const X = '20260101T120000Z-aaaaaa';
const Y = '20260101T130000Z-bbbbbb';
const P = '20260101T110000Z-cccccc';

/** A gateway as inspect reads it: its commit record, armed timers and history lines (tx, outcome). */
function gw(name: string, o: { last?: string; armed?: string[]; history?: Array<[string, string]> }): LiveGateway {
  const g: LiveGateway = {
    gateway: { name } as Gateway,
    live: '',
    ipForward: '1',
    armed: (o.armed ?? []).map((tx) => ({ tx, deadline: 1767272460 })),
    now: 1767272400,
    history: (o.history ?? []).map(([tx, outcome]) => ({ tx, time: '2026-01-01T12:00:01.000Z', owner: 'root@ops:42', kind: 'apply', outcome, topologyHash: '-' })),
    roundTrips: 1,
  };
  if (o.last) g.lastTx = o.last;
  return g;
}
const live = (...gs: Array<LiveGateway | [string, Error]>) => new Map<string, LiveGateway | Error>(gs.map((g) => (Array.isArray(g) ? g : [g.gateway.name, g])));

describe('rollout: transactions committed on some of their gateways only (gateway truth)', () => {
  it('finds one committed on gw-a and reverted by its timer (or still armed) on gw-b, and says what recover does', () => {
    const a = gw('gw-a', { last: X, history: [[P, 'committed'], [X, 'committed']] });
    const reverted = splitTransactions(live(a, gw('gw-b', { last: P, history: [[P, 'committed'], [X, 'reverted']] })));
    expect(reverted).to.deep.equal([{ tx: X, kind: 'apply', owner: 'root@ops:42', time: '2026-01-01T12:00:01.000Z', states: { 'gw-a': 'committed', 'gw-b': 'reverted' }, deadlines: {}, unread: [] }]);
    expect(describeSplit(reverted[0]!, 't.yaml')).to.equal(
      `transaction ${X} (apply by root@ops:42) committed on some of its gateways only (natchain stopped during its commit): gw-a committed; gw-b reverted by its dead-man timer. natchain recover t.yaml finishes it (brings gw-b to what the others committed)`,
    );
    const b = gw('gw-b', { last: P, history: [[P, 'committed'], [X, 'reverted']] });
    expect(Object.keys(splitTransactions(live(b, a), ['gw-a', 'gw-b'])[0]!.states), 'in the topology\'s order, not the reads\'').to.deep.equal(['gw-a', 'gw-b']);
    const armed = splitTransactions(live(a, gw('gw-b', { last: P, armed: [X], history: [[P, 'committed']] })));
    expect(armed[0]!.states).to.deep.equal({ 'gw-a': 'committed', 'gw-b': 'armed' });
    expect(describeSplit(armed[0]!, 't.yaml')).to.include('gw-b still armed (its dead-man timer restores the old state at 2026-01-01T13:01:00.000Z)');
  });
  it('finds nothing when every member committed, when a later commit superseded it, or when one gateway alone changed', () => {
    const a = gw('gw-a', { last: X, history: [[X, 'committed']] });
    expect(splitTransactions(live(a, gw('gw-b', { last: X, history: [[X, 'committed']] })))).to.deep.equal([]);
    expect(splitTransactions(live(a, gw('gw-b', { last: Y, history: [[X, 'reverted'], [Y, 'committed']] })))).to.deep.equal([]);
    expect(splitTransactions(live(gw('gw-a', { last: X }), gw('gw-b', {})))).to.deep.equal([]);
  });
  it('names the gateways that could not be read (any of them may hold the transaction too), the first five and a count', () => {
    const a = gw('gw-a', { last: X, history: [[X, 'committed']] });
    const b = gw('gw-b', { last: P, history: [[X, 'reverted']] });
    const one = splitTransactions(live(a, ['gw-c', new Error('unreachable')], b), ['gw-a', 'gw-b', 'gw-c']);
    expect(one[0]!.unread).to.deep.equal(['gw-c']);
    expect(describeSplit(one[0]!, 't.yaml')).to.equal(
      `transaction ${X} (apply by root@ops:42) committed on some of its gateways only (natchain stopped during its commit): gw-a committed; gw-b reverted by its dead-man timer; could not read gw-c: it may hold the transaction too. natchain recover t.yaml finishes it (brings gw-b to what the others committed)`,
    );
    const down = ['gw-c', 'gw-d', 'gw-e', 'gw-f', 'gw-g', 'gw-h', 'gw-i'];
    const many = splitTransactions(live(a, b, ...down.map((n): [string, Error] => [n, new Error('unreachable')])), ['gw-a', 'gw-b', ...down]);
    expect(describeSplit(many[0]!, 't.yaml')).to.include('; could not read gw-c, gw-d, gw-e, gw-f, gw-g and 2 more: they may hold the transaction too. ');
    expect(splitTransactions(live(a, b, ['gw-c', new Error('unreachable')]), ['gw-a', 'gw-b'])[0]!.unread, 'only the gateways asked about').to.deep.equal([]);
  });
  it('a commit then undone on one gateway, or a rollback after a timer, still splits it; a later commit there supersedes it', () => {
    const a = gw('gw-a', { last: X, history: [[X, 'committed']] });
    expect(splitTransactions(live(a, gw('gw-b', { last: P, history: [[P, 'committed'], [X, 'committed'], [X, 'undone']] })))[0]!.states).to.deep.equal({ 'gw-a': 'committed', 'gw-b': 'undone' });
    expect(splitTransactions(live(a, gw('gw-b', { last: P, history: [[X, 'reverted']] }), ['gw-c', new Error('unreachable')]))[0]!.states).to.deep.equal({ 'gw-a': 'committed', 'gw-b': 'reverted' });
    expect(splitTransactions(live(a, gw('gw-b', { last: P, history: [[X, 'reverted'], [Y, 'undone']] })))).to.deep.equal([]);
  });
});

describe('rollout: a split transaction seen by a prepare (apply from any machine)', () => {
  const prepared = (name: string, last: string | undefined, line?: [string, string]): Gw => ({
    gateway: { name } as Gateway,
    scope: 'in',
    state: 'staged',
    locked: true,
    armed: false,
    started: 0,
    trips: 1,
    ...(last ? { lastTx: last } : {}),
    ...(line ? { lastHistory: { tx: line[0], time: '', owner: 'root@ops:42', kind: 'apply', outcome: line[1], topologyHash: '-' } } : {}),
  });

  it('names a transaction committed on one gateway and reverted by its timer on another', () => {
    const notes = splitNotes([prepared('gw-a', X, [X, 'committed']), prepared('gw-b', P, [X, 'reverted'])], 'apply');
    expect(notes).to.deep.equal([
      `natchain: transaction ${X} committed on some of its gateways only (natchain stopped during its commit): gw-a committed; gw-b reverted by its dead-man timer. This apply replaces it on them once it commits (if it does not, natchain recover finishes it)`,
    ]);
  });

  it('says nothing when every gateway committed it, when only one took part, or when a later commit came after', () => {
    expect(splitNotes([prepared('gw-a', X, [X, 'committed']), prepared('gw-b', X, [X, 'committed'])], 'apply')).to.deep.equal([]);
    expect(splitNotes([prepared('gw-a', P, [X, 'reverted']), prepared('gw-b', P, [P, 'committed'])], 'apply')).to.deep.equal([]);
    expect(splitNotes([prepared('gw-a', X, [X, 'committed']), prepared('gw-b', Y, [Y, 'committed'])], 'apply')).to.deep.equal([]);
    expect(splitNotes([prepared('gw-a', X), prepared('gw-b', undefined)], 'apply')).to.deep.equal([]);
  });
});
