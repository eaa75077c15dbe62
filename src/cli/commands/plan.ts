import type { Command } from 'commander';
import { addRemoteOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain plan`: what `apply` would change on every live gateway; exit 0 in sync, 2 changes pending, 1 error. */
export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description("read natchain's live state on every gateway and show what apply would change (exit 0 in sync, 2 changes pending, 1 error)")
    .argument('<topology>', 'topology file (YAML)');
  addRemoteOptions(cmd)
    .option('--out <file>', "also save the plan (desired rulesets + a hash of each gateway's live state) for natchain apply --plan")
    .addHelpText(
      'after',
      `
Only natchain's own chains (iptables) or table ip natchain (nftables) are read and compared.

Examples:
  natchain plan topologies/seed-vpn.yaml -F lab/ssh_config
  natchain plan site.yaml --json | jq '.gateways[] | select(.status != "in-sync")'
  natchain plan site.yaml --out plan.json   # review it, then: natchain apply --plan plan.json`,
    )
    .action(lazy(() => import('../actions/plan.js'), 'run'));
}
