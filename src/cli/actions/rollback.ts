import { Journal, stateDir } from '../../rollout/journal.js';
import { changeToDump } from '../../rollout/owned.js';
import { rollbackTarget } from '../../rollout/rollback.js';
import { loadProject } from '../io.js';
import { runTxCommand } from '../remote.js';
import { type TxCliOptions } from '../options.js';

/** Runs `natchain rollback`. */
export async function run(file: string, o: TxCliOptions & { to?: string }): Promise<void> {
  const p = await loadProject(file);
  const target = rollbackTarget(new Journal(stateDir(o.stateDir)), p.topology, o.to);
  await runTxCommand(o, 'rollback', p.topology, {
    gateways: [...target.dumps.keys()],
    rollbackOf: target.tx,
    target: (g) => changeToDump(g.backend, target.dumps.get(g.name)!.dump),
    needsForwarding: () => false,
  });
}
