import type { Command } from 'commander';
import { addTxOptions } from '../options.js';
import { lazy } from '../lazy.js';

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
The states come from the journal (--state-dir). When the last commit was a wave of a rollout
(apply --canary/--wave-size, and its --resume), every committed wave is undone together. Only
natchain's own rules change; the topology file is not edited, so a later apply would bring its
forwards back.

Examples:
  natchain rollback topologies/seed-vpn.yaml -F lab/ssh_config --yes
  natchain rollback site.yaml --to 20260101T120000Z-a1b2c3`,
    )
    .action(lazy(() => import('../actions/rollback.js'), 'run'));
}
