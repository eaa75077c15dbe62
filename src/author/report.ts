// What an edit does, for a person (and as data for --json): each new chain hop by hop (hop ports,
// networks crossed, where SNAT happens, the source the server sees), warnings, and the per-gateway
// rule diff from the same engine as `natchain diff`. Pure; colours come in as a Paint.
import { buildState, diffStates, plain, type Diff, type Paint } from '../plan/index.js';
import type { Allocation, Chain, Hop } from '../solve/types.js';
import { describeSource, formatCidr, formatPorts, formatSource, type Topology } from '../topology/types.js';
import type { Authored, Compiled } from './author.js';

const ep = (e: { address: string; ports: { from: number; to: number } }) => `${e.address}:${formatPorts(e.ports)}`;

/** What a hop's interface is plugged into, e.g. `site-b` or `internet, public`. */
function segment(t: Topology, gateway: string, iface: string): { name: string; public: boolean } {
  const i = t.gateways.find((g) => g.name === gateway)?.interfaces.find((x) => x.name === iface);
  if (!i) return { name: '?', public: false };
  const pub = i.attach.kind === 'network' && Boolean(t.networks.find((n) => n.name === i.attach.name)?.public);
  return { name: i.attach.name, public: pub };
}

/** The source address the target sees at the end of a chain: the last SNAT on it, else the client's own. */
export function sourceSeen(chain: Chain): string | null {
  let seen: string | null = null;
  for (const h of chain.hops) if (h.snat) seen = h.snat.address;
  return seen;
}

/** The networks a chain crosses between gateways, in order. */
export function networksCrossed(t: Topology, chain: Chain): { name: string; public: boolean }[] {
  return chain.hops.slice(0, -1).map((h) => segment(t, h.gateway, h.outIface));
}

const ORIGIN: Record<Allocation['origin'], string> = { expose: 'exposed', pin: 'pinned', lock: 'kept from the lock', new: 'new, goes into the lock', target: "the target's own" };

/** One hop in two lines of at most ~76 columns. */
function hopLines(t: Topology, h: Hop, n: number, ports: Allocation[], p: Paint): string[] {
  const inSeg = segment(t, h.gateway, h.inIface);
  const outSeg = segment(t, h.gateway, h.outIface);
  const segText = (s: { name: string; public: boolean }) => `${s.name}${s.public ? ', public' : ''}`;
  const src = h.src ? ` from ${formatCidr(h.src)}` : '';
  const hopPort = ports.find((a) => a.gateway === h.gateway && a.address === h.dst.address && a.origin !== 'target');
  const portNote = hopPort ? p.dim(` (${ORIGIN[hopPort.origin]})`) : '';
  return [
    `  ${n}. ${p.cyan(h.gateway)}: in ${h.inIface} (${segText(inSeg)})${src}, out ${h.outIface} (${segText(outSeg)})`,
    `     ${ep(h.dst)}${portNote} -> DNAT ${ep(h.dnat)}${h.snat ? `, SNAT to ${h.snat.address}` : ''}`,
  ];
}

/** The chains of one forward, hop by hop. */
export function chainText(c: Compiled, forward: string, p: Paint = plain): string[] {
  const t = c.topology;
  const ports = c.solution.allocations.filter((a) => a.forward === forward);
  const out: string[] = [];
  for (const chain of c.solution.chains.filter((x) => x.forward === forward)) {
    const nets = networksCrossed(t, chain);
    const via = nets.length ? ` across ${nets.map((n) => n.name + (n.public ? ' (public)' : '')).join(', ')}` : '';
    out.push(`${p.bold('from ' + describeSource(chain.source))}: dials ${ep(chain.dial)} ${chain.protos.join('+')}${via}`);
    chain.hops.forEach((h, i) => out.push(...hopLines(t, h, i + 1, ports, p)));
    const seen = sourceSeen(chain);
    out.push(`  the server ${ep(chain.target)} sees ${seen ? `source ${seen} (SNAT by ${chain.hops.filter((h) => h.snat).at(-1)!.gateway})` : "the client's own address"}`);
  }
  return out;
}

/** Warnings about an edit's forwards: a target another forward already serves, and the diff's flags (a site-to-site chain newly across a public network among them). */
export function warningsOf(a: Authored, diff: Diff): string[] {
  const out: string[] = [];
  const t = a.after.topology;
  for (const name of a.names) {
    const f = t.forwards.find((x) => x.name === name);
    if (!f) continue;
    for (const other of t.forwards) {
      if (other.name === name || other.to.address !== f.to.address) continue;
      const overlap = other.to.ports.from <= f.to.ports.to && f.to.ports.from <= other.to.ports.to && other.protos.some((x) => f.protos.includes(x));
      if (overlap) out.push(`port ${ep(f.to)} is already forwarded by "${other.name}" (${ep(other.to)}): two forwards to one service`);
    }
  }
  out.push(...diff.flags.map((f) => f.message));
  return out;
}

/** The diff of the whole topology before and after the edit, through `natchain diff`'s engine. */
export function diffOf(a: Authored, file: string): Diff {
  const before = buildState({ label: `${file} (now)`, topology: a.before.topology, lock: a.lockIn, lockLabel: 'lock' });
  const after = buildState({ label: `${file} (edited)`, topology: a.after.topology, lock: a.lockIn, lockLabel: 'lock' });
  // Only the changed rules: on an 80-column terminal context lines push the chain off the screen.
  return diffStates(before, after, { context: 0 });
}

/** The per-gateway rule changes as indented, coloured lines. */
export function ruleDiffText(d: Diff, p: Paint = plain): string[] {
  const out: string[] = [];
  for (const g of d.gateways) {
    if (g.change === 'untouched') continue;
    out.push(`${p.bold(g.gateway)} (${g.backend}): ${p.green(`+${g.rulesAdded}`)} ${p.red(`-${g.rulesRemoved}`)} rules`);
    for (const line of g.diff.replace(/\n$/, '').split('\n')) {
      if (/^(---|\+\+\+)/.test(line)) continue;
      out.push('  ' + (line.startsWith('@@') ? p.dim(line) : line.startsWith('+') ? p.green(line) : line.startsWith('-') ? p.red(line) : line));
    }
  }
  if (!out.length) out.push(p.dim('no rule changes on any gateway'));
  return out;
}

/** Lock changes: ports added and freed, as `+ forward gw/addr port` lines. */
export function lockChanges(a: Authored): { added: string[]; freed: string[] } {
  const flat = (l: Authored['lock']) => new Set(Object.entries(l.ports).flatMap(([f, m]) => Object.entries(m).map(([k, v]) => `${f} ${k} ${v}`)));
  const [o, n] = [flat(a.lockIn), flat(a.lock)];
  return { added: [...n].filter((x) => !o.has(x)), freed: [...o].filter((x) => !n.has(x)) };
}

/** The whole report of an edit as data (the --json of `natchain forward`). */
export function reportJson(a: Authored, d: Diff) {
  return {
    forwards: a.names,
    chains: a.after.solution.chains.filter((c) => a.names.includes(c.forward)),
    allocations: a.after.solution.allocations.filter((x) => a.names.includes(x.forward)),
    warnings: warningsOf(a, d),
    lock: lockChanges(a),
    gateways: d.gateways.filter((g) => g.change !== 'untouched'),
    summary: d.summary.text,
  };
}

/**
 * The review of an edit as the wizard shows it and `natchain forward` prints it: the rule changes
 * per gateway first, then what a person decides on (each chain hop by hop, warnings, the lock's
 * ports, the summary), so on a small terminal the last screen above the prompt is the chain.
 */
export function reviewLines(a: Authored, d: Diff, p: Paint = plain): string[] {
  const out: string[] = [p.bold('rules per gateway'), ...ruleDiffText(d, p), ''];
  const verb = a.edit.kind === 'add' ? 'add' : a.edit.kind === 'edit' ? 'edit' : 'remove';
  for (const name of a.names) {
    out.push(p.bold(`${verb} forward ${name}`));
    if (a.edit.kind === 'remove') {
      const gone = a.before.solution.chains.filter((c) => c.forward === name);
      out.push(`  removes ${gone.length} chain${gone.length === 1 ? '' : 's'}: ${gone.map((c) => `from ${formatSource(c.source)} via ${c.hops.map((h) => h.gateway).join(' > ')}`).join('; ') || 'none'}`);
    } else out.push(...chainText(a.after, name, p));
  }
  const warnings = warningsOf(a, d);
  if (warnings.length) out.push(p.bold(p.yellow('warnings')), ...warnings.map((w) => p.yellow(`  ! ${w}`)));
  const lock = lockChanges(a);
  if (lock.added.length || lock.freed.length) out.push(p.bold('lock'), ...lock.added.map((x) => p.green(`  + ${x}`)), ...lock.freed.map((x) => p.red(`  - ${x} (freed)`)));
  out.push(d.summary.text);
  return out;
}

/** One forward as `forward list` and the wizard's list show it. */
export interface ForwardSummary {
  name: string;
  from: string[];
  to: string;
  proto: string;
  /** Where network clients dial (the exposure natchain solved), if any source is a network. */
  exposure: string | null;
  /** Per source, the gateways in order. */
  chains: { source: string; gateways: string[]; dial: string }[];
  /** The forward's `description`, as written (null when it has none). */
  description: string | null;
}

/** Every forward of a solved topology, summarised. */
export function forwardSummaries(c: Compiled): ForwardSummary[] {
  const chainsOf = new Map<string, Chain[]>();
  for (const ch of c.solution.chains) chainsOf.set(ch.forward, [...(chainsOf.get(ch.forward) ?? []), ch]);
  return c.topology.forwards.map((f) => {
    const chains = chainsOf.get(f.name) ?? [];
    const net = chains.find((ch) => ch.source.kind === 'network');
    return {
      name: f.name,
      from: f.from.map(describeSource),
      to: ep(f.to),
      proto: f.protos.length === 2 ? 'both' : f.protos[0]!,
      exposure: net ? ep(net.dial) : null,
      chains: chains.map((ch) => ({ source: formatSource(ch.source), gateways: ch.hops.map((h) => h.gateway), dial: ep(ch.dial) })),
      description: f.description ?? null,
    };
  });
}

/** A summary's chains in one short text: `site-b: gw-b>gw-a; internet: gw-a`. */
export function chainSummary(s: ForwardSummary): string {
  return s.chains.map((c) => `${c.source}: ${c.gateways.join('>')}`).join('; ');
}
