import type { Topology } from '../topology/types.js';
import { formatCidr, formatPorts, formatSource } from '../topology/types.js';
import type { Chain, Intent } from './types.js';

/**
 * Groups the hops of every chain into per-gateway intents, one per protocol. Hops that ask the
 * same of a gateway are merged, and a hop restricted to one source is dropped when another hop
 * of the same forward accepts any source (seed 001: gw-a's public port serves the internet and,
 * with it, gw-b's chain: one rule, as in the seed).
 */
export function intentsOf(topology: Topology, chains: Chain[]): Record<string, Intent[]> {
  const byGateway: Record<string, Map<string, Intent>> = {};
  for (const g of topology.gateways) byGateway[g.name] = new Map();
  for (const chain of chains) {
    for (const hop of chain.hops) {
      for (const proto of chain.protos) {
        const intent: Intent = {
          forward: chain.forward,
          gateway: hop.gateway,
          proto,
          inIface: hop.inIface,
          ...(hop.src ? { src: hop.src } : {}),
          dst: hop.dst,
          outIface: hop.outIface,
          dnat: hop.dnat,
          ...(hop.snat ? { snat: hop.snat } : {}),
          sources: [formatSource(chain.source)],
        };
        const key = `${keyWithoutSrc(intent)}|${intent.src ? formatCidr(intent.src) : '*'}`;
        const prior = byGateway[hop.gateway]!.get(key);
        if (prior) {
          for (const s of intent.sources) if (!prior.sources.includes(s)) prior.sources.push(s);
        } else byGateway[hop.gateway]!.set(key, intent);
      }
    }
  }
  const out: Record<string, Intent[]> = {};
  for (const [gw, map] of Object.entries(byGateway)) {
    const open = new Map<string, Intent>();
    for (const i of map.values()) if (!i.src) open.set(keyWithoutSrc(i), i);
    const kept: Intent[] = [];
    for (const i of map.values()) {
      const wider = i.src && open.get(keyWithoutSrc(i));
      if (wider) {
        for (const s of i.sources) if (!wider.sources.includes(s)) wider.sources.push(s);
      } else kept.push(i);
    }
    out[gw] = kept.sort(compareIntents);
  }
  return out;
}

function keyWithoutSrc(i: Intent): string {
  return [i.forward, i.proto, i.inIface, i.dst.address, formatPorts(i.dst.ports), i.outIface, i.dnat.address, formatPorts(i.dnat.ports), i.snat?.address ?? ''].join('|');
}

/** Stable order: by forward, then protocol, then what is matched. */
function compareIntents(a: Intent, b: Intent): number {
  const ka = `${a.forward}\0${a.proto}\0${a.inIface}\0${a.dst.address}\0${String(a.dst.ports.from).padStart(5, '0')}\0${a.src ? formatCidr(a.src) : ''}`;
  const kb = `${b.forward}\0${b.proto}\0${b.inIface}\0${b.dst.address}\0${String(b.dst.ports.from).padStart(5, '0')}\0${b.src ? formatCidr(b.src) : ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
