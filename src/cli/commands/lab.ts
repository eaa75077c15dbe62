import { Argument, type Command } from 'commander';
import { withChoices } from '../choices.js';
import { lazy } from '../lazy.js';

/** Loads the lab actions (up, down, status, exec) when one of them runs. */
type LabActions = () => Promise<typeof import('../actions/lab.js')>;

/** `natchain lab up|down|status|exec|test|echo`: a topology as Linux network namespaces, with a real sshd per gateway. */
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
  addUp(lab, load);
  addDown(lab, load);
  addStatus(lab, load);
  addExec(lab, load);
  addTest(lab);
  addEcho(lab);
}

/** `lab up`: builds a topology's lab. */
function addUp(lab: Command, load: LabActions): void {
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

}

/** `lab down`: removes a lab, or every lab. */
function addDown(lab: Command, load: LabActions): void {
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

}

/** `lab status`: the labs, their namespaces and processes. */
function addStatus(lab: Command, load: LabActions): void {
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

}

/** `lab exec`: a command inside a lab node's namespaces. */
function addExec(lab: Command, load: LabActions): void {
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

/** `lab test`: real traffic through every forward of a lab. */
function addTest(lab: Command): void {
  lab
    .command('test')
    .description("send real traffic through every forward of a lab's topology, from each source's lab client, and compare the source address each target saw with what solve predicts")
    .argument('<lab>', 'lab name')
    .option('--forward <name...>', 'only these forwards')
    .option('--topology <file>', 'topology to test against (default: the file the lab was built from)')
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `
Per forward, source and protocol (both ends of a port range): one TCP connection or UDP exchange
from the lab client standing for that source to what it dials; the lab's echo service on the
target names itself and the peer it saw. OK when the right host answers on the right port and
saw the source address the solve predicts. Load natchain's rules first (natchain apply with the
lab's ssh_config). Exit 0 when every forward works, 1 otherwise.

Examples:
  natchain apply topologies/seed-vpn.yaml -F /run/natchain-lab/seed-vpn/ssh_config --yes
  natchain lab test seed-vpn`,
    )
    .action(lazy(() => import('../actions/lab-test.js'), 'test'));

}

/** `lab echo stop|start`: a lab target's echo services. */
function addEcho(lab: Command): void {
  lab
    .command('echo')
    .description("stop or start a lab target's echo services (to run a real service on a forwarded port instead)")
    .addArgument(withChoices(new Argument('<action>', 'stop or start'), ['stop', 'start']))
    .argument('<lab>', 'lab name')
    .argument('<host>', 'target host (server-<forward>)')
    .argument('[service...]', 'PORT or PORT/tcp or PORT/udp (default: every echo service of the host)')
    .option('--json', 'print what was stopped or started as JSON')
    .addHelpText(
      'after',
      `
Only the lab's own echo listeners are stopped; whatever else runs on the host is left alone.

Examples:
  natchain lab echo stop seed-vpn server-ssh-12 22/tcp
  natchain lab exec seed-vpn server-ssh-12 -- /usr/sbin/sshd -D -e -p 22 -o PidFile=none &   # your real service
  natchain lab echo start seed-vpn server-ssh-12`,
    )
    .action(lazy(() => import('../actions/lab-test.js'), 'echo'));
}
