// The solver's path search (src/solve/graph.ts) grows each start node's tree only as far as a
// path asks (issue 12): checked against a brute-force search of every shortest path on random
// transit graphs, with the paths asked for in random orders (so trees are reused half-grown).
import { expect } from 'chai';
import { TopologyGraph } from '../../src/solve/graph.js';
import type { Topology } from '../../src/topology/types.js';
import { mulberry32 as rng } from '../support/mutate.js';

interface Net {
  gws: string[];
  nets: Array<{ name: string; public: boolean }>;
  /** Gateway -> networks it is on. */
  links: Map<string, string[]>;
}

function randomNet(seed: number): Net {
  const r = rng(seed);
  const nets = Array.from({ length: 2 + Math.floor(r() * 4) }, (_, k) => ({ name: `n${'abcdefg'[k]}`, public: r() < 0.4 }));
  // Names out of creation order, so the tie-break by names is exercised.
  const gws = Array.from({ length: 3 + Math.floor(r() * 7) }, (_, k) => `g${(k * 7919) % 97}`);
  const links = new Map<string, string[]>();
  for (const g of gws) {
    const on = nets.filter(() => r() < 0.45).map((n) => n.name);
    links.set(g, on.length ? on : [nets[Math.floor(r() * nets.length)]!.name]);
  }
  return { gws, nets, links };
}

function topologyOf(n: Net): Topology {
  let host = 1;
  const gateways = n.gws.map((g) => ({
    name: g,
    interfaces: n.links.get(g)!.map((net, k) => ({ name: `eth${k}`, gateway: g, address: `10.0.${n.nets.findIndex((x) => x.name === net)}.${host++}`, prefix: 24, attach: { kind: 'network', name: net } })),
  }));
  return { sites: [], networks: n.nets.map((x) => ({ name: x.name, public: x.public })), gateways, forwards: [] } as unknown as Topology;
}

/** Every shortest simple path from `from` to `to` avoiding `banned`, the best by (public networks, names in order); null when none. */
function bruteBest(n: Net, from: string, to: string, banned: Set<string>): string[] | null {
  const adj = new Map<string, string[]>();
  const add = (a: string, b: string) => adj.set(a, [...(adj.get(a) ?? []), b]);
  for (const [g, nets] of n.links) for (const x of nets) (add(`gw:${g}`, `net:${x}`), add(`net:${x}`, `gw:${g}`));
  const pub = new Set(n.nets.filter((x) => x.public).map((x) => `net:${x.name}`));
  // Shortest length by breadth-first search, then every path of that length by depth-first search.
  const dist = new Map([[from, 0]]);
  for (let layer = [from]; layer.length; ) {
    const next: string[] = [];
    for (const u of layer) for (const v of adj.get(u) ?? []) if (!banned.has(v) && !dist.has(v)) (dist.set(v, dist.get(u)! + 1), next.push(v));
    layer = next;
  }
  if (!dist.has(to)) return null;
  let best: string[] | null = null;
  const key = (p: string[]) => [p.filter((x) => pub.has(x)).length, p.map((x) => x.slice(x.indexOf(':') + 1))] as const;
  const better = (a: string[], b: string[]) => {
    const [pa, na] = key(a);
    const [pb, nb] = key(b);
    if (pa !== pb) return pa < pb;
    for (let k = 0; k < na.length; k++) if (na[k] !== nb[k]) return na[k]! < nb[k]!;
    return false;
  };
  const walk = (p: string[]) => {
    const u = p[p.length - 1]!;
    if (u === to) {
      if (!best || better(p, best)) best = [...p];
      return;
    }
    for (const v of adj.get(u) ?? []) if (dist.get(v) === p.length && !banned.has(v) && !p.includes(v)) walk([...p, v]);
  };
  walk([from]);
  return best;
}

/** What route() must answer, from bruteBest: segment by segment through `via`, each avoiding what came before and the stops to come. */
function bruteRoute(n: Net, from: string, via: string[], to: string): string[] | 'none' {
  if (via.length === 0 && from === to) return [from];
  const stops = [from, ...via, to];
  if (new Set(stops).size !== stops.length) return 'none';
  const nodes = [from];
  for (let k = 0; k + 1 < stops.length; k++) {
    const banned = new Set([...nodes.slice(0, -1), ...stops.slice(k + 2)]);
    const seg = bruteBest(n, stops[k]!, stops[k + 1]!, banned);
    if (!seg) return 'none';
    nodes.push(...seg.slice(1));
  }
  return nodes;
}

describe('solve: the path search', () => {
  it('finds the best path brute force finds, whatever order paths are asked in (80 random graphs)', () => {
    for (let seed = 1; seed <= 80; seed++) {
      const n = randomNet(seed);
      const graph = new TopologyGraph(topologyOf(n));
      const r = rng(seed * 31);
      const nodes = [...n.gws.map((g) => `gw:${g}`), ...n.nets.map((x) => `net:${x.name}`)];
      const asks: Array<[string, string[], string]> = [];
      for (const a of nodes) for (const b of nodes) if (b.startsWith('gw:')) asks.push([a, [], b]);
      for (let k = 0; k < 20; k++) {
        const pick = () => nodes[Math.floor(r() * nodes.length)]!;
        const w = pick();
        asks.push([pick(), [w.slice(w.indexOf(':') + 1)], pick()]);
      }
      for (let k = asks.length - 1; k > 0; k--) {
        const j = Math.floor(r() * (k + 1));
        [asks[k], asks[j]] = [asks[j]!, asks[k]!];
      }
      for (const [from, via, to] of asks) {
        const viaIds = via.map((v) => (n.nets.some((x) => x.name === v) ? `net:${v}` : `gw:${v}`));
        const got = graph.route(from, via, to);
        const want = bruteRoute(n, from, viaIds.filter((v) => v !== from && v !== to), to);
        const label = `seed ${seed}: ${from} via [${via}] to ${to}`;
        if (want === 'none') expect('kind' in got, label).to.equal(true);
        else expect('kind' in got ? got : got.nodes, label).to.deep.equal(want);
      }
    }
  });
});
