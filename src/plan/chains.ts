import type { Chain, Hop } from '../solve/types.js';
import { formatCidr, formatPorts, formatSource, type PortRange } from '../topology/types.js';
import { cmp } from './model.js';
import type { ChainChange } from './types.js';

const ep = (e: { address: string; ports: PortRange }) => `${e.address}:${formatPorts(e.ports)}`;

/** A hop as one comparable line: everything a gateway does for it. */
export function hopText(h: Hop): string {
  const src = h.src ? ` from ${formatCidr(h.src)}` : '';
  const snat = h.snat ? `, SNAT ${h.snat.address}` : '';
  return `${h.gateway}: in ${h.inIface}${src} to ${ep(h.dst)} -> DNAT ${ep(h.dnat)}${snat}, out ${h.outIface}`;
}

/** A chain as comparable lines: what the client dials, each hop, the target. */
export function chainLines(ch: Chain): string[] {
  return [`dial ${ep(ch.dial)} ${ch.protos.join('+')}`, ...ch.hops.map(hopText), `target ${ep(ch.target)}`];
}

const chainKey = (ch: Chain) => `${ch.forward}\0${formatSource(ch.source)}`;

/**
 * The chains that are new, gone or different, keyed by forward and source. `edited` names the
 * forwards whose own definition changed, so that a chain that moved only because of something
 * else (a gateway removed, a subnet moved, a port re-allocated) is marked as such.
 */
export function diffChains(oldChains: Chain[], newChains: Chain[], edited: ReadonlySet<string>): ChainChange[] {
  const olds = new Map(oldChains.map((ch) => [chainKey(ch), ch]));
  const news = new Map(newChains.map((ch) => [chainKey(ch), ch]));
  const out: ChainChange[] = [];
  const base = (ch: Chain) => ({ forward: ch.forward, source: formatSource(ch.source), forwardChanged: edited.has(ch.forward) });
  for (const [k, o] of olds) {
    const n = news.get(k);
    if (!n) out.push({ ...base(o), change: 'removed', old: o, new: null });
    else if (chainLines(o).join('\n') !== chainLines(n).join('\n')) out.push({ ...base(n), change: 'changed', old: o, new: n });
  }
  for (const [k, n] of news) if (!olds.has(k)) out.push({ ...base(n), change: 'added', old: null, new: n });
  return out.sort((a, b) => cmp(a.forward, b.forward) || cmp(a.source, b.source));
}
