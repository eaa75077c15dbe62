import type { Command } from 'commander';
import { TopologyError, UsageError } from '../../errors.js';
import { dotToSvg, toDot, toMermaid, topologyPicture } from '../../graph/index.js';
import { solvePartial } from '../../plan/index.js';
import { suggest } from '../../topology/build.js';
import { readLock, readTopology } from '../io.js';
import { printJson } from '../output.js';

const FORMATS = ['dot', 'mermaid', 'svg', 'json'] as const;
type Format = (typeof FORMATS)[number];

/** `natchain graph`: the topology as a picture (DOT, SVG or Mermaid), optionally with one forward's chain highlighted. */
export function registerGraph(program: Command): void {
  program
    .command('graph')
    .description("draw the topology (sites, networks, gateways and their addresses) as DOT, SVG or Mermaid, a forward's chain highlighted")
    .argument('<topology>', 'topology file (YAML)')
    .option('--format <format>', `${FORMATS.join(', ')} (svg runs Graphviz's dot; json is the picture's nodes and edges)`, 'dot')
    .option('-f, --forward <name>', "highlight this forward's chains hop by hop, with the DNAT/SNAT at each gateway")
    .addHelpText(
      'after',
      `
Offline: reads the topology (and its port lock, for the hop ports a highlighted chain shows).
Each chain of the forward gets a letter and a colour; its steps are numbered A1, A2... and show
the packet as it travels (source -> destination), as in the seeds' "packet's life".

Examples:
  natchain graph topologies/seed-vpn.yaml --forward ssh-12 --format svg > seed-vpn.svg
  natchain graph topologies/three-hop.yaml | dot -Tpng -o three-hop.png
  natchain graph topologies/hub-vpn.yaml --format mermaid --forward cam   # paste into a \`\`\`mermaid block`,
    )
    .action(async (file: string, opts: { format: string; forward?: string }) => {
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
    });
}
