import { Option, type Command } from 'commander';
import { withChoices } from '../choices.js';
import { lazy } from '../lazy.js';

/** The picture formats `graph --format` takes. */
export const FORMATS = ['dot', 'mermaid', 'svg', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** `natchain graph`: the topology as a picture (DOT, SVG or Mermaid), optionally with one forward's chain highlighted. */
export function registerGraph(program: Command): void {
  program
    .command('graph')
    .description("draw the topology (sites, networks, gateways and their addresses) as DOT, SVG or Mermaid, a forward's chain highlighted")
    .argument('<topology>', 'topology file (YAML)')
    .addOption(withChoices(new Option('--format <format>', "svg runs Graphviz's dot; json is the picture's nodes and edges").default('dot'), FORMATS))
    .option('--json', 'print the picture (nodes and edges) as one JSON document: the same as --format json')
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
    .action(lazy(() => import('../actions/graph.js'), 'run'));
}
