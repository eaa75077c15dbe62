import { MultiUndirectedGraph } from 'graphology';
import { ipToInt } from '../topology/addr.js';
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
 * A path over the transit graph (gateways and networks, alternating), with what ranks it:
 * fewer nodes first, then fewer public networks, then the names along it (compared in order).
 */
export interface TransitPath {
  /** Transit node ids in order (`gw:x`, `net:y`). */
  nodes: string[];
  /** How many public networks it crosses. */
  publics: number;
}

/** Why a path with waypoints could not be found. */
export type PathFailure = { kind: 'unreachable'; from: string; to: string } | { kind: 'loop'; node: string };

/**
 * Shortest paths from one node, best first by (length, public networks, names): parents, lengths
 * and public counts, grown layer by layer only as far as a path asks (every gateway of a fleet on
 * one internet is two steps from every other: ranking that whole layer for each start node made
 * the solve quadratic in the fleet). `frontier` is the last layer found, not ranked yet.
 */
interface Tree {
  parent: Int32Array;
  dist: Int32Array;
  publics: Int32Array;
  rank: Int32Array;
  frontier: number[];
  depth: number;
}

/**
 * The topology as a graph (sites, networks and gateways as nodes; interfaces as edges), with
 * shortest paths over the transit part computed once per start node and then reused.
 *
 * Which path among the shortest (docs/architecture.md, "Path choice"): the one crossing the
 * fewest public networks (so only-private paths first), then the one whose node names, read
 * from the start, come first in byte order. Interface names and YAML order play no part.
 */
export class TopologyGraph {
  /** Full graph, sites included (for pictures and reachability messages). */
  readonly graph: MultiUndirectedGraph;
  private readonly gateways: Map<string, Gateway>;
  /** The transit graph (gateways and networks only: sites are endpoints, never transit) as integer adjacency lists. */
  private readonly ids: string[];
  private readonly names: string[];
  private readonly isPublic: Uint8Array;
  private readonly idOf: Map<string, number>;
  private readonly adjacency: number[][];
  private readonly trees = new Map<number, Tree>();

  constructor(topology: Topology) {
    this.gateways = new Map(topology.gateways.map((g) => [g.name, g]));
    this.graph = new MultiUndirectedGraph();
    const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => cmp(a.name, b.name));
    for (const s of byName(topology.sites)) this.graph.addNode(siteNode(s.name), { kind: 'site', name: s.name });
    this.ids = [];
    this.names = [];
    const pub: number[] = [];
    for (const n of byName(topology.networks)) {
      this.graph.addNode(netNode(n.name), { kind: 'network', name: n.name });
      this.ids.push(netNode(n.name));
      this.names.push(n.name);
      pub.push(n.public ? 1 : 0);
    }
    for (const g of byName(topology.gateways)) {
      this.graph.addNode(gwNode(g.name), { kind: 'gateway', name: g.name });
      this.ids.push(gwNode(g.name));
      this.names.push(g.name);
      pub.push(0);
    }
    this.isPublic = Uint8Array.from(pub);
    this.idOf = new Map(this.ids.map((id, n) => [id, n]));
    const adjacency = this.ids.map(() => new Set<number>());
    for (const g of byName(topology.gateways)) {
      // Edges in interface-name order: only the pictures see it (paths are chosen on the adjacency below).
      for (const i of byName(g.interfaces)) {
        const other = i.attach.kind === 'site' ? siteNode(i.attach.name) : netNode(i.attach.name);
        this.graph.addEdge(gwNode(g.name), other, { iface: i.name, address: i.address });
        if (i.attach.kind !== 'network') continue;
        const a = this.idOf.get(gwNode(g.name))!;
        const b = this.idOf.get(other)!;
        adjacency[a]!.add(b);
        adjacency[b]!.add(a);
      }
    }
    this.adjacency = adjacency.map((s) => [...s]);
  }

  /** Whether a transit node (`net:x`) is a public network. */
  isPublicNode(id: string): boolean {
    const n = this.idOf.get(id);
    return n !== undefined && this.isPublic[n] === 1;
  }

  /** The paths from one node (remembered unless some nodes are banned), grown no further yet than its start. */
  private tree(src: number, banned?: ReadonlySet<number>): Tree {
    let t = banned ? undefined : this.trees.get(src);
    if (t) return t;
    const size = this.ids.length;
    t = { parent: new Int32Array(size).fill(-1), dist: new Int32Array(size).fill(-1), publics: new Int32Array(size), rank: new Int32Array(size), frontier: [src], depth: 0 };
    t.parent[src] = src;
    t.dist[src] = 0;
    t.publics[src] = this.isPublic[src]!;
    if (!banned) this.trees.set(src, t);
    return t;
  }

  /**
   * Finds the next layer of a tree (breadth-first); false when there is none. The frontier is
   * ranked first by (parent's rank, own name), which is exactly the order of the paths' name
   * sequences, so ranks compare as integers; every node of the next layer then takes the parent
   * with the fewest public networks behind it, then the best ranked one. A node's parent is
   * final once the layer before it has been expanded whole.
   */
  private grow(t: Tree, banned?: ReadonlySet<number>): boolean {
    const { parent, dist, publics, rank } = t;
    if (t.frontier.length === 0) return false;
    if (t.depth > 0) {
      t.frontier.sort((a, b) => rank[parent[a]!]! - rank[parent[b]!]! || cmp(this.names[a]!, this.names[b]!));
      t.frontier.forEach((v, k) => (rank[v] = k));
    }
    const d = t.depth;
    const next: number[] = [];
    for (const u of t.frontier) {
      for (const v of this.adjacency[u]!) {
        if (banned?.has(v)) continue;
        if (dist[v] === -1) {
          dist[v] = d + 1;
          parent[v] = u;
          next.push(v);
        } else if (dist[v] === d + 1) {
          const p = parent[v]!;
          if (publics[u]! < publics[p]! || (publics[u] === publics[p] && rank[u]! < rank[p]!)) parent[v] = u;
        }
      }
    }
    for (const v of next) publics[v] = publics[parent[v]!]! + this.isPublic[v]!;
    t.frontier = next;
    t.depth = d + 1;
    return true;
  }

  /** The best path between two transit nodes (both included), or null when unreachable. */
  private segment(from: number, to: number, banned?: ReadonlySet<number>): number[] | null {
    const t = this.tree(from, banned);
    while (t.dist[to] === -1 && this.grow(t, banned));
    if (t.dist[to] === -1) return null;
    const out: number[] = [];
    for (let n = to; ; n = t.parent[n]!) {
      out.push(n);
      if (n === from) break;
    }
    return out.reverse();
  }

  /**
   * The best path from one transit node to another through the networks and gateways named in
   * `via`, in order, crossing no node twice: segment by segment, each the best one that avoids what the
   * earlier segments crossed and the stops still to come (without waypoints: the best path).
   */
  route(from: string, via: readonly string[], to: string): TransitPath | PathFailure {
    const waypoints = via.map((name) => (this.idOf.has(netNode(name)) ? netNode(name) : gwNode(name)));
    // A waypoint at the very start or end is crossed by any path (`via: [gw-hq]` ending at gw-hq).
    let first = 0;
    let last = waypoints.length;
    while (first < last && waypoints[first] === from) first++;
    while (last > first && waypoints[last - 1] === to) last--;
    if (first > 0 || last < waypoints.length) return this.route(from, via.slice(first, last), to);
    const stops: number[] = [];
    for (const id of [from, ...waypoints, to]) {
      const n = this.idOf.get(id);
      if (n === undefined) return { kind: 'unreachable', from, to: id };
      if (stops.includes(n) && !(stops.length === 1 && waypoints.length === 0)) return { kind: 'loop', node: id };
      stops.push(n);
    }
    if (waypoints.length === 0) {
      const seg = stops[0] === stops[1] ? [stops[0]!] : this.segment(stops[0]!, stops[1]!);
      if (!seg) return { kind: 'unreachable', from, to };
      return this.pathOf(seg);
    }
    const nodes: number[] = [stops[0]!];
    for (let k = 0; k + 1 < stops.length; k++) {
      const banned = new Set<number>([...nodes.slice(0, -1), ...stops.slice(k + 2)]);
      const seg = this.segment(stops[k]!, stops[k + 1]!, banned);
      if (!seg) return { kind: 'unreachable', from: this.ids[stops[k]!]!, to: this.ids[stops[k + 1]!]! };
      nodes.push(...seg.slice(1));
    }
    return this.pathOf(nodes);
  }

  private pathOf(nodes: number[]): TransitPath {
    let publics = 0;
    for (const n of nodes) publics += this.isPublic[n]!;
    return { nodes: nodes.map((n) => this.ids[n]!), publics };
  }

  /** The gateway steps of a route (gateway, network, gateway, ...), skipping a leading network node. */
  steps(route: TransitPath): PathStep[] {
    const nodes = route.nodes[0]?.startsWith('net:') ? route.nodes.slice(1) : route.nodes;
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

/**
 * Compares two paths: fewer nodes, then fewer public networks, then the preferred one (the
 * target site's default gateway as egress), then names in order; 0 when the same.
 */
export function comparePaths(a: TransitPath, b: TransitPath, aPreferred = false, bPreferred = false): number {
  if (a.nodes.length !== b.nodes.length) return a.nodes.length - b.nodes.length;
  if (a.publics !== b.publics) return a.publics - b.publics;
  if (aPreferred !== bPreferred) return aPreferred ? -1 : 1;
  for (let k = 0; k < a.nodes.length; k++) {
    const c = cmp(nodeName(a.nodes[k]!), nodeName(b.nodes[k]!));
    if (c !== 0) return c;
  }
  return 0;
}

/** A transit node's plain name (sites, networks and gateways share one namespace). */
export const nodeName = (id: string) => id.slice(id.indexOf(':') + 1);

/**
 * A gateway's interface on a site or network; of several on the same one, the lowest address
 * (never the interface name: renaming interfaces must not change a chain).
 */
export function ifaceOn(g: Gateway, kind: 'site' | 'network', name: string): Interface | undefined {
  let best: Interface | undefined;
  for (const i of g.interfaces) {
    if (i.attach.kind === kind && i.attach.name === name && (!best || ipToInt(i.address) < ipToInt(best.address))) best = i;
  }
  return best;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
