import type { Diagnostic, Pos } from '../errors.js';
import { quote } from '../escape.js';
import { checkEndpoint, checkPorts, contains, ipToInt, isIPv4, networkOf, overlaps, PrefixIndex, parseCidr, rangeSize } from './addr.js';
import { lazyPos, type ParsedYaml } from './parse.js';
import type { RawTopology } from './schema.js';
import type { Backend, Cidr, Forward, Gateway, Interface, LabHost, Network, PortRange, Proto, Site, Source, Topology } from './types.js';
import { formatCidr, formatSource } from './types.js';
import { suggest } from '../suggest.js';

export { suggest };

/** Appended to an error that an earlier one may have caused. */
export const CONSEQUENCE = ' (possibly a consequence of an error above)';

/** Default range hop ports are allocated from: below Linux's ephemeral range (32768-60999). */
export const DEFAULT_HOP_PORTS: PortRange = { from: 20000, to: 29999 };

type Path = ReadonlyArray<string | number>;

/** What the shape check left out of the data before the meaning checks (already reported). */
export interface LeftOut {
  /** Names of entities left out whole: references to them are not errors again. */
  entities?: ReadonlySet<string>;
  /** Entities (`map\0name`) with a field left out. */
  partial?: ReadonlySet<string>;
  /** Whether a whole map (sites, gateways...) was left out: then unknown references may be its consequence. */
  wholeMap?: boolean;
}

/**
 * Checks the meaning of a well-shaped topology and builds the typed model.
 * Entities with errors are left out of the model, so later stages can still report their own errors.
 */
export function buildTopology(
  raw: RawTopology,
  src: ParsedYaml,
  leftOut: LeftOut = {},
): { topology: Topology; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const dropped = new Set(leftOut.entities);
  const mapLeftOut = leftOut.wholeMap ?? false;
  const err = (path: Path, message: string, key = false) => diagnostics.push({ ...src.posOf(path, { key }), message });
  /** An error that an earlier one may have caused (when `caused`): then it says so. */
  const follow = (path: Path, message: string, caused: boolean, key = false) => err(path, caused ? message + CONSEQUENCE : message, key);
  /** An unknown reference, unless it names an entity already reported and left out. */
  const unknown = (path: Path, name: string, message: string, key = false) => {
    if (!dropped.has(name)) follow(path, message, mapLeftOut, key);
  };
  // Entities with an error in one of their parts (a subnet, an interface): errors about them elsewhere may be its consequence.
  const troubled = new Set<string>();
  const pos = (path: Path): Pos => lazyPos(src, path);

  // One namespace for sites, networks and gateways: `from`, `site:`, `network:` and `jump:` refer to them by name.
  const kindOf = new Map<string, string>();
  const claimName = (kind: string, name: string, path: Path): boolean => {
    const prior = kindOf.get(name);
    if (prior) {
      err(path, `name ${quote(name)} is already used by a ${prior}; sites, networks and gateways share one namespace`, true);
      dropped.add(name);
      return false;
    }
    kindOf.set(name, kind);
    return true;
  };

  const defaultBackend: Backend = raw.defaults?.backend ?? 'iptables';
  let defaultHop = DEFAULT_HOP_PORTS;
  if (raw.defaults?.hopPorts !== undefined) {
    const r = checkPorts(raw.defaults.hopPorts);
    if (!('error' in r)) defaultHop = r;
    else err(['defaults', 'hopPorts'], `hopPorts: ${r.error}${r.format ? ' (a range like 20000-29999)' : ''}`);
  }

  const parseMark = (v: string | number | undefined, path: Path): number | undefined => {
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : parseInt(v, 16);
    if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) {
      err(path, `acceptMark must be a non-zero 32-bit mask, got ${typeof v === 'string' ? quote(v) : v}`);
      return undefined;
    }
    return n;
  };
  const defaultMark = parseMark(raw.defaults?.acceptMark, ['defaults', 'acceptMark']);

  // Sites
  const sites: Site[] = [];
  const allSubnets: { site: string; cidr: Cidr; path: Path; order: number }[] = [];
  for (const [name, rs] of Object.entries(raw.sites)) {
    if (!claimName('site', name, ['sites', name])) continue;
    const list = typeof rs.subnets === 'string' ? [rs.subnets] : rs.subnets;
    list.forEach((text, i) => {
      const path = typeof rs.subnets === 'string' ? ['sites', name, 'subnets'] : ['sites', name, 'subnets', i];
      const c = parseCidr(text);
      if (!c) return troubled.add(name), err(path, `${quote(text)} is not an IPv4 prefix like 10.0.0.0/24`);
      const net = networkOf(c.address, c.prefix);
      if (net !== c.address) return troubled.add(name), err(path, `${quote(text)} has host bits set; the subnet is ${net}/${c.prefix}`);
      allSubnets.push({ site: name, cidr: c, path, order: allSubnets.length });
    });
    sites.push({ name, subnets: [], ...(rs.gateway ? { gateway: rs.gateway } : {}), ...described(rs), pos: pos(['sites', name]) });
  }
  // Overlaps by one sweep over the sorted prefixes (not every pair: 1k sites must stay fast).
  // The later one in the file is the one reported, and left out.
  const bad = new Set<number>();
  const sweep = [...allSubnets].sort((a, b) => ipToInt(a.cidr.address) - ipToInt(b.cidr.address) || a.cidr.prefix - b.cidr.prefix);
  let widest: (typeof allSubnets)[number] | undefined;
  for (const cur of sweep) {
    if (widest && overlaps(widest.cidr, cur.cidr)) {
      const [early, late] = widest.order < cur.order ? [widest, cur] : [cur, widest];
      const where = early.site === late.site ? 'another subnet of this site' : `site ${quote(early.site)}'s ${formatCidr(early.cidr)}`;
      err(late.path, `subnet ${formatCidr(late.cidr)} overlaps ${where}`);
      troubled.add(late.site);
      bad.add(late.order);
      if (late === widest) widest = cur;
      continue;
    }
    if (!widest || ipToInt(cur.cidr.address) + 2 ** (32 - cur.cidr.prefix) > ipToInt(widest.cidr.address) + 2 ** (32 - widest.cidr.prefix)) widest = cur;
  }
  const siteSubnets = new PrefixIndex<{ site: string; cidr: Cidr }>();
  const siteByName = new Map(sites.map((s) => [s.name, s]));
  for (const s of allSubnets) {
    if (bad.has(s.order)) continue;
    siteByName.get(s.site)!.subnets.push(s.cidr);
    siteSubnets.add(s.cidr, { site: s.site, cidr: s.cidr });
  }

  // Networks
  const networks: Network[] = [];
  for (const [name, rn] of Object.entries(raw.networks ?? {})) {
    if (!claimName('network', name, ['networks', name])) continue;
    let subnet: Cidr | undefined;
    if (rn.subnet !== undefined) {
      const c = parseCidr(rn.subnet);
      if (!c || networkOf(c.address, c.prefix) !== c.address) {
        err(['networks', name, 'subnet'], `${quote(rn.subnet)} is not an IPv4 network prefix like 10.99.0.0/24`);
      } else subnet = c;
    }
    networks.push({ name, public: rn.public ?? false, ...(subnet ? { subnet } : {}), routes: [], ...described(rn), pos: pos(['networks', name]) });
  }
  const networkByName = new Map(networks.map((n) => [n.name, n]));

  // Gateways and their interfaces
  const gateways: Gateway[] = [];
  const addressOwner = new Map<string, string>(); // address -> "gateway/iface"
  for (const [name, rg] of Object.entries(raw.gateways)) {
    if (!claimName('gateway', name, ['gateways', name])) continue;
    const gpath = ['gateways', name];
    let hopPorts = defaultHop;
    if (rg.hopPorts !== undefined) {
      const r = checkPorts(rg.hopPorts);
      if (!('error' in r)) hopPorts = r;
      else err([...gpath, 'hopPorts'], `hopPorts: ${r.error}${r.format ? ' (a range like 20000-29999)' : ''}`);
    }
    const interfaces: Interface[] = [];
    for (const [ifname, ri] of Object.entries(rg.interfaces)) {
      const ipath = [...gpath, 'interfaces', ifname];
      if ((ri.site === undefined) === (ri.network === undefined)) {
        err(ipath, `interface ${quote(ifname)} must name exactly one of "site" or "network"`, true);
        continue;
      }
      const c = ri.address.includes('/') ? parseCidr(ri.address) : isIPv4(ri.address) ? { address: ri.address } : null;
      if (!c) {
        err([...ipath, 'address'], `${quote(ri.address)} is not an IPv4 address (optionally with /prefix)`);
        continue;
      }
      let prefix = 'prefix' in c ? c.prefix : undefined;
      if (ri.site !== undefined) {
        const site = siteByName.get(ri.site);
        if (!site) {
          unknown([...ipath, 'site'], ri.site, `unknown site ${quote(ri.site)}${suggest(ri.site, siteByName.keys())}`);
          continue;
        }
        const sub = site.subnets.find((s) => contains(s, c.address));
        if (!sub) {
          if (site.subnets.length) follow([...ipath, 'address'], `${c.address} is outside site ${quote(site.name)} (${site.subnets.map(formatCidr).join(', ')})`, troubled.has(site.name));
          continue;
        }
        prefix ??= sub.prefix;
      } else {
        const net = networkByName.get(ri.network!);
        if (!net) {
          unknown([...ipath, 'network'], ri.network!, `unknown network ${quote(ri.network)}${suggest(ri.network!, networkByName.keys())}`);
          continue;
        }
        if (net.subnet && !contains(net.subnet, c.address)) {
          err([...ipath, 'address'], `${c.address} is outside network ${quote(net.name)} (${formatCidr(net.subnet)})`);
          continue;
        }
        if (!net.subnet && siteSubnets.find(c.address)) {
          err([...ipath, 'address'], `${c.address} is inside a site's subnet but attached to network ${quote(net.name)}`);
          continue;
        }
        prefix ??= net.subnet?.prefix ?? 32;
      }
      const owner = addressOwner.get(c.address);
      if (owner) {
        err([...ipath, 'address'], `address ${c.address} is already used by ${owner}`);
        continue;
      }
      addressOwner.set(c.address, `${name}/${ifname}`);
      const attach = ri.site !== undefined ? ({ kind: 'site', name: ri.site } as const) : ({ kind: 'network', name: ri.network! } as const);
      interfaces.push({ name: ifname, gateway: name, address: c.address, prefix, attach, pos: pos(ipath) });
    }
    if (interfaces.length !== Object.keys(rg.interfaces).length) troubled.add(name);
    const segments = new Set(interfaces.map((i) => `${i.attach.kind}:${i.attach.name}`));
    if (interfaces.length === Object.keys(rg.interfaces).length && segments.size < 2) {
      err(gpath, `gateway ${quote(name)} has no route between its networks: it needs interfaces on at least two different sites or networks`, true);
    }
    const ssh = {
      host: rg.ssh?.host ?? name,
      ...(rg.ssh?.port !== undefined ? { port: rg.ssh.port } : {}),
      ...(rg.ssh?.user !== undefined ? { user: rg.ssh.user } : {}),
      ...(rg.ssh?.jump !== undefined ? { jump: rg.ssh.jump } : {}),
    };
    const acceptMark = rg.acceptMark !== undefined ? parseMark(rg.acceptMark, [...gpath, 'acceptMark']) : defaultMark;
    gateways.push({ name, backend: rg.backend ?? defaultBackend, ssh, interfaces, hopPorts, ...(acceptMark !== undefined ? { acceptMark } : {}), ...described(rg), pos: pos(gpath) });
  }
  const gatewayByName = new Map(gateways.map((g) => [g.name, g]));

  for (const n of networks) {
    const entries = raw.networks?.[n.name]?.routes;
    if (entries) n.routes = routedSubnets(n, entries, sites, gateways, (i, message) => err(['networks', n.name, 'routes', i], message));
  }

  // Jump gateways exist and do not loop.
  for (const g of gateways) {
    if (!g.ssh.jump) continue;
    const jpath = ['gateways', g.name, 'ssh', 'jump'];
    if (!gatewayByName.has(g.ssh.jump)) {
      unknown(jpath, g.ssh.jump, `unknown jump gateway ${quote(g.ssh.jump)}${suggest(g.ssh.jump, gatewayByName.keys())}`);
      continue;
    }
    const seen = new Set([g.name]);
    for (let j: string | undefined = g.ssh.jump; j; j = gatewayByName.get(j)?.ssh.jump) {
      if (seen.has(j)) {
        err(jpath, `jump gateways form a loop: ${[...seen, j].join(' -> ')}`);
        break;
      }
      seen.add(j);
    }
  }

  // A site's default gateway: explicit, or the only gateway attached to it (gateways in file order,
  // each once; one pass over the interfaces, not every gateway per site).
  const attachedTo = new Map<string, Gateway[]>();
  for (const g of gateways) {
    for (const i of g.interfaces) {
      if (i.attach.kind !== 'site') continue;
      const list = attachedTo.get(i.attach.name) ?? [];
      if (list[list.length - 1] !== g) list.push(g);
      attachedTo.set(i.attach.name, list);
    }
  }
  for (const site of sites) {
    const attached = attachedTo.get(site.name) ?? [];
    if (site.gateway !== undefined) {
      if (!attached.some((g) => g.name === site.gateway)) {
        const message = `gateway ${quote(site.gateway)} has no interface in site ${quote(site.name)}`;
        if (!dropped.has(site.gateway)) follow(['sites', site.name, 'gateway'], message, mapLeftOut || troubled.has(site.gateway));
        delete site.gateway;
      }
    } else if (attached.length === 1) {
      site.gateway = attached[0]!.name;
    }
  }

  // Addresses of every interface in the file, those left out for errors included (for follow-on messages).
  const rawAddresses = new Map<string, string>();
  for (const [gname, rg] of Object.entries(raw.gateways)) {
    for (const [ifname, ri] of Object.entries(rg.interfaces)) rawAddresses.set(ri.address.split('/')[0]!, `${gname}/${ifname}`);
  }

  // Forwards
  const forwards: Forward[] = [];
  for (const [name, rf] of Object.entries(raw.forwards ?? {})) {
    const fpath = ['forwards', name];
    const before = diagnostics.length;
    const target = checkEndpoint(rf.to);
    const to = 'error' in target ? undefined : target;
    if ('error' in target) err([...fpath, 'to'], `to: ${target.error}${target.format ? ' (write host:port or host:from-to, e.g. 10.0.0.12:22)' : ''}`);
    else if (!target.ports) err([...fpath, 'to'], `to: ${quote(rf.to)} has no port (write host:port or host:from-to, e.g. 10.0.0.12:22)`);
    const protos: Proto[] = rf.proto === 'both' ? ['tcp', 'udp'] : [rf.proto ?? 'tcp'];
    const fromList = typeof rf.from === 'string' ? [rf.from] : rf.from;
    const from: Source[] = [];
    fromList.forEach((entry, i) => {
      const path = typeof rf.from === 'string' ? [...fpath, 'from'] : [...fpath, 'from', i];
      let s: Source | string;
      let text: string;
      if (typeof entry === 'string') {
        text = entry;
        s = resolveSource(text, siteByName, networkByName, siteSubnets);
      } else {
        const keys = Object.keys(entry);
        if (keys.length !== 1) return err(path, `an allow-list names one network, like { internet: [203.0.113.0/24] }; got ${keys.length} keys`);
        text = keys[0]!;
        s = allowListSource(text, entry[text]!, networkByName, (k, message) => err([...path, text, k], message));
      }
      if (typeof s === 'string') {
        // A subnet outside every site may be inside a site subnet that had an error.
        if (!dropped.has(text)) follow(path, s, mapLeftOut || (parseCidr(text) !== null && troubled.size > 0));
        return;
      }
      if (from.some((o) => o.kind === s.kind && formatSource(o) === formatSource(s))) return err(path, `${quote(text)} is listed twice`);
      from.push(s);
    });
    const via = rf.via ?? [];
    via.forEach((v, i) => {
      if (kindOf.get(v) === 'site') err([...fpath, 'via', i], `via names networks and gateways; ${quote(v)} is a site (sites are endpoints, never crossed)`);
      else if (!networkByName.has(v) && !gatewayByName.has(v)) unknown([...fpath, 'via', i], v, `unknown network or gateway ${quote(v)}${suggest(v, [...networkByName.keys(), ...gatewayByName.keys()])}`);
      else if (via.indexOf(v) !== i) err([...fpath, 'via', i], `${quote(v)} is listed twice: a chain crosses each network and gateway once`);
    });
    const snatPath = rf.snat !== undefined ? [...fpath, 'snat'] : raw.defaults?.snat !== undefined ? ['defaults', 'snat'] : undefined;
    let expose: Forward['expose'];
    if (rf.expose !== undefined) {
      const e = checkEndpoint(rf.expose);
      if ('error' in e) err([...fpath, 'expose'], `expose: ${e.error}${e.format ? ' (write address[:port], e.g. 198.51.100.7:8080)' : ''}`);
      else {
        expose = e.ports ? { address: e.address, ports: e.ports } : { address: e.address };
        const leftOutOwner = rawAddresses.get(e.address);
        if (addressOwner.has(e.address)) {
          // an interface of a gateway in the model
        } else if (leftOutOwner) err([...fpath, 'expose'], `${e.address} belongs to ${leftOutOwner}, which has an error${CONSEQUENCE}`);
        else follow([...fpath, 'expose'], `${e.address} is not the address of any gateway interface`, mapLeftOut);
        if (to?.ports && e.ports && rangeSize(e.ports) !== rangeSize(to.ports)) {
          err([...fpath, 'expose'], `exposes ${rangeSize(e.ports)} port(s) but the target has ${rangeSize(to.ports)}`);
        } else if (to?.ports && e.ports && rangeSize(to.ports) > 1 && e.ports.from !== to.ports.from) {
          err([...fpath, 'expose'], `a port range is forwarded unchanged: expose ${to.ports.from}-${to.ports.to} (or omit the port)`);
        }
      }
    }
    const pins: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [gw, port] of Object.entries(rf.ports ?? {})) {
      if (!gatewayByName.has(gw)) unknown([...fpath, 'ports', gw], gw, `unknown gateway ${quote(gw)}${suggest(gw, gatewayByName.keys())}`, true);
      else if (port < 1 || port > 65535) err([...fpath, 'ports', gw], `port ${port} is outside 1-65535`);
      else if (to?.ports && rangeSize(to.ports) > 1) err([...fpath, 'ports', gw], 'a port range is forwarded unchanged: hop ports cannot be pinned');
      else pins[gw] = port;
    }
    const hairpin = rf.hairpin ?? false;
    if (hairpin && rf.expose === undefined) err([...fpath, 'hairpin'], 'hairpin needs "expose": LAN clients dial the exposed address');
    if (rf.expose !== undefined && !hairpin && !from.some((s) => s.kind === 'network')) {
      err([...fpath, 'expose'], 'expose is only used by a network source (like "internet") or hairpin; neither is set');
    }
    // A forward with a field left out for a shape error is checked, not solved: it is not what the file says.
    if (diagnostics.length > before || !to?.ports || leftOut.partial?.has(`forwards\0${name}`)) continue;
    forwards.push({
      name,
      from,
      to: { address: to.address, ports: to.ports },
      protos,
      ...(expose ? { expose } : {}),
      hairpin,
      pins,
      via,
      ...(rf.via ? { viaPos: pos([...fpath, 'via']) } : {}),
      snat: rf.snat ?? raw.defaults?.snat ?? 'auto',
      ...(snatPath ? { snatPos: pos(snatPath) } : {}),
      ...described(rf),
      pos: pos(fpath),
      posOf: (field) => src.posOf([...fpath, ...field]),
    });
  }

  // Lab hosts: addresses inside their site (or network) and not taken by a gateway.
  const labHosts: LabHost[] = [];
  for (const [name, rh] of Object.entries(raw.lab?.hosts ?? {})) {
    const hpath = ['lab', 'hosts', name];
    if ((rh.site === undefined) === (rh.network === undefined)) {
      err(hpath, `lab host ${quote(name)} must name exactly one of "site" or "network"`, true);
      continue;
    }
    const c = rh.address.includes('/') ? parseCidr(rh.address) : isIPv4(rh.address) ? { address: rh.address } : null;
    if (!c) {
      err([...hpath, 'address'], `${quote(rh.address)} is not an IPv4 address (optionally with /prefix)`);
      continue;
    }
    let prefix = 'prefix' in c ? c.prefix : undefined;
    if (rh.site !== undefined) {
      const sub = siteByName.get(rh.site)?.subnets.find((s) => contains(s, c.address));
      if (!siteByName.has(rh.site)) unknown([...hpath, 'site'], rh.site, `unknown site ${quote(rh.site)}${suggest(rh.site, siteByName.keys())}`);
      else if (!sub) follow([...hpath, 'address'], `${c.address} is outside site ${quote(rh.site)}`, troubled.has(rh.site));
      prefix ??= sub?.prefix;
    } else if (!networkByName.has(rh.network!)) {
      unknown([...hpath, 'network'], rh.network!, `unknown network ${quote(rh.network)}${suggest(rh.network!, networkByName.keys())}`);
    } else prefix ??= networkByName.get(rh.network!)!.subnet?.prefix ?? 32;
    if (addressOwner.has(c.address)) err([...hpath, 'address'], `address ${c.address} is already used by ${addressOwner.get(c.address)}`);
    if (prefix === undefined || diagnostics.length) continue;
    const attach = rh.site !== undefined ? ({ kind: 'site', name: rh.site } as const) : ({ kind: 'network', name: rh.network! } as const);
    labHosts.push({ name, address: c.address, prefix, attach, pos: pos(hpath) });
  }

  return { topology: { file: src.file, sites, networks, gateways, forwards, labHosts }, diagnostics };
}

/** Resolves `{ <network>: [prefixes] }`: a network source that only the listed clients may use. */
function allowListSource(
  network: string,
  list: string[],
  networks: Map<string, Network>,
  err: (index: number, message: string) => void,
): Source | string {
  if (!networks.has(network)) return `an allow-list belongs to a network source; ${quote(network)} is not a network${suggest(network, networks.keys())}`;
  const allow: Cidr[] = [];
  list.forEach((text, k) => {
    const c = text.includes('/') ? parseCidr(text) : isIPv4(text) ? { address: text, prefix: 32 } : null;
    if (!c) return err(k, `${quote(text)} is not an IPv4 address or prefix like 203.0.113.0/24`);
    const net = networkOf(c.address, c.prefix);
    if (net !== c.address) return err(k, `${quote(text)} has host bits set; the prefix is ${net}/${c.prefix}`);
    if (c.prefix === 0) return err(k, `${quote(text)} allows everyone: leave the allow-list out instead`);
    if (allow.some((a) => a.prefix === c.prefix && a.address === c.address)) return err(k, `${quote(text)} is listed twice`);
    allow.push(c);
  });
  return { kind: 'network', network, allow };
}

/**
 * The site subnets a network's `routes:` stands for: a site name gives its subnets, a prefix the
 * site subnets inside it. Every routed site needs a gateway on the network (where its replies go).
 */
function routedSubnets(n: Network, entries: string[], sites: Site[], gateways: Gateway[], err: (index: number, message: string) => void): Cidr[] {
  const out: Cidr[] = [];
  entries.forEach((text, i) => {
    const site = sites.find((x) => x.name === text);
    let picked: { site: Site; cidr: Cidr }[];
    if (site) picked = site.subnets.map((cidr) => ({ site, cidr }));
    else {
      const c = parseCidr(text);
      if (!c) return err(i, `${quote(text)} is neither a site nor a prefix like 10.20.0.0/16`);
      if (networkOf(c.address, c.prefix) !== c.address) return err(i, `${quote(text)} has host bits set; the prefix is ${networkOf(c.address, c.prefix)}/${c.prefix}`);
      picked = sites.flatMap((x) => x.subnets.filter((s) => s.prefix >= c.prefix && contains(c, s.address)).map((cidr) => ({ site: x, cidr })));
      if (picked.length === 0) return err(i, `no site subnet lies inside ${text}: routes name the sites whose replies the network carries`);
    }
    for (const p of picked) {
      const on = gateways.some((g) => g.interfaces.some((j) => j.attach.kind === 'site' && j.attach.name === p.site.name) && g.interfaces.some((j) => j.attach.kind === 'network' && j.attach.name === n.name));
      if (!on) return err(i, `site ${quote(p.site.name)} has no gateway on network ${quote(n.name)}, so the network cannot route its subnets`);
      if (!out.some((o) => o.address === p.cidr.address && o.prefix === p.cidr.prefix)) out.push(p.cidr);
    }
  });
  return out;
}

/** Resolves a `from` entry: a site name, a network name, or a CIDR inside one site. */
export function resolveSource(text: string, sites: Map<string, Site>, networks: Map<string, Network>, subnets: PrefixIndex<{ site: string; cidr: Cidr }>): Source | string {
  if (sites.has(text)) return { kind: 'site', site: text };
  if (networks.has(text)) return { kind: 'network', network: text };
  const c = parseCidr(text);
  if (c) {
    if (networkOf(c.address, c.prefix) !== c.address) return `${quote(text)} has host bits set; use ${networkOf(c.address, c.prefix)}/${c.prefix}`;
    const hit = subnets.find(c.address);
    if (hit && hit.cidr.prefix <= c.prefix) return { kind: 'subnet', cidr: c, site: hit.site };
    return `subnet ${text} is not inside any site`;
  }
  return `unknown source ${quote(text)}: expected a site, a network or a subnet${suggest(text, [...sites.keys(), ...networks.keys()])}`;
}

/** The description an entity was given, if any (the model carries it for `solve` and `forward list`). */
function described(raw: { description?: string | undefined }): { description?: string } {
  return raw.description !== undefined ? { description: raw.description } : {};
}
