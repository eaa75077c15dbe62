import { TopologyGraph } from '../solve/graph.js';
import type { Chain } from '../solve/types.js';
import type { Topology } from '../topology/types.js';
import { formatCidr, formatPorts, formatSource, type PortRange } from '../topology/types.js';

/** A box, ellipse or host in the picture; the emitters decide how each kind looks. */
export interface PictureNode {
  id: string;
  kind: 'site' | 'network' | 'gateway' | 'host';
  title: string;
  /** Plain detail lines under the title (subnets, interfaces...). */
  lines: string[];
  /** NAT done here for the highlighted forward, one line per distinct rewrite, with the chain letters it serves. */
  nat: { text: string; chains: number[] }[];
}

/** A line between two nodes: an interface link, or one step of a highlighted chain. */
export interface PictureEdge {
  from: string;
  to: string;
  label: string;
  kind: 'link' | 'member' | 'path';
  /** For path edges: index of the chain it belongs to (colour and letter). */
  chain?: number;
}

/** What a picture shows: every node and edge in a stable order, and a legend for the highlighted forward. */
export interface Picture {
  title: string;
  nodes: PictureNode[];
  edges: PictureEdge[];
  /** With a highlighted forward: its name, then one line per chain. */
  legend: string[];
}

/** Letter naming chain `i` in labels and the legend: A, B, ... Z, AA, AB... */
export function chainLetter(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : chainLetter(Math.floor(i / 26) - 1) + chainLetter(i % 26);
}

const ep = (e: { address: string; ports: PortRange }) => `${e.address}:${formatPorts(e.ports)}`;

/**
 * The topology as nodes and edges: sites with their subnets, networks, gateways with their
 * interface addresses, one link per interface. With `highlight`, each chain of that forward is
 * drawn as numbered steps (the packet as it travels, as in seed 001's "packet's life"), and each
 * gateway on it lists the DNAT/SNAT it does. Pure; the emitters turn it into DOT or Mermaid.
 */
export function topologyPicture(topology: Topology, highlight?: { forward: string; chains: Chain[] }): Picture {
  const tg = new TopologyGraph(topology);
  const nodes = new Map<string, PictureNode>();
  const sites = new Map(topology.sites.map((s) => [s.name, s]));
  const networks = new Map(topology.networks.map((n) => [n.name, n]));
  const gateways = new Map(topology.gateways.map((g) => [g.name, g]));

  // The graph's node order is sorted by kind then name: stable output for golden files.
  tg.graph.forEachNode((id, attrs) => {
    const name = attrs.name as string;
    if (attrs.kind === 'site') {
      const s = sites.get(name)!;
      nodes.set(id, { id, kind: 'site', title: name, lines: s.subnets.map(formatCidr), nat: [] });
    } else if (attrs.kind === 'network') {
      const n = networks.get(name)!;
      nodes.set(id, { id, kind: 'network', title: name, lines: [n.public ? 'public' : 'private', ...(n.subnet ? [formatCidr(n.subnet)] : [])], nat: [] });
    } else {
      const g = gateways.get(name)!;
      const ifaces = [...g.interfaces].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      nodes.set(id, { id, kind: 'gateway', title: name, lines: [g.backend, ...ifaces.map((i) => `${i.name} ${i.address}/${i.prefix}`)], nat: [] });
    }
  });
  const edges: PictureEdge[] = [];
  // Links read site -> gateway -> network, so Graphviz ranks LANs at the edges and networks in the middle.
  tg.graph.forEachEdge((_e, attrs, source, target) => {
    const [from, to] = source.startsWith('site:') ? [source, target] : target.startsWith('site:') ? [target, source] : [source, target];
    edges.push({ from, to, label: attrs.iface as string, kind: 'link' });
  });

  const legend: string[] = [];
  if (highlight) {
    const f = topology.forwards.find((x) => x.name === highlight.forward);
    legend.push(`forward ${highlight.forward}${f ? `: ${f.protos.join('+')} to ${ep(f.to)}` : ''}`);
    const ifaceOf = (gw: string, name: string) => gateways.get(gw)!.interfaces.find((i) => i.name === name)!;
    const attachNode = (gw: string, iface: string) => {
      const a = ifaceOf(gw, iface).attach;
      return a.kind === 'site' ? `site:${a.name}` : `net:${a.name}`;
    };
    highlight.chains.forEach((ch, k) => {
      const L = chainLetter(k);
      legend.push(`${L}: from ${formatSource(ch.source)}, dials ${ep(ch.dial)}`);
      const start = ch.source.kind === 'network' ? `net:${ch.source.network}` : `site:${ch.source.site}`;
      let src = ch.source.kind === 'subnet' ? formatCidr(ch.source.cidr) : ch.source.kind === 'site' ? sites.get(ch.source.site)!.subnets.map(formatCidr).join(',') : ch.source.network;
      let step = 1;
      // First leg: from the client's side to the ingress gateway.
      edges.push({ from: start, to: `gw:${ch.hops[0]!.gateway}`, label: `${L}${step++} ${src} → ${ep(ch.dial)}`, kind: 'path', chain: k });
      ch.hops.forEach((h, i) => {
        const gwNode = nodes.get(`gw:${h.gateway}`)!;
        addNat(gwNode, `DNAT ${ep(h.dst)} → ${ep(h.dnat)}${h.snat ? `, SNAT → ${h.snat.address}` : ''}`, k);
        if (h.snat) src = h.snat.address;
        const label = `${L}${step++} ${src} → ${ep(h.dnat)}`;
        if (i + 1 < ch.hops.length) {
          // Over a network to the next gateway: the label goes on the first half only.
          const via = attachNode(h.gateway, h.outIface);
          edges.push({ from: `gw:${h.gateway}`, to: via, label, kind: 'path', chain: k }, { from: via, to: `gw:${ch.hops[i + 1]!.gateway}`, label: '', kind: 'path', chain: k });
        } else {
          const host = `host:${ch.target.address}`;
          if (!nodes.has(host)) {
            nodes.set(host, { id: host, kind: 'host', title: ch.target.address, lines: [`${highlight.forward} :${formatPorts(ch.target.ports)}`], nat: [] });
            edges.push({ from: attachNode(h.gateway, h.outIface), to: host, label: '', kind: 'member' });
          }
          edges.push({ from: `gw:${h.gateway}`, to: host, label, kind: 'path', chain: k });
        }
      });
    });
  }
  return { title: topology.file, nodes: [...nodes.values()], edges, legend };
}

function addNat(node: PictureNode, text: string, chain: number): void {
  const prior = node.nat.find((n) => n.text === text);
  if (prior) prior.chains.push(chain);
  else node.nat.push({ text, chains: [chain] });
}
