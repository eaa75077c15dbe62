// Checks of one forward's answers against a validated topology, with the messages `validate`
// gives, so the wizard can show them as the admin types and `natchain forward` before writing.
// The final word is always `compile` on the edited text (author.ts): these only catch early
// what can be told from one answer.
import { isIPv4, networkOf, parseCidr, parseEndpoint, parsePorts, PrefixIndex } from '../topology/addr.js';
import { resolveSource } from '../topology/build.js';
import { NAME_RE } from '../topology/names.js';
import type { Cidr, Site, Topology } from '../topology/types.js';
import type { ForwardSpec } from './forwards.js';

/** What a problem is about: one field of a forward, or its name. */
export type SpecField = 'name' | 'from' | 'allow' | 'to' | 'proto' | 'expose' | 'hairpin';

/** One problem with one forward's answers. */
export interface Problem {
  forward: string;
  /** The field it is about; null when it is about the forward as a whole. */
  field: SpecField | null;
  message: string;
}

/** Lookups over a topology that the checks share. */
export interface Lookups {
  topology: Topology;
  sites: Map<string, Site>;
  subnets: PrefixIndex<{ site: string; cidr: Cidr }>;
  /** Gateway interface address -> `gateway/iface`. */
  owners: Map<string, string>;
  forwards: Set<string>;
}

/** Builds the lookups once per topology. */
export function lookupsOf(t: Topology): Lookups {
  const subnets = new PrefixIndex<{ site: string; cidr: Cidr }>();
  for (const s of t.sites) for (const cidr of s.subnets) subnets.add(cidr, { site: s.name, cidr });
  const owners = new Map<string, string>();
  for (const g of t.gateways) for (const i of g.interfaces) owners.set(i.address, `${g.name}/${i.name}`);
  return { topology: t, sites: new Map(t.sites.map((s) => [s.name, s])), subnets, owners, forwards: new Set(t.forwards.map((f) => f.name)) };
}

/** The site a host address lies in, if any. */
export function siteOfHost(l: Lookups, address: string): string | undefined {
  return l.subnets.find(address)?.site;
}

/** A port list's problem in words (`0`, `65536` and `9-1` each get their own), or null. */
function portProblem(text: string): string | null {
  if (parsePorts(text)) return null;
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) return `"${text}" is not a port or a range like 8000-8010`;
  const bad = [m[1], m[2]].find((p) => p !== undefined && (Number(p) < 1 || Number(p) > 65535));
  if (bad !== undefined) return `port ${Number(bad)} is outside 1-65535`;
  return `"${text}" is not a range: the first port must not be above the last`;
}

/** Checks a forward name: the schema's rule, and not taken (unless it is the forward being edited). */
export function checkName(l: Lookups, name: string, editing?: string): string | null {
  if (!NAME_RE.test(name)) return 'a name must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit';
  if (name !== editing && l.forwards.has(name)) return `a forward named "${name}" already exists`;
  return null;
}

/** Checks one `from` entry: a site, a network, or a subnet inside a site. */
export function checkSource(l: Lookups, text: string): string | null {
  const networks = new Map(l.topology.networks.map((n) => [n.name, n]));
  const s = resolveSource(text, l.sites, networks, l.subnets);
  return typeof s === 'string' ? s : null;
}

/** Checks the `from` list. */
export function checkFrom(l: Lookups, from: string[]): string | null {
  if (from.length === 0) return 'name at least one source: a site, a subnet inside a site, or a network such as internet';
  for (const [i, s] of from.entries()) {
    const bad = checkSource(l, s);
    if (bad) return bad;
    if (from.indexOf(s) !== i) return `"${s}" is listed twice`;
  }
  return null;
}

/** Checks one allow-list entry: an address or prefix, host bits clear, not everyone. */
export function checkAllowPrefix(text: string): string | null {
  const c = text.includes('/') ? parseCidr(text) : isIPv4(text) ? { address: text, prefix: 32 } : null;
  if (!c) return `"${text}" is not an IPv4 address or prefix like 203.0.113.0/24`;
  const net = networkOf(c.address, c.prefix);
  if (net !== c.address) return `"${text}" has host bits set; the prefix is ${net}/${c.prefix}`;
  if (c.prefix === 0) return `"${text}" allows everyone: leave the allow-list out instead`;
  return null;
}

/** Checks the allow-lists: each for a network source of the forward, each prefix well formed. */
export function checkAllow(l: Lookups, spec: Pick<ForwardSpec, 'from' | 'allow'>): string | null {
  for (const a of spec.allow ?? []) {
    if (!l.topology.networks.some((n) => n.name === a.network)) return `an allow-list belongs to a network source; "${a.network}" is not a network`;
    if (!spec.from.includes(a.network)) return `the allow-list is for "${a.network}", which is not among the sources`;
    for (const [i, p] of a.prefixes.entries()) {
      const bad = checkAllowPrefix(p);
      if (bad) return bad;
      if (a.prefixes.indexOf(p) !== i) return `"${p}" is listed twice`;
    }
  }
  return null;
}

/** Checks `to`: host:port(s), the host inside a site, not a gateway's own address. */
export function checkTo(l: Lookups, to: string): string | null {
  const m = /^([^:]*)(?::(.*))?$/.exec(to.trim())!;
  if (!isIPv4(m[1]!)) return `"${m[1]}" is not an IPv4 address; the target is host:port or host:from-to, e.g. 10.0.0.12:22`;
  if (m[2] === undefined || m[2] === '') return `"${to}" has no port: the target is host:port or host:from-to, e.g. 10.0.0.12:22`;
  const bad = portProblem(m[2]);
  if (bad) return bad;
  const host = m[1]!;
  if (l.owners.has(host)) return `${host} is gateway ${l.owners.get(host)!.split('/')[0]}'s own address; natchain forwards through gateways, not to them`;
  if (!siteOfHost(l, host)) return `target ${host} is in no site's subnet, so no gateway can reach it`;
  return null;
}

/** Checks `expose`: address[:port] of a gateway interface. */
export function checkExpose(l: Lookups, expose: string): string | null {
  const [addr, port] = expose.trim().split(/:(.*)/s) as [string, string | undefined];
  if (!isIPv4(addr)) return `"${addr}" is not an IPv4 address; expose is address[:port], e.g. 198.51.100.7:8080`;
  if (port !== undefined) {
    const bad = portProblem(port);
    if (bad) return bad;
  }
  if (!parseEndpoint(expose)) return `"${expose}" must be address[:port], e.g. 198.51.100.7:8080`;
  if (!l.owners.has(addr)) return `${addr} is not the address of any gateway interface`;
  return null;
}

/** Every problem of a spec that one answer shows; empty when it may be written (compile decides the rest). */
export function checkSpec(l: Lookups, spec: ForwardSpec, editing?: string): Problem[] {
  const out: Problem[] = [];
  const add = (field: SpecField, message: string | null) => {
    if (message) out.push({ forward: spec.name, field, message });
  };
  add('name', checkName(l, spec.name, editing));
  add('from', checkFrom(l, spec.from));
  add('allow', checkAllow(l, spec));
  add('to', checkTo(l, spec.to));
  if (!['tcp', 'udp', 'both'].includes(spec.proto)) add('proto', `"${spec.proto}" is not tcp, udp or both`);
  if (spec.expose !== undefined) add('expose', checkExpose(l, spec.expose));
  if (spec.hairpin && spec.expose === undefined) add('hairpin', 'hairpin needs an exposed address: LAN clients dial it');
  return out;
}
