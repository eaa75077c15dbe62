import type { Command } from 'commander';
import { labDown, labExec, labStatus, labUp, openLab, type Lab } from '../../lab/index.js';
import { ExitCode } from '../exit.js';
import { readTopology } from '../io.js';
import { c, makeChalk, printJson, table } from '../output.js';

/** `natchain lab up|down|status|exec`: a topology as Linux network namespaces, with a real sshd per gateway. */
export function registerLab(program: Command): void {
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
    .action(async (file: string, opts: { name?: string; json?: boolean }) => {
      const topology = await readTopology(file);
      const progress = makeChalk(process.stderr).dim;
      const l = await labUp(topology, { ...(opts.name ? { name: opts.name } : {}), onProgress: (m) => process.stderr.write(progress(`lab: ${m}`) + '\n') });
      if (opts.json) return printJson(l);
      printLab(l);
    });

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
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const reports = await labDown(name);
      if (opts.json) return printJson(reports);
      if (!reports.length) return void process.stdout.write('no lab to take down\n');
      for (const r of reports) {
        process.stdout.write(
          `${c.green('down')} lab ${r.lab}: removed ${r.namespaces.length} namespace(s), stopped ${r.killed} process(es)${r.removedDir ? '' : c.yellow(' (its directory could not be removed)')}\n`,
        );
      }
    });

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
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const labs = await labStatus(name);
      if (opts.json) return printJson(labs);
      if (!labs.length) return void process.stdout.write(name ? `no lab named ${name}\n` : 'no labs\n');
      for (const l of labs) {
        const procs = l.namespaces.reduce((n, ns) => n + ns.processes.length, 0);
        const state = l.state === 'up' ? c.green(l.state) : c.yellow(l.state);
        process.stdout.write(`lab ${c.bold(l.name)} ${state}: ${l.namespaces.filter((n) => n.exists).length} namespace(s), ${procs} process(es)\n`);
        if (l.topologyFile) process.stdout.write(`  topology:   ${l.topologyFile}\n`);
        if (l.sshConfig) process.stdout.write(`  ssh_config: ${l.sshConfig}\n`);
        const rows = [['namespace', 'pid', 'command']];
        for (const ns of l.namespaces) {
          const mark = ns.exists ? ns.name : `${ns.name} ${c.yellow('(missing)')}`;
          if (!ns.processes.length) rows.push([mark, '', '']);
          const shown = name ? ns.processes : ns.processes.slice(0, 3);
          shown.forEach((p, i) => rows.push([i ? '' : mark, String(p.pid), p.command.length > 100 && !name ? p.command.slice(0, 97) + '...' : p.command]));
          if (shown.length < ns.processes.length) rows.push(['', '', c.dim(`... ${ns.processes.length - shown.length} more (natchain lab status ${l.name})`)]);
        }
        process.stdout.write(table(rows).replace(/^/gm, '  ') + '\n');
      }
    });

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
    .action(async (name: string, node: string, command: string[]) => {
      const l = await openLab(name);
      const argv = command.length ? command : ['bash', '-i'];
      const r = await labExec(l, node, argv, { inherit: true });
      if (r.code !== 0) throw new ExitCode(r.code ?? 128);
    });
}

function printLab(l: Lab): void {
  const out = (s = '') => process.stdout.write(s + '\n');
  out(`${c.green('up')} lab ${c.bold(l.name)} in ${l.upSeconds.toFixed(2)} s: ${l.gateways.length} gateway(s), ${l.hosts.length} host(s), ${l.namespaces.length} namespaces`);
  out(`  ssh_config: ${l.sshConfig}`);
  out();
  const rows = [['node', 'kind', 'addresses', 'serves / stands for']];
  for (const g of l.gateways) rows.push([g.name, `gateway (${g.backend})`, g.interfaces.map((i) => `${i.name} ${i.address}/${i.prefix}`).join(', '), 'sshd']);
  for (const h of l.hosts) {
    const what =
      h.role === 'target'
        ? `echo ${h.services.map((s) => `${s.proto}/${s.port}`).join(' ')}`
        : h.forwards.length
          ? `client for ${h.forwards.join(', ')}`
          : '';
    rows.push([h.name, h.role, `eth0 ${h.address}/${h.prefix}${h.gateway ? ` via ${h.gateway}` : ''}`, what]);
  }
  out(table(rows).replace(/^/gm, '  '));
  const gw = l.gateways[0]?.name;
  const client = l.hosts.find((h) => h.role === 'client' || h.role === 'internet');
  const target = l.hosts.find((h) => h.role === 'target' && h.services.length);
  out();
  out('Try:');
  if (gw) out(`  ssh -F ${l.sshConfig} ${gw} iptables-save`);
  if (client && target) out(`  natchain lab exec ${l.name} ${client.name} -- socat - TCP:${target.address}:${target.services[0]!.port}`);
  out(`  natchain lab down ${l.name}`);
}
