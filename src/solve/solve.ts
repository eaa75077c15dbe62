import { TopologyError, type Diagnostic, type Pos } from '../errors.js';
import { quote } from '../escape.js';
import { nameTable } from '../names.js';
import { contains, networkOf, PrefixIndex, rangeSize } from '../topology/addr.js';
import type { Cidr, Forward, Gateway, Interface, PortRange, Site, Source, Topology } from '../topology/types.js';
import { describeSource, formatPorts, formatSource } from '../topology/types.js';
import { allocate, describeConflict, lockOf, type Slot } from './allocate.js';
import { comparePaths, gwNode, ifaceOn, netNode, nodeName, TopologyGraph, type PathFailure, type PathStep, type TransitPath } from './graph.js';
import { planSnat, ReplyRoutes } from './snat.js';
import { intentsOf } from './intents.js';
import type { Allocation, Chain, Hop, PortLock, Solution } from './types.js';

/** The empty lock, for a topology solved the first time. */
export const EMPTY_LOCK: PortLock = { version: 1, ports: nameTable() };

/** A chain before its ports are known: which gateways, interfaces and addresses it crosses. */
interface Route {
  forward: Forward;
  source: Source;
  /** Restriction on the client's address at the first hop. */
  src?: Cidr;
  ingress: Gateway;
  inIface: Interface;
  /** What the client dials: a fixed address:ports, or the ingress slot (exposure to allocate). */
  dial: { address: string; ports?: PortRange };
  steps: PathStep[];
  egress: Gateway;
  egressIface: Interface;
  /** Per hop (steps + 1): whether it SNATs. */
  snat: boolean[];
  /** The client's prefix, which a hop after one that did not SNAT matches the source against. */
  routedSrc?: Cidr;
}

/** The best way from a start node to the target's site, with its egress gateway. */
interface Way {
  path: TransitPath;
  egress: Gateway;
}

/**
 * Solves every forward of a topology: chains, hop ports and per-gateway intents.
 * Pure: the lock of the previous run goes in, the new lock comes out. Throws a TopologyError
 * listing every forward that cannot be solved.
 */
export function solve(topology: Topology, lock: PortLock = EMPTY_LOCK): Solution {
  const graph = new TopologyGraph(topology);
  const replies = new ReplyRoutes(topology);
  const diagnostics: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const warned = new Set<string>(); // one warning per forward and source (a site's chains may be several)
  /** An error about a forward, at a position or at the field it is about (`['to']`, `['from', 1]`) when the model knows where that is. */
  const fail = (f: Forward, message: string, at: Pos | ReadonlyArray<string | number> | undefined = f.pos) => {
    const pos = isField(at) ? (f.posOf?.(at) ?? f.pos) : (at ?? f.pos);
    diagnostics.push({ file: pos.file, line: pos.line, col: pos.col, message: `forward ${quote(f.name)}: ${message}`, forward: f.name });
  };
  const sites = new Map(topology.sites.map((s) => [s.name, s]));
  const gateways = new Map(topology.gateways.map((g) => [g.name, g]));
  const ownerOf = new Map<string, Interface>();
  for (const g of topology.gateways) for (const i of g.interfaces) ownerOf.set(i.address, i);
  const subnets = new PrefixIndex<Site>();
  for (const s of topology.sites) for (const c of s.subnets) subnets.add(c, s);
  const siteOf = (address: string) => subnets.find(address);
  const attachedTo = new Map<string, Gateway[]>(topology.sites.map((s) => [s.name, []]));
  for (const g of topology.gateways) {
    for (const site of new Set(g.interfaces.filter((i) => i.attach.kind === 'site').map((i) => i.attach.name))) attachedTo.get(site)?.push(g);
  }
  const attached = (site: Site) => attachedTo.get(site.name)!;

  const routes: Route[] = [];
  for (const f of topology.forwards) {
    const before = diagnostics.length;
    const targetSite = siteOf(f.to.address);
    if (!targetSite) {
      fail(f, `target ${f.to.address} is in no site's subnet, so no gateway can reach it`, ['to']);
      continue;
    }
    if (ownerOf.has(f.to.address)) {
      fail(f, `target ${f.to.address} is gateway ${ownerOf.get(f.to.address)!.gateway}'s own address; natchain forwards through gateways, not to them`, ['to']);
      continue;
    }
    const egresses = attached(targetSite);
    if (egresses.length === 0) {
      fail(f, `target site ${quote(targetSite.name)} has no gateway`, ['to']);
      continue;
    }
    const exposeIface = f.expose ? ownerOf.get(f.expose.address) : undefined;

    /**
     * The best way from a transit node to one of the target site's gateways, through the forward's
     * `via`: fewest hops, then fewest public networks, then the site's default gateway as egress,
     * then names (graph.ts); or why there is none.
     */
    const wayFrom = (start: string, via: readonly string[]): Way | PathFailure => {
      let best: Way | undefined;
      let failure: PathFailure | undefined;
      for (const e of egresses) {
        const p = graph.route(start, via, gwNode(e.name));
        if ('kind' in p) {
          failure ??= p;
          continue;
        }
        const c = best ? comparePaths(p, best.path, e.name === targetSite.gateway, best.egress.name === targetSite.gateway) : -1;
        if (c < 0) best = { path: p, egress: e };
      }
      return best ?? failure!;
    };
    const egressIfaceOf = (g: Gateway) =>
      g.interfaces.find((i) => i.attach.kind === 'site' && i.attach.name === targetSite.name && contains({ address: networkOf(i.address, i.prefix), prefix: i.prefix }, f.to.address)) ??
      ifaceOn(g, 'site', targetSite.name)!;
    /** Reports a way that could not be found: at `via` when it is the reason, else at the forward. */
    const noWay = (failure: PathFailure, source: Source, from: string, field: ReadonlyArray<string | number>) => {
      if (f.via.length && f.viaPos) {
        const why = failure.kind === 'loop' ? `the only way through them crosses ${nodeName(failure.node)} twice` : `there is no path from ${nodeName(failure.from)} to ${nodeName(failure.to)}`;
        fail(f, `via ${f.via.join(', ')}: no chain from ${describeSource(source)} to ${targetSite.name} crosses them in this order (${why})`, f.viaPos);
      } else {
        fail(f, `target ${f.to.address} is unreachable from ${formatSource(source)}: no path of networks from ${from} to ${egresses.map((g) => g.name).join(' or ')}`, field);
      }
    };

    const push = (source: Source, way: Way, inIface: Interface, dial: Route['dial'], src: Cidr | undefined, clients: Cidr[] | undefined, hairpin = false) => {
      const ingress = gateways.get(inIface.gateway)!;
      const steps = graph.steps(way.path);
      const defaultGw = targetSite.gateway;
      const lastNeeds = hairpin
        ? `a hairpin client is on the target's own LAN, so the target would answer it directly, past ${way.egress.name} (hairpin needs SNAT)`
        : way.egress.name !== defaultGw
          ? `the target's site ${quote(targetSite.name)} routes through ${defaultGw ?? 'no single gateway'}, not ${way.egress.name}, so replies would not come back through the chain`
          : undefined;
      const plan = planSnat(f.snat, clients, steps, lastNeeds, replies);
      if ('refused' in plan) {
        fail(f, `snat: never, but ${plan.refused}`, f.snatPos);
        return;
      }
      const base = { forward: f, source, ...(src ? { src } : {}), ingress, inIface, dial, steps, egress: way.egress, egressIface: egressIfaceOf(way.egress), snat: plan.snat };
      // A hop after one that kept the client's address matches it by the client's prefix: one chain per prefix.
      const routed = plan.snat.slice(0, -1).some((x) => !x);
      if (routed && clients) for (const c of clients) routes.push({ ...base, routedSrc: c });
      else routes.push(base);
      if ((source.kind === 'site' || source.kind === 'subnet') && !hairpin) warnPublic(source, way.path);
    };
    /** A site-to-site chain across a public network is allowed but warned about, unless `via` asks for that network. */
    const warnPublic = (source: Source, path: TransitPath) => {
      const publics = path.nodes.filter((n) => graph.isPublicNode(n) && !f.via.includes(nodeName(n))).map(nodeName);
      if (publics.length === 0) return;
      const where = `forward ${quote(f.name)}: the chain from ${formatSource(source)} crosses public network ${publics.join(', ')}`;
      if (!warned.has(where)) {
        warned.add(where);
        warnings.push(diagnosticAt(f.pos, `${where} (${path.nodes.map(nodeName).join(' > ')}); join the sites by a private network, or pin it with via`, f.name));
      }
    };
    const viaFor = (source: Source) => (source.kind === 'network' && f.via[0] === source.network ? f.via.slice(1) : f.via);

    for (const [index, source] of f.from.entries()) {
      const field = ['from', index];
      if (source.kind === 'network') {
        let way: Way | PathFailure;
        let inIface: Interface | undefined;
        if (exposeIface) {
          if (exposeIface.attach.kind !== 'network' || exposeIface.attach.name !== source.network) {
            fail(f, `exposed address ${f.expose!.address} is on ${exposeIface.gateway}/${exposeIface.name}, which is not attached to network ${quote(source.network)}`, ['expose']);
            continue;
          }
          inIface = exposeIface;
          way = wayFrom(gwNode(exposeIface.gateway), viaFor(source));
        } else {
          // No exposure given: enter at the gateway on that network that is best placed (the path starts at the network).
          way = wayFrom(netNode(source.network), viaFor(source));
          if (!('kind' in way)) inIface = ifaceOn(gateways.get(nodeName(way.path.nodes[1]!))!, 'network', source.network);
        }
        if ('kind' in way || !inIface) {
          if (f.via.length && 'kind' in way) noWay(way, source, exposeIface?.gateway ?? source.network, field);
          else fail(f, `no gateway on network ${quote(source.network)} can reach target ${f.to.address}`, field);
          continue;
        }
        const ports = f.expose?.ports ?? (rangeSize(f.to.ports) > 1 ? f.to.ports : undefined);
        const dial = { address: inIface.address, ...(ports ? { ports } : {}) };
        // An allow-list: one chain per allowed prefix, each DNATed only for its sources.
        if (source.allow) for (const c of source.allow) push(source, way, inIface, dial, c, [c]);
        else push(source, way, inIface, dial, undefined, undefined);
      } else {
        const site = sites.get(source.site)!;
        if (site === targetSite) {
          fail(f, `clients in ${quote(formatSource(source))} share the target's site and reach it directly; set "hairpin: true" to let them use the exposed address`, field);
          continue;
        }
        if (!site.gateway) {
          const names = attached(site).map((g) => g.name);
          fail(f, names.length ? `site ${quote(site.name)} has several gateways (${names.join(', ')}): set its "gateway" to the one its hosts route through` : `site ${quote(site.name)} has no gateway`, field);
          continue;
        }
        const ingress = gateways.get(site.gateway)!;
        if (egresses.includes(ingress)) {
          fail(f, `gateway ${ingress.name} serves both ${quote(site.name)} and the target's site: the traffic is routed, there is no NAT for natchain to do`, field);
          continue;
        }
        const way = wayFrom(gwNode(ingress.name), f.via);
        if ('kind' in way) {
          noWay(way, source, `gateway ${ingress.name}`, field);
          continue;
        }
        const clients = source.kind === 'subnet' ? [source.cidr] : site.subnets;
        push(source, way, ifaceOn(ingress, 'site', site.name)!, { address: f.to.address, ports: f.to.ports }, source.kind === 'subnet' ? source.cidr : undefined, clients);
      }
    }
    if (f.hairpin && exposeIface) {
      const g = gateways.get(exposeIface.gateway)!;
      const lan = ifaceOn(g, 'site', targetSite.name);
      if (!lan) fail(f, `hairpin needs the exposed address on a gateway of the target's site ${quote(targetSite.name)}, but ${g.name} is not in it`, ['hairpin']);
      else {
        const ports = f.expose!.ports ?? (rangeSize(f.to.ports) > 1 ? f.to.ports : undefined);
        const way: Way = { path: { nodes: [gwNode(g.name)], publics: 0 }, egress: g };
        for (const cidr of targetSite.subnets) push({ kind: 'site', site: targetSite.name }, way, lan, { address: f.expose!.address, ...(ports ? { ports } : {}) }, cidr, [cidr], true);
      }
    }
    // Pins must name a gateway where this forward has a port to pin.
    for (const gw of Object.keys(f.pins)) {
      const used = routes.some((r) => r.forward === f && (r.steps.some((s) => s.to.name === gw) || (r.ingress.name === gw && !r.dial.ports)));
      if (diagnostics.length === before && !used) fail(f, `ports: gateway ${gw} has no hop port in this forward's chains`, ['ports', gw]);
    }
  }

  // Slots: every gateway address a forward's packets are sent to (hops after the first, and
  // exposures without a port), plus the first hop's fixed destination, which must not collide either.
  const slots = new Map<string, Slot>();
  const addSlot = (f: Forward, gw: Gateway, address: string, fixedPorts?: PortRange, origin?: Allocation['origin']) => {
    const key = `${f.name}\0${gw.name}\0${address}`;
    if (slots.has(key)) return;
    const ranged = rangeSize(f.to.ports) > 1;
    let fixed: Slot['fixed'];
    if (fixedPorts) fixed = { ports: fixedPorts, origin: origin! };
    else if (f.expose && f.expose.address === address && f.expose.ports) fixed = { ports: f.expose.ports, origin: 'expose' };
    else if (ranged) fixed = { ports: f.to.ports, origin: 'target' };
    else if (Object.hasOwn(f.pins, gw.name)) fixed = { ports: { from: f.pins[gw.name]!, to: f.pins[gw.name]! }, origin: 'pin' };
    slots.set(key, { forward: f.name, gateway: gw.name, address, protos: f.protos, range: gw.hopPorts, ...(fixed ? { fixed } : {}) });
  };
  for (const r of routes) {
    if (r.dial.ports && r.dial.address === r.forward.to.address) addSlot(r.forward, r.ingress, r.dial.address, r.dial.ports, 'target');
    else addSlot(r.forward, r.ingress, r.dial.address);
    for (const s of r.steps) addSlot(r.forward, s.to, s.in.address);
  }
  const { allocations, conflicts, exhausted } = allocate([...slots.values()], lock);
  const forwardByName = new Map(topology.forwards.map((f) => [f.name, f]));
  for (const c of conflicts) {
    const field = c.origin === 'pin' ? ['ports', c.gateway] : c.origin === 'expose' ? ['expose'] : c.origin === 'target' ? ['to'] : undefined;
    fail(forwardByName.get(c.forward)!, describeConflict(c), field);
  }
  for (const s of exhausted) fail(forwardByName.get(s.forward)!, `gateway ${s.gateway} has no free hop port left in ${formatPorts(s.range)} on ${s.address}`);
  if (diagnostics.length) throw new TopologyError(diagnostics);

  const portOf = new Map(allocations.map((a) => [`${a.forward}\0${a.gateway}\0${a.address}`, a.ports]));
  const port = (f: Forward, gw: Gateway, address: string) => portOf.get(`${f.name}\0${gw.name}\0${address}`)!;
  const chains: Chain[] = routes.map((r) => chainOf(r, port));
  return { chains, intents: intentsOf(topology, chains), allocations, lock: lockOf(allocations), warnings };
}

/** Turns a route with known ports into the hop-by-hop chain. */
function chainOf(r: Route, port: (f: Forward, gw: Gateway, address: string) => PortRange): Chain {
  const f = r.forward;
  const dial = { address: r.dial.address, ports: r.dial.ports ?? port(f, r.ingress, r.dial.address) };
  const hops: Hop[] = [];
  let arriving = { gateway: r.ingress, inIface: r.inIface, src: r.src, dst: dial };
  r.steps.forEach((step, k) => {
    const next = { address: step.in.address, ports: port(f, step.to, step.in.address) };
    const snat = r.snat[k]!;
    hops.push({
      gateway: arriving.gateway.name,
      inIface: arriving.inIface.name,
      ...(arriving.src ? { src: arriving.src } : {}),
      dst: arriving.dst,
      outIface: step.out.name,
      network: step.out.attach.name,
      dnat: next,
      ...(snat ? { snat: { address: step.out.address } } : {}),
    });
    // The next hop takes packets only from this one: its address when it SNATs, else the client's prefix.
    const src = snat ? { address: step.out.address, prefix: 32 } : (r.routedSrc ?? arriving.src);
    arriving = { gateway: step.to, inIface: step.in, src, dst: next };
  });
  hops.push({
    gateway: arriving.gateway.name,
    inIface: arriving.inIface.name,
    ...(arriving.src ? { src: arriving.src } : {}),
    dst: arriving.dst,
    outIface: r.egressIface.name,
    dnat: { address: f.to.address, ports: f.to.ports },
    ...(r.snat[r.steps.length] ? { snat: { address: r.egressIface.address } } : {}),
  });
  return { forward: f.name, source: r.source, protos: f.protos, dial, target: f.to, hops };
}

/**
 * A diagnostic whose line and column are looked up only when read: finding a node's line in the
 * text costs, and a plan or an apply never shows the warnings of a fleet's many forwards.
 */
function diagnosticAt(at: Pos, message: string, forward: string): Diagnostic {
  return {
    get file() {
      return at.file;
    },
    get line() {
      return at.line;
    },
    get col() {
      return at.col;
    },
    message,
    forward,
  };
}

function isField(at: Pos | ReadonlyArray<string | number> | undefined): at is ReadonlyArray<string | number> {
  return Array.isArray(at);
}
