// The state of one running transaction, shared by its phases (tx-*.ts): the gateways and where
// each stands, the first failure, journaling, progress, the report. No phase logic here.
import type { GatewayHistoryEntry } from './history.js';
import pLimit from 'p-limit';
import { NatchainError, withoutGateway } from '../errors.js';
import type { Gateway } from '../topology/types.js';
import type { GatewaySession } from '../transport/types.js';
import { mapSliced } from '../timeslice.js';
import { PhaseError, runPhase } from './exec.js';
import { newTxId, ownerIdentity } from './ids.js';
import type { GatewayPhase, Outcome } from './journal.js';
import type { Change } from './owned.js';
import type { RemoteOp, Sections } from './remote.js';
import type { GatewayPlan, GatewayReport, TransactionOptions, TransactionReport } from './tx-types.js';

/** One gateway in a running transaction. */
export interface Gw {
  gateway: Gateway;
  /** 'out': passed as outside the change; it is never locked and never blocks. */
  scope: 'in' | 'out';
  session?: GatewaySession;
  /** The new connection opened after the apply (the lock-out proof); the commit goes over it. */
  fresh?: GatewaySession;
  change?: Change;
  snapshot?: string;
  /** The gateway's facts section (src/gateway/facts.ts), read by prepare. */
  facts?: string;
  ipForward?: string;
  lastTx?: string;
  /** The last line of the gateway's history (read by prepare): a transaction its timer reverted shows there. */
  lastHistory?: GatewayHistoryEntry;
  /** The gateway itself found it unchanged (prepare released its lock at once). */
  saidUnchanged?: boolean;
  plan?: GatewayPlan;
  state: GatewayPhase;
  locked: boolean;
  /** The prepare's answer was lost: the gateway may hold our lock, so abort must release it too. */
  lockUnknown?: boolean;
  /** The timer may be armed (apply was attempted): a rollback must reach it, or the timer will. */
  armed: boolean;
  applyTried?: boolean;
  /** The commit's answer was lost twice: the gateway may have committed or not. */
  commitUnknown?: boolean;
  /** The management connection died (after the apply: the commit went over the new one). */
  managementLost?: boolean;
  deadline?: number;
  /** When its dead-man timer fires at the latest, on this machine's clock (ms): the apply's answer time + the timeout. */
  firesBy?: number;
  detail?: string;
  started: number;
  finished?: number;
  /** Exec calls on every connection to this gateway. */
  trips: number;
}

/** A phase decided the transaction cannot go on: abort with this message. */
export class Stop extends Error {
  constructor(
    message: string,
    readonly code: 'TRANSACTION' | 'LOCKED' | 'CANCELLED' | 'REMOTE' = 'TRANSACTION',
    /** The gateways to roll back (default: every one that may hold something of this transaction). */
    readonly only?: Gw[],
  ) {
    super(message);
  }
}

/** A running transaction. */
export class TxRun {
  readonly tx: string;
  readonly owner = ownerIdentity();
  readonly t0 = Date.now();
  readonly gws: Gw[];
  failure: TransactionReport['failure'];
  private readonly limit;

  constructor(readonly o: TransactionOptions) {
    this.tx = o.tx ?? newTxId();
    this.limit = pLimit(Math.max(1, o.concurrency));
    const inScope = o.gateways ?? o.topology.gateways.map((g) => g.name);
    const out = (o.outOfScope ?? []).filter((n) => !inScope.includes(n));
    this.gws = [...inScope.map((n) => this.gw(n, 'in' as const)), ...out.map((n) => this.gw(n, 'out' as const))];
  }

  private gw(name: string, scope: 'in' | 'out'): Gw {
    const gateway = this.o.topology.gateways.find((g) => g.name === name);
    if (!gateway) throw new NatchainError('NOT_FOUND', `no gateway "${name}" in ${this.o.topology.file}`);
    return { gateway, scope, state: 'unknown', locked: false, armed: false, started: Date.now(), trips: 0 };
  }

  /** The gateways in scope. */
  get inScope(): Gw[] {
    return this.gws.filter((g) => g.scope === 'in');
  }

  /** The gateways this transaction changes. */
  get changed(): Gw[] {
    return this.gws.filter((g) => g.plan?.changed);
  }

  /** Records the first failure. */
  fail(gw: Gw | undefined, phase: string, reason: string): void {
    this.failure ??= { gateway: gw?.gateway.name ?? '-', phase, reason };
  }

  /** Sets a gateway's phase and journals it (queued: flushed at the next barrier). */
  mark(gw: Gw, phase: GatewayPhase, detail?: string): void {
    gw.state = phase;
    if (detail !== undefined) gw.detail = detail;
    this.o.journal.append({ type: 'phase', tx: this.tx, time: new Date().toISOString(), gateway: gw.gateway.name, phase, ...(detail ? { detail } : {}) });
  }

  /** Runs `fn` for every gateway of `list`, at most `concurrency` at once. */
  each(list: Gw[], fn: (gw: Gw) => Promise<void>): Promise<void[]> {
    return Promise.all(list.map((gw) => this.limit(() => fn(gw))));
  }

  /** Runs one step of one gateway under the progress display. */
  async step<T>(gw: Gw, phase: string, fn: () => Promise<T>): Promise<T> {
    this.o.progress.start(gw.gateway.name, phase);
    try {
      const v = await fn();
      this.o.progress.finish(gw.gateway.name, phase, true);
      return v;
    } catch (e) {
      this.o.progress.finish(gw.gateway.name, phase, false, reasonOf(e, gw.gateway.name));
      throw e;
    }
  }

  /** One remote phase on one of the gateway's sessions, counted in its round trips. */
  exec(gw: Gw, session: GatewaySession, op: RemoteOp, args: Array<string | number>, stdin?: (nonce: string) => string): Promise<Sections> {
    gw.trips++;
    return runPhase(session, gw.gateway.backend, this.tx, op, args, stdin);
  }

  /** Test fault pause:<phase>:<ms>: says so on stderr (with the tx id) and waits, so a test can act from outside at that moment. */
  async pause(phase: string): Promise<void> {
    const ms = this.o.faults.pause(phase);
    if (ms <= 0) return;
    process.stderr.write(`natchain-test: paused before ${phase} (tx ${this.tx})\n`);
    await new Promise((r) => setTimeout(r, ms));
  }

  /** A NEW connection to a gateway. */
  async openFresh(gw: Gw): Promise<GatewaySession> {
    return this.o.fresh(this.o.topology, gw.gateway, this.o.connect);
  }

  /** True when the user asked to stop (Ctrl-C): the failure says so. */
  interrupted(phase: string): boolean {
    if (!this.o.signal?.aborted) return false;
    this.failure ??= { gateway: '-', phase, reason: 'interrupted by the user' };
    return true;
  }

  /** The report as it stands. */
  report(outcome: Outcome, extra: Partial<TransactionReport> = {}): TransactionReport {
    return {
      tx: this.tx,
      kind: this.o.kind,
      outcome,
      plan: this.gws.flatMap((g) => (g.plan ? [g.plan] : [])),
      gateways: this.gws.map((g) => gatewayReport(g)),
      ...(this.failure ? { failure: this.failure } : {}),
      elapsedMs: Date.now() - this.t0,
      ...extra,
    };
  }

  /** Journals the end (and flushes: a barrier) and returns the report. */
  end(outcome: Outcome, error?: string, extra: Partial<TransactionReport> = {}): TransactionReport {
    for (const g of this.gws) g.finished ??= Date.now();
    this.o.journal.append({
      type: 'end',
      tx: this.tx,
      time: new Date().toISOString(),
      outcome,
      states: Object.fromEntries(this.gws.map((g) => [g.gateway.name, g.state])),
      ...(error ? { error } : {}),
    });
    this.o.journal.flush();
    return this.report(outcome, extra);
  }

  /** Closes every connection this transaction opened. */
  async closeAll(): Promise<void> {
    // Each close is a packet to encrypt and send: a fleet's worth is sliced (no event-loop stall).
    const open = this.gws.flatMap((g) => [g.session, g.fresh]).filter((s) => s !== undefined);
    await Promise.all(await mapSliced(open, (s) => s.close().catch(() => undefined)));
  }
}

function gatewayReport(g: Gw): GatewayReport {
  const r: GatewayReport = {
    gateway: g.gateway.name,
    backend: g.gateway.backend,
    scope: g.scope,
    changed: g.plan?.changed ?? false,
    state: g.state,
    roundTrips: g.trips,
    elapsedMs: (g.finished ?? Date.now()) - g.started,
    forwards: g.plan?.forwards ?? { added: [], removed: [], changed: [] },
  };
  if (g.deadline) r.deadline = g.deadline;
  if (g.detail) r.detail = g.detail;
  return r;
}

/** Why a step failed, for a report line (the gateway is named once, by the line). */
export function reasonOf(e: unknown, gateway?: string): string {
  if (e instanceof PhaseError) return e.reason;
  const m = (e as Error).message;
  return gateway ? withoutGateway(gateway, m) : m;
}

/** True when the error says the connection was lost (the answer is unknown), not a clean refusal. */
export function lostConnection(e: unknown): boolean {
  return !(e instanceof PhaseError) || e.connectionLost;
}

const deadSessions = new WeakSet<GatewaySession>();

/** Remembers when a session's connection ends, so `isClosed` can answer without waiting. */
export function watch(s: GatewaySession): GatewaySession {
  void s.closed.then(() => deadSessions.add(s));
  return s;
}

/** True when the session's connection has ended. */
export async function isClosed(s: GatewaySession): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 0));
  return deadSessions.has(s);
}
