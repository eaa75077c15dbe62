import { TopologyError, UsageError } from '../../errors.js';
import { dotToSvg, toDot, toMermaid, topologyPicture } from '../../graph/index.js';
import { solvePartial } from '../../plan/index.js';
import { suggest } from '../../topology/build.js';
import { readLock, readTopology } from '../io.js';
import { printJson } from '../output.js';
import { FORMATS, type Format } from '../commands/graph.js';

/** Runs `natchain graph`. */
export async function run(file: string, opts: { format: string; forward?: string }): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not "${opts.format}"`);
  const format = opts.format as Format;
  const topology = await readTopology(file);
  let highlight;
  if (opts.forward !== undefined) {
    const name = opts.forward;
    if (!topology.forwards.some((f) => f.name === name)) {
      throw new UsageError(`no forward "${name}" in ${file}${suggest(name, topology.forwards.map((f) => f.name))}`, [
        `forwards: ${topology.forwards.map((f) => f.name).join(', ') || '(none)'}`,
      ]);
    }
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
