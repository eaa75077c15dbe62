import type { Command } from 'commander';
import { lazy } from '../lazy.js';
import { addRemoteOptions } from '../options.js';

/** `natchain probe`: per forward, on each gateway of its chain, the checks that need no traffic but a TCP connect to the target. */
export function registerProbe(program: Command): void {
  const cmd = program
    .command('probe')
    .description("check every forward on its live gateways: facts, natchain's rules and their order, forwarding, the route to the next hop, and a TCP connect to the target from the last gateway")
    .argument('<topology>', 'topology file (YAML)')
    .option('--forward <name...>', 'only these forwards (repeat or list)');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
Per forward and source, on each gateway of its chain: the gateway is what the topology says;
natchain's rules for the forward are there, as the topology wants, and no foreign rule catches
its packets first; net.ipv4.ip_forward is on; \`ip route get <next hop>\` leaves by the chain's
interface; on the last gateway, a TCP connection from the gateway itself to the target host:port
(udp forwards: skipped, with a note). Nothing else is sent anywhere; no lock is taken.
Exit 0 when every forward is ok, 1 otherwise (the first failing hop and check are named).

Examples:
  natchain probe topologies/seed-vpn.yaml -F /run/natchain-lab/seed-vpn/ssh_config
  natchain probe site.yaml --forward ssh-12 --json | jq '.forwards[] | select(.ok | not)'`,
    )
    .action(lazy(() => import('../actions/probe.js'), 'run'));
}
