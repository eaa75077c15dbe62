import { TopologyError, UsageError } from '../../errors.js';
import { dotToSvg, toDot, toMermaid, topologyPicture } from '../../graph/index.js';
import { solvePartial } from '../../plan/index.js';
import { readLock, readTopology } from '../io.js';
import { printJson } from '../output.js';
import type { Format } from '../commands/graph.js';
import { unknownName } from '../../suggest.js';

/** Runs `natchain graph`. */
export async function run(file: string, opts: { format: Format; forward?: string; json?: boolean }): Promise<void> {
  if (opts.json && opts.format !== 'dot' && opts.format !== 'json') throw new UsageError(`--json prints the picture as JSON: it cannot go with --format ${opts.format}`);
  const format = opts.json ? 'json' : opts.format;
  const topology = await readTopology(file);
  let highlight;
  if (opts.forward !== undefined) {
    const name = opts.forward;
    if (!topology.forwards.some((f) => f.name === name)) throw unknownName('forward', name, topology.forwards.map((f) => f.name), file);
    // Other forwards that do not solve must not stop this one from being drawn.
    const { solution, unsolved } = solvePartial(topology, (await readLock(file)).lock);
    const mine = unsolved.find((u) => u.forward === name);
    if (mine) throw new TopologyError(mine.diagnostics);
    highlight = { forward: name, chains: solution.chains.filter((ch) => ch.forward === name) };
  }
  const picture = topologyPicture(topology, highlight);
  if (format === 'json') return printJson(picture);
  const text = format === 'mermaid' ? toMermaid(picture) : format === 'svg' ? await dotToSvg(toDot(picture)) : toDot(picture);
  process.stdout.write(text);
}
