import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';
import type { Backend } from '../topology/types.js';
import { cmp } from './model.js';
import type { GatewayImpact, RulesetText } from './types.js';

/**
 * The 1-based numbers of the lines of a ruleset that are rules, the unit the summary counts (every
 * line is still diffed). iptables-restore: `-A`/`-I` lines. nft: the statements inside `chain`
 * blocks, not their `type ... hook` header, not map elements (those only dispatch to the rules),
 * not table or map structure. Needs the whole text: a hunk alone does not say which block it is in.
 */
export function ruleLineNumbers(backend: Backend, text: string): Set<number> {
  const out = new Set<number>();
  const lines = text.split('\n');
  let depth = 0;
  let chainDepth = -1;
  lines.forEach((raw, i) => {
    const t = raw.trim();
    if (backend === 'iptables') {
      if (/^-[AI] /.test(t)) out.add(i + 1);
      return;
    }
    if (t === '' || t.startsWith('#')) return;
    if (t.endsWith('{') && !t.endsWith('{}')) {
      if (/^chain\s/.test(t)) chainDepth = depth + 1;
      depth++;
      return;
    }
    if (t.startsWith('}')) {
      if (depth === chainDepth) chainDepth = -1;
      depth = Math.max(0, depth - 1);
      return;
    }
    if (depth === chainDepth && !/^(type|policy)\s/.test(t)) out.add(i + 1);
  });
  return out;
}

/** Options of a ruleset comparison. */
export interface RulesetDiffOptions {
  /** Lines of context around each change in the unified diff (default 3, like `diff -u`). */
  context?: number;
  /** Prefixes of the file names in the diff headers (default `old` and `new`). */
  oldLabel?: string;
  newLabel?: string;
}

/**
 * Compares per-gateway ruleset texts of two states: rendered from two topologies, or desired vs.
 * read from the live gateways. Keyed by gateway and backend, so a gateway that changes backend
 * loses every rule of the old backend and gains every rule of the new one. Every gateway present
 * on either side is listed, untouched ones included.
 */
export function diffRulesets(olds: RulesetText[], news: RulesetText[], opts: RulesetDiffOptions = {}): GatewayImpact[] {
  const key = (r: RulesetText) => `${r.gateway}\0${r.backend}`;
  const a = new Map(olds.map((r) => [key(r), r]));
  const b = new Map(news.map((r) => [key(r), r]));
  const out: GatewayImpact[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const o = a.get(k);
    const n = b.get(k);
    const { gateway, backend } = (o ?? n)!;
    out.push(diffRuleset(gateway, backend, o?.text, n?.text, opts));
  }
  return out.sort((x, y) => cmp(x.gateway, y.gateway) || cmp(x.backend, y.backend));
}

/** One gateway's ruleset on one backend, before and after; `undefined` means "no ruleset there". */
export function diffRuleset(gateway: string, backend: Backend, oldText: string | undefined, newText: string | undefined, opts: RulesetDiffOptions): GatewayImpact {
  const change = oldText === undefined ? 'added' : newText === undefined ? 'removed' : oldText === newText ? 'untouched' : 'changed';
  if (change === 'untouched') return { gateway, backend, change, rulesAdded: 0, rulesRemoved: 0, diff: '' };
  const name = `${gateway}.${backend}`;
  const patch = structuredPatch(`${opts.oldLabel ?? 'old'}/${name}`, `${opts.newLabel ?? 'new'}/${name}`, oldText ?? '', newText ?? '', undefined, undefined, {
    context: opts.context ?? 3,
  });
  const oldRules = ruleLineNumbers(backend, oldText ?? '');
  const newRules = ruleLineNumbers(backend, newText ?? '');
  let rulesAdded = 0;
  let rulesRemoved = 0;
  for (const h of patch.hunks) {
    let o = h.oldStart;
    let n = h.newStart;
    // An empty side starts at line 0 in the hunk header, but its first line would be line 1.
    if (h.oldLines === 0) o++;
    if (h.newLines === 0) n++;
    for (const line of h.lines) {
      if (line.startsWith('+')) rulesAdded += newRules.has(n++) ? 1 : 0;
      else if (line.startsWith('-')) rulesRemoved += oldRules.has(o++) ? 1 : 0;
      else if (line.startsWith(' ')) {
        o++;
        n++;
      }
    }
  }
  return { gateway, backend, change, rulesAdded, rulesRemoved, diff: formatPatch(patch, FILE_HEADERS_ONLY) };
}
