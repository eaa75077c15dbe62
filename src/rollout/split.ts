// Transactions the gateways themselves show half done: committed on some of the gateways they
// changed and not on the others (natchain stopped during its commit: issue 13.3). Found from the
// gateways' own records (the commit record, the members it names, armed timers, history), so any
// machine sees it, whatever its journal knows. Pure: the reads come from live.ts.
import type { LiveGateway } from './live.js';

/** One member's record of a split transaction. */
export type MemberState = 'committed' | 'armed' | 'reverted' | 'rolled-back' | 'undone' | 'aborted' | 'revert-failed' | 'none' | 'unreachable';

/** A transaction committed on some of its gateways only. */
export interface SplitTx {
  tx: string;
  kind: string;
  owner: string;
  /** When it committed on the first gateway that did (ISO, that gateway's clock; '' when unknown). */
  time: string;
  /** Every gateway it changed, with its record of it. */
  states: Record<string, MemberState>;
  /** Armed members: when each one's dead-man timer fires (epoch seconds, its clock). */
  deadlines: Record<string, number>;
}

/**
 * The split transactions among what `inspect` read: a gateway's commit record names X, and another
 * gateway X changed holds no commit of X and nothing after it (a later commit or undo there means
 * X was superseded: left alone, as recover leaves it).
 */
export function splitTransactions(live: Map<string, LiveGateway | Error>): SplitTx[] {
  const out = new Map<string, SplitTx>();
  for (const g of live.values()) {
    if (g instanceof Error || !g.lastTx || out.has(g.lastTx)) continue;
    const tx = g.lastTx;
    const members = g.lastMembers ?? [];
    if (members.length < 2) continue;
    const states: Record<string, MemberState> = Object.create(null);
    const deadlines: Record<string, number> = Object.create(null);
    let superseded = false;
    for (const m of members) {
      const r = live.get(m);
      if (r === undefined) continue; // not in this topology any more: nothing to say about it
      const st = r instanceof Error ? 'unreachable' : memberState(r, tx);
      if (st === 'superseded') superseded = true;
      else states[m] = st;
      const armed = r instanceof Error ? undefined : r.armed.find((a) => a.tx === tx);
      if (armed) deadlines[m] = armed.deadline;
    }
    const vals = Object.values(states);
    if (superseded || vals.every((s) => s === 'committed')) continue;
    const line = g.history.filter((h) => h.tx === tx).pop();
    out.set(tx, { tx, kind: line?.kind ?? '-', owner: line?.owner ?? '-', time: line?.time ?? '', states, deadlines });
  }
  return [...out.values()];
}

/** One member's record of `tx`: committed, still armed, how it ended, or superseded by a later commit or undo. */
function memberState(r: LiveGateway, tx: string): MemberState | 'superseded' {
  if (r.lastTx === tx) return 'committed';
  if (r.armed.some((a) => a.tx === tx)) return 'armed';
  const at = r.history.map((h) => h.tx).lastIndexOf(tx);
  const later = (at >= 0 ? r.history.slice(at + 1) : r.history.filter((h) => h.tx > tx)).some((h) => h.tx !== tx && ['committed', 'undone'].includes(h.outcome));
  if (later) return 'superseded';
  if (at < 0) return 'none';
  const outcome = r.history[at]!.outcome;
  // Its line says committed but its record names another: undone since without a line of its own.
  return (['reverted', 'rolled-back', 'undone', 'aborted', 'revert-failed'] as const).find((o) => o === outcome) ?? 'none';
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
    case 'revert-failed':
      return `${name} failed to restore its snapshot`;
    case 'unreachable':
      return `${name} could not be read`;
    default:
      return `${name} has no record of it`;
  }
}

/** The notice plan and status print for a split transaction (one line). */
export function describeSplit(s: SplitTx, topologyFile: string): string {
  const names = Object.keys(s.states);
  const parts = names.map((n) => describeMember(n, s.states[n]!, s.deadlines[n]));
  const others = names.filter((n) => s.states[n] !== 'committed');
  return (
    `transaction ${s.tx} (${s.kind} by ${s.owner}) committed on some of its gateways only (natchain stopped during its commit): ${parts.join('; ')}. ` +
    `natchain recover ${topologyFile} finishes it (brings ${others.join(', ')} to what the others committed)`
  );
}
