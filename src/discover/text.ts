// A proposal as a topology file, with a comment on every guess. Pure.
import { schemaLine } from '../author/starter.js';
import { formatCidr } from '../topology/types.js';
import type { Proposal } from './infer.js';

const comment = (note: string | undefined) => (note ? `  # ${note}` : '');

/** The proposal as topology text: validates when every gateway has two usable interfaces. */
export function proposalText(p: Proposal, schemaRef: string, asked: string[]): string {
  const out: string[] = [
    schemaLine(schemaRef).trimEnd(),
    `# Proposed by \`natchain init --discover\` from ${asked.join(', ')} (read-only: nothing was changed on them).`,
    '# natchain inferred the sites, networks and names below from addresses and routes: read every',
    '# "inferred" and "CHECK" comment, rename freely, then `natchain validate` and `natchain wizard`.',
    'version: 1',
    'sites:',
  ];
  if (!p.sites.length) out.push('  # CHECK: no LAN found (a private subnet only one gateway is on); add your sites here');
  for (const s of p.sites) {
    out.push(`  ${s.name}:${comment(s.note)}`, `    subnets: [${s.subnets.map(formatCidr).join(', ')}]`);
  }
  out.push('networks:');
  if (!p.networks.length) out.push('  # CHECK: no network between gateways found');
  for (const n of p.networks) {
    out.push(`  ${n.name}:${comment(n.note)}`);
    if (n.public) out.push('    public: true');
    if (n.subnet) out.push(`    subnet: ${formatCidr(n.subnet)}`);
  }
  out.push('gateways:');
  for (const g of p.gateways) {
    out.push(...g.notes.map((n) => `  # ${g.name}: ${n}`), `  ${g.name}:`, `    backend: ${g.backend}`, '    interfaces:');
    for (const i of g.interfaces) {
      out.push(`      ${i.name}: { address: ${i.address}/${i.prefix}, ${i.attach.kind}: ${i.attach.name} }${comment(i.note)}`);
    }
  }
  out.push('forwards:', '  # Add forwards with `natchain wizard <this file>` or `natchain forward add`.');
  return out.join('\n') + '\n';
}
