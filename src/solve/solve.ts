import { TopologyError, type Diagnostic } from '../errors.js';
import { contains, networkOf, PrefixIndex, rangeSize } from '../topology/addr.js';
import type { Cidr, Forward, Gateway, Interface, PortRange, Site, Source, Topology } from '../topology/types.js';
import { formatPorts, formatSource } from '../topology/types.js';
import { allocate, describeConflict, lockOf, type Slot } from './allocate.js';
import { ifaceOn, TopologyGraph, type PathStep } from './graph.js';
import { intentsOf } from './intents.js';
import type { Allocation, Chain, Hop, PortLock, Solution } from './types.js';

/** The empty lock, for a topology solved the first time. */
export const EMPTY_LOCK: PortLock = { version: 1, ports: {} };

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
  snatAtEgress: boolean;
}

/**
 * Solves every forward of a topology: chains, hop ports and per-gateway intents.
 * Pure: the lock of the previous run goes in, the new lock comes out. Throws a TopologyError
 * listing every forward that cannot be solved.
 */
export function solve(topology: Topology, lock: PortLock = EMPTY_LOCK): Solution {
  const graph = new TopologyGraph(topology);
  const diagnostics: Diagnostic[] = [];
  const fail = (f: Forward, message: string) => diagnostics.push({ ...f.pos, message: `forward "${f.name}": ${message}` });
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
      fail(f, `target ${f.to.address} is in no site's subnet, so no gateway can reach it`);
      continue;
    }
    if (ownerOf.has(f.to.address)) {
      fail(f, `target ${f.to.address} is gateway ${ownerOf.get(f.to.address)!.gateway}'s own address; natchain forwards through gateways, not to them`);
      continue;
    }
    const egresses = attached(targetSite);
    if (egresses.length === 0) {
      fail(f, `target site "${targetSite.name}" has no gateway`);
      continue;
    }
    const exposeIface = f.expose ? ownerOf.get(f.expose.address) : undefined;

    /** Closest egress gateway from an ingress (ties: the site's default gateway, then by name). */
    const toEgress = (ingress: Gateway): { steps: PathStep[]; egress: Gateway } | null => {
      let best: { steps: PathStep[]; egress: Gateway } | null = null;
      for (const e of egresses) {
        const steps = e === ingress ? [] : graph.path(ingress.name, e.name);
        if (!steps) continue;
        const better =
          !best ||
          steps.length < best.steps.length ||
          (steps.length === best.steps.length && e.name === targetSite.gateway && best.egress.name !== targetSite.gateway);
        if (better) best = { steps, egress: e };
      }
      return best;
    };
    const egressIfaceOf = (g: Gateway) =>
      g.interfaces.find((i) => i.attach.kind === 'site' && i.attach.name === targetSite.name && contains({ address: networkOf(i.address, i.prefix), prefix: i.prefix }, f.to.address)) ??
      ifaceOn(g, 'site', targetSite.name)!;

    const push = (source: Source, ingress: Gateway, inIface: Interface, dial: Route['dial'], src: Cidr | undefined, hairpin = false) => {
      const p = toEgress(ingress);
      if (!p) {
        fail(f, `target ${f.to.address} is unreachable from ${formatSource(source)}: no path of networks from gateway ${ingress.name} to ${egresses.map((g) => g.name).join(' or ')}`);
        return;
      }
      const snatAtEgress = hairpin || p.egress.name !== targetSite.gateway;
      routes.push({ forward: f, source, ...(src ? { src } : {}), ingress, inIface, dial, steps: p.steps, egress: p.egress, egressIface: egressIfaceOf(p.egress), snatAtEgress });
    };

    for (const source of f.from) {
      if (source.kind === 'network') {
        let ingress: Gateway | undefined;
        let inIface: Interface | undefined;
        if (exposeIface) {
          ingress = gateways.get(exposeIface.gateway)!;
          if (exposeIface.attach.kind !== 'network' || exposeIface.attach.name !== source.network) {
            fail(f, `exposed address ${f.expose!.address} is on ${exposeIface.gateway}/${exposeIface.name}, which is not attached to network "${source.network}"`);
            continue;
          }
          inIface = exposeIface;
        } else {
          // No exposure given: enter at the gateway on that network closest to the target.
          let bestLen = Infinity;
          for (const g of topology.gateways) {
            const i = ifaceOn(g, 'network', source.network);
            const p = i && toEgress(g);
            if (i && p && (p.steps.length < bestLen || (p.steps.length === bestLen && g.name < ingress!.name))) {
              [ingress, inIface, bestLen] = [g, i, p.steps.length];
            }
          }
          if (!ingress || !inIface) {
            fail(f, `no gateway on network "${source.network}" can reach target ${f.to.address}`);
            continue;
          }
        }
        const ports = f.expose?.ports ?? (rangeSize(f.to.ports) > 1 ? f.to.ports : undefined);
        push(source, ingress, inIface, { address: inIface.address, ...(ports ? { ports } : {}) }, undefined);
      } else {
        const site = sites.get(source.site)!;
        if (site === targetSite) {
          fail(f, `clients in "${formatSource(source)}" share the target's site and reach it directly; set "hairpin: true" to let them use the exposed address`);
          continue;
        }
        if (!site.gateway) {
          const names = attached(site).map((g) => g.name);
          fail(f, names.length ? `site "${site.name}" has several gateways (${names.join(', ')}): set its "gateway" to the one its hosts route through` : `site "${site.name}" has no gateway`);
          continue;
        }
        const ingress = gateways.get(site.gateway)!;
        if (egresses.includes(ingress)) {
          fail(f, `gateway ${ingress.name} serves both "${site.name}" and the target's site: the traffic is routed, there is no NAT for natchain to do`);
          continue;
        }
        push(source, ingress, ifaceOn(ingress, 'site', site.name)!, { address: f.to.address, ports: f.to.ports }, source.kind === 'subnet' ? source.cidr : undefined);
      }
    }
    if (f.hairpin && exposeIface) {
      const g = gateways.get(exposeIface.gateway)!;
      const lan = ifaceOn(g, 'site', targetSite.name);
      if (!lan) fail(f, `hairpin needs the exposed address on a gateway of the target's site "${targetSite.name}", but ${g.name} is not in it`);
      else {
        const ports = f.expose!.ports ?? (rangeSize(f.to.ports) > 1 ? f.to.ports : undefined);
        for (const cidr of targetSite.subnets) push({ kind: 'site', site: targetSite.name }, g, lan, { address: f.expose!.address, ...(ports ? { ports } : {}) }, cidr, true);
      }
    }
    // Pins must name a gateway where this forward has a port to pin.
    for (const gw of Object.keys(f.pins)) {
      const used = routes.some((r) => r.forward === f && (r.steps.some((s) => s.to.name === gw) || (r.ingress.name === gw && !r.dial.ports)));
      if (diagnostics.length === before && !used) fail(f, `ports: gateway ${gw} has no hop port in this forward's chains`);
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
    else if (f.pins[gw.name] !== undefined) fixed = { ports: { from: f.pins[gw.name]!, to: f.pins[gw.name]! }, origin: 'pin' };
    slots.set(key, { forward: f.name, gateway: gw.name, address, protos: f.protos, range: gw.hopPorts, ...(fixed ? { fixed } : {}) });
  };
  for (const r of routes) {
    if (r.dial.ports && r.dial.address === r.forward.to.address) addSlot(r.forward, r.ingress, r.dial.address, r.dial.ports, 'target');
    else addSlot(r.forward, r.ingress, r.dial.address);
    for (const s of r.steps) addSlot(r.forward, s.to, s.in.address);
  }
  const { allocations, conflicts, exhausted } = allocate([...slots.values()], lock);
  const forwardByName = new Map(topology.forwards.map((f) => [f.name, f]));
  for (const c of conflicts) fail(forwardByName.get(c.forward)!, describeConflict(c));
  for (const s of exhausted) fail(forwardByName.get(s.forward)!, `gateway ${s.gateway} has no free hop port left in ${formatPorts(s.range)} on ${s.address}`);
  if (diagnostics.length) throw new TopologyError(diagnostics);

  const portOf = new Map(allocations.map((a) => [`${a.forward}\0${a.gateway}\0${a.address}`, a.ports]));
  const port = (f: Forward, gw: Gateway, address: string) => portOf.get(`${f.name}\0${gw.name}\0${address}`)!;
  const chains: Chain[] = routes.map((r) => chainOf(r, port));
  return { chains, intents: intentsOf(topology, chains), allocations, lock: lockOf(allocations) };
}

/** Turns a route with known ports into the hop-by-hop chain. */
function chainOf(r: Route, port: (f: Forward, gw: Gateway, address: string) => PortRange): Chain {
  const f = r.forward;
  const dial = { address: r.dial.address, ports: r.dial.ports ?? port(f, r.ingress, r.dial.address) };
  const hops: Hop[] = [];
  let arriving = { gateway: r.ingress, inIface: r.inIface, src: r.src, dst: dial };
  for (const step of r.steps) {
    const next = { address: step.in.address, ports: port(f, step.to, step.in.address) };
    hops.push({
      gateway: arriving.gateway.name,
      inIface: arriving.inIface.name,
      ...(arriving.src ? { src: arriving.src } : {}),
      dst: arriving.dst,
      outIface: step.out.name,
      dnat: next,
      snat: { address: step.out.address },
    });
    arriving = { gateway: step.to, inIface: step.in, src: { address: step.out.address, prefix: 32 }, dst: next };
  }
  hops.push({
    gateway: arriving.gateway.name,
    inIface: arriving.inIface.name,
    ...(arriving.src ? { src: arriving.src } : {}),
    dst: arriving.dst,
    outIface: r.egressIface.name,
    dnat: { address: f.to.address, ports: f.to.ports },
    ...(r.snatAtEgress ? { snat: { address: r.egressIface.address } } : {}),
  });
  return { forward: f.name, source: r.source, protos: f.protos, dial, target: f.to, hops };
}
