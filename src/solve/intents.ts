import { nameTable } from '../names.js';
import type { Topology } from '../topology/types.js';
import { formatSource } from '../topology/types.js';
import type { Chain, Hop, Intent } from './types.js';

/**
 * Groups the hops of every chain into per-gateway intents, one per protocol. Hops that ask the
 * same of a gateway are merged, and a hop restricted to one source is dropped when another hop
 * of the same forward accepts any source (seed 001: gw-a's public port serves the internet and,
 * with it, gw-b's chain: one rule, as in the seed).
 */
export function intentsOf(topology: Topology, chains: Chain[]): Record<string, Intent[]> {
  const out = nameTable<Intent[]>(); // gateway names are data: `__proto__` is just a key
  for (const g of topology.gateways) out[g.name] = [];
  // Chains of one forward are consecutive; only they can ask a gateway for the same thing twice.
  for (let a = 0; a < chains.length; ) {
    let b = a + 1;
    while (b < chains.length && chains[b]!.forward === chains[a]!.forward) b++;
    if (b - a === 1) {
      // One chain crosses each gateway once, so nothing to merge: the common case at scale.
      const chain = chains[a]!;
      const sources = [formatSource(chain.source)];
      for (const hop of chain.hops) for (const proto of chain.protos) out[hop.gateway]!.push(intentOf(chain.forward, hop, proto, [...sources]));
    } else {
      for (const i of mergeForward(chains.slice(a, b))) out[i.gateway]!.push(i);
    }
    a = b;
  }
  for (const list of Object.values(out)) list.sort(compareIntents);
  return out;
}

/** The intents of one forward with several chains: equal hops merged, narrow hops absorbed by open ones. */
function mergeForward(chains: Chain[]): Intent[] {
  const byKey = new Map<string, Intent>();
  for (const chain of chains) {
    const source = formatSource(chain.source);
    for (const hop of chain.hops) {
      const base = hopKey(hop);
      const srcKey = hop.src ? `${hop.src.address}/${hop.src.prefix}` : '*';
      for (const proto of chain.protos) {
        const key = `${proto}|${base}\n${srcKey}`;
        const prior = byKey.get(key);
        if (prior) {
          if (!prior.sources.includes(source)) prior.sources.push(source);
        } else byKey.set(key, intentOf(chain.forward, hop, proto, [source]));
      }
    }
  }
  const open = new Map<string, Intent>();
  for (const [key, i] of byKey) if (!i.src) open.set(key.slice(0, key.lastIndexOf('\n')), i);
  const kept: Intent[] = [];
  for (const [key, i] of byKey) {
    const wider = i.src ? open.get(key.slice(0, key.lastIndexOf('\n'))) : undefined;
    if (wider) {
      for (const s of i.sources) if (!wider.sources.includes(s)) wider.sources.push(s);
    } else kept.push(i);
  }
  return kept;
}

function intentOf(forward: string, hop: Hop, proto: Intent['proto'], sources: string[]): Intent {
  const i: Intent = { forward, gateway: hop.gateway, proto, inIface: hop.inIface, dst: hop.dst, outIface: hop.outIface, dnat: hop.dnat, sources };
  if (hop.src) i.src = hop.src;
  if (hop.snat) i.snat = hop.snat;
  return i;
}

/** Everything that makes a hop's rule what it is, except the protocol and the source restriction. */
function hopKey(h: Hop): string {
  return `${h.gateway}|${h.inIface}|${h.dst.address}:${h.dst.ports.from}-${h.dst.ports.to}|${h.outIface}|${h.dnat.address}:${h.dnat.ports.from}-${h.dnat.ports.to}|${h.snat?.address ?? ''}`;
}

/** Stable order: by forward, then protocol, then what is matched (field by field: no strings built per comparison). */
function compareIntents(a: Intent, b: Intent): number {
  return (
    cmp(a.forward, b.forward) ||
    cmp(a.proto, b.proto) ||
    cmp(a.inIface, b.inIface) ||
    cmp(a.dst.address, b.dst.address) ||
    a.dst.ports.from - b.dst.ports.from ||
    cmp(a.src ? `${a.src.address}/${a.src.prefix}` : '', b.src ? `${b.src.address}/${b.src.prefix}` : '')
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
