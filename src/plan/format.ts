import { diffArrays } from 'diff';
import { formatDiagnostic } from '../errors.js';
import type { Chain, Hop } from '../solve/types.js';
import { formatCidr, formatPorts, type PortRange } from '../topology/types.js';
import type { ChainChange, Diff, ModelChange } from './types.js';

/** The colours the text output uses; a chalk instance fits, and `plain` is for tests and pipes. */
export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const id = (s: string) => s;
/** No colours at all. */
export const plain: Paint = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

const ep = (e: { address: string; ports: PortRange }) => `${e.address}:${formatPorts(e.ports)}`;
const MARK = { added: '+', removed: '-', changed: '~' } as const;

/** The whole diff as text for a person: warnings, model, chains, gateway impact, then the summary line. */
export function formatDiff(d: Diff, p: Paint = plain): string {
  const out: string[] = [p.bold(`natchain diff ${d.old.label} -> ${d.new.label}`)];
  // The locks decide the hop ports: say which ones were used, so a port move can be traced.
  out.push(p.dim(`ports from: ${d.old.lock ?? 'no lock'} -> ${d.new.lock ?? 'no lock'}`));
  if (d.identical) {
    out.push(notes(d, p, false).join('\n'), d.summary.text);
    return out.filter((l) => l !== '').join('\n') + '\n';
  }
  if (d.flags.length) {
    out.push('', p.bold(p.red('Review carefully')));
    for (const f of d.flags) out.push(p.red(`  ! ${f.message}`));
  }
  if (d.model.length) {
    out.push('', p.bold('Model changes'));
    for (const m of d.model) out.push(...modelLines(m, p));
  }
  if (d.chains.length) {
    out.push('', p.bold('Chain changes'));
    for (const c of d.chains) out.push(...chainChangeLines(c, p));
  }
  out.push('', p.bold('Gateway impact'));
  const untouched: string[] = [];
  for (const g of d.gateways) {
    if (g.change === 'untouched') {
      untouched.push(`${g.gateway} (${g.backend})`);
      continue;
    }
    const what = g.change === 'changed' ? '' : g.change === 'added' ? ', new ruleset' : ', ruleset removed';
    out.push(`  ${p.cyan(g.gateway)} (${g.backend}): ${g.rulesAdded} rule${g.rulesAdded === 1 ? '' : 's'} added, ${g.rulesRemoved} removed${what}`);
    for (const line of g.diff.replace(/\n$/, '').split('\n')) out.push('    ' + colourPatchLine(line, p));
  }
  if (untouched.length) out.push(p.dim(`  untouched: ${untouched.join(', ')}`));
  const n = notes(d, p, true);
  if (n.length) out.push('', ...n);
  out.push('', p.bold(d.summary.text));
  return out.join('\n') + '\n';
}

/** Things worth knowing that are not differences; ports missing from the lock only matter when something changes. */
function notes(d: Diff, p: Paint, withUnlocked: boolean): string[] {
  const fixed = new Set(d.unsolved.new.map((u) => u.forward));
  const still = d.unsolved.old.filter((u) => fixed.has(u.forward));
  const nowOk = d.unsolved.old.filter((u) => !fixed.has(u.forward));
  const lock = d.new.lock ?? 'the lock';
  return [
    ...(withUnlocked ? d.unlocked : []).map((u) =>
      p.yellow(`note: forward ${u.forward}'s hop port ${ep(u)} on ${u.gateway} is not in ${lock} yet: \`natchain lock\` records it; commit it with the topology`),
    ),
    ...still.map((u) => p.yellow(`note: forward ${u.forward} does not solve on either side: ${u.diagnostics.map(formatDiagnostic).join('; ')}`)),
    ...nowOk.map((u) => p.dim(`note: forward ${u.forward} did not solve before and now does`)),
  ];
}

function colourPatchLine(line: string, p: Paint): string {
  if (line.startsWith('+++') || line.startsWith('---')) return p.bold(line);
  if (line.startsWith('@@')) return p.cyan(line);
  if (line.startsWith('+')) return p.green(line);
  if (line.startsWith('-')) return p.red(line);
  return line;
}

function modelLines(m: ModelChange, p: Paint): string[] {
  const colour = m.change === 'added' ? p.green : m.change === 'removed' ? p.red : p.yellow;
  const lines = [`  ${colour(MARK[m.change])} ${m.kind} ${p.bold(m.name)}  ${p.dim(m.at)}`];
  for (const f of m.fields) {
    if (m.change === 'changed') lines.push(`      ${f.field}: ${p.red(f.old ?? '(none)')} -> ${p.green(f.new ?? '(none)')}`);
    else lines.push(p.dim(`      ${f.field}: ${f.old ?? f.new}`));
  }
  return lines;
}

/** A hop in two short lines (who and where; what it rewrites), so two chains fit side by side. */
function hopRows(h: Hop, n: number): [string, string] {
  const src = h.src ? ` from ${formatCidr(h.src)}` : '';
  return [`${n}. ${h.gateway}: in ${h.inIface}${src}, out ${h.outIface}`, `   ${ep(h.dst)} -> DNAT ${ep(h.dnat)}${h.snat ? `, SNAT ${h.snat.address}` : ''}`];
}

function chainRows(ch: Chain): string[] {
  return [`dial ${ep(ch.dial)} ${ch.protos.join('+')}`, ...ch.hops.flatMap((h, i) => hopRows(h, i + 1)), `to ${ep(ch.target)}`];
}

function chainChangeLines(c: ChainChange, p: Paint): string[] {
  const why = c.forwardChanged ? '' : p.yellow('  (forward unchanged: moved by other changes)');
  const colour = c.change === 'added' ? p.green : c.change === 'removed' ? p.red : p.yellow;
  const head = `  ${colour(MARK[c.change])} ${p.bold(c.forward)} from ${c.source}${why}`;
  if (c.change !== 'changed') {
    const rows = chainRows((c.old ?? c.new)!);
    return [head, ...rows.map((r) => `      ${colour(r)}`)];
  }
  // Side by side, hops aligned by gateway so an inserted or removed hop does not shift the rest.
  const o = c.old!;
  const n = c.new!;
  const pairs: [string | undefined, string | undefined][] = [[chainRows(o)[0], chainRows(n)[0]]];
  let i = 0;
  let j = 0;
  const parts = diffArrays(
    o.hops.map((h) => h.gateway),
    n.hops.map((h) => h.gateway),
  );
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!;
    if (!part.added && !part.removed) {
      for (let x = 0; x < part.count!; x++, i++, j++) pushHopPair(pairs, o.hops[i], i + 1, n.hops[j], j + 1);
      continue;
    }
    // A removed run followed by an added run: show them next to each other.
    const removed = part.removed ? part.count! : 0;
    const next = parts[k + 1];
    const added = part.added ? part.count! : next?.added && part.removed ? next.count! : 0;
    if (part.removed && next?.added) k++;
    for (let x = 0; x < Math.max(removed, added); x++) {
      pushHopPair(pairs, x < removed ? o.hops[i] : undefined, i + 1, x < added ? n.hops[j] : undefined, j + 1);
      if (x < removed) i++;
      if (x < added) j++;
    }
  }
  pairs.push([`to ${ep(o.target)}`, `to ${ep(n.target)}`]);
  const width = Math.max(3, ...pairs.map(([l]) => (l ?? '').length));
  const lines = [head, p.dim(`      ${'old'.padEnd(width)} | new`)];
  for (const [l, r] of pairs) {
    const same = l === r;
    const left = (l ?? '').padEnd(width);
    lines.push(same ? `      ${left} | ${r ?? ''}` : `    ~ ${p.red(left)} | ${p.green(r ?? '')}`);
  }
  return lines;
}

function pushHopPair(pairs: [string | undefined, string | undefined][], a: Hop | undefined, an: number, b: Hop | undefined, bn: number): void {
  const l = a ? hopRows(a, an) : [undefined, undefined];
  const r = b ? hopRows(b, bn) : [undefined, undefined];
  pairs.push([l[0], r[0]], [l[1], r[1]]);
}
