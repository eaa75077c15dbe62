// One remote phase on one gateway: build the call, run it, cut the answer into sections, and turn
// every way it can fail into a typed error that names the gateway and the phase.
import { NatchainError, withoutGateway } from '../errors.js';
import type { Backend } from '../topology/types.js';
import type { GatewaySession } from '../transport/types.js';
import { newNonce } from './ids.js';
import { EXIT_LOCKED, parseLockInfo, parseSections, remoteCall, type LockHolder, type RemoteOp, type Sections } from './remote.js';

/** A remote phase that failed: why, and whether the connection itself was lost. */
export class PhaseError extends NatchainError {
  constructor(
    readonly gateway: string,
    readonly op: RemoteOp,
    readonly reason: string,
    readonly connectionLost: boolean,
    readonly holder?: LockHolder,
  ) {
    super(holder ? 'LOCKED' : 'REMOTE', `${gateway}: ${op}: ${reason}`);
    this.name = 'PhaseError';
  }
}

/** Runs one phase script on a session; resolves with its sections, rejects with a PhaseError. */
export async function runPhase(
  session: GatewaySession,
  backend: Backend,
  tx: string | null,
  op: RemoteOp,
  args: Array<string | number>,
  stdin?: string | ((nonce: string) => string),
  timeoutMs?: number,
): Promise<Sections> {
  const nonce = newNonce();
  const call = remoteCall(op, nonce, backend, tx, args, typeof stdin === 'function' ? stdin(nonce) : stdin);
  let r;
  try {
    // remoteCall's command is `sh -c '<script>' natchain <quoted words>`: no second sh around it.
    const opts: { stdin?: string; timeoutMs?: number; shWords: true } = { shWords: true };
    if (call.stdin !== undefined) opts.stdin = call.stdin;
    if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
    r = await session.exec(call.command, opts);
  } catch (e) {
    // The transport rejects for a lost/timed-out connection ('SSH') and for sudo's own refusal ('REMOTE').
    const remote = e instanceof NatchainError && e.code === 'REMOTE';
    throw new PhaseError(session.gateway, op, withoutGateway(session.gateway, remote ? (e as Error).message : `connection failed: ${withoutGateway(session.gateway, (e as Error).message)}`), !remote);
  }
  const sec = parseSections(r.stdout, nonce);
  if (r.code === EXIT_LOCKED && sec.has('held')) {
    const now = Number((sec.get('now') ?? '').trim()) || Math.floor(Date.now() / 1000);
    const holder = parseLockInfo(sec.get('held'), now);
    throw new PhaseError(session.gateway, op, describeHolder(holder), false, holder ?? { tx: '?', owner: 'unknown', since: now, ageSec: 0 });
  }
  if (sec.has('error')) throw new PhaseError(session.gateway, op, oneLine(sec.get('error')!), false);
  if (!sec.complete) {
    const lost = r.code === null;
    const why = lost ? `the connection ended mid-command${r.signal ? ` (${r.signal})` : ''}` : `exit status ${r.code}`;
    const err = oneLine(r.stderr);
    throw new PhaseError(session.gateway, op, `${why}${err ? `: ${err}` : ''}`, lost);
  }
  return sec;
}

/** `locked by TX (owner), taken 12s ago[, its dead-man timer fires in 40s]`. */
export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'locked by another transaction';
  let s = `locked by transaction ${h.tx} (${h.owner}), taken ${formatAge(h.ageSec)} ago`;
  if (h.armedUntil !== undefined) s += `; its dead-man timer fires in ${formatAge(Math.max(0, h.armedUntil - (h.since + h.ageSec)))}`;
  return s;
}

/** 75 -> "1m15s". */
export function formatAge(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}

/** Joins a multi-line remote message into one line for reports. */
export function oneLine(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ')
    .slice(0, 500);
}
