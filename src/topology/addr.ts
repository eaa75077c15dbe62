import ipaddr from 'ipaddr.js';
import type { Cidr, PortRange } from './types.js';

/** Strict dotted-quad IPv4 check (no shorthand like `10.1`, no leading zeros). */
export function isIPv4(text: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(text);
}

/** IPv4 address as an unsigned 32-bit number. */
export function ipToInt(address: string): number {
  return ipaddr.IPv4.parse(address).toByteArray().reduce((n, b) => n * 256 + b, 0);
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
