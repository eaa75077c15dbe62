import { chainColour } from './dot.js';
import { chainLetter, type Picture, type PictureNode } from './picture.js';

// Mermaid's own entity syntax (#quot;) keeps a label from closing its quotes; < and > are escaped
// so a name can never become markup (only our own <b> and <br/> are).
const text = (s: string) => s.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

const OPEN: Record<PictureNode['kind'], [string, string]> = {
  site: ['[/', '\\]'],
  network: ['([', '])'],
  gateway: ['[', ']'],
  host: ['[', ']'],
};

const CLASSES = [
  'classDef site fill:#eef6ee,stroke:#5a9a5a',
  'classDef network fill:#eef2fb,stroke:#5a78b4',
  'classDef gateway fill:#fbf7ea,stroke:#a08a3c',
  'classDef host fill:#ffffff,stroke:#555555',
];

/** The picture as a Mermaid flowchart, for Markdown (GitHub renders it). */
export function toMermaid(p: Picture): string {
  // Short generated ids (s0, n0, g0, h0): topology names may contain "-" or "." and words like "end" that Mermaid reserves.
  const ids = new Map<string, string>();
  const count: Record<string, number> = {};
  for (const n of p.nodes) {
    const k = n.kind[0]!;
    ids.set(n.id, `${k}${(count[k] = (count[k] ?? -1) + 1)}`);
  }
  const out = ['flowchart LR'];
  for (const n of p.nodes) {
    const rows = [`<b>${text(n.title)}</b>`, ...n.lines.map(text), ...n.nat.map((x) => text(`${x.chains.map(chainLetter).join(',')}: ${x.text}`))];
    const [o, c] = OPEN[n.kind];
    out.push(`  ${ids.get(n.id)}${o}"${rows.join('<br/>')}"${c}`);
  }
  const styles: string[] = [];
  p.edges.forEach((e, i) => {
    const label = e.label ? `|"${text(e.label)}"|` : '';
    const arrow = e.kind === 'path' ? '==>' : e.kind === 'member' ? '-.-' : '---';
    out.push(`  ${ids.get(e.from)} ${arrow}${label} ${ids.get(e.to)}`);
    if (e.kind === 'path') styles.push(`  linkStyle ${i} stroke:${chainColour(e.chain ?? 0)},stroke-width:3px,color:${chainColour(e.chain ?? 0)}`);
  });
  if (p.legend.length) out.push(`  legend["${p.legend.map(text).join('<br/>')}"]`);
  out.push(...styles);
  for (const def of CLASSES) out.push(`  ${def}`);
  for (const kind of ['site', 'network', 'gateway', 'host'] as const) {
    const members = p.nodes.filter((n) => n.kind === kind).map((n) => ids.get(n.id)!);
    if (members.length) out.push(`  class ${members.join(',')} ${kind}`);
  }
  return out.join('\n') + '\n';
}
