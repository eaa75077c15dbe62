import { Journal, stateDir } from '../../rollout/journal.js';
import { changeToDump } from '../../rollout/owned.js';
import { rollbackTarget } from '../../rollout/rollback.js';
import { RolloutLog, rolloutRollbackTarget } from '../../rollout/rollouts.js';
import { loadProject } from '../io.js';
import { runTxCommand } from '../remote.js';
import { type TxCliOptions } from '../options.js';

/** Runs `natchain rollback`. */
export async function run(file: string, o: TxCliOptions & { to?: string }): Promise<void> {
  const p = await loadProject(file);
  const journal = new Journal(stateDir(o.stateDir));
  let target = rollbackTarget(journal, p.topology, o.to);
  // The last commit was a wave of a rollout: undo every committed wave of it, as one transaction (fleet).
  if (!o.to) target = rolloutRollbackTarget(journal, new RolloutLog(stateDir(o.stateDir)), p.topology, target.tx) ?? target;
  await runTxCommand(o, 'rollback', p.topology, {
    gateways: [...target.dumps.keys()],
    rollbackOf: target.tx,
    target: (g) => changeToDump(g.backend, target.dumps.get(g.name)!.dump),
    needsForwarding: () => false,
  });
}
