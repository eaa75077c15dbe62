// `natchain log`: the fleet's transactions, merged from every gateway's own history (the truth,
// shared by every operator) and the local journal (a cache: it knows transactions whose gateways
// cannot be read now, and which rollout a wave belonged to). Pure: records in, entries out.
import type { GatewayHistoryEntry } from './history.js';
import { outcomeOf, type TxHistory } from './journal.js';
import type { RolloutHistory } from './rollouts.js';

/** One transaction of the fleet: as a gateway records it (time: the earliest seen; outcome: what every gateway agrees on, or `mixed`), plus: */
export interface LogEntry extends GatewayHistoryEntry {
  /** Each gateway's own outcome ('?' when only the journal names it). */
  gateways: Array<{ gateway: string; outcome: string }>;
  /** Where it is known from. */
  source: 'gateways' | 'journal' | 'both';
  /** The wave rollout it was part of (this machine's rollouts.jsonl; else the gateways' record: the first rollout of a --resume chain). */
  rollout?: string;
}

/** Merges the gateways' histories and the journal into one list, oldest first. */
export function mergeLog(histories: Map<string, GatewayHistoryEntry[] | Error>, journal: TxHistory[], rollouts: RolloutHistory[] = []): LogEntry[] {
  const by = new Map<string, LogEntry>();
  for (const [gateway, h] of histories) {
    if (h instanceof Error) continue;
    for (const e of h) {
      let x = by.get(e.tx);
      if (!x) {
        x = { tx: e.tx, time: e.time, owner: e.owner, kind: e.kind, outcome: e.outcome, topologyHash: e.topologyHash, gateways: [], source: 'gateways', ...(e.rollout ? { rollout: e.rollout } : {}) };
        by.set(e.tx, x);
      }
      if (e.time && (!x.time || e.time < x.time)) x.time = e.time;
      x.gateways.push({ gateway, outcome: e.outcome });
    }
  }
  const names = new Set(histories.keys());
  for (const h of journal) {
    if (!h.begin || !h.begin.gateways.some((g) => names.has(g))) continue;
    const x = by.get(h.tx);
    if (x) {
      x.source = 'both';
      continue;
    }
    by.set(h.tx, {
      tx: h.tx,
      time: h.begin.time,
      owner: h.begin.owner,
      kind: h.begin.kind,
      outcome: outcomeOf(h) ?? (h.end?.outcome ?? 'unfinished'),
      topologyHash: h.begin.topologyHash ?? '-',
      gateways: h.begin.gateways.filter((g) => names.has(g)).map((gateway) => ({ gateway, outcome: '?' })),
      source: 'journal',
    });
  }
  for (const r of rollouts) for (const w of r.waves) if (w.tx && by.has(w.tx)) by.get(w.tx)!.rollout = r.id;
  for (const x of by.values()) {
    x.gateways.sort((a, b) => a.gateway.localeCompare(b.gateway));
    const seen = new Set(x.gateways.map((g) => g.outcome).filter((o) => o !== '?'));
    if (seen.size > 1) x.outcome = 'mixed';
    else if (seen.size === 1) x.outcome = [...seen][0]!;
  }
  return [...by.values()].sort((a, b) => a.time.localeCompare(b.time) || a.tx.localeCompare(b.tx));
}
