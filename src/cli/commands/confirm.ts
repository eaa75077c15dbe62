import type { Command } from 'commander';
import { addRemoteOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain confirm`: commits a transaction that `apply --confirm manual` left armed (from any machine). */
export function registerConfirm(program: Command): void {
  const cmd = program
    .command('confirm')
    .description('commit a transaction that apply --confirm manual left armed, on every gateway it changed (from any machine: the gateways hold what it needs)')
    .argument('<topology>', 'topology file (YAML): how to reach the gateways')
    .argument('[tx]', 'the transaction to commit (default: the one transaction armed on these gateways)');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
Every gateway the transaction changed must still be armed and reachable; otherwise nothing is
committed and the armed ones restore their snapshot at their deadline. Exit 0 when committed.

Examples:
  natchain apply site.yaml --confirm manual --confirm-timeout 600 --yes
  natchain confirm site.yaml 20260101T120000Z-a1b2c3 -F lab/ssh_config`,
    )
    .action(lazy(() => import('../actions/confirm.js'), 'run'));
}
