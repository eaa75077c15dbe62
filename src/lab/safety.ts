import { NatchainError } from '../errors.js';
import { runOk } from './sys.js';

/**
 * What the lab must never change: the links, addresses and routes of the namespace natchain
 * runs in (the host's root namespace). One canonical line per item, sorted, with the fields
 * that change by themselves (counters, lifetimes, operational state) left out.
 */
export interface RootSnapshot {
  links: string[];
  addresses: string[];
  routes: string[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  link_type?: string;
  address?: string;
  master?: string;
  link?: string;
  link_netnsid?: number;
}
interface IpAddr {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}
interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  type?: string;
  prefsrc?: string;
  metric?: number;
}

/** Reads the root namespace's links, addresses and routes (the process's own network namespace). */
export async function rootSnapshot(): Promise<RootSnapshot> {
  const ip = async (args: string[]) => JSON.parse((await runOk('ip', ['-j', ...args], `ip ${args.join(' ')}`)).stdout || '[]') as unknown[];
  const [links, addrs, r4, r6] = await Promise.all([
    ip(['link', 'show']) as Promise<IpLink[]>,
    ip(['addr', 'show']) as Promise<IpAddr[]>,
    ip(['-4', 'route', 'show', 'table', 'all']) as Promise<IpRoute[]>,
    ip(['-6', 'route', 'show', 'table', 'all']) as Promise<IpRoute[]>,
  ]);
  const route = (fam: string) => (r: IpRoute) =>
    [fam, r.type ?? 'unicast', r.dst ?? '', r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', `table ${r.table ?? 'main'}`, r.protocol ?? '', r.scope ?? '', r.prefsrc ?? '', r.metric ?? '']
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
  return {
    links: links
      .map((l) => `${l.ifindex} ${l.ifname} ${l.link_type ?? ''} ${l.address ?? ''} ${l.master ? `master ${l.master}` : ''} ${l.link ? `link ${l.link}` : ''} ${l.link_netnsid !== undefined ? `netnsid ${l.link_netnsid}` : ''}`.replace(/\s+/g, ' ').trim())
      .sort(),
    addresses: addrs.flatMap((a) => (a.addr_info ?? []).map((i) => `${a.ifname} ${i.family} ${i.local}/${i.prefixlen} ${i.scope ?? ''}`.trim())).sort(),
    routes: [...r4.map(route('inet')), ...r6.map(route('inet6'))].sort(),
  };
}

/** Differences between two snapshots, as `+ line` / `- line` (empty when identical). */
export function diffSnapshots(before: RootSnapshot, after: RootSnapshot): string[] {
  const out: string[] = [];
  for (const k of ['links', 'addresses', 'routes'] as const) {
    const a = new Set(before[k]);
    const b = new Set(after[k]);
    for (const x of before[k]) if (!b.has(x)) out.push(`- ${k}: ${x}`);
    for (const x of after[k]) if (!a.has(x)) out.push(`+ ${k}: ${x}`);
  }
  return out;
}

/** Throws a LAB error when the root namespace changed between two snapshots. */
export function assertRootUnchanged(before: RootSnapshot, after: RootSnapshot, during: string): void {
  const diff = diffSnapshots(before, after);
  if (diff.length) {
    throw new NatchainError('LAB', `safety check failed: the host's root network namespace changed during ${during}`, [
      ...diff,
      'the lab never adds links, addresses or routes there; if something else on this host changed them, run it again',
    ]);
  }
}
