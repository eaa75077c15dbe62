// Gateway facts: what a gateway really is (its interfaces and addresses, the netfilter tools it
// has, net.ipv4.ip_forward), read in the same exec as the transaction's prepare step and as the
// read-only inspect of plan/status, and compared with what the topology says it is. A gateway
// whose interfaces or addresses differ is refused before anything changes anywhere.
import type { Backend, Gateway } from '../topology/types.js';

/** The section name the facts are printed under (`sec facts; facts` in a remote script). */
export const FACTS_SECTION = 'facts';

/**
 * A POSIX sh function `facts` that prints the facts as `key=value` lines; scripts define it once and
 * call it after `sec facts`. Read-only; prints nothing that comes from user input.
 */
export const FACTS_SHELL = String.raw`
facts() {
  # Shell builtins but for ip itself (issue 12: one process, not eight): read, command -v, and the
  # JSON's lines joined by splitting on newlines and printing "$*" with an empty IFS.
  f=; if [ -r /proc/sys/net/ipv4/ip_forward ]; then IFS= read -r f < /proc/sys/net/ipv4/ip_forward || :; fi
  printf 'ip_forward=%s
' "$f"
  for t in nft iptables-restore iptables-save ip; do printf 'tool=%s ' "$t"; command -v "$t" 2>/dev/null || printf '
'; done
  a=$(ip -j addr show 2>/dev/null) || a=
  set -f; IFS='
'; set -- $a; IFS=; printf 'addr=%s
' "$*"; unset IFS; set +f
}
`;

/** One interface as the gateway reports it. */
export interface LiveInterface {
  name: string;
  /** Administratively up (the UP flag). */
  up: boolean;
  /** IPv4 addresses with their prefix lengths. */
  addresses: Array<{ address: string; prefix: number }>;
}

/** What a gateway reported about itself. */
export interface GatewayFacts {
  interfaces: LiveInterface[];
  /** Path of each tool found (`nft`, `iptables-restore`, `iptables-save`, `ip`); absent: not installed. */
  tools: Map<string, string>;
  /** `/proc/sys/net/ipv4/ip_forward` ('' when unreadable). */
  ipForward: string;
}

/** One way a gateway differs from its topology. */
export interface FactMismatch {
  gateway: string;
  kind: 'interface-missing' | 'address-mismatch' | 'tool-missing' | 'unreadable';
  /** The topology's interface, when it is about one. */
  interface?: string;
  /** `gw-b: interface eth1 has 10.0.1.2/24 in the topology but 10.0.9.2/24 on the gateway` */
  message: string;
}

/** Thrown by parseFacts for output that is not what FACTS_SHELL prints. */
export class FactsParseError extends Error {}

/** Parses the `facts` section; throws FactsParseError when it is missing or malformed. */
export function parseFacts(text: string | undefined): GatewayFacts {
  if (text === undefined) throw new FactsParseError('the gateway did not report its facts');
  const tools = new Map<string, string>();
  let ipForward = '';
  let addr: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('ip_forward=')) ipForward = line.slice('ip_forward='.length).trim();
    else if (line.startsWith('tool=')) {
      const [name, ...path] = line.slice('tool='.length).split(' ');
      const p = path.join(' ').trim();
      if (name && p) tools.set(name, p);
    } else if (line.startsWith('addr=')) addr = line.slice('addr='.length).trim();
  }
  if (addr === undefined) throw new FactsParseError('the gateway did not report its addresses');
  if (addr === '') throw new FactsParseError(tools.has('ip') ? '`ip -j addr` printed nothing' : 'the `ip` command (iproute2) is not installed');
  return { interfaces: parseIpAddrJson(addr), tools, ipForward };
}

/** Parses `ip -j addr show` (IPv4 addresses only are kept). */
export function parseIpAddrJson(json: string): LiveInterface[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new FactsParseError(`cannot read \`ip -j addr\`: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new FactsParseError('`ip -j addr` did not print a list');
  const out: LiveInterface[] = [];
  for (const raw of data) {
    if (typeof raw !== 'object' || raw === null) continue;
    const l = raw as { ifname?: unknown; flags?: unknown; addr_info?: unknown };
    if (typeof l.ifname !== 'string') continue;
    const flags = Array.isArray(l.flags) ? l.flags : [];
    const addresses: LiveInterface['addresses'] = [];
    for (const a of Array.isArray(l.addr_info) ? l.addr_info : []) {
      const ai = a as { family?: unknown; local?: unknown; prefixlen?: unknown };
      if (ai.family === 'inet' && typeof ai.local === 'string' && typeof ai.prefixlen === 'number') addresses.push({ address: ai.local, prefix: ai.prefixlen });
    }
    out.push({ name: l.ifname, up: flags.includes('UP'), addresses });
  }
  return out;
}

/** The tools a backend needs on the gateway. */
export function toolsFor(backend: Backend): string[] {
  return backend === 'iptables' ? ['iptables-restore', 'iptables-save'] : ['nft'];
}

const cidr = (a: { address: string; prefix: number }) => `${a.address}/${a.prefix}`;

/** Every way the gateway differs from what the topology says (none: it is what the topology says). */
export function compareFacts(gateway: Gateway, facts: GatewayFacts): FactMismatch[] {
  const out: FactMismatch[] = [];
  const g = gateway.name;
  const live = new Map(facts.interfaces.map((i) => [i.name, i]));
  for (const want of gateway.interfaces) {
    const wanted = `${want.address}/${want.prefix}`;
    const have = live.get(want.name);
    if (!have) {
      const holder = facts.interfaces.find((i) => i.addresses.some((a) => a.address === want.address));
      const where = holder ? `; ${want.address} is on ${holder.name} (${holder.addresses.map(cidr).join(', ')})` : '';
      out.push({ gateway: g, kind: 'interface-missing', interface: want.name, message: `${g}: interface ${want.name} (${wanted} in the topology) does not exist on the gateway${where}` });
      continue;
    }
    if (have.addresses.some((a) => a.address === want.address && a.prefix === want.prefix)) continue;
    const there = have.addresses.length ? have.addresses.map(cidr).join(', ') : 'no IPv4 address';
    out.push({ gateway: g, kind: 'address-mismatch', interface: want.name, message: `${g}: interface ${want.name} has ${wanted} in the topology but ${there} on the gateway` });
  }
  const missing = toolsFor(gateway.backend).filter((t) => !facts.tools.has(t));
  if (missing.length) {
    const other = gateway.backend === 'iptables' ? (facts.tools.has('nft') ? ' (nft is: backend nftables?)' : '') : facts.tools.has('iptables-restore') ? ' (iptables-restore is: backend iptables?)' : '';
    out.push({ gateway: g, kind: 'tool-missing', message: `${g}: backend ${gateway.backend} needs ${missing.join(' and ')}, not found on the gateway${other}` });
  }
  return out;
}

/** Parses and compares in one step; a report that cannot be read is itself a mismatch (natchain cannot vouch for the gateway). */
export function checkFacts(gateway: Gateway, section: string | undefined): { facts?: GatewayFacts; mismatches: FactMismatch[] } {
  let facts: GatewayFacts;
  try {
    facts = parseFacts(section);
  } catch (e) {
    if (!(e instanceof FactsParseError)) throw e;
    return { mismatches: [{ gateway: gateway.name, kind: 'unreadable', message: `${gateway.name}: cannot check the gateway against the topology: ${e.message}` }] };
  }
  return { facts, mismatches: compareFacts(gateway, facts) };
}
