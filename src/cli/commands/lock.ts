import type { Command } from 'commander';
import { formatPorts } from '../../topology/types.js';
import { ExitCode } from '../exit.js';
import { loadProject, writeLock } from '../io.js';
import { c } from '../output.js';

/** `natchain lock`: records the hop ports natchain picked in the lock file beside the topology. */
export function registerLock(program: Command): void {
  program
    .command('lock')
    .description('write the port lock (x.lock beside x.yaml) so hop ports stay put; review and commit it')
    .argument('<topology>', 'topology file (YAML)')
    .option('--check', 'write nothing; exit 1 if the lock is missing or out of date (for CI)')
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
    .action(async (file: string, opts: { check?: boolean }) => {
      const p = await loadProject(file);
      const picked = p.solution.allocations.filter((a) => a.origin === 'new');
      const freed = Object.entries(p.lock.ports).flatMap(([f, ports]) =>
        Object.keys(ports)
          .filter((k) => p.solution.lock.ports[f]?.[k] === undefined)
          .map((k) => `${f} ${k}`),
      );
      if (!p.lockChanged) {
        process.stdout.write(`${p.lockFile} is up to date\n`);
        return;
      }
      if (opts.check) {
        process.stderr.write(`${p.lockFile} is ${p.lockExists ? 'out of date' : 'missing'}: ${picked.length} port(s) to record, ${freed.length} to free\n`);
        throw new ExitCode(1);
      }
      await writeLock(p.lockFile, p.solution.lock);
      for (const a of picked) process.stdout.write(`${c.green('+')} ${a.forward}: ${a.gateway} ${a.address}:${formatPorts(a.ports)}\n`);
      for (const f of freed) process.stdout.write(`${c.red('-')} ${f}\n`);
      process.stdout.write(`wrote ${p.lockFile}\n`);
    });
}
