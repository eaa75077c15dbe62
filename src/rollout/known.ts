// The last state natchain knows of each gateway without asking it: the newer of what the journal
// says the last finished transaction left there and what the last read saw (the known-state
// cache, known-store.ts: plan, status, apply). The scope of a change is worked out from this, then
// confirmed live under the lock (a gateway whose snapshot differs is re-read and the change
// re-planned). Pure: journal transactions and cache records in, states out (journalRecords gives the event
// loop a turn between gateways: a fleet's canonical forms are seconds of CPU).
import { TimeSlice } from '../timeslice.js';
import type { Topology } from '../topology/types.js';
import { outcomeOf, type TxHistory } from './journal.js';
import type { KnownRecord } from './known-store.js';
import { canonicalOf } from './owned.js';

/** One gateway's last known canonical owned state, when natchain saw or left it, and how. */
export interface Known {
  canonical: string;
  /** ISO time of the read or of the end of the transaction. */
  time: string;
  /** `tx <id>` (the transaction that left it) or the read that saw it (plan, status, apply, prepare). */
  from: string;
}

/** A gateway's newest record; canonical (computed when asked: it parses a dump) null: unknown from `time` on (unfinished, inconsistent, in flux). */
export interface KnownEntry {
  canonical: () => string | null;
  time: string;
  from: string;
}
type Entry = KnownEntry;

/** What the journal's transactions say last of each gateway of the topology (canonical states computed only when asked for). */
function fromJournal(transactions: TxHistory[], backends: Map<string, string>): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const h of transactions) {
    if (!h.plan) continue;
    const outcome = outcomeOf(h);
    const time = h.recovered?.time ?? h.end?.time ?? h.begin?.time ?? h.plan.time;
    const from = `tx ${h.tx}`;
    for (const [name, p] of Object.entries(h.plan.gateways)) {
      if (!backends.has(name)) continue;
      const read = h.readback[name];
      // Unfinished, inconsistent, another backend, or committed without a read-back: unknown until read.
      const unknown = outcome === undefined || outcome === 'inconsistent' || p.backend !== backends.get(name) || (outcome === 'committed' && p.changed && read === undefined);
      const dump = outcome === 'committed' && p.changed ? read! : p.snapshot;
      out.set(name, { canonical: () => (unknown ? null : canonicalOf(p.backend, dump)), time, from });
    }
  }
  return out;
}

/** Per gateway of the topology with any record: the newer of the journal's and the cache's. */
export function knownEntries(transactions: TxHistory[], topology: Topology, cache: Map<string, KnownRecord> = new Map()): Map<string, KnownEntry> {
  const backends = new Map<string, string>(topology.gateways.map((g) => [g.name, g.backend]));
  const journal = fromJournal(transactions, backends);
  const out = new Map<string, KnownEntry>();
  for (const g of topology.gateways) {
    const c = cache.get(g.name);
    const fromCache: Entry | undefined = c && { canonical: () => (c.backend === g.backend ? c.canonical : null), time: c.time, from: c.by };
    const j = journal.get(g.name);
    // A tie is a rollout's own record of how its transaction left the gateway (journalRecords): the same
    // state, already canonical in the cache (the journal's dump would be parsed again).
    const newest = !j ? fromCache : !fromCache ? j : fromCache.time >= j.time ? fromCache : j;
    if (newest) out.set(g.name, newest);
  }
  return out;
}

/** Per gateway of the topology: the newer of the journal's and the cache's record, when it is a known state (absent: unknown). */
export function lastKnownStates(transactions: TxHistory[], topology: Topology, cache: Map<string, KnownRecord> = new Map()): Map<string, Known> {
  const out = new Map<string, Known>();
  for (const [name, e] of knownEntries(transactions, topology, cache)) {
    const canonical = e.canonical();
    if (canonical !== null) out.set(name, { canonical, time: e.time, from: e.from });
  }
  return out;
}

/** What the journal's transactions last left on these gateways, as known-state cache records (unknown: null). */
export async function journalRecords(transactions: TxHistory[], topology: Topology, gateways: Iterable<string>): Promise<KnownRecord[]> {
  const want = new Set(gateways);
  if (!want.size) return [];
  const journal = fromJournal(transactions, new Map<string, string>(topology.gateways.map((g) => [g.name, g.backend])));
  const out: KnownRecord[] = [];
  // Each canonical form is a parse of a dump: a fleet's worth is sliced (no event-loop stall).
  const slice = new TimeSlice();
  for (const g of topology.gateways) {
    const e = want.has(g.name) ? journal.get(g.name) : undefined;
    if (!e) continue;
    await slice.turn();
    out.push({ gateway: g.name, backend: g.backend, canonical: e.canonical(), time: e.time, by: e.from });
  }
  return out;
}
