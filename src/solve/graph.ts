import { MultiUndirectedGraph } from 'graphology';
import type { Gateway, Interface, Topology } from '../topology/types.js';

/** Node ids: one namespace per kind, so a site and a gateway never collide. */
export const gwNode = (name: string) => `gw:${name}`;
export const netNode = (name: string) => `net:${name}`;
export const siteNode = (name: string) => `site:${name}`;

/** One step of a gateway path: from `gateway` over `network` into the next gateway. */
export interface PathStep {
  from: Gateway;
  out: Interface;
  to: Gateway;
  in: Interface;
}

/**
 * The topology as a graph (sites, networks and gateways as nodes; interfaces as edges), with
 * gateway-to-gateway paths over networks computed once per ingress gateway and then reused.
 */
export class TopologyGraph {
  /** Full graph, sites included (for pictures and reachability messages). */
  readonly graph: MultiUndirectedGraph;
  /** Gateways and networks only: sites are endpoints, never transit. */
  private readonly transit: MultiUndirectedGraph;
  private readonly gateways: Map<string, Gateway>;
  /** The transit graph as integer adjacency lists, for breadth-first searches that allocate nothing per node. */
  private readonly ids: string[];
  private readonly idOf: Map<string, number>;
  private readonly adjacency: number[][];
  /** Per ingress gateway: the BFS parent of every node (-1: unreached), computed once. */
  private readonly parents = new Map<string, Int32Array>();

  constructor(topology: Topology) {
    this.gateways = new Map(topology.gateways.map((g) => [g.name, g]));
    this.graph = new MultiUndirectedGraph();
    this.transit = new MultiUndirectedGraph();
    // Sorted insertion makes breadth-first tie-breaking, and so every chain, deterministic.
    const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const s of byName(topology.sites)) this.graph.addNode(siteNode(s.name), { kind: 'site', name: s.name });
    for (const n of byName(topology.networks)) {
      this.graph.addNode(netNode(n.name), { kind: 'network', name: n.name });
      this.transit.addNode(netNode(n.name));
    }
    for (const g of byName(topology.gateways)) {
      this.graph.addNode(gwNode(g.name), { kind: 'gateway', name: g.name });
      this.transit.addNode(gwNode(g.name));
    }
    for (const g of byName(topology.gateways)) {
      for (const i of byName(g.interfaces)) {
        const other = i.attach.kind === 'site' ? siteNode(i.attach.name) : netNode(i.attach.name);
        this.graph.addEdge(gwNode(g.name), other, { iface: i.name, address: i.address });
        if (i.attach.kind === 'network') this.transit.addEdge(gwNode(g.name), other, { iface: i.name });
      }
    }
    this.ids = this.transit.nodes();
    this.idOf = new Map(this.ids.map((id, n) => [id, n]));
    this.adjacency = this.ids.map((id) => this.transit.neighbors(id).map((nb) => this.idOf.get(nb)!));
  }

  /** Breadth-first search from one node; neighbours in insertion (sorted) order, so ties break by name. */
  private bfs(from: number): Int32Array {
    const parent = new Int32Array(this.ids.length).fill(-1);
    parent[from] = from;
    const queue = [from];
    for (let head = 0; head < queue.length; head++) {
      const n = queue[head]!;
      for (const m of this.adjacency[n]!) {
        if (parent[m] === -1) {
          parent[m] = n;
          queue.push(m);
        }
      }
    }
    return parent;
  }

  /** Shortest gateway path from one gateway to another over networks; `null` when unreachable. */
  path(from: string, to: string): PathStep[] | null {
    const src = this.idOf.get(gwNode(from));
    const dst = this.idOf.get(gwNode(to));
    if (src === undefined || dst === undefined) return null;
    let parent = this.parents.get(from);
    if (!parent) {
      parent = this.bfs(src);
      this.parents.set(from, parent);
    }
    if (parent[dst] === -1) return null;
    const nodes: string[] = [];
    for (let n = dst; ; n = parent[n]!) {
      nodes.push(this.ids[n]!);
      if (n === src) break;
    }
    nodes.reverse();
    const steps: PathStep[] = [];
    for (let i = 0; i + 2 < nodes.length; i += 2) {
      const a = this.gateways.get(nodes[i]!.slice(3))!;
      const b = this.gateways.get(nodes[i + 2]!.slice(3))!;
      const net = nodes[i + 1]!.slice(4);
      steps.push({ from: a, out: ifaceOn(a, 'network', net)!, to: b, in: ifaceOn(b, 'network', net)! });
    }
    return steps;
  }
}

/** The first interface (by name) of a gateway attached to a site or network. */
export function ifaceOn(g: Gateway, kind: 'site' | 'network', name: string): Interface | undefined {
  let best: Interface | undefined;
  for (const i of g.interfaces) {
    if (i.attach.kind === kind && i.attach.name === name && (!best || i.name < best.name)) best = i;
  }
  return best;
}
