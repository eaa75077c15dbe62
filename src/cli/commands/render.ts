import { Option, type Command } from 'commander';
import { withChoices } from '../choices.js';
import { lazy } from '../lazy.js';

/** `natchain render`: exactly what a rollout would load on a gateway. */
export function registerRender(program: Command): void {
  program
    .command('render')
    .description('print the ruleset natchain would load on a gateway (iptables-restore or nft -f input)')
    .argument('<topology>', 'topology file (YAML)')
    .option('-g, --gateway <name>', 'the gateway (default: every gateway, one after the other)')
    .addOption(withChoices(new Option('-b, --backend <backend>', "the backend to render for (default: the gateway's own)"), ['iptables', 'nftables']))
    .option('--live <file>', "the gateway's current `iptables-save` output (- for stdin): print exactly what a rollout would load on it (only the missing jumps); needs --gateway")
    .option('--json', 'print {gateway: {backend, text}} as JSON')
    .addHelpText(
      'after',
      `
iptables output is input for \`iptables-restore --noflush\`: it replaces only natchain's chains
(NATCHAIN-PREROUTING, NATCHAIN-POSTROUTING in nat, NATCHAIN-FORWARD in filter) and the jumps to
them from the built-in chains. iptables-restore cannot "insert if absent", so the jump lines depend
on the gateway: without --live the output is for a fresh gateway (every jump inserted); with
--live it is exactly what a rollout loads there (missing jumps inserted, stray ones deleted, a
jump that a foreign rule got ahead of moved back to the top), and loading it leaves each jump
exactly once, as the first rule of its built-in chain. nftables output is input for \`nft -f\`: it replaces
\`table ip natchain\` in one transaction, the same whatever the gateway holds.

Examples:
  natchain render topologies/seed-vpn.yaml --gateway gw-b
  ssh gw-b iptables-save | natchain render topologies/seed-vpn.yaml -g gw-b --live - | ssh gw-b iptables-restore --noflush
  natchain render topologies/seed-vpn.yaml --gateway gw-a --backend nftables | nft -c -f -`,
    )
    .action(lazy(() => import('../actions/render.js'), 'run'));
}
