import { chainLetter, type Picture, type PictureNode } from './picture.js';

/** Colours of highlighted chains, in order (Tableau 10 hues). */
export const CHAIN_COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Colour of chain `k` (the palette repeats after six chains). */
export const chainColour = (k: number) => CHAIN_COLOURS[k % CHAIN_COLOURS.length]!;

/** Escapes text for a Graphviz HTML-like label. */
const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Quotes a Graphviz ID or attribute string. */
const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const SHAPES: Record<PictureNode['kind'], string> = {
  site: 'shape=folder, style=filled, fillcolor="#eef6ee", color="#5a9a5a"',
  network: 'shape=ellipse, style=filled, fillcolor="#eef2fb", color="#5a78b4"',
  gateway: 'shape=box, style="rounded,filled", fillcolor="#fbf7ea", color="#a08a3c"',
  host: 'shape=box, style=filled, fillcolor="#ffffff", color="#555555"',
};

function nodeLabel(n: PictureNode): string {
  const rows = [`<b>${html(n.title)}</b>`, ...n.lines.map((l) => `<font point-size="9">${html(l)}</font>`)];
  for (const x of n.nat) {
    const letters = x.chains.map(chainLetter).join(',');
    rows.push(`<font point-size="9" color="${chainColour(x.chains[0]!)}">${html(`${letters}: ${x.text}`)}</font>`);
  }
  return `<${rows.join('<br align="left"/>')}<br align="left"/>>`;
}

/** The picture as a Graphviz DOT digraph (links undirected, chain steps as coloured arrows). */
export function toDot(p: Picture): string {
  const out: string[] = [];
  out.push(`// natchain graph of ${p.title.replace(/\n/g, ' ')}`);
  out.push('digraph natchain {');
  const legend = p.legend.length ? `, label=<${p.legend.map(html).join('<br align="left"/>')}<br align="left"/>>, labelloc=b, labeljust=l` : '';
  out.push(`  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.4, ranksep=0.8${legend}];`);
  out.push('  node [fontname="Helvetica", fontsize=11];');
  out.push('  edge [fontname="Helvetica", fontsize=9, dir=none, color="#888888", fontcolor="#555555"];');
  for (const n of p.nodes) out.push(`  ${q(n.id)} [${SHAPES[n.kind]}, label=${nodeLabel(n)}];`);
  for (const e of p.edges) {
    const attrs: string[] = [];
    if (e.label) attrs.push(`label=${q(e.label)}`);
    if (e.kind === 'member') attrs.push('style=dotted');
    if (e.kind === 'path') {
      const c = chainColour(e.chain ?? 0);
      attrs.push('dir=forward', `color=${q(c)}`, `fontcolor=${q(c)}`, 'penwidth=2');
    }
    out.push(`  ${q(e.from)} -> ${q(e.to)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}
