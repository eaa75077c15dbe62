import type { Command } from 'commander';
import { addTxOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain rollback`: undoes the last committed transaction (or restores the state a named one left), from the gateways' records, as a transaction of its own. */
export function registerRollback(program: Command): void {
  const cmd = program
    .command('rollback')
    .description("undo the fleet's last committed transaction (or put every gateway in the state a named one left), read from the gateways' own records, as a new transaction")
    .argument('<topology>', 'topology file (YAML): how to reach the gateways')
    .option('--to <tx>', 'put every gateway in the state it had right after this committed transaction (natchain log lists them; default: undo the last committed transaction)');
  addTxOptions(cmd)
    .addHelpText(
      'after',
      `
The states come from the gateways' records (their history and each transaction's
directory), not from this machine's journal: any operator, from any machine or --state-dir,
can roll back any transaction the gateways still record (each keeps at least its last 50).
With --to, a gateway the transaction did not change goes to its state at that time too.
When the last commit was a wave of a rollout (apply --canary/--wave-size, and its
--resume), every committed wave is undone together, from any machine. Only natchain's
own rules change; the topology file is not edited, so a later apply would bring its
forwards back.

Examples:
  natchain rollback topologies/seed-vpn.yaml -F lab/ssh_config --yes
  natchain log site.yaml && natchain rollback site.yaml --to 20260101T120000Z-a1b2c3
  natchain rollback site.yaml --json --yes --state-dir /tmp/other-operator`,
    )
    .action(lazy(() => import('../actions/rollback.js'), 'run'));
}
