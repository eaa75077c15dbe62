import type { Command } from 'commander';
import { Journal, stateDir } from '../../rollout/journal.js';
import { changeToDump } from '../../rollout/owned.js';
import { rollbackTarget } from '../../rollout/rollback.js';
import { loadProject } from '../io.js';
import { addTxOptions, runTxCommand, type TxCliOptions } from '../remote.js';

/** `natchain rollback`: restores the previous (or a named) committed state, as a transaction of its own. */
export function registerRollback(program: Command): void {
  const cmd = program
    .command('rollback')
    .description('restore the state before the last committed transaction (or the state a named one left) on every gateway, as a new transaction')
    .argument('<topology>', 'topology file (YAML): how to reach the gateways')
    .option('--to <tx>', 'restore the state this committed transaction left (default: undo the last committed transaction)');
  addTxOptions(cmd)
    .addHelpText(
      'after',
      `
The states come from the journal (--state-dir). Only natchain's own rules change; the topology
file is not edited, so a later apply would bring its forwards back.

Examples:
  natchain rollback topologies/seed-vpn.yaml -F lab/ssh_config --yes
  natchain rollback site.yaml --to 20260101T120000Z-a1b2c3`,
    )
    .action(async (file: string, o: TxCliOptions & { to?: string }) => {
      const p = await loadProject(file);
      const target = rollbackTarget(new Journal(stateDir(o.stateDir)), p.topology, o.to);
      await runTxCommand(o, 'rollback', p.topology, {
        gateways: [...target.dumps.keys()],
        rollbackOf: target.tx,
        target: (g, snapshot) => changeToDump(g.backend, target.dumps.get(g.name)!.dump, snapshot),
        needsForwarding: () => false,
      });
    });
}
