// What both renderers share: checking intents, putting them in a canonical order, comments.
// Everything here is pure; the renderers turn the checked intents into text.
import { NatchainError } from '../errors.js';
import { intToIp, ipToInt, isIPv4 } from '../topology/addr.js';
import type { Gateway, Proto } from '../topology/types.js';
import type { Intent } from '../solve/types.js';

/** A renderer was handed intents it cannot turn into correct rules (a solver bug, never user input). */
export class RenderError extends NatchainError {
  constructor(message: string, details: string[] = []) {
    super('INTERNAL', message, details);
    this.name = 'RenderError';
  }
}

/** Prefix of every comment natchain writes; `natchain:<forward>` names the forward a rule serves. */
export const COMMENT_PREFIX = 'natchain';

/** nft refuses comments longer than 128 bytes (NFTNL_UDATA_COMMENT_MAXLEN); iptables allows 255. We hold both to the smaller. */
export const MAX_COMMENT_LENGTH = 128;

// Characters left as they are in a comment; anything else is %XX-encoded so a comment can never
// close its quotes, start a new line or carry a shell metacharacter, whatever name it is given.
const COMMENT_SAFE = /^[A-Za-z0-9._-]$/;

/** The comment naming a forward on every rule made for it: `natchain:<name>`, with unusual bytes %XX-encoded. */
export function forwardComment(forward: string): string {
  let out = `${COMMENT_PREFIX}:`;
  for (const ch of forward) {
    if (COMMENT_SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length > MAX_COMMENT_LENGTH) {
    throw new RenderError(`forward name too long for a rule comment: ${JSON.stringify(forward)}`, [
      `comments are limited to ${MAX_COMMENT_LENGTH} bytes, "${out.slice(0, 40)}..." has ${out.length}`,
    ]);
  }
  return out;
}

/** The forward a rule comment names, or `undefined` when the comment is not a natchain forward comment (drift checks use it). */
export function forwardFromComment(comment: string): string | undefined {
  const head = `${COMMENT_PREFIX}:`;
  if (!comment.startsWith(head)) return undefined;
  const body = comment.slice(head.length);
  if (!/^(?:[A-Za-z0-9._-]|%[0-9A-F]{2})*$/.test(body)) return undefined;
  try {
    return decodeURIComponent(body);
  } catch {
    return undefined;
  }
}

/** An IPv4 prefix, checked and masked (192.168.0.5/24 becomes 192.168.0.0/24, as the kernel would store it). */
export interface Prefix {
  network: number;
  prefix: number;
  /** `a.b.c.d/len`, the network address. */
  text: string;
}

/** An intent after checking: what the renderers need, already in the kernel's own spelling. */
export interface CheckedIntent {
  forward: string;
  comment: string;
  proto: Proto;
  inIface: string;
  /** Undefined when any source is allowed (a /0 source counts as none: the kernel drops it too). */
  src?: Prefix;
  dst: { address: string; addr: number; from: number; to: number };
  outIface: string;
  /** `port` is undefined for a port range: the port is kept, only the address is rewritten. */
  dnat: { address: string; addr: number; port?: number };
  snat?: { address: string };
}

// Linux interface names: what the topology schema allows, no wildcards (`+`, `*`), no quotes.
const IFNAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;

/** Formats a port range the iptables way (`81`, `8000:8010`). */
export function iptPorts(from: number, to: number): string {
  return from === to ? String(from) : `${from}:${to}`;
}

/** Formats a port range the nft way (`81`, `8000-8010`). */
export function nftPorts(from: number, to: number): string {
  return from === to ? String(from) : `${from}-${to}`;
}

/**
 * Checks every intent against the gateway and puts them in a canonical order, so the rendered
 * text depends only on the set of intents (not on the order the solver listed them in) and so
 * that no malformed value ever reaches a ruleset or the shell that loads it.
 */
export function checkIntents(gateway: Gateway, intents: readonly Intent[]): CheckedIntent[] {
  const problems: string[] = [];
  const ifaces = new Set(gateway.interfaces.map((i) => i.name));
  const out = new Map<string, CheckedIntent>();
  for (const intent of intents) {
    const where = `forward ${JSON.stringify(intent.forward)} (${intent.proto}) on ${gateway.name}`;
    const before = problems.length;
    if (intent.gateway !== gateway.name) problems.push(`${where}: intent is for gateway ${JSON.stringify(intent.gateway)}`);
    if (intent.proto !== 'tcp' && intent.proto !== 'udp') problems.push(`${where}: unknown protocol ${JSON.stringify(intent.proto)}`);
    for (const [what, name] of [['inIface', intent.inIface], ['outIface', intent.outIface]] as const) {
      if (typeof name !== 'string' || !IFNAME_RE.test(name)) problems.push(`${where}: ${what} ${JSON.stringify(name)} is not an interface name`);
      else if (!ifaces.has(name)) problems.push(`${where}: ${what} ${name} is not an interface of ${gateway.name}`);
    }
    for (const [what, addr] of [
      ['dst.address', intent.dst?.address],
      ['dnat.address', intent.dnat?.address],
      ...(intent.snat ? [['snat.address', intent.snat.address] as const] : []),
      ...(intent.src ? [['src.address', intent.src.address] as const] : []),
    ] as const) {
      if (typeof addr !== 'string' || !isIPv4(addr)) problems.push(`${where}: ${what} ${JSON.stringify(addr)} is not an IPv4 address`);
    }
    if (intent.src && !(Number.isInteger(intent.src.prefix) && intent.src.prefix >= 0 && intent.src.prefix <= 32)) {
      problems.push(`${where}: src prefix ${JSON.stringify(intent.src.prefix)} is not 0..32`);
    }
    const dp = intent.dst?.ports;
    const np = intent.dnat?.ports;
    for (const [what, r] of [['dst.ports', dp], ['dnat.ports', np]] as const) {
      if (!r || !isPort(r.from) || !isPort(r.to) || r.from > r.to) problems.push(`${where}: ${what} ${JSON.stringify(r)} is not a port range in 1..65535`);
    }
    let comment = '';
    try {
      comment = forwardComment(String(intent.forward));
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
    if (problems.length > before) continue;
    const dSize = dp!.to - dp!.from;
    const nSize = np!.to - np!.from;
    if (dSize !== nSize) {
      problems.push(`${where}: dst ports ${dp!.from}-${dp!.to} and dnat ports ${np!.from}-${np!.to} differ in size`);
      continue;
    }
    if (dSize > 0 && dp!.from !== np!.from) {
      // Neither iptables-restore nor nft 1.0.6 can shift a range port by port portably, and a
      // plain range DNAT would pick any port of the range: refuse rather than mis-forward.
      problems.push(`${where}: a port range is forwarded unchanged; dst ${dp!.from}-${dp!.to} != dnat ${np!.from}-${np!.to}`);
      continue;
    }
    let src: Prefix | undefined;
    if (intent.src && intent.src.prefix > 0) {
      const size = 2 ** (32 - intent.src.prefix);
      const network = Math.floor(ipToInt(intent.src.address) / size) * size;
      src = { network, prefix: intent.src.prefix, text: `${intToIp(network)}/${intent.src.prefix}` };
    }
    const checked: CheckedIntent = {
      forward: intent.forward,
      comment,
      proto: intent.proto,
      inIface: intent.inIface,
      ...(src ? { src } : {}),
      dst: { address: intent.dst.address, addr: ipToInt(intent.dst.address), from: dp!.from, to: dp!.to },
      outIface: intent.outIface,
      dnat: { address: intent.dnat.address, addr: ipToInt(intent.dnat.address), ...(dSize === 0 ? { port: np!.from } : {}) },
      ...(intent.snat ? { snat: { address: intent.snat.address } } : {}),
    };
    // Exact duplicates (same forward, same everything) would only produce dead duplicate rules.
    out.set(identity(checked), checked);
  }
  const list = [...out.values()].sort(compareChecked);
  problems.push(...conflicts(list));
  if (problems.length > 0) {
    throw new RenderError(`cannot render rules for gateway ${gateway.name}: ${problems.length} bad intent${problems.length === 1 ? '' : 's'}`, problems);
  }
  return list;
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function identity(i: CheckedIntent): string {
  return [i.forward, i.proto, i.inIface, i.src?.text ?? '', i.dst.address, i.dst.from, i.dst.to, i.outIface, i.dnat.address, i.dnat.port ?? '', i.snat?.address ?? ''].join('|');
}

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Canonical order: by forward (a reader finds a forward's rules together), then what is matched; longer source prefixes first. */
function compareChecked(a: CheckedIntent, b: CheckedIntent): number {
  return (
    cmp(a.forward, b.forward) ||
    cmp(a.proto, b.proto) ||
    cmp(a.dst.addr, b.dst.addr) ||
    cmp(a.dst.from, b.dst.from) ||
    cmp(a.dst.to, b.dst.to) ||
    cmp(a.inIface, b.inIface) ||
    cmp(b.src?.prefix ?? 0, a.src?.prefix ?? 0) ||
    cmp(a.src?.network ?? 0, b.src?.network ?? 0) ||
    cmp(a.outIface, b.outIface) ||
    cmp(a.dnat.addr, b.dnat.addr) ||
    cmp(a.dnat.port ?? 0, b.dnat.port ?? 0) ||
    cmp(a.snat?.address ?? '', b.snat?.address ?? '')
  );
}

function prefixesOverlap(a: Prefix | undefined, b: Prefix | undefined): boolean {
  if (!a || !b) return true;
  const p = Math.min(a.prefix, b.prefix);
  const size = 2 ** (32 - p);
  return Math.floor(a.network / size) === Math.floor(b.network / size);
}

/**
 * Two intents that catch the same packets (same protocol, interface and destination, overlapping
 * ports and sources) but send them to different places: the result would depend on rule order,
 * which nft's verdict maps do not have. Refuse them instead of guessing.
 */
function conflicts(list: readonly CheckedIntent[]): string[] {
  const groups = new Map<string, CheckedIntent[]>();
  for (const i of list) {
    const k = `${i.proto}|${i.inIface}|${i.dst.addr}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(i);
  }
  const out: string[] = [];
  for (const g of groups.values()) {
    // Sweep by first port: only intents whose port ranges overlap are compared (linear for the
    // usual case of distinct ports, however many forwards a gateway has).
    const byFrom = [...g].sort((a, b) => a.dst.from - b.dst.from);
    let active: CheckedIntent[] = [];
    for (const b of byFrom) {
      active = active.filter((a) => a.dst.to >= b.dst.from);
      for (const a of active) {
        if (!prefixesOverlap(a.src, b.src)) continue;
        if (a.dnat.addr === b.dnat.addr && a.dnat.port === b.dnat.port) continue;
        out.push(
          `forwards ${JSON.stringify(a.forward)} and ${JSON.stringify(b.forward)} both catch ${a.proto} to ${a.dst.address} on ${a.inIface} ` +
            `but DNAT to ${a.dnat.address}${a.dnat.port ? `:${a.dnat.port}` : ''} and ${b.dnat.address}${b.dnat.port ? `:${b.dnat.port}` : ''}`,
        );
      }
      active.push(b);
    }
  }
  return out;
}

/** One stretch of destination ports of one (protocol, address) and the intents that cover all of it. */
export interface Segment {
  proto: Proto;
  address: string;
  addr: number;
  from: number;
  to: number;
  intents: CheckedIntent[];
}

/**
 * Cuts the (protocol, address, port range) keys of the intents into disjoint segments, each with
 * every intent covering it (in canonical order). nft interval maps refuse overlapping keys, and a
 * segment is exactly the unit a verdict map can dispatch on.
 */
export function segments(intents: readonly CheckedIntent[], key: (i: CheckedIntent) => { address: string; addr: number; from: number; to: number }): Segment[] {
  const groups = new Map<string, { proto: Proto; address: string; addr: number; items: { i: CheckedIntent; from: number; to: number }[] }>();
  for (const i of intents) {
    const k = key(i);
    const gk = `${i.proto}|${k.addr}`;
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { proto: i.proto, address: k.address, addr: k.addr, items: [] }));
    g.items.push({ i, from: k.from, to: k.to });
  }
  const out: Segment[] = [];
  for (const g of groups.values()) {
    const points = [...new Set(g.items.flatMap((it) => [it.from, it.to + 1]))].sort((a, b) => a - b);
    // Sweep over the segments with the intents whose range is open: linear when ranges are disjoint.
    const byFrom = g.items.map((it, n) => ({ ...it, n })).sort((a, b) => a.from - b.from || a.n - b.n);
    let next = 0;
    let open: typeof byFrom = [];
    for (let p = 0; p + 1 < points.length; p++) {
      const from = points[p]!;
      const to = points[p + 1]! - 1;
      while (next < byFrom.length && byFrom[next]!.from <= from) open.push(byFrom[next++]!);
      open = open.filter((it) => it.to >= from);
      if (open.length === 0) continue;
      const covering = [...open].sort((a, b) => a.n - b.n).map((it) => it.i);
      out.push({ proto: g.proto, address: g.address, addr: g.addr, from, to, intents: covering });
    }
  }
  return out.sort((a, b) => cmp(a.proto, b.proto) || cmp(a.addr, b.addr) || cmp(a.from, b.from));
}
