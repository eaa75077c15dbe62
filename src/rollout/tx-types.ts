// The public shapes of one transaction: its options, its report, its error (see transaction.ts).
import { NatchainError } from '../errors.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector } from '../transport/types.js';
import type { Faults } from './faults.js';
import type { GatewayPhase, Journal, Outcome, TxKind } from './journal.js';
import type { Change } from './owned.js';

/** Reports progress per gateway and phase (the CLI draws it). */
export interface ProgressSink {
  start(gateway: string, phase: string): void;
  finish(gateway: string, phase: string, ok: boolean, detail?: string): void;
  note(message: string): void;
}

/** A sink that shows nothing. */
export const silentProgress: ProgressSink = { start() {}, finish() {}, note() {} };

/** What the transaction is asked to make of one gateway (known before its state is read). */
export type TargetFn = (gateway: Gateway) => Change;

/** What prepare read on a gateway. */
export interface GatewayRead {
  /** natchain's state as the gateway dumped it (iptables-save / nft list table ip natchain). */
  snapshot: string;
  /** The facts section (src/gateway/facts.ts). */
  facts?: string;
  /** Whether the transaction changes this gateway. */
  changed: boolean;
}

/** One gateway's part of the plan, shown before anything changes. */
export interface GatewayPlan {
  gateway: string;
  backend: Gateway['backend'];
  changed: boolean;
  /** Canonical owned state now and after. */
  before: string;
  after: string;
  forwards: { added: string[]; removed: string[]; changed: string[] };
  ipForward: string;
  enableIpForward: boolean;
}

/** Everything a transaction needs. */
export interface TransactionOptions {
  kind: TxKind;
  topology: Topology;
  /** The gateways of the change (default: every gateway of the topology). Any of them unreachable or locked stops the transaction. */
  gateways?: string[];
  /** Gateways outside the change, reported only: never locked, never blocking ("unreachable (not in this change)"). */
  outOfScope?: string[];
  target: TargetFn;
  /**
   * Called for each gateway in scope once prepare has read it (locks held on the changed ones);
   * throwing stops the transaction with nothing changed (a saved plan the gateway no longer
   * matches; gateway facts that contradict the topology: see checkFactsGuard in cli/remote.ts).
   */
  guard?: (gateway: Gateway, read: GatewayRead) => void;
  /** Gateways whose forwards need net.ipv4.ip_forward (those with intents). */
  needsForwarding: (gateway: Gateway) => boolean;
  /** Opens the management session of each gateway (may share jump connections). */
  connector: Connector;
  /** Opens a session on a NEW connection: the lock-out proof and the commit's connection. */
  fresh: Connector;
  connect: ConnectOptions;
  journal: Journal;
  concurrency: number;
  confirmTimeoutSec: number;
  enableIpForward: boolean;
  /** 'manual': apply and verify, then leave every gateway armed (outcome 'armed'); `natchain confirm` commits. */
  confirmMode?: 'auto' | 'manual';
  /** Wait this long for another transaction's lock (releasing ours while waiting). */
  lockTimeoutSec?: number;
  /** Break a lock held by this transaction id (a dead holder's). */
  breakLock?: string;
  /** Shown the plan once every gateway is prepared; false cancels. Absent: go on. */
  confirm?: (plan: GatewayPlan[]) => Promise<boolean>;
  progress: ProgressSink;
  faults: Faults;
  /** For rollbacks: the transaction being restored. */
  rollbackOf?: string;
  /** The wave rollout this transaction is a wave of (the first rollout of a --resume chain): kept in every gateway's history. */
  rollout?: string;
  /** A hash of the topology file, kept in every gateway's history. */
  topologyHash?: string;
  /** Use this transaction id (default: a new one). */
  tx?: string;
  /** Set when the user interrupts: the transaction rolls back at the next phase boundary. */
  signal?: AbortSignal;
}

/** Where one gateway ended. */
export interface GatewayReport {
  gateway: string;
  backend: Gateway['backend'];
  scope: 'in' | 'out';
  changed: boolean;
  state: GatewayPhase;
  /** Exec calls, on every connection: 1 for an unchanged gateway, 3 for a changed one that committed. */
  roundTrips: number;
  elapsedMs: number;
  /** Dead-man deadline (epoch seconds, gateway clock) when it was armed. */
  deadline?: number;
  detail?: string;
  forwards: { added: string[]; removed: string[]; changed: string[] };
}

/** What a transaction did. */
export interface TransactionReport {
  tx: string;
  kind: TxKind;
  outcome: Outcome;
  gateways: GatewayReport[];
  plan: GatewayPlan[];
  /** The first failure: where, in which phase, why. */
  failure?: { gateway: string; phase: string; reason: string };
  /** Outcome 'armed': the earliest dead-man deadline (epoch seconds): confirm before it. */
  deadline?: number;
  elapsedMs: number;
}

/** A transaction that did not commit; carries the full report (every gateway's state now). */
export class TransactionError extends NatchainError {
  constructor(
    message: string,
    readonly report: TransactionReport,
    code: 'TRANSACTION' | 'LOCKED' | 'CANCELLED' | 'REMOTE' = 'TRANSACTION',
  ) {
    super(
      code,
      message,
      report.gateways.map((g) => `${g.gateway}: ${g.state}${g.detail ? ` (${g.detail})` : ''}`),
    );
    this.name = 'TransactionError';
  }
}
