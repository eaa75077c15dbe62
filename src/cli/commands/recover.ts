import type { Command } from 'commander';
import { addRemoteOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain recover`: finishes or undoes every transaction a crash interrupted, telling what it did. */
export function registerRecover(program: Command): void {
  const cmd = program
    .command('recover')
    .description('bring every gateway of an interrupted transaction to a consistent state (committed if all had verified, else rolled back)')
    .argument('[topology]', 'topology file (default: the one each transaction journaled)')
    .option('--tx <id>', 'only this transaction');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
Without -F, each transaction is recovered through the ssh_config it was applied with.
With a topology, its gateways are read too (one exec each): a transaction they show committed on
some of them only (natchain stopped during its commit, on this machine or another) is finished
there: the gateways that did not commit are brought to what the others committed.

Exit 0 when every transaction is now consistent (or none was interrupted), 1 when a gateway could
not be reached (run it again; an armed gateway restores itself when its dead-man timer fires).

Examples:
  natchain recover
  natchain recover topologies/seed-vpn.yaml -F lab/ssh_config --json`,
    )
    .action(lazy(() => import('../actions/recover.js'), 'run'));
}
