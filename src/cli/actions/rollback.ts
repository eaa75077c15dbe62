import { UsageError } from '../../errors.js';
import { isTxId } from '../../rollout/ids.js';
import { stateDir } from '../../rollout/journal.js';
import { KnownStore } from '../../rollout/known-store.js';
import { runRollback } from '../../rollout/rollback-run.js';
import { RolloutLog } from '../../rollout/rollouts.js';
import { loadProject } from '../io.js';
import { type TxCliOptions } from '../options.js';
import { txSettings } from '../remote.js';
import { runFleetCommand } from '../rollout.js';

/** Runs `natchain rollback`: a one-wave rollout whose states come from the gateways' records. */
export async function run(file: string, o: TxCliOptions & { to?: string }): Promise<void> {
  if (o.to !== undefined && !isTxId(o.to)) throw new UsageError(`--to takes a transaction id such as 20260101T120000Z-a1b2c3 (natchain log lists them), not "${o.to}"`);
  const settings = await txSettings(o, 'rollback');
  const p = await loadProject(file);
  const log = new RolloutLog(stateDir(o.stateDir));
  const known = new KnownStore(stateDir(o.stateDir));
  await runFleetCommand(o, 'rollback', p.topology, settings, (ctx) => runRollback({ ...ctx, topology: p.topology, log, known, ...(o.to ? { to: o.to } : {}) }));
}
