import { unknownName } from '../../suggest.js';
import type { Allocation, Chain } from '../../solve/types.js';
import { formatCidr, formatPorts, formatSource } from '../../topology/types.js';
import { escapeControl } from '../../escape.js';
import { describeIntent } from '../describe.js';
import { loadProject } from '../io.js';
import { c, streamJson, table } from '../output.js';
import { printWarnings, strictError } from '../warnings.js';

const ORIGIN: Record<Allocation['origin'], string> = {
  expose: 'exposed',
  pin: 'pinned',
  lock: 'from lock',
  new: 'new: not in the lock yet',
  target: "the target's own ports",
};

/** Runs `natchain solve`. */
export async function run(file: string, opts: { forward?: string; json?: boolean; strict?: boolean }): Promise<void> {
  const p = await loadProject(file);
  const s = p.solution;
  const strict = strictError(s.warnings, opts.strict);
  if (strict) throw strict;
  if (opts.forward && !p.topology.forwards.some((f) => f.name === opts.forward)) throw unknownName('forward', opts.forward, p.topology.forwards.map((f) => f.name), file);
  const keep = <T extends { forward: string }>(xs: T[]) => (opts.forward ? xs.filter((x) => x.forward === opts.forward) : xs);
  const intents = Object.fromEntries(Object.entries(s.intents).map(([g, is]) => [g, keep(is)]));
  if (opts.json) {
    return streamJson({ file, chains: keep(s.chains), allocations: keep(s.allocations), intents, lockUpToDate: !p.lockChanged, warnings: s.warnings, notes: notes() });
  }
  printWarnings(opts.forward ? s.warnings.filter((w) => w.message.startsWith(`forward "${opts.forward}"`)) : s.warnings);
  const publics = new Set(p.topology.networks.filter((n) => n.public).map((n) => n.name));
  const networkLabel = (n: string) => (publics.has(n) ? c.yellow(`${n} (public)`) : n);
  // Grouped once: per-forward filtering of 100k chains would be quadratic.
  const chainsOf = groupBy(s.chains, (ch) => ch.forward);
  const portsOf = groupBy(s.allocations, (a) => a.forward);
  const out: string[] = [];
  for (const f of p.topology.forwards) {
    if (opts.forward && f.name !== opts.forward) continue;
    const head = `${c.bold('forward ' + f.name)}  ${f.protos.join('+')}  -> ${f.to.address}:${formatPorts(f.to.ports)}`;
    out.push(head);
    if (f.description) out.push(`  ${c.dim(described(f.description))}`);
    for (const chain of chainsOf.get(f.name) ?? []) out.push(...chainLines(chain, networkLabel));
    const ports = (portsOf.get(f.name) ?? []).filter((a) => a.origin !== 'target');
    for (const a of ports) out.push(`  port ${a.gateway} ${a.address}:${formatPorts(a.ports)} (${a.origin === 'new' ? c.yellow(ORIGIN[a.origin]) : ORIGIN[a.origin]})`);
    out.push('');
  }
  out.push(c.bold('rules per gateway'));
  for (const g of p.topology.gateways) {
    const is = intents[g.name] ?? [];
    if (opts.forward && is.length === 0) continue;
    out.push(`  ${c.cyan(g.name)} (${g.backend})${g.description ? c.dim(`  ${described(g.description)}`) : ''}${is.length ? '' : c.dim('  nothing to do')}`);
    const rows = is.flatMap((i) => describeIntent(i).map((d) => ['   ', colourKind(d.kind), d.text, c.dim(i.forward)]));
    if (rows.length) out.push(table(rows, 1));
  }
  out.push('', ...notes().map((n) => c.dim(`note: ${n}`)));
  if (p.lockChanged) out.push(c.yellow(`note: ${p.lockFile} is ${p.lockExists ? 'out of date' : 'missing'}; \`natchain lock ${file}\` records the hop ports`));
  process.stdout.write(out.join('\n') + '\n');
}

function chainLines(chain: Chain, networkLabel: (name: string) => string): string[] {
  const dial = `${chain.dial.address}:${formatPorts(chain.dial.ports)}`;
  const snatted = chain.hops.filter((h) => h.snat).at(-1)?.snat?.address;
  const sees = snatted ?? "the client's own address";
  const lines = [`  from ${c.bold(formatSource(chain.source))}: dials ${dial}, ${chain.hops.length} gateway${chain.hops.length > 1 ? 's' : ''}, the target sees ${sees}`];
  const rows = chain.hops.map((h, n) => [
    `    ${n + 1}.`,
    c.cyan(h.gateway),
    `in ${h.inIface}${h.src ? ` from ${formatCidr(h.src)}` : ''}`,
    `${h.dst.address}:${formatPorts(h.dst.ports)}`,
    `${c.magenta('DNAT')} ${h.dnat.address}:${formatPorts(h.dnat.ports)}`,
    // The network each hop crosses to the next gateway (the last hop delivers into the target's site).
    `out ${h.outIface}${h.network ? ` over ${networkLabel(h.network)}` : ''}`,
    h.snat ? `${c.magenta('SNAT')} ${h.snat.address}` : '',
  ]);
  lines.push(table(rows, 1));
  return lines;
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

function colourKind(kind: string): string {
  return kind === 'ACCEPT' ? c.green(kind) : c.magenta(kind);
}

function notes(): string[] {
  return ['every gateway on a chain must route: net.ipv4.ip_forward=1 (apply checks it)'];
}

/** A `description` as solve shows it: the user's text on one line, control characters escaped. */
function described(text: string): string {
  return escapeControl(text.replace(/\s+/g, ' ').trim());
}
