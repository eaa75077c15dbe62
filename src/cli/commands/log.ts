import type { Command } from 'commander';
import { addRemoteOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain log`: the fleet's transactions, from every gateway's own history and the local journal. */
export function registerLog(program: Command): void {
  const cmd = program
    .command('log')
    .description("the fleet's transactions, merged from every gateway's own history (any operator's) and the local journal")
    .argument('<topology>', 'topology file (YAML): which gateways to ask');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
One read per gateway (the same as plan and status). A transaction started on another machine
shows here too: rollback --to, recover and confirm take its id. OUTCOME is what every gateway
says, or "mixed" (GATEWAYS then shows each one's); SOURCE says whether it is known from the
gateways, the local journal, or both. Exit 0; 1 when a gateway could not be read (still listed).

Examples:
  natchain log topologies/seed-vpn.yaml -F lab/ssh_config
  natchain log site.yaml --json | jq '.transactions[-1]'`,
    )
    .action(lazy(() => import('../actions/log.js'), 'run'));
}
