// The transaction's first phases: connect every gateway, then exec 1 (prepare: lock + snapshot +
// stage + check, or "unchanged" and no lock), then the local plan.
import { resolve } from 'node:path';
import { NatchainError, withGateway, withoutGateway } from '../errors.js';
import { TimeSlice } from '../timeslice.js';
import { parseHistory } from './history.js';
import { describeMember, notCommitted } from './split.js';
import { PhaseError } from './exec.js';
import { frame, parseLockInfo, type LockHolder } from './remote.js';
import { canonicalOf, forwardChanges, ownedDump, stateHash } from './owned.js';
import type { JournalGatewayPlan } from './journal.js';
import type { GatewayPlan } from './tx-types.js';
import { rollbackGateways } from './tx-abort.js';
import { lostConnection, reasonOf, Stop, watch, type Gw, type TxRun } from './tx-run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens every gateway's management connection. An unreachable gateway in scope stops the transaction before anything is touched; one out of scope is only reported. */
export async function connectAll(run: TxRun): Promise<void> {
  const errors: string[] = [];
  let first: unknown;
  await run.each(run.gws, async (gw) => {
    try {
      gw.session = watch(await run.step(gw, 'connect', () => run.o.connector(run.o.topology, gw.gateway, run.o.connect)));
      gw.state = 'connected';
      if (gw.scope === 'out') Object.assign(gw, { state: 'unchanged', detail: 'not in this change' });
    } catch (e) {
      gw.state = 'unreachable';
      const why = withoutGateway(gw.gateway.name, (e as Error).message);
      if (gw.scope === 'out') {
        gw.detail = `unreachable (not in this change): ${why}`;
        return;
      }
      first ??= e;
      errors.push(withGateway(gw.gateway.name, why));
      gw.detail = why;
    }
  });
  if (errors.length === 0) return;
  await run.closeAll();
  const base = first instanceof NatchainError ? first : undefined;
  const n = errors.length;
  throw new NatchainError(base?.code ?? 'SSH', `cannot reach ${n} gateway${n === 1 ? '' : 's'} in this change; nothing was changed`, errors, { cause: first });
}

/** Journals the start of the transaction (a barrier: flushed before any gateway is locked). */
export function journalBegin(run: TxRun): void {
  const o = run.o;
  o.journal.compact();
  o.journal.append({
    type: 'begin',
    tx: run.tx,
    time: new Date().toISOString(),
    kind: o.kind,
    owner: run.owner.text,
    topology: resolve(o.topology.file),
    ...(o.topologyHash ? { topologyHash: o.topologyHash } : {}),
    ...(o.connect.sshConfigFile ? { sshConfig: o.connect.sshConfigFile } : {}),
    gateways: run.inScope.map((g) => g.gateway.name),
    confirmTimeoutSec: o.confirmTimeoutSec,
    ...(o.rollbackOf ? { target: o.rollbackOf } : {}),
  });
  o.journal.flush();
}

/** Exec 1 on every gateway in scope, waiting up to --lock-timeout for another transaction's lock. */
export async function prepareAll(run: TxRun): Promise<void> {
  await run.pause('prepare');
  // Each target is a render and a canonical form: sliced, so a fleet's worth is no single stall.
  const slice = new TimeSlice();
  for (const gw of run.inScope) {
    await slice.turn();
    gw.change = targetOf(run, gw);
  }
  const until = Date.now() + (run.o.lockTimeoutSec ?? 0) * 1000;
  for (let attempt = 0; ; attempt++) {
    const holders = await prepareOnce(run, run.inScope.filter((g) => !g.locked && g.state !== 'unchanged'));
    if (holders.length === 0) break;
    const h = holders[0]!;
    if (Date.now() < until && !run.failure) {
      // Give every lock back while waiting: two operators waiting on each other never deadlock.
      run.o.progress.note(`${h.gateway} is locked by transaction ${h.holder.tx} of ${h.holder.owner}; waiting (--lock-timeout)`);
      await rollbackGateways(run, run.inScope.filter((g) => g.locked || g.lockUnknown));
      for (const g of run.inScope) if (g.state === 'released') g.state = 'connected';
      await sleep(Math.min(2000, 250 * 2 ** Math.min(attempt, 3)) + Math.floor(Math.random() * 250));
      continue;
    }
    const first = h.holder;
    const hint = first.armedUntil === undefined ? ` (if that natchain is dead: natchain recover, or --break-lock ${first.tx})` : ' (its dead-man timer will release it)';
    throw new Stop(`${h.gateway} is locked by transaction ${first.tx} of ${first.owner}, taken ${first.ageSec}s ago${hint}; nothing was changed`, 'LOCKED');
  }
  const f = run.failure;
  if (f) throw new Stop(`${f.gateway}: ${f.phase} failed: ${f.reason}; nothing was changed`, 'REMOTE');
  for (const n of splitNotes(run.inScope, run.o.kind)) run.o.progress.note(n);
}

/**
 * A transaction the prepared gateways show committed on some and reverted (or rolled back) on others, natchain having
 * stopped during its commit (issue 13.3): said from the gateways' own records, so another machine's apply says it too.
 */
export function splitNotes(gws: Gw[], kind: string): string[] {
  const on = new Map<string, string[]>();
  for (const g of gws) if (g.lastTx) on.set(g.lastTx, [...(on.get(g.lastTx) ?? []), g.gateway.name]);
  const notes: string[] = [];
  for (const [tx, committed] of on) {
    const not = gws.filter((g) => g.lastHistory?.tx === tx && g.lastTx !== tx && notCommitted(g.lastHistory.outcome) !== undefined);
    if (!not.length) continue;
    const parts = [...committed.map((n) => describeMember(n, 'committed')), ...not.map((g) => describeMember(g.gateway.name, notCommitted(g.lastHistory!.outcome)!))];
    notes.push(`natchain: transaction ${tx} committed on some of its gateways only (natchain stopped during its commit): ${parts.join('; ')}. This ${kind} replaces it on them once it commits (if it does not, natchain recover finishes it)`);
  }
  return notes;
}

function targetOf(run: TxRun, gw: Gw) {
  try {
    return run.o.target(gw.gateway);
  } catch (e) {
    run.fail(gw, 'plan', (e as Error).message);
    throw new Stop(`cannot ${run.o.kind}: ${gw.gateway.name}: ${(e as Error).message}; nothing was changed`, 'REMOTE', []);
  }
}

async function prepareOnce(run: TxRun, list: Gw[]): Promise<Array<{ gateway: string; holder: LockHolder }>> {
  const holders: Array<{ gateway: string; holder: LockHolder }> = [];
  await run.each(list, async (gw) => {
    try {
      await prepareOne(run, gw, false);
      // The gateway's record says unchanged, but natchain's own reading disagrees (a record edited by
      // hand?): prepare again, this time without the shortcut.
      if (gw.saidUnchanged && canonicalOf(gw.gateway.backend, gw.snapshot!) !== gw.change!.expected) await prepareOne(run, gw, true);
    } catch (e) {
      if (e instanceof PhaseError && e.holder) holders.push({ gateway: gw.gateway.name, holder: e.holder });
      else if (lostConnection(e)) gw.lockUnknown = true;
      gw.detail = reasonOf(e);
      if (!(e instanceof PhaseError && e.holder)) run.fail(gw, gw.detail.startsWith('check failed: ') ? 'check' : 'prepare', gw.detail);
    }
  });
  return holders;
}

async function prepareOne(run: TxRun, gw: Gw, force: boolean): Promise<void> {
  const o = run.o;
  const change = gw.change!;
  const empty = change.expected === canonicalOf(gw.gateway.backend, '');
  const needFwd = o.needsForwarding(gw.gateway);
  // The member list (a fleet long) last: the gateway's history() stops reading at it (remote-scripts.ts meta()).
  const meta = [`kind=${o.kind}`, `owner=${run.owner.text}`, `topology=${o.topologyHash ?? '-'}`, `rollout=${o.rollout ?? '-'}`, `members=${run.inScope.map((g) => g.gateway.name).join(' ')}`].join('\n');
  const sec = await run.step(gw, 'prepare', () =>
    run.exec(
      gw,
      gw.session!,
      'prepare',
      [run.owner.text, o.breakLock ?? '-', force ? 'force' : stateHash(change.expected), empty ? 1 : 0, needFwd ? 1 : 0, o.faults.remote('check', gw.gateway.name) ? 'check' : '-'],
      (nonce) => frame(nonce, { meta, new: change.text, end: '' }),
    ),
  );
  gw.snapshot = sec.get('snapshot') ?? '';
  if (sec.has('facts')) gw.facts = sec.get('facts')!;
  gw.ipForward = (sec.get('forward') ?? '').trim();
  gw.lastTx = (sec.get('last') ?? '').trim() || undefined;
  gw.lastHistory = parseHistory(sec.get('histlast'))[0];
  if (sec.has('unchanged')) {
    gw.saidUnchanged = true;
    gw.state = 'unchanged';
    return;
  }
  gw.saidUnchanged = false;
  gw.locked = true;
  gw.lockUnknown = false;
  const broke = parseLockInfo(sec.get('broke'), 0);
  run.mark(gw, 'staged', broke ? `broke the lock of ${broke.tx} (${broke.owner})` : undefined);
}

/** The local plan: what changes where (from each snapshot), ip_forward refusals; journaled (a barrier) before anything changes. */
export async function planAll(run: TxRun): Promise<void> {
  const o = run.o;
  const errors: string[] = [];
  const journaled = new Map<string, JournalGatewayPlan>();
  // A fleet's plan is seconds of CPU: give keepalives, timers and progress a turn every ~20 ms.
  const slice = new TimeSlice();
  for (const gw of run.inScope) {
    await slice.turn();
    const before = canonicalOf(gw.gateway.backend, gw.snapshot ?? '');
    const after = gw.change!.expected;
    const wantsForwarding = o.needsForwarding(gw.gateway) && gw.ipForward !== '1';
    if (wantsForwarding && !o.enableIpForward) {
      errors.push(`${gw.gateway.name}: net.ipv4.ip_forward is ${gw.ipForward || '?'}, so its forwards cannot work; pass --enable-ip-forward to turn it on (the old value is restored on rollback)`);
    }
    const plan: GatewayPlan = {
      gateway: gw.gateway.name,
      backend: gw.gateway.backend,
      changed: before !== after || (wantsForwarding && o.enableIpForward),
      before,
      after,
      forwards: forwardChanges(before, after),
      ipForward: gw.ipForward ?? '',
      enableIpForward: wantsForwarding && o.enableIpForward,
    };
    gw.plan = plan;
    journaled.set(gw.gateway.name, {
      backend: gw.gateway.backend,
      snapshot: ownedDump(gw.gateway.backend, gw.snapshot ?? ''),
      expectedHash: stateHash(after),
      ipForward: plan.ipForward,
      enableIpForward: plan.enableIpForward,
      changed: plan.changed,
    });
  }
  for (const gw of run.inScope) {
    await slice.turn();
    try {
      o.guard?.(gw.gateway, { snapshot: gw.snapshot ?? '', changed: gw.plan!.changed, ...(gw.facts !== undefined ? { facts: gw.facts } : {}) });
    } catch (e) {
      errors.push(withGateway(gw.gateway.name, (e as Error).message));
    }
  }
  o.journal.append({ type: 'plan', tx: run.tx, time: new Date().toISOString(), gateways: Object.fromEntries(journaled) });
  o.journal.flush();
  if (errors.length) {
    run.fail(run.inScope.find((g) => errors[0]!.startsWith(`${g.gateway.name}:`)), 'plan', errors[0]!.split(': ').slice(1).join(': '));
    throw new Stop(`cannot ${o.kind}: ${errors.join('; ')}; nothing was changed`, 'REMOTE');
  }
}

/** Gateways that locked but need nothing are released at once (their second and last exec), before any prompt. */
export async function releaseUnchanged(run: TxRun): Promise<void> {
  const idle = run.inScope.filter((g) => !g.plan!.changed && g.locked);
  if (idle.length === 0) return;
  await rollbackGateways(run, idle);
  for (const g of idle) if (g.state === 'released') g.state = 'unchanged';
}
