import type { Cidr, PortRange } from './types.js';

/** Strict dotted-quad IPv4 check (no shorthand like `10.1`, no leading zeros). */
export function isIPv4(text: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(text);
}

/** IPv4 address (already validated) as an unsigned 32-bit number; hand-rolled because it is on the hot path. */
export function ipToInt(address: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < address.length; i++) {
    const ch = address.charCodeAt(i);
    if (ch === 46) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (ch - 48);
  }
  return n * 256 + octet;
}

/** Unsigned 32-bit number as a dotted quad. */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses `a.b.c.d/len`; `null` when malformed. Does not require the host bits to be zero. */
export function parseCidr(text: string): { address: string; prefix: number } | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1]!)) return null;
  const prefix = Number(m[2]);
  return prefix <= 32 ? { address: m[1]!, prefix } : null;
}

/** The network address of `address/prefix`. */
export function networkOf(address: string, prefix: number): string {
  const size = 2 ** (32 - prefix);
  return intToIp(Math.floor(ipToInt(address) / size) * size);
}

/** Whether `address` lies inside `cidr`. */
export function contains(cidr: Cidr, address: string): boolean {
  return networkOf(address, cidr.prefix) === cidr.address;
}

/** Whether two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return networkOf(a.address, p) === networkOf(b.address, p);
}

/**
 * Finds which of many non-overlapping prefixes holds an address, in O(log n): site lookups
 * for 100k forwards across 1k sites must not scan every site.
 */
export class PrefixIndex<T> {
  private entries: { start: number; end: number; value: T }[] = [];
  private sorted = true;

  /** Adds a prefix (callers keep them disjoint; overlaps are reported by `overlapping`). */
  add(c: Cidr, value: T): void {
    const start = ipToInt(c.address);
    this.entries.push({ start, end: start + 2 ** (32 - c.prefix) - 1, value });
    this.sorted = false;
  }

  /** The value of the prefix holding `address`, if any. */
  find(address: string): T | undefined {
    this.sort();
    const n = ipToInt(address);
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.entries[mid]!;
      if (n < e.start) hi = mid - 1;
      else if (n > e.end) lo = mid + 1;
      else return e.value;
    }
    return undefined;
  }

  private sort(): void {
    if (!this.sorted) this.entries.sort((a, b) => a.start - b.start || b.end - a.end);
    this.sorted = true;
  }
}

/** Parses `80` or `8000-8010` (inclusive); `null` when malformed or outside 1..65535. */
export function parsePorts(text: string | number): PortRange | null {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(text).trim());
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || from > to) return null;
  return { from, to };
}

/** Parses `host:port` / `host:from-to` / `host` (ports then undefined); `null` when malformed. */
export function parseEndpoint(text: string): { address: string; ports?: PortRange } | null {
  const m = /^([\d.]+)(?::(.+))?$/.exec(text.trim());
  if (!m || !isIPv4(m[1]!)) return null;
  if (m[2] === undefined) return { address: m[1]! };
  const ports = parsePorts(m[2]);
  return ports ? { address: m[1]!, ports } : null;
}

/** Number of ports in a range. */
export function rangeSize(r: PortRange): number {
  return r.to - r.from + 1;
}

/** Whether two port ranges share a port. */
export function rangesOverlap(a: PortRange, b: PortRange): boolean {
  return a.from <= b.to && b.from <= a.to;
}
