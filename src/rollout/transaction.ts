// One transaction (DESIGN.md "The transaction") over a given list of gateways. A newcomer's map:
//
//   connect   every gateway's management connection            (nothing touched if one in scope fails)
//   prepare   exec 1: lock + snapshot + stage + check           (an unchanged gateway stops here: 1 exec)
//   plan      local: what changes where; journaled              (ip_forward refusals)
//   confirm   the user's yes (locks held: what is confirmed is what is applied)
//   apply     exec 2: arm the dead-man timer + load + read back
//   verify    a NEW connection to every changed gateway         (the lock-out proof)
//   commit    exec 3 over that connection, in parallel, after the decision is fsynced
//   abort     any failure above: roll back what was touched, report where each gateway is
//
// The phases live in tx-prepare.ts, tx-apply.ts, tx-commit.ts and tx-abort.ts; the running
// state in tx-run.ts; the remote scripts in remote-scripts.ts.
import { abortWith } from './tx-abort.js';
import { applyAll, verifyAll } from './tx-apply.js';
import { commitAll } from './tx-commit.js';
import { connectAll, journalBegin, planAll, prepareAll, releaseUnchanged } from './tx-prepare.js';
import { Stop, TxRun } from './tx-run.js';
import type { TransactionOptions, TransactionReport } from './tx-types.js';

export { silentProgress, TransactionError } from './tx-types.js';
export type { GatewayPlan, GatewayRead, GatewayReport, ProgressSink, TargetFn, TransactionOptions, TransactionReport } from './tx-types.js';

/**
 * Runs one transaction; resolves with the report when it committed, had nothing to do, or (manual
 * confirm) was left armed; throws TransactionError when it did not commit (the report says where
 * every gateway is), and a plain NatchainError when a gateway in scope cannot be reached at all.
 */
export async function runTransaction(o: TransactionOptions): Promise<TransactionReport> {
  const run = new TxRun(o);
  await connectAll(run);
  try {
    journalBegin(run);
    await prepareAll(run);
    await planAll(run);
    await releaseUnchanged(run);
    if (run.changed.length === 0) return await finish(run, 'noop');
    await confirmPlan(run);
    await applyAll(run);
    await verifyAll(run);
    if (o.confirmMode === 'manual') return await finish(run, 'armed');
    await commitAll(run);
    return await finish(run, 'committed');
  } catch (e) {
    if (e instanceof Stop) return abortWith(run, e);
    throw e;
  }
}

/** Shows the plan and asks (when the caller gave a prompt); Ctrl-C before this point changes nothing. */
async function confirmPlan(run: TxRun): Promise<void> {
  if (run.o.confirm && !(await run.o.confirm(run.gws.flatMap((g) => (g.plan ? [g.plan] : []))))) {
    throw new Stop('cancelled; nothing was changed', 'CANCELLED', run.changed);
  }
  if (run.interrupted('apply')) throw new Stop('interrupted; nothing was changed', 'TRANSACTION', run.changed);
}

async function finish(run: TxRun, outcome: 'noop' | 'armed' | 'committed'): Promise<TransactionReport> {
  if (outcome === 'armed') for (const g of run.changed) run.mark(g, 'armed');
  const deadlines = run.changed.flatMap((g) => (g.deadline ? [g.deadline] : []));
  const r = run.end(outcome, undefined, outcome === 'armed' && deadlines.length ? { deadline: Math.min(...deadlines) } : {});
  await run.closeAll();
  return r;
}
