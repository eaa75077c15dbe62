import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain solve`: every forward's chain, hop by hop, and what each gateway must do. */
export function registerSolve(program: Command): void {
  program
    .command('solve')
    .description("show each forward's chain through the gateways, hop by hop, with the ports and each gateway's rules")
    .argument('<topology>', 'topology file (YAML)')
    .option('-f, --forward <name>', 'only this forward')
    .option('--json', 'print chains, allocations and per-gateway intents as one JSON document')
    .addHelpText(
      'after',
      `
Offline: reads the topology and its port lock (x.lock beside x.yaml), writes nothing.
Ports marked "new" are not in the lock yet: \`natchain lock\` records them.

Examples:
  natchain solve topologies/seed-vpn.yaml
  natchain solve topologies/three-hop.yaml --forward db
  natchain solve topologies/seed-vpn.yaml --json | jq '.chains[0].hops'`,
    )
    .action(lazy(() => import('../actions/solve.js'), 'run'));
}
