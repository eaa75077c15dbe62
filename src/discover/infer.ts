// From what the gateways report to a proposed topology: gateways with their interfaces, sites from
// LAN subnets, networks from subnets several gateways share and from public addresses, a backend
// per gateway. Pure; every guess carries a note saying what it was inferred from.
import { contains, ipToInt, networkOf, parseCidr } from '../topology/addr.js';
import type { Backend, Cidr } from '../topology/types.js';
import { formatCidr } from '../topology/types.js';
import type { GatewayReport } from './report.js';

/** A proposed site. */
export interface SiteProposal {
  name: string;
  subnets: Cidr[];
  note: string;
}

/** A proposed network. */
export interface NetworkProposal {
  name: string;
  public: boolean;
  subnet?: Cidr;
  note: string;
}

/** A proposed gateway interface. */
export interface InterfaceProposal {
  name: string;
  address: string;
  prefix: number;
  attach: { kind: 'site' | 'network'; name: string };
  note?: string;
}

/** A proposed gateway. */
export interface GatewayProposal {
  name: string;
  backend: Backend;
  interfaces: InterfaceProposal[];
  notes: string[];
}

/** The whole proposal. */
export interface Proposal {
  sites: SiteProposal[];
  networks: NetworkProposal[];
  gateways: GatewayProposal[];
}

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'].map((c) => parseCidr(c)!);
const IGNORED = ['127.0.0.0/8', '169.254.0.0/16'].map((c) => parseCidr(c)!);

/** Whether an address is public: not private (RFC 1918), not shared (RFC 6598), not loopback or link-local. */
export function isPublic(address: string): boolean {
  return !PRIVATE.some((c) => contains(c, address)) && !IGNORED.some((c) => contains(c, address));
}

/** A gateway's interfaces worth proposing: an IPv4 address that is not loopback or link-local. */
function usable(r: GatewayReport) {
  return r.interfaces
    .filter((i) => i.name !== 'lo')
    .map((i) => ({ i, a: i.addresses.find((x) => !IGNORED.some((c) => contains(c, x.address))) }))
    .filter((x): x is { i: (typeof x)['i']; a: { address: string; prefix: number } } => x.a !== undefined);
}

const cidrOf = (a: { address: string; prefix: number }): Cidr => ({ address: networkOf(a.address, a.prefix), prefix: a.prefix });
const key = (c: Cidr) => formatCidr(c);
const VPN_IF = /^(wg|tun|tap|ipsec|vti|ppp)/;

/** Picks a name not taken yet (`transit`, `transit-2`...). */
function unique(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

/** The backend to propose from the tools found, with a note when it is a choice. */
function backendOf(r: GatewayReport): { backend: Backend; note?: string } {
  const nft = r.tools.has('nft');
  const ipt = r.tools.has('iptables-restore') && r.tools.has('iptables-save');
  if (nft && !ipt) return { backend: 'nftables', note: 'nft found, iptables-restore not: nftables' };
  if (ipt && !nft) return { backend: 'iptables', note: 'iptables-restore found, nft not: iptables' };
  if (nft && ipt) return { backend: 'nftables', note: 'nft and iptables-restore both found: nftables proposed (CHECK: iptables if its firewall uses that)' };
  return { backend: 'iptables', note: 'CHECK: neither nft nor iptables-restore found; install one before apply' };
}

/** Proposes a topology from gateway reports (in the order given). */
export function infer(reports: GatewayReport[]): Proposal {
  const taken = new Set([...reports.map((r) => r.name), 'internet']);
  // Which gateways have an interface in each subnet.
  const members = new Map<string, { gateway: string; iface: string }[]>();
  for (const r of reports) for (const { i, a } of usable(r)) members.set(key(cidrOf(a)), [...(members.get(key(cidrOf(a))) ?? []), { gateway: r.name, iface: i.name }]);
  const where = (ms: { gateway: string; iface: string }[]) => ms.map((m) => `${m.gateway} ${m.iface}`).join(', ');

  const networks = new Map<string, NetworkProposal>();
  const sites: SiteProposal[] = [];
  const gateways: GatewayProposal[] = [];
  const publicMembers: string[] = [];
  const sharedName = new Map<string, string>();

  for (const r of reports) {
    const { backend, note } = backendOf(r);
    const notes = note ? [note] : [];
    if (r.ipForward === '0') notes.push('net.ipv4.ip_forward is 0 here: `natchain apply --enable-ip-forward` turns it on where a forward needs it');
    const lans = usable(r).filter(({ a }) => !isPublic(a.address) && (members.get(key(cidrOf(a)))?.length ?? 0) < 2);
    const base = r.name.replace(/^gw[-_.]?/, '');
    const interfaces: InterfaceProposal[] = [];
    for (const { i, a } of usable(r)) {
      const c = cidrOf(a);
      const extra = i.addresses.length > 1 ? `CHECK: ${i.name} has ${i.addresses.length} IPv4 addresses; natchain uses one per interface (the first)` : undefined;
      if (isPublic(a.address)) {
        publicMembers.push(`${r.name} ${i.name}`);
        interfaces.push({ name: i.name, address: a.address, prefix: a.prefix, attach: { kind: 'network', name: 'internet' }, ...(extra ? { note: extra } : {}) });
        continue;
      }
      const ms = members.get(key(c)) ?? [];
      const via = r.routes.filter((x) => x.dev === i.name && x.gateway && x.dst !== 'default' && contains(c, x.gateway));
      if (ms.length > 1 || via.length) {
        let name = sharedName.get(key(c));
        if (!name) {
          name = unique(ms.every((m) => VPN_IF.test(m.iface)) ? 'vpn' : 'transit', taken);
          sharedName.set(key(c), name);
          const why = ms.length > 1 ? `the subnet ${key(c)} is shared by ${where(ms)}` : `only ${r.name} was discovered on ${key(c)}, but it routes ${via.map((v) => v.dst).join(', ')} through it: CHECK the gateways behind it`;
          networks.set(name, { name, public: false, subnet: c, note: `inferred: ${why}` });
        }
        interfaces.push({ name: i.name, address: a.address, prefix: a.prefix, attach: { kind: 'network', name }, ...(extra ? { note: extra } : {}) });
        continue;
      }
      // A LAN: a private subnet only this gateway is on, with no router behind it.
      const name = unique(lans.length > 1 || !base || taken.has(base) ? `${base || r.name}-${i.name}` : base, taken);
      const routed = r.routes
        .filter((x) => x.dev === i.name && !x.gateway && x.dst !== 'default')
        .map((x) => parseCidr(x.dst.includes('/') ? x.dst : `${x.dst}/32`))
        .filter((x): x is Cidr => x !== null && !isPublic(x.address) && !contains(c, x.address));
      const subnets = [c, ...routed.map((x) => ({ address: networkOf(x.address, x.prefix), prefix: x.prefix }))].sort((x, y) => ipToInt(x.address) - ipToInt(y.address));
      const also = routed.length ? `; ${routed.map(formatCidr).join(', ')} routed on ${i.name} too` : '';
      sites.push({ name, subnets, note: `inferred: private subnet on ${r.name} ${i.name}, no other gateway on it${also}; CHECK the name` });
      interfaces.push({ name: i.name, address: a.address, prefix: a.prefix, attach: { kind: 'site', name }, ...(extra ? { note: extra } : {}) });
    }
    if (interfaces.length < 2) notes.push(`CHECK: only ${interfaces.length} usable interface(s) found; a gateway needs two (on two sites or networks)`);
    gateways.push({ name: r.name, backend, interfaces, notes });
  }
  if (publicMembers.length) networks.set('internet', { name: 'internet', public: true, note: `inferred: public addresses on ${publicMembers.join(', ')}` });
  const nets = [...networks.values()].sort((a, b) => Number(b.public) - Number(a.public) || a.name.localeCompare(b.name));
  return { sites, networks: nets, gateways };
}
