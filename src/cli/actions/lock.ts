import { formatPorts } from '../../topology/types.js';
import { ExitCode } from '../exit.js';
import { loadProject, writeLock } from '../io.js';
import { c, printJson } from '../output.js';

/** Runs `natchain lock`. */
export async function run(file: string, opts: { check?: boolean; json?: boolean }): Promise<void> {
  const p = await loadProject(file);
  const picked = p.solution.allocations.filter((a) => a.origin === 'new');
  const freed = Object.entries(p.lock.ports).flatMap(([forward, ports]) =>
    Object.keys(ports)
      .filter((k) => p.solution.lock.ports[forward]?.[k] === undefined)
      .map((key) => ({ forward, key })),
  );
  const state = !p.lockChanged ? 'up-to-date' : p.lockExists ? 'out-of-date' : 'missing';
  const write = p.lockChanged && !opts.check;
  if (write) await writeLock(p.lockFile, p.solution.lock);
  if (opts.json) {
    const ports = picked.map((a) => ({ forward: a.forward, gateway: a.gateway, address: a.address, ports: formatPorts(a.ports) }));
    printJson({ topology: file, lockFile: p.lockFile, state, written: write, picked: ports, freed });
  } else if (!p.lockChanged) {
    process.stdout.write(`${p.lockFile} is up to date\n`);
  } else if (opts.check) {
    process.stderr.write(`${p.lockFile} is ${state.replace(/-/g, ' ')}: ${picked.length} port(s) to record, ${freed.length} to free\n`);
  } else {
    for (const a of picked) process.stdout.write(`${c.green('+')} ${a.forward}: ${a.gateway} ${a.address}:${formatPorts(a.ports)}\n`);
    for (const f of freed) process.stdout.write(`${c.red('-')} ${f.forward} ${f.key}\n`);
    process.stdout.write(`wrote ${p.lockFile}\n`);
  }
  if (opts.check && p.lockChanged) throw new ExitCode(1);
}
