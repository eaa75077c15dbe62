// Every gateway keeps a bounded record of the transactions that touched it
// (/var/lib/natchain/history, written by the remote scripts; the last HISTORY_KEEP lines are kept,
// with each transaction's own directory: its snapshot, what it loaded, what it read back). This is
// the reader: `natchain log` merges it across the fleet.
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector } from '../transport/types.js';
import { isTxId } from './ids.js';
import { inspectGateways } from './live.js';

/** One line of a gateway's history. */
export interface GatewayHistoryEntry {
  tx: string;
  /** When the transaction finished there (ISO 8601, gateway clock). */
  time: string;
  /** `user@host:pid` of the natchain that ran it ('-' when unknown). */
  owner: string;
  /** apply, rollback, roll-forward. */
  kind: string;
  /** committed, rolled-back, reverted (its dead-man timer), aborted (nothing changed), undone (a commit taken back), revert-failed. */
  outcome: string;
  /** First 16 hex digits of the topology file's sha256 ('-' when unknown). */
  topologyHash: string;
  /** The wave rollout it was a wave of (the first of a --resume chain), when it was one. */
  rollout?: string;
}

/** Parses the `history` section of `inspect` (tab-separated lines, oldest first); malformed lines are skipped. */
export function parseHistory(section: string | undefined): GatewayHistoryEntry[] {
  const out: GatewayHistoryEntry[] = [];
  for (const line of (section ?? '').split('\n')) {
    const [tx, epoch, owner, kind, outcome, hash, rollout] = line.split('\t');
    if (!tx || !isTxId(tx) || !outcome) continue;
    const sec = Number(epoch);
    const e: GatewayHistoryEntry = { tx, time: Number.isFinite(sec) ? new Date(sec * 1000).toISOString() : '', owner: owner || '-', kind: kind || '-', outcome, topologyHash: hash || '-' };
    if (rollout && isTxId(rollout)) e.rollout = rollout;
    out.push(e);
  }
  return out;
}

/** Reads the history of each gateway (one exec each, the same read as plan and status); an unreachable gateway comes back as its error. */
export async function readGatewayHistories(
  topology: Topology,
  gateways: Gateway[],
  connector: Connector,
  connect: ConnectOptions,
  concurrency = 8,
): Promise<Map<string, GatewayHistoryEntry[] | Error>> {
  const live = await inspectGateways(topology, gateways, connector, connect, { concurrency });
  return new Map([...live].map(([name, l]) => [name, l instanceof Error ? l : l.history]));
}
