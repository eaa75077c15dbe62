// `natchain rollback`: which state each gateway goes back to, decided from the gateways' own
// records (their history and each transaction's directory: remote-scripts.ts), which every operator
// shares, not from one machine's journal. Pure: records in, per gateway the file to restore out.
import { NatchainError } from '../errors.js';
import type { Backend } from '../topology/types.js';
import type { GatewayHistoryEntry } from './history.js';
import { HISTORY_KEEP } from './remote-scripts.js';

/** What one gateway's records say (one `inspect`). */
export interface GatewayRecords {
  gateway: string;
  backend: Backend;
  /** Its history, oldest first. */
  history: GatewayHistoryEntry[];
  /** The newest history line pruned away: the history reaches no further back. */
  pruned?: GatewayHistoryEntry;
  /** The directory of the transaction the read asked about, when the gateway has it. */
  files?: TxFiles & { tx: string };
}

/** What a transaction's directory on a gateway holds that a rollback needs. */
export interface TxFiles {
  /** The gateways the transaction changed (recorded at its apply). */
  members: string[];
  /** What it read back after its load: the state it left. */
  applied?: string;
  /** natchain's state before it. */
  snapshot?: string;
}

/** Where a gateway's restored state comes from: one file of one transaction's directory on that gateway. */
export interface Source {
  tx: string;
  file: 'applied' | 'snapshot';
}

/** What a rollback restores. */
export interface RollbackChoice {
  /** The transaction undone (the first, for a rollout), or the one whose state is restored (--to). */
  tx: string;
  mode: 'undo' | 'to';
  /** Every transaction undone (one, or a rollout's committed waves). */
  undo: string[];
  /** Per gateway that moves: where its state comes from. Gateways not named keep their state. */
  sources: Map<string, Source>;
  /** For the report: the gateways whose records could not be read (left as they are). */
  notes: string[];
}

/** Outcomes of transactions that wrote a snapshot on the gateway (they got past staging). */
const SNAPSHOTTED = new Set(['committed', 'undone', 'rolled-back', 'reverted', 'revert-failed']);

/** The retention, as error messages state it. */
export const RETENTION = `a gateway keeps at least its last ${HISTORY_KEEP} transactions (HISTORY_KEEP); older ones are pruned with their snapshots`;

type Stamp = Pick<GatewayHistoryEntry, 'time' | 'tx'>;

/** Whether `a` finished after `b` (gateway clocks, seconds; the id, which starts with its start time, breaks ties). */
function after(a: Stamp, b: Stamp): boolean {
  return a.time > b.time || (a.time === b.time && a.tx > b.tx);
}

/** A transaction's outcome on one gateway: its last line there (an undo adds a line to a commit). */
function outcomeOn(history: GatewayHistoryEntry[], tx: string): GatewayHistoryEntry | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.tx === tx) return history[i];
  return undefined;
}

/** The fleet's last committed transaction (still committed where it ran), by the gateways' records; undefined when none. */
export function lastCommitted(records: GatewayRecords[]): GatewayHistoryEntry | undefined {
  let best: GatewayHistoryEntry | undefined;
  for (const r of records) {
    for (const e of r.history) {
      if (e.outcome !== 'committed' || outcomeOn(r.history, e.tx)?.outcome !== 'committed') continue;
      if (!best || after(e, best)) best = e;
    }
  }
  return best;
}

/** The committed waves of the rollout `last` was a wave of, oldest first, as the gateways record them (another machine has no rollouts.jsonl). */
export function rolloutOnGateways(records: GatewayRecords[], last: GatewayHistoryEntry): { rollout: string; waves: string[] } | undefined {
  if (!last.rollout) return undefined;
  const first = new Map<string, Stamp>();
  for (const r of records) {
    for (const e of r.history) {
      if (e.rollout !== last.rollout || outcomeOn(r.history, e.tx)?.outcome !== 'committed') continue;
      const seen = first.get(e.tx);
      if (!seen || after(seen, e)) first.set(e.tx, e);
    }
  }
  const waves = [...first.values()].sort((a, b) => (after(a, b) ? 1 : after(b, a) ? -1 : 0)).map((e) => e.tx);
  return { rollout: last.rollout, waves };
}

/**
 * Undo `txs` (one transaction, or every committed wave of a rollout): each gateway one of them
 * committed on goes back to its snapshot in the first of them that changed it. Refused when a
 * transaction outside `txs` committed on such a gateway after it (undoing would undo that too).
 */
export function undoChoice(records: GatewayRecords[], txs: string[], unreadable: Map<string, string>): RollbackChoice {
  const set = new Set(txs);
  const sources = new Map<string, Source>();
  const errors: string[] = [];
  for (const r of records) {
    const first = r.history.find((e) => set.has(e.tx) && outcomeOn(r.history, e.tx)?.outcome === 'committed');
    if (!first) continue;
    const later = r.history.slice(r.history.indexOf(first) + 1).find((e) => !set.has(e.tx) && e.outcome === 'committed' && outcomeOn(r.history, e.tx)?.outcome === 'committed');
    if (later) errors.push(`${r.gateway}: transaction ${later.tx} (${later.kind} by ${later.owner}, ${later.time}) committed there after ${first.tx}; undoing would take it back too: choose the state with --to`);
    sources.set(r.gateway, { tx: first.tx, file: 'snapshot' });
  }
  if (errors.length) throw new NatchainError('USAGE', `cannot undo ${txs.join(', ')}: a later transaction changed ${errors.length === 1 ? 'one of its gateways' : 'some of its gateways'}; nothing was changed`, errors);
  return { tx: txs[0]!, mode: 'undo', undo: txs, sources, notes: notesFor(unreadable) };
}

/**
 * `--to TX`: every gateway goes to the state it had right after TX. Where TX changed it: what TX
 * read back. Elsewhere: its snapshot in the first transaction after TX that touched it (its state
 * then), or its state now when none did. Refused when TX did not commit everywhere it ran, or when
 * a gateway's history no longer reaches back to TX (pruned), naming the gateway.
 */
export function toChoice(records: GatewayRecords[], tx: string, unreadable: Map<string, string>, topologyFile: string): RollbackChoice {
  const holders = records.flatMap((r) => {
    const e = outcomeOn(r.history, tx);
    return e ? [{ r, e }] : [];
  });
  if (!holders.length) throw notRecorded(records, tx, topologyFile);
  const bad = holders.filter((h) => h.e.outcome !== 'committed');
  if (bad.length) {
    throw new NatchainError('NOT_FOUND', `transaction ${tx} is not committed (${bad.map((h) => `${h.r.gateway}: ${h.e.outcome}`).join(', ')}); only a state a committed transaction left can be restored`);
  }
  // TX finished when its last gateway recorded it.
  const end = holders.reduce<Stamp>((m, h) => (after(h.e, m) ? { time: h.e.time, tx } : m), { time: '', tx });
  const changed = new Set([...holders.map((h) => h.r.gateway), ...holders.flatMap((h) => (h.r.files?.tx === tx ? h.r.files.members : []))]);
  const sources = new Map<string, Source>();
  const errors: string[] = [];
  for (const r of records) {
    if (holders.some((h) => h.r === r)) {
      sources.set(r.gateway, { tx, file: 'applied' });
      continue;
    }
    const since = r.pruned ? ` (history pruned up to ${r.pruned.tx}, ${r.pruned.time})` : '';
    if (changed.has(r.gateway)) {
      errors.push(`${r.gateway}: ${tx} changed it, but its history no longer holds ${tx}${since}`);
      continue;
    }
    // Untouched by TX: its state right after TX is the snapshot of the first transaction after TX.
    if (r.pruned && !after(end, r.pruned)) {
      errors.push(`${r.gateway}: its history no longer reaches back to ${tx}${since}, so its state then is unknown`);
      continue;
    }
    const next = r.history.find((e) => after(e, end) && SNAPSHOTTED.has(e.outcome));
    if (next) sources.set(r.gateway, { tx: next.tx, file: 'snapshot' });
  }
  for (const g of unreadable.keys()) if (changed.has(g)) errors.push(`${g}: ${tx} changed it, but it cannot be read now: ${unreadable.get(g)}`);
  if (errors.length) throw new NatchainError('NOT_FOUND', `cannot restore the state ${tx} left on every gateway (${RETENTION}); nothing was changed`, errors);
  return { tx, mode: 'to', undo: [], sources, notes: notesFor(unreadable) };
}

/** No gateway has a line for TX: pruned (naming where, from its id's start time) or never recorded. */
function notRecorded(records: GatewayRecords[], tx: string, topologyFile: string): NatchainError {
  const started = startOf(tx);
  const pruned = records.filter((r) => r.pruned && r.pruned.time >= started);
  if (pruned.length) {
    return new NatchainError(
      'NOT_FOUND',
      `transaction ${tx} is no longer in the history of any gateway of ${topologyFile}: pruned on ${pruned.map((r) => r.gateway).join(', ')} (${RETENTION})`,
      pruned.map((r) => `${r.gateway}: history pruned up to ${r.pruned!.tx} (${r.pruned!.time})`),
    );
  }
  return new NatchainError('NOT_FOUND', `no gateway of ${topologyFile} records transaction ${tx}: it changed none of them (a transaction that changed nothing leaves no record), or it ran on other gateways`);
}

/** When a transaction started, from its id (`20260101T120000Z-…`), as ISO 8601. */
function startOf(tx: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(tx);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z` : '';
}

function notesFor(unreadable: Map<string, string>): string[] {
  return [...unreadable].map(([g, why]) => `${g}: could not be read (${why}); its records were not considered and it is left as it is`);
}

/** The backend a dump was taken with, when its text says (a rollback cannot cross backends). */
export function dumpBackend(text: string): Backend | undefined {
  if (/^table ip natchain\b/m.test(text)) return 'nftables';
  if (/^\*[a-z]+$/m.test(text)) return 'iptables';
  return undefined;
}

/** Per gateway of the choice, the dump to restore, from the fetched files; refuses a missing file or a dump of another backend. */
export function targetDumps(choice: RollbackChoice, backends: Map<string, Backend>, files: Map<string, TxFiles>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [g, s] of choice.sources) {
    const text = files.get(g)?.[s.file];
    if (text === undefined) throw new NatchainError('NOT_FOUND', `${g}: the directory of transaction ${s.tx} has no ${s.file} any more (${RETENTION}); nothing was changed`);
    const was = dumpBackend(text);
    if (was && was !== backends.get(g)) throw new NatchainError('USAGE', `${g} used ${was} in ${s.tx} but ${backends.get(g)} now; a rollback cannot cross backends`);
    out.set(g, text);
  }
  return out;
}
