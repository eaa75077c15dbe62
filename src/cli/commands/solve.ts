import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain solve`: every forward's chain, hop by hop, and what each gateway must do. */
export function registerSolve(program: Command): void {
  program
    .command('solve')
    .description("show each forward's chain through the gateways, hop by hop, with the ports and each gateway's rules")
    .argument('<topology>', 'topology file (YAML)')
    .option('-f, --forward <name>', 'only this forward')
    .option('--json', 'print chains, allocations, per-gateway intents and warnings as one JSON document')
    .option('--strict', 'treat warnings (a site-to-site chain across a public network) as errors')
    .addHelpText(
      'after',
      `
Offline: reads the topology and its port lock (x.lock beside x.yaml), writes nothing.
Ports marked "new" are not in the lock yet: \`natchain lock\` records them. Each hop shows the
network it crosses to the next gateway, and each chain whose address the target sees. A
site-to-site chain across a public network is warned about on stderr (--strict: an error, exit 1).

Examples:
  natchain solve topologies/seed-vpn.yaml
  natchain solve topologies/three-hop.yaml --forward db
  natchain solve topologies/seed-vpn.yaml --json | jq '.chains[0].hops'`,
    )
    .action(lazy(() => import('../actions/solve.js'), 'run'));
}
