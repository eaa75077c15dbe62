import { formatPorts } from '../../topology/types.js';
import { ExitCode } from '../exit.js';
import { loadProject, writeLock } from '../io.js';
import { c } from '../output.js';

/** Runs `natchain lock`. */
export async function run(file: string, opts: { check?: boolean }): Promise<void> {
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
}
