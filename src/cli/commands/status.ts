import type { Command } from 'commander';
import { addRemoteOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain status`: per gateway in sync or drifted, the last transaction, a lock, an armed timer. */
export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description('per gateway: in sync or drifted (natchain rules changed by hand), last transaction, lock, armed dead-man timer')
    .argument('<topology>', 'topology file (YAML)')
    .option('--counters', "per forward and gateway: the packets and bytes its DNAT rule matched (connections begun through it)");
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
sync: in-sync (live = last commit = topology), pending (the topology changed since: see plan),
drifted (natchain's rules differ from what natchain last committed there), shadowed (a foreign
rule can catch a forward's packets before natchain's rules: named in DETAIL and --json), mismatch
(the gateway's interfaces, addresses or tools are not what the topology says), unmanaged (never
committed), unreachable. Exit 0 when every gateway is in sync, 1 otherwise.

Examples:
  natchain status topologies/seed-vpn.yaml -F lab/ssh_config
  natchain status site.yaml --counters --json | jq '.gateways[].counters'`,
    )
    .action(lazy(() => import('../actions/status.js'), 'run'));
}
