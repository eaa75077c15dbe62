import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain lock`: records the hop ports natchain picked in the lock file beside the topology. */
export function registerLock(program: Command): void {
  program
    .command('lock')
    .description('write the port lock (x.lock beside x.yaml) so hop ports stay put; review and commit it')
    .argument('<topology>', 'topology file (YAML)')
    .option('--check', 'write nothing; exit 1 if the lock is missing or out of date (for CI)')
    .option('--json', 'print {topology, lockFile, state, written, picked[], freed[]} as one JSON document')
    .addHelpText(
      'after',
      `
A hop port natchain picks (like seed-vpn's 22012 when it is not exposed explicitly) is shared
state between two gateways: the lock keeps it stable when other forwards are added, removed or
reordered. \`apply\` updates the lock too after a successful commit.

Examples:
  natchain lock topologies/three-hop.yaml
  natchain lock topologies/three-hop.yaml --check`,
    )
    .action(lazy(() => import('../actions/lock.js'), 'run'));
}
