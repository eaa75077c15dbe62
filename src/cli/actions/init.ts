import { createTopology } from '../create-topology.js';
import type { RemoteOptions } from '../options.js';
import { c, makeChalk, printJson } from '../output.js';
import { concurrencyOf, connectOptionsOf } from '../remote.js';

/** Runs `natchain init`. */
export async function run(file: string, o: RemoteOptions & { discover?: string[]; force?: boolean }): Promise<void> {
  const created = await createTopology(file, {
    ...(o.discover ? { discover: o.discover, connect: connectOptionsOf(o), concurrency: concurrencyOf(o) } : {}),
    force: Boolean(o.force),
  });
  if (o.json) return printJson({ file, discovered: o.discover ?? [], valid: created.problems.length === 0, problems: created.problems });
  process.stdout.write(`${c.green('wrote')} ${file}${o.discover ? ` (proposed from ${o.discover.join(', ')})` : ''}\n`);
  const warn = makeChalk(process.stderr).yellow;
  if (created.problems.length) {
    process.stderr.write(warn(`CHECK: the proposal does not validate yet; fix these in ${file}:`) + '\n');
    for (const p of created.problems) process.stderr.write(`  ${p}\n`);
  }
  process.stdout.write(`next: read the comments in ${file}, then \`natchain wizard ${file}\` to add forwards\n`);
}
