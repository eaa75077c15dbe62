// The packets of a gateway's forwards as each netfilter hook natchain uses sees them, and the
// three-valued matching ("yes", "no", "maybe") the shadowing checks use to decide whether a foreign
// rule can catch them. Anything the matchers do not understand is "maybe": a rule natchain cannot
// read is assumed to be able to match.
import { parseAddressMatch, parseIPv4 } from '../topology/addr.js';
import type { Intent } from '../solve/types.js';
import type { Gateway, PortRange, Proto } from '../topology/types.js';

/** The hooks natchain's rules sit on. */
export type Hook = 'prerouting' | 'forward' | 'postrouting';

/** A forward's first packet (a new connection) at one hook of one gateway. */
export interface Flow {
  forward: string;
  hook: Hook;
  proto: Proto;
  /** Interface it arrives on / leaves by (unknown at that hook: undefined). */
  iif?: string;
  oif?: string;
  /** Allowed sources (undefined: any address). */
  src?: { address: string; prefix: number };
  dst: string;
  dport: PortRange;
  /** The destination is one of the gateway's own addresses (addrtype LOCAL, fib daddr type local). */
  local: boolean;
  /** conntrack has DNATed it already (forward and postrouting, after natchain's DNAT). */
  dnatted: boolean;
}

/** The flows of a gateway's intents at every hook (postrouting only where natchain SNATs). */
export function flowsOf(gateway: Gateway, intents: readonly Intent[]): Flow[] {
  const own = new Set(gateway.interfaces.map((i) => i.address));
  const out: Flow[] = [];
  for (const i of intents) {
    const src = i.src ? { src: i.src } : {};
    out.push({ forward: i.forward, hook: 'prerouting', proto: i.proto, iif: i.inIface, ...src, dst: i.dst.address, dport: i.dst.ports, local: own.has(i.dst.address), dnatted: false });
    const after = { proto: i.proto, ...src, dst: i.dnat.address, dport: i.dnat.ports, local: own.has(i.dnat.address), dnatted: true };
    out.push({ forward: i.forward, hook: 'forward', iif: i.inIface, oif: i.outIface, ...after });
    if (i.snat) out.push({ forward: i.forward, hook: 'postrouting', oif: i.outIface, ...after });
  }
  return out;
}

/** Three-valued match. */
export type Tri = 'yes' | 'no' | 'maybe';

/** And of matches: any "no" is no, all "yes" is yes. */
export function and(a: Tri, b: Tri): Tri {
  return a === 'no' || b === 'no' ? 'no' : a === 'yes' && b === 'yes' ? 'yes' : 'maybe';
}

/** Negation ("maybe" stays). */
export function not(a: Tri): Tri {
  return a === 'yes' ? 'no' : a === 'no' ? 'yes' : 'maybe';
}

const tri = (b: boolean): Tri => (b ? 'yes' : 'no');

/** An interface name against a pattern (`eth+` for iptables, `eth*` for nft); unknown interface: maybe. */
export function matchIface(pattern: string, name: string | undefined): Tri {
  if (name === undefined) return 'maybe';
  const wild = pattern.endsWith('+') || pattern.endsWith('*');
  return tri(wild ? name.startsWith(pattern.slice(0, -1)) : name === pattern);
}

/** `10.0.0.0/8`, `10.0.0.0/255.0.0.0` or `10.1.2.3` as a numeric range; undefined when unreadable. */
export function cidrRange(text: string): { lo: number; hi: number } | undefined {
  const m = parseAddressMatch(text);
  return m && { lo: m.network, hi: m.network + 2 ** (32 - m.prefix) - 1 };
}

/** A rule's address range against the flow's exact destination. */
export function matchDst(range: { lo: number; hi: number } | undefined, dst: string): Tri {
  if (!range) return 'maybe';
  const d = parseIPv4(dst);
  return tri(d >= range.lo && d <= range.hi);
}

/** A rule's address range against the flow's allowed sources: yes when it covers them all, no when it covers none. */
export function matchSrc(range: { lo: number; hi: number } | undefined, src: Flow['src']): Tri {
  if (!range) return 'maybe';
  const s = src ? cidrRange(`${src.address}/${src.prefix}`) : { lo: 0, hi: 2 ** 32 - 1 };
  if (!s) return 'maybe';
  if (range.lo <= s.lo && range.hi >= s.hi) return 'yes';
  return range.hi < s.lo || range.lo > s.hi ? 'no' : 'maybe';
}

/** A rule's port range against the flow's destination ports. */
export function matchPorts(lo: number, hi: number, ports: PortRange): Tri {
  if (Number.isNaN(lo) || Number.isNaN(hi)) return 'maybe';
  if (lo <= ports.from && hi >= ports.to) return 'yes';
  return hi < ports.from || lo > ports.to ? 'no' : 'maybe';
}

/** Any of several matches (a set or a list): yes if one is yes, no if all are no. */
export function any(list: Tri[]): Tri {
  return list.includes('yes') ? 'yes' : list.every((t) => t === 'no') ? 'no' : 'maybe';
}

/** A protocol by name or number against the flow's. */
export function matchProto(p: string | number, proto: Proto): Tri {
  const v = String(p).toLowerCase();
  if (v === 'all' || v === '0') return 'yes';
  const num = proto === 'tcp' ? '6' : '17';
  return tri(v === proto || v === num);
}
