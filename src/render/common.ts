// What both renderers share: checking intents, putting them in a canonical order, comments.
// Everything here is pure; the renderers turn the checked intents into text.
//
// Cost model: a gateway can carry tens of thousands of intents, and a rollout renders every
// gateway of a topology, so everything here is linear (plus one sort) in the number of intents
// and allocates little per intent: values are checked by hand-written scanners rather than
// regexes, messages are only built for intents that have a problem, and sweeps over port ranges
// never rescan what they have already passed.
import { NatchainError } from '../errors.js';
import { intToIp, parseIPv4 } from '../topology/addr.js';
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

// Whether a whole name is made of COMMENT_SAFE characters (the usual case: nothing to encode).
function commentSafe(name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    // 0-9, A-Z, a-z, '.', '_', '-'
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 45)) return false;
  }
  return true;
}

/** The comment naming a forward on every rule made for it: `natchain:<name>`, with unusual bytes %XX-encoded. */
export function forwardComment(forward: string): string {
  let out = `${COMMENT_PREFIX}:`;
  if (commentSafe(forward)) out += forward;
  else {
    for (const ch of forward) {
      if (COMMENT_SAFE.test(ch)) out += ch;
      else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
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
  if (!FORWARD_COMMENT_BODY.test(body)) return undefined;
  try {
    return decodeURIComponent(body);
  } catch {
    return undefined;
  }
}
const FORWARD_COMMENT_BODY = /^(?:[A-Za-z0-9._-]|%[0-9A-F]{2})*$/;

/** An IPv4 prefix, checked and masked (192.168.0.5/24 becomes 192.168.0.0/24, as the kernel would store it). */
export interface Prefix {
  network: number;
  prefix: number;
  /** `a.b.c.d/len`, the network address. */
  text: string;
}

/**
 * An intent after checking: what the renderers need, already in the kernel's own spelling. One
 * flat object with the same fields for every intent (absent ones are `undefined`): property reads
 * stay monomorphic however mixed the intents are, and a gateway with 50k intents holds 50k of
 * these rather than four times as many small objects.
 */
export interface CheckedIntent {
  forward: string;
  comment: string;
  proto: Proto;
  inIface: string;
  /** Undefined when any source is allowed (a /0 source counts as none: the kernel drops it too). */
  src: Prefix | undefined;
  /** The destination matched: address (text and number) and port range. */
  dstAddress: string;
  dstAddr: number;
  from: number;
  to: number;
  outIface: string;
  /** Where the DNAT sends it; `dnatPort` is undefined for a port range (the port is kept, only the address is rewritten). */
  dnatAddress: string;
  dnatAddr: number;
  dnatPort: number | undefined;
  /** The SNAT source address, when the hop must see the replies. */
  snatAddress: string | undefined;
  /** Position in the canonical order `checkIntents` returns (what `segments` lists covering intents by). */
  index: number;
}

// Linux interface names: what the topology schema allows, no wildcards (`+`, `*`), no quotes.
const IFNAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;

/**
 * A text assembled line by line, ending in a newline. Lines are joined into one flat string a few
 * hundred at a time: a ruleset of 100k rules kept as separate line strings until the end would keep
 * every line's rope of template pieces alive across garbage collections (and promote it), which
 * at that size costs more than building the text itself.
 */
export class Lines {
  private readonly chunks: string[] = [];
  private pending: string[] = [];

  push(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= 256) this.flush();
  }

  /** The text: every line followed by a newline. */
  text(): string {
    this.pending.push('');
    this.flush();
    return this.chunks.length === 1 ? this.chunks[0]! : this.chunks.join('\n');
  }

  private flush(): void {
    this.chunks.push(this.pending.join('\n'));
    this.pending = [];
  }
}

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
  const gwName = gateway.name;
  const ifaces = new Set<string>();
  // The gateway's own interface names that are also well-formed: the one-lookup fast path.
  const goodIfaces = new Set<string>();
  for (const i of gateway.interfaces) {
    ifaces.add(i.name);
    if (IFNAME_RE.test(i.name)) goodIfaces.add(i.name);
  }
  const list: CheckedIntent[] = [];
  for (const intent of intents) {
    const dp = intent.dst?.ports;
    const np = intent.dnat?.ports;
    const dstAddr = parseIPv4(intent.dst?.address);
    const dnatAddr = parseIPv4(intent.dnat?.address);
    const src = intent.src;
    const snat = intent.snat;
    let comment: string | undefined;
    let commentError: unknown;
    try {
      comment = forwardComment(String(intent.forward));
    } catch (e) {
      commentError = e;
    }
    const fine =
      intent.gateway === gwName &&
      (intent.proto === 'tcp' || intent.proto === 'udp') &&
      typeof intent.inIface === 'string' &&
      goodIfaces.has(intent.inIface) &&
      typeof intent.outIface === 'string' &&
      goodIfaces.has(intent.outIface) &&
      dstAddr >= 0 &&
      dnatAddr >= 0 &&
      (!snat || parseIPv4(snat.address) >= 0) &&
      (!src || (parseIPv4(src.address) >= 0 && Number.isInteger(src.prefix) && src.prefix >= 0 && src.prefix <= 32)) &&
      isPortRange(dp) &&
      isPortRange(np) &&
      comment !== undefined;
    if (!fine) {
      describeProblems(gateway, ifaces, intent, commentError, problems);
      continue;
    }
    const dSize = dp!.to - dp!.from;
    const nSize = np!.to - np!.from;
    if (dSize !== nSize) {
      problems.push(`${where(intent, gwName)}: dst ports ${dp!.from}-${dp!.to} and dnat ports ${np!.from}-${np!.to} differ in size`);
      continue;
    }
    if (dSize > 0 && dp!.from !== np!.from) {
      // Neither iptables-restore nor nft 1.0.6 can shift a range port by port portably, and a
      // plain range DNAT would pick any port of the range: refuse rather than mis-forward.
      problems.push(`${where(intent, gwName)}: a port range is forwarded unchanged; dst ${dp!.from}-${dp!.to} != dnat ${np!.from}-${np!.to}`);
      continue;
    }
    let prefix: Prefix | undefined;
    if (src && src.prefix > 0) {
      const len = src.prefix | 0;
      const size = 2 ** (32 - len);
      const network = Math.floor(parseIPv4(src.address) / size) * size;
      prefix = { network, prefix: len, text: `${intToIp(network)}/${len}` };
    }
    // Ports (and the prefix length above) are checked integers; `| 0` keeps them small integers
    // even when the solver computed them as floating-point numbers, so every checked intent has
    // the same field layout.
    list.push({
      forward: intent.forward,
      comment: comment!,
      proto: intent.proto,
      inIface: intent.inIface,
      src: prefix,
      dstAddress: intent.dst.address,
      dstAddr,
      from: dp!.from | 0,
      to: dp!.to | 0,
      outIface: intent.outIface,
      dnatAddress: intent.dnat.address,
      dnatAddr,
      dnatPort: dSize === 0 ? np!.from | 0 : undefined,
      snatAddress: snat ? snat.address : undefined,
      index: 0,
    });
  }
  list.sort(compareChecked);
  // Exact duplicates (same forward, same everything) would only produce dead duplicate rules.
  // The order compares every field, so duplicates are neighbours once sorted.
  let kept = 0;
  for (let n = 0; n < list.length; n++) {
    const i = list[n]!;
    if (kept > 0 && compareChecked(list[kept - 1]!, i) === 0) continue;
    i.index = kept;
    list[kept++] = i;
  }
  list.length = kept;
  for (const c of conflicts(list)) problems.push(c);
  if (problems.length > 0) {
    throw new RenderError(`cannot render rules for gateway ${gwName}: ${problems.length} bad intent${problems.length === 1 ? '' : 's'}`, problems);
  }
  return list;
}

function where(intent: Intent, gwName: string): string {
  return `forward ${JSON.stringify(intent.forward)} (${intent.proto}) on ${gwName}`;
}

// Every problem of one intent that failed the fast check, in a fixed order, each naming the intent.
function describeProblems(gateway: Gateway, ifaces: Set<string>, intent: Intent, commentError: unknown, problems: string[]): void {
  const at = where(intent, gateway.name);
  if (intent.gateway !== gateway.name) problems.push(`${at}: intent is for gateway ${JSON.stringify(intent.gateway)}`);
  if (intent.proto !== 'tcp' && intent.proto !== 'udp') problems.push(`${at}: unknown protocol ${JSON.stringify(intent.proto)}`);
  for (const [what, name] of [['inIface', intent.inIface], ['outIface', intent.outIface]] as const) {
    if (typeof name !== 'string' || !IFNAME_RE.test(name)) problems.push(`${at}: ${what} ${JSON.stringify(name)} is not an interface name`);
    else if (!ifaces.has(name)) problems.push(`${at}: ${what} ${name} is not an interface of ${gateway.name}`);
  }
  for (const [what, addr] of [
    ['dst.address', intent.dst?.address],
    ['dnat.address', intent.dnat?.address],
    ...(intent.snat ? [['snat.address', intent.snat.address] as const] : []),
    ...(intent.src ? [['src.address', intent.src.address] as const] : []),
  ] as const) {
    if (parseIPv4(addr) < 0) problems.push(`${at}: ${what} ${JSON.stringify(addr)} is not an IPv4 address`);
  }
  if (intent.src && !(Number.isInteger(intent.src.prefix) && intent.src.prefix >= 0 && intent.src.prefix <= 32)) {
    problems.push(`${at}: src prefix ${JSON.stringify(intent.src.prefix)} is not 0..32`);
  }
  for (const [what, r] of [['dst.ports', intent.dst?.ports], ['dnat.ports', intent.dnat?.ports]] as const) {
    if (!isPortRange(r)) problems.push(`${at}: ${what} ${JSON.stringify(r)} is not a port range in 1..65535`);
  }
  if (commentError !== undefined) problems.push(`${at}: ${(commentError as Error).message}`);
}

function isPortRange(r: { from: number; to: number } | undefined): boolean {
  return !!r && isPort(r.from) && isPort(r.to) && r.from <= r.to;
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Canonical order: by forward (a reader finds a forward's rules together), then what is matched;
 * longer source prefixes first. It compares every field, so 0 means "the same intent".
 */
function compareChecked(a: CheckedIntent, b: CheckedIntent): number {
  return (
    cmp(a.forward, b.forward) ||
    cmp(a.proto, b.proto) ||
    a.dstAddr - b.dstAddr ||
    a.from - b.from ||
    a.to - b.to ||
    cmp(a.inIface, b.inIface) ||
    (b.src === undefined ? 0 : b.src.prefix) - (a.src === undefined ? 0 : a.src.prefix) ||
    (a.src === undefined ? 0 : a.src.network) - (b.src === undefined ? 0 : b.src.network) ||
    cmp(a.outIface, b.outIface) ||
    a.dnatAddr - b.dnatAddr ||
    (a.dnatPort ?? 0) - (b.dnatPort ?? 0) ||
    cmp(a.snatAddress ?? '', b.snatAddress ?? '')
  );
}

function prefixesOverlap(a: Prefix | undefined, b: Prefix | undefined): boolean {
  if (!a || !b) return true;
  const p = Math.min(a.prefix, b.prefix);
  const size = 2 ** (32 - p);
  return Math.floor(a.network / size) === Math.floor(b.network / size);
}

// (address, port) of a DNAT as one number: equal exactly when both are equal (port 0: a range).
function dnatKey(i: CheckedIntent): number {
  return i.dnatAddr * 65536 + (i.dnatPort ?? 0);
}

/**
 * Two intents that catch the same packets (same protocol, interface and destination, overlapping
 * ports and sources) but send them to different places: the result would depend on rule order,
 * which nft's verdict maps do not have. Refuse them instead of guessing.
 */
function conflicts(list: readonly CheckedIntent[]): string[] {
  // Grouped by (address, protocol, interface) under one number, not a string built per intent.
  // Interfaces are the gateway's own (a handful), so the number stays far below 2^53.
  const ifaceIds = new Map<string, number>();
  for (const i of list) if (!ifaceIds.has(i.inIface)) ifaceIds.set(i.inIface, ifaceIds.size);
  const n = Math.max(1, ifaceIds.size);
  const groups = new Map<number, CheckedIntent[]>();
  for (const i of list) {
    const k = (i.dstAddr * 2 + (i.proto === 'tcp' ? 0 : 1)) * n + ifaceIds.get(i.inIface)!;
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  }
  const out: string[] = [];
  for (const g of groups.values()) {
    if (g.length > 1) sweep(g, out);
  }
  return out;
}

// Sweep one group by first port, comparing each intent with the earlier ones whose port ranges
// are still open. When no two ranges overlap (the usual case: one port per forward) that is all.
// Otherwise an intent leaves the open set once the sweep passes its last port (found with a
// second order, by last port, so nothing is rescanned), and when every open intent DNATs where
// the new one does (many sources of one forward on one port) there is nothing to compare at all.
function sweep(g: CheckedIntent[], out: string[]): void {
  const byFrom = g.slice().sort((a, b) => a.from - b.from);
  let reach = -1;
  let overlapping = false;
  for (const i of byFrom) {
    if (i.from <= reach) {
      overlapping = true;
      break;
    }
    reach = i.to;
  }
  if (!overlapping) return;
  const byTo = g.slice().sort((a, b) => a.to - b.to);
  const open = new Set<CheckedIntent>(); // insertion order = sweep order, as the messages list them
  const openPerDnat = new Map<number, number>();
  let expired = 0;
  for (const b of byFrom) {
    while (expired < byTo.length && byTo[expired]!.to < b.from) {
      const a = byTo[expired++]!;
      if (open.delete(a)) {
        const k = dnatKey(a);
        openPerDnat.set(k, openPerDnat.get(k)! - 1);
      }
    }
    const k = dnatKey(b);
    const same = openPerDnat.get(k) ?? 0;
    if (same < open.size) {
      for (const a of open) {
        if (!prefixesOverlap(a.src, b.src)) continue;
        if (a.dnatAddr === b.dnatAddr && a.dnatPort === b.dnatPort) continue;
        out.push(
          `forwards ${JSON.stringify(a.forward)} and ${JSON.stringify(b.forward)} both catch ${a.proto} to ${a.dstAddress} on ${a.inIface} ` +
            `but DNAT to ${a.dnatAddress}${a.dnatPort ? `:${a.dnatPort}` : ''} and ${b.dnatAddress}${b.dnatPort ? `:${b.dnatPort}` : ''}`,
        );
      }
    }
    open.add(b);
    openPerDnat.set(k, same + 1);
  }
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
 * Cuts the (protocol, destination address, port range) keys of the intents into disjoint
 * segments, each with every intent covering it (in canonical order), sorted by protocol, address
 * and first port. nft interval maps refuse overlapping keys, and a segment is exactly the unit a
 * verdict map can dispatch on. `intents` must be in canonical order (a subsequence of what
 * `checkIntents` returned).
 */
export function segments(intents: readonly CheckedIntent[]): Segment[] {
  // Grouped by (protocol, address) under one number: tcp before udp, addresses in numeric order.
  const groups = new Map<number, CheckedIntent[]>();
  for (const i of intents) {
    const gk = (i.proto === 'tcp' ? 0 : 4294967296) + i.dstAddr;
    const g = groups.get(gk);
    if (g) g.push(i);
    else groups.set(gk, [i]);
  }
  const keys = [...groups.keys()].sort((a, b) => a - b);
  const out: Segment[] = [];
  for (const k of keys) cut(groups.get(k)!, out);
  return out;
}

// Sweeps one (protocol, address) group from port to port with the intents whose range is open.
function cut(items: CheckedIntent[], out: Segment[]): void {
  const first = items[0]!;
  const proto = first.proto;
  const address = first.dstAddress;
  const addr = first.dstAddr;
  // By first port, equal first ports in canonical order.
  const byFrom = items.length > 1 ? items.slice().sort((a, b) => a.from - b.from || a.index - b.index) : items;
  // The usual case: no two ranges share a port, so each intent is a segment of its own.
  let disjoint = true;
  for (let n = 1; n < byFrom.length; n++) {
    if (byFrom[n]!.from <= byFrom[n - 1]!.to) {
      disjoint = false;
      break;
    }
  }
  if (disjoint) {
    for (const i of byFrom) out.push({ proto, address, addr, from: i.from, to: i.to, intents: [i] });
    return;
  }
  // Every boundary: each range's first port and the port after its last, sorted (repeats are skipped below).
  const bounds = new Float64Array(byFrom.length * 2);
  for (let n = 0; n < byFrom.length; n++) {
    bounds[2 * n] = byFrom[n]!.from;
    bounds[2 * n + 1] = byFrom[n]!.to + 1;
  }
  bounds.sort();
  const open: CheckedIntent[] = [];
  let next = 0;
  for (let p = 0; p + 1 < bounds.length; p++) {
    const from = bounds[p]!;
    if (bounds[p + 1] === from) continue; // a repeated boundary: the segment starts at its last copy
    const to = bounds[p + 1]! - 1;
    while (next < byFrom.length && byFrom[next]!.from <= from) open.push(byFrom[next++]!);
    let kept = 0;
    for (const it of open) if (it.to >= from) open[kept++] = it;
    open.length = kept;
    if (kept === 0) continue;
    const covering = kept === 1 ? [open[0]!] : open.slice().sort((a, b) => a.index - b.index);
    out.push({ proto, address, addr, from, to, intents: covering });
  }
}
