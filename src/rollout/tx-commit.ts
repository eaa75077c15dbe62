// Exec 3: the commit. The decision is journaled and fsynced first; then every changed gateway
// is committed in parallel over its new connection (retried once over another new one when
// the answer is lost). A gateway whose timer won the race cannot commit: the ones that did are
// undone, so every gateway ends where it began.
import { TransactionError } from './tx-types.js';
import { rollbackGateways } from './tx-abort.js';
import { lostConnection, reasonOf, type Gw, type TxRun } from './tx-run.js';
import type { GatewaySession } from '../transport/types.js';

/** Commits every changed gateway; throws TransactionError when some could not be. */
export async function commitAll(run: TxRun): Promise<void> {
  await run.pause('commit');
  run.o.journal.write({ type: 'decision', tx: run.tx, time: new Date().toISOString(), decision: 'commit' });
  const refused: Gw[] = [];
  await run.each(run.changed, async (gw) => {
    try {
      await run.step(gw, 'commit', () => commitOne(run, gw));
      gw.armed = false;
      gw.locked = false;
      gw.finished = Date.now();
      run.mark(gw, 'committed', gw.managementLost ? 'committed over a new connection (the management connection was lost after the apply)' : undefined);
    } catch (e) {
      gw.detail = reasonOf(e);
      run.fail(gw, 'commit', gw.detail);
      refused.push(gw);
    }
  });
  if (refused.length === 0) return;
  // A gateway whose commit is unknown may have committed: undo it like one that did.
  const committed = run.changed.filter((g) => g.state === 'committed' || g.commitUnknown);
  await rollbackGateways(run, committed, true);
  await rollbackGateways(run, refused.filter((g) => !g.commitUnknown));
  // Unreachable and armed is settled (its timer reverts it); unreachable with its commit unknown is not.
  const ok = run.changed.every((g) => ['rolled-back', 'reverted-by-timer'].includes(g.state) || (g.state === 'unknown' && g.armed && !g.commitUnknown));
  const f = run.failure!;
  const r = run.end(ok ? 'rolled-back' : 'inconsistent', f.reason);
  await run.closeAll();
  throw new TransactionError(`${f.gateway}: commit failed (${f.reason}); ${ok ? 'rolled back' : 'gateways may disagree: run natchain recover'}`, r);
}

async function commitOne(run: TxRun, gw: Gw): Promise<void> {
  const via = (s: GatewaySession) => run.exec(gw, s, 'commit', []);
  try {
    await via(gw.fresh ?? gw.session!);
    return;
  } catch (e) {
    if (!lostConnection(e)) throw e;
  }
  // The answer was lost: it may or may not have committed; the commit is idempotent, so send it again over another new connection.
  try {
    const s = await run.openFresh(gw);
    try {
      await via(s);
    } finally {
      await s.close().catch(() => undefined);
    }
  } catch (e) {
    if (lostConnection(e)) gw.commitUnknown = true;
    throw e;
  }
}
