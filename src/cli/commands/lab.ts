import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain lab up|down|status|exec`: a topology as Linux network namespaces, with a real sshd per gateway. */
export function registerLab(program: Command): void {
  const load = () => import('../actions/lab.js');
  const lab = program
    .command('lab')
    .description('build a topology out of network namespaces on this machine (real sshd per gateway), to try it safely')
    .addHelpText(
      'after',
      `
The lab never adds an address, route or link to this machine's own network namespace: every
address of the topology exists only inside namespaces named nc-<lab>.<node>, so no packet can
leave them. Gateways are reached over SSH through unix sockets (see the printed ssh_config).
Needs root. Files live in /run/natchain-lab/<lab>/ (or $NATCHAIN_LAB_DIR/<lab>/).

Examples:
  natchain lab up topologies/seed-vpn.yaml
  ssh -F /run/natchain-lab/seed-vpn/ssh_config gw-a iptables-save
  natchain lab exec seed-vpn client-b -- socat - TCP:10.0.0.12:22
  natchain lab status
  natchain lab down seed-vpn`,
    );

  lab
    .command('up')
    .description('build the lab for a topology: namespaces, links, sshd on every gateway, hosts with echo services')
    .argument('<topology>', 'topology file (YAML)')
    .option('-n, --name <lab>', 'lab name (default: the file name, e.g. seed-vpn)')
    .option('--json', 'print the lab (namespaces, ssh_config, hosts and their addresses) as JSON')
    .addHelpText(
      'after',
      `
Builds one namespace per gateway (the topology's interfaces, names and addresses; forwarding on;
a private /var/lib/natchain, /run/natchain, /tmp and /root; a real OpenSSH sshd), one per host
(each forward's target, running an echo service on every forwarded port and protocol; a client
in every site a forward comes from; an internet client), and one switch namespace with a bridge
per site and network. Loads no natchain rules: that is natchain's job (or yours).

Examples:
  natchain lab up topologies/seed-vpn.yaml
  natchain lab up topologies/three-hop.yaml --name 3hop --json`,
    )
    .action(lazy(load, 'up'));

  lab
    .command('down')
    .description('remove a lab (or every lab): processes, namespaces, sockets, files; safe to run twice or after a crash')
    .argument('[lab]', 'lab name (default: every lab)')
    .option('--json', 'print what was removed as JSON')
    .addHelpText(
      'after',
      `
Examples:
  natchain lab down seed-vpn
  natchain lab down          # every lab`,
    )
    .action(lazy(load, 'down'));

  lab
    .command('status')
    .description('list labs, their namespaces and the processes running in them')
    .argument('[lab]', 'only this lab, with every process')
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      `
Lists labs found by their directory and by their namespaces (nc-<lab>.*), so a lab left
behind by a crash shows up as "orphaned" or "partial"; \`natchain lab down <lab>\` removes it.

Examples:
  natchain lab status
  natchain lab status seed-vpn --json`,
    )
    .action(lazy(load, 'status'));

  lab
    .command('exec')
    .description("run a command inside a lab gateway's or host's namespaces (default: a shell)")
    .argument('<lab>', 'lab name')
    .argument('<node>', 'gateway or host name (see `natchain lab status` or `lab up` output)')
    .argument('[command...]', 'the command, after `--`')
    .addHelpText(
      'after',
      `
Gateways run the command in their network, mount and UTS namespaces (their own /var/lib/natchain,
/run/natchain, /tmp, /root and host name); hosts in their network namespace. The exit status is
the command's.

Examples:
  natchain lab exec seed-vpn gw-a -- conntrack -L
  natchain lab exec seed-vpn client-b -- socat - TCP:10.0.0.12:22,sourceport=2182
  natchain lab exec seed-vpn gw-b`,
    )
    .action(lazy(load, 'exec'));
}
