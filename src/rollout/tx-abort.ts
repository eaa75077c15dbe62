// Rolling back: the `abort` script on each gateway (through a new connection when the management
// one died), and ending a transaction that did not commit with an honest report.
import type { GatewaySession } from '../transport/types.js';
import { PhaseError } from './exec.js';
import type { Outcome } from './journal.js';
import { TransactionError } from './tx-types.js';
import { isClosed, reasonOf, Stop, type Gw, type TxRun } from './tx-run.js';

/** Rolls back (or releases) every gateway of `list`; `undoCommitted` also undoes a gateway that committed. */
export async function rollbackGateways(run: TxRun, list: Gw[], undoCommitted = false): Promise<void> {
  await run.each(list, async (gw) => {
    let st: string | undefined;
    let why = '';
    let lost = false;
    try {
      st = await run.step(gw, gw.armed || undoCommitted ? 'rollback' : 'release', () => beforeItsTimer(gw, undoCommitted, abortOn(run, gw, undoCommitted)));
    } catch (e) {
      why = reasonOf(e);
      lost = !(e instanceof PhaseError) || e.connectionLost;
    }
    gw.locked = false;
    gw.lockUnknown = false;
    gw.finished = Date.now();
    if (st === undefined) return markUnreached(run, gw, why, lost);
    if (st === 'reverted') run.mark(gw, 'reverted-by-timer', 'its dead-man timer had already restored the snapshot');
    else if (st === 'rolled-back') run.mark(gw, 'rolled-back', 'snapshot restored');
    else if (st === 'revert-failed') run.mark(gw, 'failed', 'restoring the snapshot failed');
    else run.mark(gw, 'released', gw.plan?.changed ? 'nothing was changed' : undefined);
  });
}

/**
 * An armed gateway that does not answer before its dead-man timer fires is left to the timer: the
 * report then names a time still ahead (issue 13.6), not one natchain spent past it.
 */
function beforeItsTimer<T>(gw: Gw, undo: boolean, work: Promise<T>): Promise<T> {
  if (!gw.armed || undo || gw.firesBy === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer before its dead-man timer fires')), Math.max(0, gw.firesBy! - Date.now() - 1000));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The abort script through whichever connection still works: management, the new one, or one opened now. */
async function abortOn(run: TxRun, gw: Gw, undo: boolean): Promise<string> {
  const via = async (s: GatewaySession) => ((await run.exec(gw, s, 'abort', [undo ? 1 : 0])).get('state') ?? '').trim();
  for (const s of [gw.session, gw.fresh]) if (s && !(await isClosed(s))) return via(s);
  const s = await run.openFresh(gw);
  try {
    return await via(s);
  } finally {
    await s.close().catch(() => undefined);
  }
}

function markUnreached(run: TxRun, gw: Gw, why: string, lost: boolean): void {
  if (!lost) return run.mark(gw, 'failed', `rolling back failed: ${why}`);
  if (gw.commitUnknown) {
    return run.mark(gw, 'unknown', `unreachable (${why}) after its commit's connection was lost: it may have committed, or its dead-man timer restores the snapshot; run natchain recover`);
  }
  if (gw.armed) {
    const by = firesBy(gw);
    const when = by === undefined ? ` within ${run.o.confirmTimeoutSec}s` : by > Date.now() ? ` by ${iso(by)}` : ` (it was due by ${iso(by)})`;
    return run.mark(gw, 'unknown', `unreachable (${why}); its dead-man timer restores the snapshot${when}`);
  }
  if (['locked', 'staged', 'connected'].includes(gw.state)) return run.mark(gw, 'unknown', `unchanged but could not release its lock: ${why}`);
  run.mark(gw, 'unknown', `unreachable: ${why}`);
}

/** Rolls back what this transaction holds, ends it and throws the TransactionError that tells where every gateway is. */
export async function abortWith(run: TxRun, stop: Stop): Promise<never> {
  const list = stop.only ?? run.gws.filter((g) => g.locked || g.lockUnknown || g.armed);
  await rollbackGateways(run, list);
  // Settled: back as it was, never touched, or unreachable but armed (its timer restores it).
  const settled = (g: Gw) =>
    g.scope === 'out' || ['rolled-back', 'released', 'reverted-by-timer', 'connected', 'unchanged'].includes(g.state) || (g.state === 'unknown' && g.armed && !g.commitUnknown);
  const outcome: Outcome = run.gws.every(settled) ? (run.gws.some((g) => g.applyTried) ? 'rolled-back' : 'aborted') : 'inconsistent';
  const note = waitingNote(run);
  let message = stop.message + note;
  // "rolled back" alone would claim it of the gateways left to their timers too: name the ones it is true of.
  if (note && stop.message.endsWith('; rolled back')) {
    const back = run.gws.filter((g) => g.state === 'rolled-back').map((g) => g.gateway.name);
    message = (back.length ? `${stop.message} ${back.join(', ')}` : stop.message.slice(0, -'; rolled back'.length)) + note;
  }
  if (outcome === 'inconsistent') message += '; some gateways may not be as they were: run natchain recover';
  const r = run.end(outcome, message);
  await run.closeAll();
  throw new TransactionError(message, r, stop.code);
}

/** "; gw-a could not be reached and restores itself when its dead-man timer fires (…)", singular or plural. */
export function waitingNote(run: TxRun): string {
  const waiting = run.gws.filter((g) => g.state === 'unknown' && g.armed && !g.commitUnknown);
  const times = waiting.map(firesBy);
  const latest = times.includes(undefined) ? undefined : Math.max(...(times as number[]));
  return waitingText(
    waiting.map((g) => g.gateway.name),
    latest,
    Date.now(),
    run.o.confirmTimeoutSec,
  );
}

/**
 * The note for gateways left to their dead-man timers: `latest` is when the last of them fires at
 * the latest (local clock, ms); a time already past is told in the past tense, never as ahead.
 */
export function waitingText(names: string[], latest: number | undefined, now: number, timeoutSec: number): string {
  if (names.length === 0) return '';
  const list = names.join(', ');
  const one = names.length === 1;
  if (latest !== undefined && latest <= now) {
    return one
      ? `; ${list} could not be reached; its dead-man timer was due to restore its snapshot by ${iso(latest)}`
      : `; ${list} could not be reached; their dead-man timers were due to restore their snapshots by ${iso(latest)}`;
  }
  const when = latest === undefined ? `(within ${timeoutSec}s)` : `(by ${iso(latest)})`;
  return one
    ? `; ${list} could not be reached and restores itself when its dead-man timer fires ${when}`
    : `; ${list} could not be reached and restore themselves when their dead-man timers fire ${when}`;
}

/**
 * When a gateway's timer fires at the latest, on this machine's clock (ms, whole seconds up):
 * the timer started sleeping before the apply answered, so answer time + timeout bounds it
 * whatever the gateway's clock says.
 */
function firesBy(gw: Gw): number | undefined {
  return gw.firesBy === undefined ? undefined : Math.ceil(gw.firesBy / 1000) * 1000;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
