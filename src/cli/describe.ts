import type { Intent } from '../solve/types.js';
import { formatCidr, formatPorts, type PortRange } from '../topology/types.js';

const ep = (a: { address: string; ports: PortRange }) => `${a.address}:${formatPorts(a.ports)}`;

/** One intent as the lines an admin reads: DNAT, optional SNAT, and the filter accept. */
export function describeIntent(i: Intent): { kind: 'DNAT' | 'SNAT' | 'ACCEPT'; text: string }[] {
  const from = i.src ? ` from ${formatCidr(i.src)}` : '';
  const lines: { kind: 'DNAT' | 'SNAT' | 'ACCEPT'; text: string }[] = [
    { kind: 'DNAT', text: `${i.proto} in ${i.inIface}${from} to ${ep(i.dst)} -> ${ep(i.dnat)}` },
  ];
  if (i.snat) lines.push({ kind: 'SNAT', text: `${i.proto} out ${i.outIface} to ${ep(i.dnat)}${from} -> source ${i.snat.address}` });
  lines.push({ kind: 'ACCEPT', text: `${i.proto} forwarded flow ${ep(i.dst)} -> ${ep(i.dnat)} (${i.inIface} -> ${i.outIface}, and its replies)` });
  return lines;
}
