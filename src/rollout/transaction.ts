// The transaction of DESIGN.md, across every gateway a plan touches: lock + snapshot, stage +
// check, arm + apply + read back, a new connection, commit. Four exec calls per changed gateway.
import pLimit from 'p-limit';
import { NatchainError, withGateway, withoutGateway } from '../errors.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, GatewaySession } from '../transport/types.js';
import { PhaseError, runPhase } from './exec.js';
import type { Faults } from './faults.js';
import { newTxId, ownerIdentity } from './ids.js';
import { Journal, type GatewayPhase, type JournalGatewayPlan, type Outcome } from './journal.js';
import { canonicalOf, forwardChanges, type Change } from './owned.js';
import { frame, parseLockInfo, type LockHolder } from './remote.js';

/** Reports progress per gateway and phase (the CLI draws it). */
export interface ProgressSink {
  start(gateway: string, phase: string): void;
  finish(gateway: string, phase: string, ok: boolean, detail?: string): void;
  note(message: string): void;
}

/** A sink that shows nothing. */
export const silentProgress: ProgressSink = { start() {}, finish() {}, note() {} };

/** What the transaction is asked to make of one gateway, given its snapshot. */
export type TargetFn = (gateway: Gateway, snapshot: string) => Change;

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
  kind: 'apply' | 'rollback';
  topology: Topology;
  /** Gateways taking part (default: every gateway of the topology). */
  gateways?: string[];
  target: TargetFn;
  /** Gateways whose forwards need net.ipv4.ip_forward (those with intents). */
  needsForwarding: (gateway: Gateway) => boolean;
  /** Opens the management session of each gateway (may share jump connections). */
  connector: Connector;
  /** Opens a session on a NEW connection: the "still gets in" probe, and reaching a gateway whose management connection died. */
  fresh: Connector;
  connect: ConnectOptions;
  journal: Journal;
  concurrency: number;
  confirmTimeoutSec: number;
  enableIpForward: boolean;
  /** Break a lock held by this transaction id (a dead holder's). */
  breakLock?: string;
  /** Shown the plan once every gateway is locked; false cancels. Absent: go on. */
  confirm?: (plan: GatewayPlan[]) => Promise<boolean>;
  progress: ProgressSink;
  faults: Faults;
  /** For rollbacks: the transaction being restored. */
  rollbackOf?: string;
  /** Set when the user interrupts: the transaction rolls back at the next phase boundary. */
  signal?: AbortSignal;
}

/** Where one gateway ended. */
export interface GatewayReport {
  gateway: string;
  backend: Gateway['backend'];
  changed: boolean;
  state: GatewayPhase;
  /** Exec calls on the management connection. */
  roundTrips: number;
  elapsedMs: number;
  detail?: string;
  forwards: { added: string[]; removed: string[]; changed: string[] };
}

/** What a transaction did. */
export interface TransactionReport {
  tx: string;
  kind: 'apply' | 'rollback';
  outcome: Outcome;
  gateways: GatewayReport[];
  plan: GatewayPlan[];
  /** The first failure: where, in which phase, why. */
  failure?: { gateway: string; phase: string; reason: string };
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

interface Gw {
  gateway: Gateway;
  session?: GatewaySession;
  snapshot?: string;
  ipForward?: string;
  change?: Change;
  plan?: GatewayPlan;
  state: GatewayPhase;
  locked: boolean;
  /** The lock exec's answer was lost (timeout, connection): the gateway may hold our lock, so abort must release it too. */
  lockUnknown?: boolean;
  /** The timer may be armed (apply was attempted): a rollback must reach it, or the timer will. */
  armed: boolean;
  /** The apply phase ran here (so the outcome of a failure is "rolled back", not "aborted"). */
  applyTried?: boolean;
  /** The commit's connection died and no new one got through: the gateway may have committed (disarmed) or not. */
  commitUnknown?: boolean;
  deadline?: number;
  detail?: string;
  started: number;
  finished?: number;
  /** Exec calls made on replacement connections (after the management one died). */
  extraTrips: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one transaction; resolves with the report when it committed (or had nothing to do), throws TransactionError otherwise. */
export async function runTransaction(o: TransactionOptions): Promise<TransactionReport> {
  const t0 = Date.now();
  const tx = newTxId();
  const owner = ownerIdentity();
  const limit = pLimit(Math.max(1, o.concurrency));
  // Test fault "isolate": the gateway's management connection dies and no new one gets through.
  const fresh: Connector = async (t, g, c) => {
    if (o.faults.remote('isolate', g.name)) throw new Error(`${g.name}: no route (test fault isolate:${g.name})`);
    return o.fresh(t, g, c);
  };
  const names = o.gateways ?? o.topology.gateways.map((g) => g.name);
  const gws: Gw[] = names.map((n) => {
    const gateway = o.topology.gateways.find((g) => g.name === n);
    if (!gateway) throw new NatchainError('NOT_FOUND', `no gateway "${n}" in ${o.topology.file}`);
    return { gateway, state: 'unknown', locked: false, armed: false, started: Date.now(), extraTrips: 0 };
  });
  let failure: TransactionReport['failure'];
  /** The first failure so far (a function: closures set it, so flow narrowing must not see through). */
  const failed = (): TransactionReport['failure'] => failure;
  const journal = (gw: Gw, phase: GatewayPhase, detail?: string) => {
    gw.state = phase;
    if (detail !== undefined) gw.detail = detail;
    o.journal.append({ type: 'phase', tx, time: new Date().toISOString(), gateway: gw.gateway.name, phase, ...(detail ? { detail } : {}) });
  };
  const fail = (gw: Gw, phase: string, reason: string) => {
    failure ??= { gateway: gw.gateway.name, phase, reason };
  };
  const dies = (gw: Gw) => o.faults.remote('disconnect', gw.gateway.name) || o.faults.remote('isolate', gw.gateway.name);
  const each = (list: Gw[], fn: (gw: Gw) => Promise<void>) => Promise.all(list.map((gw) => limit(() => fn(gw))));
  const step = async <T>(gw: Gw, phase: string, fn: () => Promise<T>): Promise<T> => {
    o.progress.start(gw.gateway.name, phase);
    try {
      const v = await fn();
      o.progress.finish(gw.gateway.name, phase, true);
      return v;
    } catch (e) {
      o.progress.finish(gw.gateway.name, phase, false, e instanceof PhaseError ? e.reason : withoutGateway(gw.gateway.name, (e as Error).message));
      throw e;
    }
  };
  const report = (outcome: Outcome): TransactionReport => ({
    tx,
    kind: o.kind,
    outcome,
    plan: gws.flatMap((g) => (g.plan ? [g.plan] : [])),
    gateways: gws.map((g) => {
      const r: GatewayReport = {
        gateway: g.gateway.name,
        backend: g.gateway.backend,
        changed: g.plan?.changed ?? false,
        state: g.state,
        roundTrips: (g.session?.execCount ?? 0) + g.extraTrips,
        elapsedMs: (g.finished ?? Date.now()) - g.started,
        forwards: g.plan?.forwards ?? { added: [], removed: [], changed: [] },
      };
      if (g.detail) r.detail = g.detail;
      return r;
    }),
    ...(failure ? { failure } : {}),
    elapsedMs: Date.now() - t0,
  });
  const end = (outcome: Outcome, error?: string) => {
    for (const g of gws) g.finished ??= Date.now();
    o.journal.append({
      type: 'end',
      tx,
      time: new Date().toISOString(),
      outcome,
      states: Object.fromEntries(gws.map((g) => [g.gateway.name, g.state])),
      ...(error ? { error } : {}),
    });
    return report(outcome);
  };
  const closeAll = () => Promise.all(gws.map((g) => g.session?.close().catch(() => undefined)));
  const checkSignal = (phase: string) => {
    if (o.signal?.aborted) {
      failure ??= { gateway: '-', phase, reason: 'interrupted by the user' };
      return true;
    }
    return false;
  };
  const pause = async (phase: string) => {
    const ms = o.faults.pause(phase);
    if (ms > 0) {
      process.stderr.write(`natchain-test: paused before ${phase} (tx ${tx})\n`);
      await sleep(ms);
    }
  };

  /** Rolls back every gateway in `list` (abort script), through a new connection when the old one died. */
  const rollback = async (list: Gw[], undoCommitted = false) => {
    await each(list, async (gw) => {
      const viaSession = async (s: GatewaySession) => {
        const sec = await runPhase(s, gw.gateway.backend, tx, 'abort', [undoCommitted ? 1 : 0]);
        return (sec.get('state') ?? '').trim();
      };
      let st: string | undefined;
      let why = '';
      let lost = false;
      try {
        st = await step(gw, gw.armed || undoCommitted ? 'rollback' : 'release', async () => {
          if (gw.session && !(await isClosed(gw.session))) return viaSession(gw.session);
          // The management connection is gone: try a fresh one before leaving it to the timer.
          const s = await fresh(o.topology, gw.gateway, o.connect);
          try {
            gw.extraTrips++;
            return await viaSession(s);
          } finally {
            await s.close().catch(() => undefined);
          }
        });
      } catch (e) {
        why = e instanceof PhaseError ? e.reason : (e as Error).message;
        lost = !(e instanceof PhaseError) || e.connectionLost;
      }
      gw.locked = false;
      gw.lockUnknown = false;
      gw.finished = Date.now();
      if (st === undefined) {
        if (!lost) journal(gw, 'failed', `rolling back failed: ${why}`);
        else if (gw.commitUnknown) {
          journal(gw, 'unknown', `unreachable (${why}) after its commit's connection was lost: it may have committed, or its dead-man timer restores the snapshot; run natchain recover`);
        } else if (gw.armed) {
          const when = gw.deadline ? ` by ${new Date(gw.deadline * 1000).toISOString()}` : ` within ${o.confirmTimeoutSec}s`;
          journal(gw, 'unknown', `unreachable (${why}); its dead-man timer restores the snapshot${when}`);
        } else if (gw.state === 'locked' || gw.state === 'staged' || gw.state === 'connected') {
          journal(gw, 'unknown', `unchanged but could not release its lock: ${why}`);
        } else journal(gw, 'unknown', `unreachable: ${why}`);
        return;
      }
      if (st === 'reverted') journal(gw, 'reverted-by-timer', 'its dead-man timer had already restored the snapshot');
      else if (st === 'rolled-back') journal(gw, 'rolled-back', 'snapshot restored');
      else if (st === 'revert-failed') journal(gw, 'failed', 'restoring the snapshot failed');
      else journal(gw, 'released', gw.plan?.changed ? 'nothing was changed' : undefined);
    });
  };

  const abortWith = async (message: string, list: Gw[], code: 'TRANSACTION' | 'LOCKED' | 'CANCELLED' | 'REMOTE' = 'TRANSACTION'): Promise<never> => {
    await rollback(list);
    // Settled: back as it was, never touched, or unreachable but armed (its timer restores it).
    const settled = (g: Gw) => ['rolled-back', 'released', 'reverted-by-timer', 'connected'].includes(g.state) || (g.state === 'unknown' && g.armed);
    const outcome: Outcome = gws.every(settled) ? (gws.some((g) => g.applyTried) ? 'rolled-back' : 'aborted') : 'inconsistent';
    const waiting = gws.filter((g) => g.state === 'unknown' && g.armed);
    if (waiting.length) {
      message += `; ${waiting.map((g) => g.gateway.name).join(', ')} could not be reached and restore${waiting.length === 1 ? 's' : ''} itself when its dead-man timer fires`;
      message += waiting[0]!.deadline ? ` (${new Date(waiting[0]!.deadline * 1000).toISOString()})` : ` (within ${o.confirmTimeoutSec}s)`;
    }
    if (outcome === 'inconsistent') message += '; some gateways may not be as they were: run natchain recover';
    const r = end(outcome, message);
    await closeAll();
    throw new TransactionError(message, r, code);
  };

  // ---- connect (nothing is touched until every gateway is reachable) --------------------------
  const connectErrors: string[] = [];
  let firstConnectError: unknown;
  await each(gws, async (gw) => {
    try {
      gw.session = watch(await step(gw, 'connect', () => o.connector(o.topology, gw.gateway, o.connect)));
      gw.state = 'connected';
    } catch (e) {
      firstConnectError ??= e;
      connectErrors.push(withGateway(gw.gateway.name, (e as Error).message));
      gw.detail = withoutGateway(gw.gateway.name, (e as Error).message);
      gw.state = 'unknown';
    }
  });
  if (connectErrors.length) {
    await closeAll();
    for (const g of gws) if (g.state === 'connected') g.detail = 'unchanged';
    const base = firstConnectError instanceof NatchainError ? firstConnectError : undefined;
    const err = new NatchainError(base?.code ?? 'SSH', `cannot reach ${connectErrors.length} gateway(s); nothing was changed`, connectErrors, { cause: firstConnectError });
    throw err;
  }

  o.journal.append({
    type: 'begin',
    tx,
    time: new Date().toISOString(),
    kind: o.kind,
    owner: owner.text,
    topology: o.topology.file,
    ...(o.connect.sshConfigFile ? { sshConfig: o.connect.sshConfigFile } : {}),
    gateways: names,
    confirmTimeoutSec: o.confirmTimeoutSec,
    ...(o.rollbackOf ? { target: o.rollbackOf } : {}),
  });

  // ---- 1: lock + snapshot + ip_forward ------------------------------------------------------
  const holders: Array<{ gateway: string; holder: LockHolder }> = [];
  await each(gws, async (gw) => {
    try {
      const sec = await step(gw, 'lock', () => runPhase(gw.session!, gw.gateway.backend, tx, 'begin', [owner.text, o.breakLock ?? '-']));
      gw.locked = true;
      gw.snapshot = sec.get('snapshot') ?? '';
      gw.ipForward = (sec.get('forward') ?? '').trim();
      const broke = parseLockInfo(sec.get('broke'), 0);
      journal(gw, 'locked', broke ? `broke the lock of ${broke.tx} (${broke.owner})` : undefined);
    } catch (e) {
      if (e instanceof PhaseError && e.holder) holders.push({ gateway: gw.gateway.name, holder: e.holder });
      // No answer (timeout, lost connection): the lock may have been taken. The abort script is
      // idempotent and only unlocks a lock this transaction holds, so releasing it too is safe.
      else if (!(e instanceof PhaseError) || e.connectionLost) gw.lockUnknown = true;
      gw.detail = e instanceof PhaseError ? e.reason : (e as Error).message;
      fail(gw, 'lock', gw.detail);
    }
  });
  if (holders.length) {
    const h = holders[0]!;
    const first = h.holder;
    const hint =
      first.armedUntil === undefined
        ? ` (if that natchain is dead: natchain recover, or --break-lock ${first.tx})`
        : ' (its dead-man timer will release it)';
    return abortWith(`${h.gateway} is locked by transaction ${first.tx} of ${first.owner}, taken ${first.ageSec}s ago${hint}; nothing was changed`, gws.filter((g) => g.locked || g.lockUnknown), 'LOCKED');
  }
  const f1 = failed();
  if (f1) return abortWith(`${f1.gateway}: ${f1.phase} failed: ${f1.reason}; nothing was changed`, gws.filter((g) => g.locked || g.lockUnknown), 'REMOTE');

  // ---- plan --------------------------------------------------------------------------------
  const planErrors: string[] = [];
  for (const gw of gws) {
    try {
      gw.change = o.target(gw.gateway, gw.snapshot!);
    } catch (e) {
      planErrors.push(withGateway(gw.gateway.name, (e as Error).message));
      continue;
    }
    const before = canonicalOf(gw.gateway.backend, gw.snapshot!);
    const wantsForwarding = o.needsForwarding(gw.gateway) && gw.ipForward !== '1';
    if (wantsForwarding && !o.enableIpForward) {
      planErrors.push(`${gw.gateway.name}: net.ipv4.ip_forward is ${gw.ipForward || '?'}, so its forwards cannot work; pass --enable-ip-forward to turn it on (the old value is restored on rollback)`);
    }
    const changed = before !== gw.change.expected || (wantsForwarding && o.enableIpForward);
    gw.plan = {
      gateway: gw.gateway.name,
      backend: gw.gateway.backend,
      changed,
      before,
      after: gw.change.expected,
      forwards: forwardChanges(before, gw.change.expected),
      ipForward: gw.ipForward ?? '',
      enableIpForward: wantsForwarding && o.enableIpForward,
    };
  }
  if (planErrors.length) {
    failure ??= { gateway: planErrors[0]!.split(':')[0]!, phase: 'plan', reason: planErrors[0]!.split(': ').slice(1).join(': ') };
    return abortWith(`cannot apply: ${planErrors.join('; ')}; nothing was changed`, gws.filter((g) => g.locked), 'REMOTE');
  }
  const changed = gws.filter((g) => g.plan!.changed);
  o.journal.append({
    type: 'plan',
    tx,
    time: new Date().toISOString(),
    gateways: Object.fromEntries(
      gws.map((g): [string, JournalGatewayPlan] => [
        g.gateway.name,
        {
          backend: g.gateway.backend,
          snapshot: g.snapshot!,
          text: g.change!.text,
          expected: g.change!.expected,
          revert: g.change!.revert,
          ipForward: g.ipForward ?? '',
          enableIpForward: g.plan!.enableIpForward,
          changed: g.plan!.changed,
        },
      ]),
    ),
  });
  // Gateways already in the desired state are released at once, before the prompt: nothing may
  // report progress while the user is being asked.
  await rollback(gws.filter((g) => !g.plan!.changed));
  if (changed.length === 0) {
    const r = end('noop');
    await closeAll();
    return r;
  }
  if (o.confirm) {
    const yes = await o.confirm(gws.map((g) => g.plan!));
    if (!yes) return abortWith('cancelled; nothing was changed', changed, 'CANCELLED');
  }
  if (checkSignal('stage')) return abortWith('interrupted; nothing was changed', changed);

  // ---- 2: stage + check (every gateway must pass before any applies) ------------------------
  await pause('stage');
  await each(changed, async (gw) => {
    try {
      const stdin = (nonce: string) => frame(nonce, { new: gw.change!.text, revert: gw.change!.revert });
      await step(gw, 'check', () => runPhase(gw.session!, gw.gateway.backend, tx, 'stage', [o.faults.remote('check', gw.gateway.name) ? 'check' : '-'], stdin));
      journal(gw, 'staged');
    } catch (e) {
      const why = e instanceof PhaseError ? e.reason : (e as Error).message;
      gw.detail = why;
      fail(gw, 'check', why);
    }
  });
  const f2 = failed();
  if (f2) return abortWith(`${f2.gateway}: the check failed (${f2.reason}); nothing was changed on any gateway`, changed);
  if (checkSignal('apply')) return abortWith('interrupted; nothing was changed', changed);

  // ---- 3: arm the timer + apply + read back ---------------------------------------------------
  await pause('apply');
  await each(changed, async (gw) => {
    try {
      gw.armed = true;
      gw.applyTried = true;
      const sec = await step(gw, 'apply', () =>
        runPhase(gw.session!, gw.gateway.backend, tx, 'apply', [
          o.confirmTimeoutSec,
          gw.plan!.enableIpForward ? 1 : 0,
          o.faults.remote('apply', gw.gateway.name) ? 'apply' : dies(gw) ? 'disconnect' : '-',
        ]),
      );
      gw.deadline = Number((sec.get('deadline') ?? '').trim()) || undefined;
      journal(gw, 'applied');
      const dump = sec.get('readback') ?? '';
      o.journal.append({ type: 'readback', tx, time: new Date().toISOString(), gateway: gw.gateway.name, dump });
      const got = canonicalOf(gw.gateway.backend, dump);
      if (got !== gw.change!.expected) {
        gw.detail = 'read-back differs from what was sent';
        fail(gw, 'verify', gw.detail);
        return;
      }
    } catch (e) {
      const why = e instanceof PhaseError ? e.reason : (e as Error).message;
      // A clean failure means the script restored the snapshot itself; a lost connection leaves it to the timer.
      if (e instanceof PhaseError && !e.connectionLost) gw.armed = false;
      gw.detail = why;
      fail(gw, 'apply', why);
    }
  });
  const f3 = failed();
  if (f3) return abortWith(`${f3.gateway}: ${f3.phase} failed (${f3.reason}); rolled back`, changed);

  // ---- verify: a NEW connection still gets in; the management connections are alive ----------
  await pause('verify');
  // With a disconnect fault, give the dying connection its moment, as a real failure would take.
  for (const gw of changed) if (dies(gw)) await Promise.race([gw.session!.closed, sleep(5000)]);
  await each(changed, async (gw) => {
    try {
      await step(gw, 'verify', async () => {
        const probe = await fresh(o.topology, gw.gateway, o.connect);
        await probe.close().catch(() => undefined);
        if (await isClosed(gw.session!)) throw new Error('the management connection was lost after the apply');
      });
      journal(gw, 'verified');
    } catch (e) {
      const why = (e as Error).message;
      gw.detail = why.startsWith('the management') ? why : `a new SSH connection failed after the apply: ${why}`;
      fail(gw, 'verify', gw.detail);
    }
  });
  const f4 = failed();
  if (f4) return abortWith(`${f4.gateway}: verify failed (${f4.reason}); rolled back`, changed);
  if (checkSignal('commit')) return abortWith('interrupted before commit; rolled back', changed);

  // ---- 4: commit = disarm + unlock ----------------------------------------------------------
  await pause('commit');
  const lateFired: Gw[] = [];
  await each(changed, async (gw) => {
    const commitVia = (s: GatewaySession) => runPhase(s, gw.gateway.backend, tx, 'commit', []);
    try {
      await step(gw, 'commit', async () => {
        try {
          await commitVia(gw.session!);
        } catch (e) {
          if (!(e instanceof PhaseError) || !e.connectionLost) throw e;
          // The connection died at the last step: the gateway may or may not have committed; commit it through a new one.
          try {
            const s = await fresh(o.topology, gw.gateway, o.connect);
            try {
              gw.extraTrips++;
              await commitVia(s);
            } finally {
              await s.close().catch(() => undefined);
            }
          } catch (e2) {
            // No answer again: whether it committed is unknown (a refusal, e.g. the timer fired, is known).
            if (!(e2 instanceof PhaseError) || e2.connectionLost) gw.commitUnknown = true;
            throw e2;
          }
        }
      });
      gw.armed = false;
      gw.locked = false;
      gw.finished = Date.now();
      journal(gw, 'committed');
    } catch (e) {
      const why = e instanceof PhaseError ? e.reason : (e as Error).message;
      gw.detail = why;
      fail(gw, 'commit', why);
      lateFired.push(gw);
    }
  });
  if (lateFired.length) {
    // Some gateway could not be committed (its timer fired, or it is unreachable and will revert):
    // undo the ones that did commit, so every gateway ends where it began.
    // A gateway whose commit is unknown may have committed: undo it like one that did.
    const committed = changed.filter((g) => g.state === 'committed' || g.commitUnknown);
    await rollback(committed, true);
    await rollback(lateFired.filter((g) => !g.commitUnknown));
    // Unreachable and armed is settled (its timer reverts it); unreachable with its commit unknown is not.
    const ok = changed.every((g) => ['rolled-back', 'reverted-by-timer'].includes(g.state) || (g.state === 'unknown' && g.armed && !g.commitUnknown));
    const f5 = failed()!;
    const r = end(ok ? 'rolled-back' : 'inconsistent', f5.reason);
    await closeAll();
    throw new TransactionError(`${f5.gateway}: commit failed (${f5.reason}); ${ok ? 'rolled back' : 'gateways may disagree: run natchain recover'}`, r);
  }
  const r = end('committed');
  await closeAll();
  return r;
}

const deadSessions = new WeakSet<GatewaySession>();

/** Remembers when a session's connection ends, so `isClosed` can answer without waiting. */
function watch(s: GatewaySession): GatewaySession {
  void s.closed.then(() => deadSessions.add(s));
  return s;
}

/** True when the session's connection has ended. */
async function isClosed(s: GatewaySession): Promise<boolean> {
  await sleep(0);
  return deadSessions.has(s);
}
