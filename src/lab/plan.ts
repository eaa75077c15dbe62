import { NatchainError } from '../errors.js';
import { contains, intToIp, ipToInt, networkOf } from '../topology/addr.js';
import type { Cidr, Gateway, Interface, Network, Proto, Site, Topology } from '../topology/types.js';
import { formatCidr, formatSource } from '../topology/types.js';
import { IFNAME_RE } from '../topology/names.js';
import { ifaceOn } from '../solve/graph.js';
import { ReplyRoutes } from '../solve/snat.js';
import { checkLabName, netnsName, SWITCH_NODE } from './names.js';
import type { LabPlan, PlannedGateway, PlannedHost, PlannedInterface, PlannedRoute, PlannedSegment, PlannedService } from './types.js';

/** TCP port every target host answers on besides its forwarded ports; no forward uses it, so it shows what plain routing does. */
export const CONTROL_PORT = 7;

/** Addresses the lab gives internet clients when the topology declares none: documentation ranges (RFC 5737). */
const INTERNET_CLIENT_CANDIDATES = ['203.0.113.200', '198.51.100.200', '192.0.2.200', '203.0.113.201', '198.51.100.201', '192.0.2.201'];

/** Above this many ports per host, the lab still serves every port but says it is a lot of processes. */
const MANY_PORTS = 256;

/**
 * Plans the lab for a topology: namespaces, links, addresses, routes, hosts and their echo
 * services. Pure: the same topology and lab name always give the same plan.
 */
export function planLab(topology: Topology, opts: { lab: string }): LabPlan {
  const lab = checkLabName(opts.lab);
  const warnings: string[] = [];
  const sites = new Map(topology.sites.map((s) => [s.name, s]));
  const networks = new Map(topology.networks.map((n) => [n.name, n]));
  const replies = new ReplyRoutes(topology);

  // Addresses already spoken for: hosts the lab invents must not take them.
  const used = new Set<string>();
  for (const g of topology.gateways) for (const i of g.interfaces) used.add(i.address);
  for (const h of topology.labHosts) used.add(h.address);
  for (const f of topology.forwards) {
    used.add(f.to.address);
    if (f.expose) used.add(f.expose.address);
  }

  // Segments: one bridge per site and per network that something is plugged into.
  const segments = new Map<string, PlannedSegment>();
  const segmentOf = (kind: 'site' | 'network', of: string): PlannedSegment => {
    const id = `${kind}:${of}`;
    let s = segments.get(id);
    if (!s) {
      s = { id, kind, of, bridge: `b${segments.size}`, public: kind === 'network' && networks.get(of)!.public };
      segments.set(id, s);
    }
    return s;
  };

  let linkCount = 0;
  const iface = (name: string, address: string, prefix: number, segment: PlannedSegment): PlannedInterface => {
    const k = linkCount++;
    return { name, tmpName: `_nc${k}`, swName: `v${k}`, address, prefix, segment: segment.id };
  };

  // Gateways: the topology's interfaces, forwarding on, a default route out of their public interface.
  const gateways: PlannedGateway[] = [];
  for (const g of topology.gateways) {
    const interfaces = g.interfaces.map((i) => iface(i.name, i.address, i.prefix, segmentOf(i.attach.kind, i.attach.name)));
    const routes: PlannedRoute[] = [];
    const publicIfaces = g.interfaces.filter((i) => i.attach.kind === 'network' && networks.get(i.attach.name)?.public).sort(byName);
    publicIfaces.forEach((i, n) => routes.push({ to: 'default', dev: i.name, ...(n ? { metric: 100 * n } : {}) }));
    // Site subnets no interface prefix covers are on the LAN all the same (one bridge per site).
    for (const i of g.interfaces) {
      if (i.attach.kind !== 'site') continue;
      for (const subnet of sites.get(i.attach.name)!.subnets) {
        const covered = g.interfaces.some((j) => j.prefix <= subnet.prefix && contains(cidrOf(j), subnet.address));
        if (!covered && !routes.some((r) => r.to === formatCidr(subnet))) routes.push({ to: formatCidr(subnet), dev: i.name });
      }
    }
    // A routed network (`routes:`): every other gateway on it reaches the routed site subnets through the site's gateway there.
    for (const n of topology.networks) {
      const mine = ifaceOn(g, 'network', n.name);
      if (!mine) continue;
      for (const r of replies.routed(n.name)) {
        const owner = r.gateway === g.name ? undefined : topology.gateways.find((x) => x.name === r.gateway);
        const next = owner && ifaceOn(owner, 'network', n.name);
        const to = formatCidr(r.prefix);
        const onLan = g.interfaces.some((i) => i.attach.kind === 'site' && contains(cidrOf(i), r.prefix.address));
        if (next && !onLan && !routes.some((x) => x.to === to)) routes.push({ to, via: next.address, dev: mine.name });
      }
    }
    gateways.push({ kind: 'gateway', name: g.name, netns: netnsName(lab, g.name), backend: g.backend, sshAliases: g.ssh.host && g.ssh.host !== g.name ? [g.ssh.host] : [], interfaces, routes, etcHosts: [] });
  }

  // Host names must not collide with gateways, declared hosts, or each other.
  const taken = new Set<string>([...topology.gateways.map((g) => g.name), ...topology.labHosts.map((h) => h.name)]);
  const uniqueName = (base: string): string => {
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    return name;
  };

  const hosts: PlannedHost[] = [];
  const hostByAddress = new Map<string, PlannedHost>();

  /** Where a host in a site plugs in and which gateway it routes through. */
  const siteHost = (name: string, site: Site, address: string, prefix: number | undefined, role: PlannedHost['role']): PlannedHost => {
    const gw = siteGateway(site, topology);
    const gwIface = gw && lanIface(gw, site, address);
    const within = gwIface && contains(cidrOf(gwIface), address) ? gwIface.prefix : undefined;
    // The LAN's prefix is the gateway interface's, when it holds the address.
    const hostPrefix = within ?? prefix ?? site.subnets.find((s) => contains(s, address))?.prefix ?? 32;
    const routes: PlannedRoute[] = [];
    if (gw && gwIface) {
      const onLink = contains({ address: networkOf(address, hostPrefix), prefix: hostPrefix }, gwIface.address);
      routes.push({ to: 'default', via: gwIface.address, dev: 'eth0', ...(onLink ? {} : { onlink: true }) });
    } else warnings.push(`host ${name} (${address}) in site "${site.name}": the site has no gateway, so the host has no default route`);
    const seg = segmentOf('site', site.name);
    const host: PlannedHost = {
      kind: 'host',
      name,
      netns: netnsName(lab, name),
      role,
      address,
      prefix: hostPrefix,
      site: site.name,
      ...(gw ? { gateway: gw.name } : {}),
      interfaces: [iface('eth0', address, hostPrefix, seg)],
      routes,
      forwards: [],
      services: [],
    };
    hosts.push(host);
    hostByAddress.set(address, host);
    used.add(address);
    return host;
  };
  const networkHost = (name: string, network: Network, address: string, prefix: number, role: PlannedHost['role']): PlannedHost => {
    const host: PlannedHost = {
      kind: 'host',
      name,
      netns: netnsName(lab, name),
      role,
      address,
      prefix,
      network: network.name,
      interfaces: [iface('eth0', address, prefix, segmentOf('network', network.name))],
      // Everything else is somewhere on this network: ask for it on the link, as the gateways do.
      routes: [{ to: 'default', dev: 'eth0' }],
      forwards: [],
      services: [],
    };
    hosts.push(host);
    hostByAddress.set(address, host);
    used.add(address);
    return host;
  };

  // 1. Hosts the topology declares for the lab, at their addresses.
  for (const h of topology.labHosts) {
    if (h.attach.kind === 'site') siteHost(h.name, sites.get(h.attach.name)!, h.address, h.prefix, 'declared');
    else {
      const n = networks.get(h.attach.name)!;
      networkHost(h.name, n, h.address, h.prefix, n.public ? 'internet' : 'declared');
    }
  }

  // 2. A target host at each forward's `to` address, with an echo service per port and protocol.
  for (const f of topology.forwards) {
    const site = topology.sites.find((s) => s.subnets.some((c) => contains(c, f.to.address)));
    let host = hostByAddress.get(f.to.address);
    if (!host) {
      if (!site) {
        warnings.push(`forward "${f.name}": target ${f.to.address} is in no site, so the lab builds no host for it`);
        continue;
      }
      host = siteHost(uniqueName(`server-${f.name}`), site, f.to.address, undefined, 'target');
    }
    if (host.role === 'declared') host.role = 'target';
    host.forwards.push(f.name);
    if (f.to.ports.to - f.to.ports.from + 1 > MANY_PORTS) {
      warnings.push(`forward "${f.name}": ${f.to.ports.to - f.to.ports.from + 1} ports, one echo listener each on ${host.name}`);
    }
    for (const proto of f.protos) for (let p = f.to.ports.from; p <= f.to.ports.to; p++) addService(host.services, proto, p, f.name);
  }
  for (const h of hosts) if (h.role === 'target' && !h.services.some((s) => s.proto === 'tcp' && s.port === CONTROL_PORT)) addService(h.services, 'tcp', CONTROL_PORT, '');

  // 3. A client in every site a forward comes from (inside its subnet when the source is one), and in the
  //    target's site of a hairpin forward. A declared host there is used when it fits.
  const clientSites = new Map<string, { restrict?: Cidr; sources: string[] }>();
  const wantSite = (site: string, source: string, restrict?: Cidr) => {
    const w = clientSites.get(site) ?? { sources: [] };
    if (restrict && (!w.restrict || restrict.prefix > w.restrict.prefix)) w.restrict = restrict;
    if (!w.sources.includes(source)) w.sources.push(source);
    clientSites.set(site, w);
  };
  const clientNetworks = new Map<string, string[]>();
  const wantNetwork = (network: string, source?: string) => {
    const w = clientNetworks.get(network) ?? [];
    if (source && !w.includes(source)) w.push(source);
    clientNetworks.set(network, w);
  };
  for (const f of topology.forwards) {
    for (const s of f.from) {
      if (s.kind === 'site') wantSite(s.site, `${f.name}:${formatSource(s)}`);
      else if (s.kind === 'subnet') wantSite(s.site, `${f.name}:${formatSource(s)}`, s.cidr);
      else wantNetwork(s.network, `${f.name}:${formatSource(s)}`);
    }
    if (f.hairpin && f.expose) {
      const site = topology.sites.find((x) => x.subnets.some((c) => contains(c, f.to.address)));
      if (site) wantSite(site.name, `${f.name}:${site.name}`);
    }
  }
  // Every public network gets an internet client, whether a forward starts there or not.
  for (const n of topology.networks) if (n.public) wantNetwork(n.name);

  for (const [siteName, want] of clientSites) {
    const site = sites.get(siteName)!;
    const fits = (h: PlannedHost) => h.site === siteName && h.role !== 'target' && (!want.restrict || contains(want.restrict, h.address));
    let host = hosts.find((h) => fits(h) && h.role === 'declared') ?? hosts.find(fits);
    if (!host) {
      const gw = siteGateway(site, topology);
      const lan = gw && lanIface(gw, site);
      const base: Cidr = lan ? cidrOf(lan) : site.subnets[0]!;
      const range = want.restrict && !(base.prefix >= want.restrict.prefix && contains(want.restrict, base.address)) ? want.restrict : base;
      const address = freeAddress(range, used);
      if (!address) {
        warnings.push(`site "${siteName}": no free address for a client in ${formatCidr(range)}`);
        continue;
      }
      host = siteHost(uniqueName(`client-${siteName}`), site, address, range.prefix, 'client');
    }
    if (host.role === 'declared') host.role = 'client';
    for (const s of want.sources) if (!host.forwards.includes(s)) host.forwards.push(s);
  }

  for (const [networkName, sources] of clientNetworks) {
    const n = networks.get(networkName)!;
    let host = hosts.find((h) => h.network === networkName && h.role !== 'target');
    if (!host) {
      let address: string | undefined;
      let prefix: number;
      if (n.public) {
        const inSomeRange = (a: string) =>
          topology.sites.some((s) => s.subnets.some((c) => contains(c, a))) || topology.networks.some((x) => !x.public && x.subnet && contains(x.subnet, a));
        address = INTERNET_CLIENT_CANDIDATES.find((a) => !used.has(a) && !inSomeRange(a));
        prefix = 24;
      } else {
        const first = topology.gateways.flatMap((g) => g.interfaces).find((i) => i.attach.kind === 'network' && i.attach.name === networkName);
        const range = n.subnet ?? (first ? cidrOf(first) : undefined);
        address = range && freeAddress(range, used);
        prefix = range?.prefix ?? 32;
      }
      if (!address) {
        warnings.push(`network "${networkName}": no free address for a client`);
        continue;
      }
      host = networkHost(uniqueName(`client-${networkName}`), n, address, prefix, n.public ? 'internet' : 'client');
    }
    if (host.role === 'declared') host.role = 'client';
    for (const s of sources) if (!host.forwards.includes(s)) host.forwards.push(s);
  }

  // Each gateway knows its neighbours by name (for `ssh -J` through another gateway, as in a real network).
  for (const g of gateways) {
    g.etcHosts.push({ address: '127.0.1.1', names: [g.name] });
    for (const other of gateways) {
      if (other === g) continue;
      const shared = other.interfaces.find((o) => g.interfaces.some((i) => i.segment === o.segment));
      if (shared) g.etcHosts.push({ address: shared.address, names: [other.name] });
    }
  }
  return {
    lab,
    topologyFile: topology.file,
    switchNs: netnsName(lab, SWITCH_NODE),
    segments: [...segments.values()],
    gateways,
    hosts,
    warnings,
  };
}

/** The gateway a site's hosts route through: the site's `gateway`, else the only (or first) gateway on it. */
export function siteGateway(site: Site, topology: Topology): Gateway | undefined {
  if (site.gateway) return topology.gateways.find((g) => g.name === site.gateway);
  return topology.gateways.find((g) => g.interfaces.some((i) => i.attach.kind === 'site' && i.attach.name === site.name));
}

/** The gateway's interface on a site, preferring the one whose prefix holds `address`. */
function lanIface(g: Gateway, site: Site, address?: string): Interface | undefined {
  const on = g.interfaces.filter((i) => i.attach.kind === 'site' && i.attach.name === site.name);
  return (address ? on.find((i) => contains(cidrOf(i), address)) : undefined) ?? on[0];
}

function cidrOf(i: { address: string; prefix: number }): Cidr {
  return { address: networkOf(i.address, i.prefix), prefix: i.prefix };
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function addService(services: PlannedService[], proto: Proto, port: number, forward: string): void {
  const s = services.find((x) => x.proto === proto && x.port === port);
  if (!s) services.push({ proto, port, forwards: forward ? [forward] : [] });
  else if (forward && !s.forwards.includes(forward)) s.forwards.push(forward);
}

/**
 * A deterministic free host address in a prefix: from .100 in a /24 or larger (the middle of
 * smaller ones), upwards, wrapping; never the network or broadcast address, never one in `used`.
 */
export function freeAddress(range: Cidr, used: Set<string>): string | undefined {
  const size = 2 ** (32 - range.prefix);
  const base = ipToInt(range.address);
  if (size === 1) return used.has(range.address) ? undefined : range.address;
  const first = size === 2 ? 0 : 1;
  const last = size === 2 ? 1 : size - 2;
  const count = last - first + 1;
  const start = size >= 256 ? 100 : Math.max(first, Math.floor(size / 2));
  for (let k = 0; k < count; k++) {
    const off = first + ((start - first + k) % count);
    const a = intToIp(base + off);
    if (!used.has(a)) return a;
  }
  return undefined;
}

/** Every node of a plan, gateways first. */
export function planNodes(plan: LabPlan): Array<PlannedGateway | PlannedHost> {
  return [...plan.gateways, ...plan.hosts];
}

/** Throws unless the plan is one the kernel can build (names, lengths); a guard between the pure plan and the shell. */
export function checkPlan(plan: LabPlan): void {
  const problems: string[] = [];
  const safe = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
  for (const n of planNodes(plan)) {
    if (!safe.test(n.name)) problems.push(`node name "${n.name}" is not safe to use in a shell`);
    for (const i of n.interfaces) {
      if (!IFNAME_RE.test(i.name)) problems.push(`${n.name}: interface name "${i.name}" is not a Linux interface name`);
    }
  }
  if (problems.length) throw new NatchainError('LAB', 'the lab plan cannot be built', problems);
}
