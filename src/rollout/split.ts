// Transactions the gateways themselves show half done: committed on some of the gateways they
// changed and not on the others (natchain stopped during its commit: issue 13.3). Found from the
// gateways' own records (the commit record, armed timers, history), so any machine sees it,
// whatever its journal knows. Pure: the reads come from live.ts.
import type { LiveGateway } from './live.js';

/** One gateway's record of a split transaction. */
export type MemberState = 'committed' | 'armed' | 'reverted' | 'rolled-back' | 'undone' | 'aborted' | 'revert-failed';

/** A transaction committed on some of its gateways only. */
export interface SplitTx {
  tx: string;
  kind: string;
  owner: string;
  /** When it committed on the first gateway that did (ISO, that gateway's clock; '' when unknown). */
  time: string;
  /** Every gateway read that has a record of it, with that record. */
  states: Record<string, MemberState>;
  /** Armed ones: when each one's dead-man timer fires (epoch seconds, its clock). */
  deadlines: Record<string, number>;
  /** The gateways whose read failed: any of them may have a record of it too. */
  unread: string[];
}

/**
 * The split transactions among what `inspect` read: a gateway's commit record names X, and another
 * gateway has X armed, or X's history line says it did not commit there (reverted by its timer,
 * rolled back, undone…), and nothing committed or undone after it (else X was superseded there: left
 * alone, as recover leaves it). The gateways' own records say which took part: no list of members
 * is read (on a fleet changed in one wave it would be the whole fleet, on every gateway).
 */
export function splitTransactions(live: Map<string, LiveGateway | Error>, order: string[] = [...live.keys()]): SplitTx[] {
  // In `order` (the topology's), not in the order the reads came back: the notice is the same every time.
  const read = order.map((n) => live.get(n)).filter((g): g is LiveGateway => g !== undefined && !(g instanceof Error));
  const committed = new Set(read.flatMap((g) => (g.lastTx ? [g.lastTx] : [])));
  const found = new Map<string, { states: Record<string, MemberState>; deadlines: Record<string, number>; superseded: boolean }>();
  const entry = (tx: string) => {
    let e = found.get(tx);
    if (!e) found.set(tx, (e = { states: Object.create(null), deadlines: Object.create(null), superseded: false }));
    return e;
  };
  for (const g of read) {
    const name = g.gateway.name;
    if (g.lastTx) entry(g.lastTx).states[name] = 'committed';
    for (const a of g.armed) {
      if (!committed.has(a.tx)) continue;
      entry(a.tx).states[name] = 'armed';
      entry(a.tx).deadlines[name] = a.deadline;
    }
    // The last line of each committed-somewhere transaction here, and whether a commit or undo came after it.
    let laterCommit = false;
    for (let i = g.history.length - 1; i >= 0; i--) {
      const h = g.history[i]!;
      if (committed.has(h.tx) && h.tx !== g.lastTx && !(name in entry(h.tx).states)) {
        if (laterCommit) entry(h.tx).superseded = true;
        else entry(h.tx).states[name] = notCommitted(h.outcome) ?? 'committed';
      }
      if (h.outcome === 'committed' || h.outcome === 'undone') laterCommit = true;
    }
  }
  const unread = order.filter((n) => live.get(n) instanceof Error);
  const out: SplitTx[] = [];
  for (const [tx, e] of found) {
    const states = Object.values(e.states);
    if (e.superseded || states.every((st) => st === 'committed')) continue;
    const first = read.find((g) => g.lastTx === tx)!;
    const line = first.history.filter((h) => h.tx === tx).pop();
    out.push({ tx, kind: line?.kind ?? '-', owner: line?.owner ?? '-', time: line?.time ?? '', states: e.states, deadlines: e.deadlines, unread });
  }
  return out;
}

const NOT_COMMITTED = ['reverted', 'rolled-back', 'undone', 'aborted', 'revert-failed'] as const;

/** A history outcome that means the transaction did not stay committed on that gateway (its member state), else undefined. */
export function notCommitted(outcome: string): MemberState | undefined {
  return NOT_COMMITTED.find((o) => o === outcome);
}

/** What one member's record means, for a sentence: `gw-b reverted by its dead-man timer`. */
export function describeMember(name: string, s: MemberState, deadline?: number): string {
  switch (s) {
    case 'committed':
      return `${name} committed`;
    case 'armed':
      return `${name} still armed (its dead-man timer restores the old state${deadline ? ` at ${new Date(deadline * 1000).toISOString()}` : ''})`;
    case 'reverted':
      return `${name} reverted by its dead-man timer`;
    case 'rolled-back':
      return `${name} rolled back`;
    case 'undone':
      return `${name} undone`;
    case 'aborted':
      return `${name} never applied it`;
    default:
      return `${name} failed to restore its snapshot`;
  }
}

/** How many unread gateways a notice names before it counts the rest. */
const UNREAD_NAMED = 5;

/** The notice plan and status print for a split transaction (one line). */
export function describeSplit(s: SplitTx, topologyFile: string): string {
  const names = Object.keys(s.states);
  const parts = names.map((n) => describeMember(n, s.states[n]!, s.deadlines[n]));
  if (s.unread.length) {
    const more = s.unread.length - UNREAD_NAMED;
    const list = s.unread.slice(0, UNREAD_NAMED).join(', ') + (more > 0 ? ` and ${more} more` : '');
    parts.push(`could not read ${list}: ${s.unread.length === 1 ? 'it' : 'they'} may hold the transaction too`);
  }
  const others = names.filter((n) => s.states[n] !== 'committed');
  return (
    `transaction ${s.tx} (${s.kind} by ${s.owner}) committed on some of its gateways only (natchain stopped during its commit): ${parts.join('; ')}. ` +
    `natchain recover ${topologyFile} finishes it (brings ${others.join(', ')} to what the others committed)`
  );
}
