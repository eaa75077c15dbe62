import { checkLabName, labDown, labExec, labStatus, labUp, listLabs, openLab, unknownLab, type Lab } from '../../lab/index.js';
import { suggest } from '../../suggest.js';
import { ExitCode } from '../exit.js';
import { readTopology } from '../io.js';
import { c, makeChalk, printJson, table } from '../output.js';

/** Runs `natchain lab up`. */
export async function up(file: string, opts: { name?: string; json?: boolean }): Promise<void> {
  const topology = await readTopology(file);
  const progress = makeChalk(process.stderr).dim;
  const l = await labUp(topology, { ...(opts.name ? { name: opts.name } : {}), onProgress: (m) => process.stderr.write(progress(`lab: ${m}`) + '\n') });
  if (opts.json) return printJson(l);
  printLab(l);
}

/** Runs `natchain lab down`. */
export async function down(name: string | undefined, opts: { json?: boolean }): Promise<void> {
  // Safe to run twice: a lab with no trace left is nothing to do, not an error; a typo gets its "did you mean".
  const labs = await listLabs();
  if (name !== undefined && !labs.includes(checkLabName(name))) {
    if (opts.json) return printJson([]);
    return void process.stdout.write(`no lab "${name}" to take down${suggest(name, labs)}\n`);
  }
  const reports = await labDown(name);
  if (opts.json) return printJson(reports);
  if (!reports.length) return void process.stdout.write('no lab to take down\n');
  for (const r of reports) {
    process.stdout.write(
      `${c.green('down')} lab ${r.lab}: removed ${r.namespaces.length} namespace(s), stopped ${r.killed} process(es)${r.removedDir ? '' : c.yellow(' (its directory could not be removed)')}\n`,
    );
  }
}

/** Runs `natchain lab status`. */
export async function status(name: string | undefined, opts: { json?: boolean }): Promise<void> {
  const labs = await labStatus(name);
  if (name !== undefined && !labs.length) throw await unknownLab(name);
  if (opts.json) return printJson(labs);
  if (!labs.length) return void process.stdout.write('no labs\n');
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
}

/** Runs `natchain lab exec`. */
export async function exec(name: string, node: string, command: string[]): Promise<void> {
  const l = await openLab(name);
  const argv = command.length ? command : ['bash', '-i'];
  const r = await labExec(l, node, argv, { inherit: true });
  if (r.code !== 0) throw new ExitCode(r.code ?? 128);
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
