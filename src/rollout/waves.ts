// The wave planner: a change's chain-closed components (rollout/scope) packed into waves, canary
// first. Each wave is later run as its own all-or-nothing transaction. Pure; docs/rollout.md has
// the algorithm with an example.
import { UsageError } from '../errors.js';

/** A number of gateways, absolute or a percentage of the gateways in the change. */
export type Count = { n: number } | { percent: number };

/** Parses `N` or `N%` for a flag (`min`: the smallest absolute value allowed). */
export function parseCount(flag: string, text: string, min: number): Count {
  const m = /^(\d{1,6})(%?)$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} takes a whole number or a percentage such as 10%, not "${text}"`);
  const v = Number(m[1]);
  if (m[2]) {
    if (v > 100 || v < min) throw new UsageError(`${flag} percentage must be from ${min}% to 100%, not "${text}"`);
    return { percent: v };
  }
  if (v < min) throw new UsageError(`${flag} must be at least ${min}, not "${text}"`);
  return { n: v };
}

/** A count made absolute against `total` gateways: percentages round up for sizes, down for budgets. */
export function resolveCount(c: Count, total: number, round: 'up' | 'down'): number {
  if ('n' in c) return c.n;
  const exact = (total * c.percent) / 100;
  return round === 'up' ? Math.max(1, Math.ceil(exact)) : Math.floor(exact);
}

/** What the canary is: a number of gateways, or named gateways (widened to their components). */
export type CanarySpec = { count: number } | { gateways: string[] };

/** Parses `--canary N` or `--canary gw-a,gw-b`. */
export function parseCanary(text: string): CanarySpec {
  if (/^\d+$/.test(text.trim())) {
    const n = Number(text);
    if (n < 1) throw new UsageError(`--canary must name gateways or be at least 1, not "${text}"`);
    return { count: n };
  }
  const gateways = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!gateways.length) throw new UsageError(`--canary takes a number or gateway names separated by commas, not "${text}"`);
  return { gateways };
}

/** How to cut a change into waves. */
export interface WaveOptions {
  canary?: CanarySpec;
  /** Largest wave (default: everything after the canary in one wave). */
  waveSize?: Count;
}

/** One wave: a set of whole components, run as one transaction. */
export interface Wave {
  /** 1-based. */
  index: number;
  canary: boolean;
  gateways: string[];
  components: string[][];
  /** True when one component alone is bigger than the wave size (or the canary count). */
  oversize: boolean;
}

/** The waves, and what the planner had to say (oversize components, canary widening). */
export interface WavePlan {
  waves: Wave[];
  /** Resolved wave size (absolute), or null when there was none. */
  waveSize: number | null;
  notes: string[];
}

/** Packs components (each a list of gateways, in a stable order) into waves: canary first, then first-fit up to the wave size. */
export function planWaves(components: string[][], opts: WaveOptions = {}): WavePlan {
  const total = components.reduce((n, c) => n + c.length, 0);
  const notes: string[] = [];
  const waves: Wave[] = [];
  let rest = components.slice();
  if (opts.canary) {
    const picked = pickCanary(rest, opts.canary, notes);
    if (picked.length) {
      const size = picked.reduce((n, c) => n + c.length, 0);
      const limit = 'count' in opts.canary ? opts.canary.count : size;
      waves.push({ index: 1, canary: true, gateways: picked.flat(), components: picked, oversize: size > limit });
      rest = rest.filter((c) => !picked.includes(c));
    }
  }
  const size = opts.waveSize ? resolveCount(opts.waveSize, total, 'up') : null;
  const packed: string[][][] = [];
  for (const comp of rest) {
    if (size !== null && comp.length > size) {
      notes.push(`${comp.join(', ')} share changed forwards (${comp.length} gateways, more than the wave size ${size}): one wave of their own`);
      packed.push([comp]);
      continue;
    }
    const room = packed.find((w) => size === null || (w.reduce((n, c) => n + c.length, 0) + comp.length <= size && !isOversize(w, size)));
    if (room) room.push(comp);
    else packed.push([comp]);
  }
  for (const w of packed) {
    waves.push({ index: waves.length + 1, canary: false, gateways: w.flat(), components: w, oversize: size !== null && isOversize(w, size) });
  }
  return { waves, waveSize: size, notes };
}

function isOversize(w: string[][], size: number): boolean {
  return w.length === 1 && w[0]!.length > size;
}

/** The canary's components: the first ones (in order) that fit the count, or those holding the named gateways. */
function pickCanary(components: string[][], spec: CanarySpec, notes: string[]): string[][] {
  if ('gateways' in spec) {
    const picked: string[][] = [];
    for (const g of spec.gateways) {
      const comp = components.find((c) => c.includes(g));
      if (!comp) {
        notes.push(`canary ${g} has nothing to change in this rollout`);
        continue;
      }
      if (!picked.includes(comp)) picked.push(comp);
    }
    const extra = picked.flat().filter((g) => !spec.gateways.includes(g));
    if (extra.length) notes.push(`canary widened to whole chains: ${extra.join(', ')} share changed forwards with ${spec.gateways.filter((g) => picked.flat().includes(g)).join(', ')}`);
    if (!picked.length) notes.push('no canary gateway is in this change: no canary wave');
    return picked;
  }
  const picked: string[][] = [];
  let used = 0;
  for (const c of components) {
    if (used + c.length > spec.count) continue;
    picked.push(c);
    used += c.length;
    if (used === spec.count) break;
  }
  if (!picked.length && components.length) {
    const smallest = components.reduce((a, b) => (b.length < a.length ? b : a));
    notes.push(`canary: every group of gateways sharing a changed forward is bigger than ${spec.count}; the canary is ${smallest.join(', ')}`);
    picked.push(smallest);
  }
  return picked;
}

/** True when the failures so far exceed the budget, so no further wave may start. */
export function overBudget(failedGateways: number, maxFail: number): boolean {
  return failedGateways > maxFail;
}
