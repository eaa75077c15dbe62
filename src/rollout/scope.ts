// The scope of a change: which gateways a rollout must touch. The unit of consistency is the
// forward (DESIGN.md invariant 2), so the scope is every gateway on the chain of every forward the
// change adds, changes or removes, closed under "shares a changed forward" (a gateway's whole
// ruleset is loaded at once, so every forward that changes on it drags its other gateways in).
// Pure: states in, scope out.
import { UsageError } from '../errors.js';
import { quote } from '../escape.js';
import { suggest } from '../suggest.js';
import type { Chain } from '../solve/types.js';
import { runSliced, runWhole, type Steps } from '../timeslice.js';
import { forwardChanges, forwardsIn } from './owned.js';

/** What natchain knows of one gateway's owned state (canonical), and where from. */
export type KnownState =
  /** Read now; `busy`: another transaction holds it. */
  | { source: 'live'; canonical: string; busy?: string }
  /** Not read: natchain's last record of it (journal or known-state cache) from `since`; confirmed under the lock if it takes part. */
  | { source: 'recorded'; canonical: string; since: string }
  /** Unreachable now; the last state natchain saw there (journal / the gateway's records). */
  | { source: 'last-known'; canonical: string; reason: string }
  /** Unreachable now and never seen: its state is unknown. */
  | { source: 'unknown'; reason: string }
  /** Never seen and not read yet: it takes part, and the transaction's own read (under the lock) decides. */
  | { source: 'unread' };

/** Everything the scope is computed from. */
export interface ScopeInput {
  /** Every gateway of the topology, in topology order. */
  gateways: string[];
  /** The desired chains (the solve of the topology being applied). */
  chains: Chain[];
  /** Desired canonical owned state per gateway. */
  desired: Map<string, string>;
  /** What is known of each gateway now. */
  known: Map<string, KnownState>;
}

/** A forward the change adds, changes or removes, and every gateway it touches (before or after). */
export interface ChangedForward {
  forward: string;
  change: 'added' | 'removed' | 'changed';
  gateways: string[];
}

/** A gateway left out of the change, and why it is reported. */
export interface OutsideGateway {
  gateway: string;
  status: 'unchanged' | 'unreachable' | 'left-out';
  detail: string;
  /** Not read in this run: the time of natchain's record its state is taken from. */
  since?: string;
  /** Not read: whether its sshd answered the check (pending: no answer yet when the change was done; not-checked: not contacted at all). */
  reach?: 'answered' | 'pending' | 'not-checked';
}

/** The gateways a change must touch. */
export interface Scope {
  forwards: ChangedForward[];
  /** Gateways in scope, topology order. */
  gateways: string[];
  /** Per gateway in scope: why it is there. */
  why: Map<string, string>;
  /** Connected components of "shares a changed forward" (each sorted in topology order; ordered by first gateway). */
  components: string[][];
  /** In scope but unreachable: the scope cannot be applied. */
  blocked: Array<{ gateway: string; reason: string }>;
  /** Every gateway not in scope. */
  outside: OutsideGateway[];
}

/** The gateways each desired forward's chains cross. */
function chainGateways(chains: Chain[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of chains) {
    const set = out.get(c.forward) ?? new Set<string>();
    for (const h of c.hops) set.add(h.gateway);
    out.set(c.forward, set);
  }
  return out;
}

/** Computes the scope of applying `desired` over what is known (in one synchronous pass: small fleets, tests). */
export function computeScope(input: ScopeInput): Scope {
  return runWhole(scopeSteps(input));
}

/** computeScope with turns of the event loop between gateways (a fleet's scope is one pass over every gateway's state). */
export function computeScopeSliced(input: ScopeInput, budgetMs?: number): Promise<Scope> {
  return runSliced(scopeSteps(input), budgetMs);
}

/** The scope's work, yielding between gateways (and forwards): computeScope and computeScopeSliced run it. */
function* scopeSteps(input: ScopeInput): Steps<Scope> {
  const order = new Map(input.gateways.map((g, i) => [g, i]));
  const byOrder = (a: string, b: string) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const desiredChains = chainGateways(input.chains);
  const changed = new Map<string, ChangedForward['change']>();
  /** Gateways whose state differs from the desired one without any forward to name (e.g. a missing jump, an empty table). */
  const bare = new Set<string>();
  const held = new Map<string, Set<string>>();
  for (const g of input.gateways) {
    yield;
    const k = input.known.get(g);
    if (!k || k.source === 'unknown') continue;
    if (k.source === 'unread') {
      bare.add(g);
      continue;
    }
    for (const f of forwardsIn(k.canonical).keys()) (held.get(f) ?? held.set(f, new Set()).get(f)!).add(g);
    // Another transaction holds it (locked or armed): its state is in flux, so it takes part and meets that lock.
    if (k.source === 'live' && k.busy) bare.add(g);
    const want = input.desired.get(g) ?? '';
    if (k.canonical === want) continue;
    const fc = forwardChanges(k.canonical, want);
    for (const f of [...fc.added, ...fc.removed, ...fc.changed]) changed.set(f, 'changed');
    if (fc.added.length + fc.removed.length + fc.changed.length === 0) bare.add(g);
  }
  // A gateway never seen and unreachable: each of its desired forwards must be confirmed in sync on
  // another gateway of the forward's chain (both ends move together), else it cannot be left out.
  const unconfirmed = new Map<string, string>();
  const desiredOn = indexByGateway(desiredChains);
  for (const g of input.gateways) {
    yield;
    if (input.known.get(g)?.source !== 'unknown') continue;
    for (const f of desiredOn.get(g) ?? []) {
      if (changed.has(f)) continue;
      const seen = [...desiredChains.get(f)!].some((h) => h !== g && held.get(f)?.has(h));
      if (!seen) {
        unconfirmed.set(g, f);
        break;
      }
    }
  }
  for (const g of unconfirmed.keys()) bare.add(g);
  const forwards: ChangedForward[] = [];
  for (const f of [...changed.keys()].sort()) {
    yield;
    const set = new Set([...(desiredChains.get(f) ?? []), ...(held.get(f) ?? [])]);
    const change: ChangedForward['change'] = !held.has(f) ? 'added' : !desiredChains.has(f) ? 'removed' : 'changed';
    forwards.push({ forward: f, change, gateways: [...set].sort(byOrder) });
  }
  const components = yield* componentsSteps(input.gateways, forwards, bare);
  const inScope = new Set(components.flat());
  /** Per gateway, the changed forwards on it (in the order of `forwards`). */
  const forwardsOn = indexByGateway(new Map(forwards.map((f) => [f, f.gateways])));
  const why = new Map<string, string>();
  for (const g of inScope) {
    yield;
    const mine = (forwardsOn.get(g) ?? []).map((f) => `${SIGN[f.change]}${f.forward}`);
    const k = input.known.get(g);
    const busy = k?.source === 'live' && k.busy ? k.busy : undefined;
    const unread = input.known.get(g)?.source === 'unread' ? 'natchain has no record of it here: its prepare reads it (under the lock)' : undefined;
    const unsure = unconfirmed.has(g) ? `state unknown, and no other gateway shows its forward ${unconfirmed.get(g)} in place` : undefined;
    why.set(g, mine.length ? `on the chain of ${mine.join(' ')}` : (busy ?? unread ?? unsure ?? "natchain's state differs from the topology (no forward named)"));
  }
  const blocked: Scope['blocked'] = [];
  const outside: OutsideGateway[] = [];
  for (const g of input.gateways) {
    yield;
    const k = input.known.get(g) ?? { source: 'unknown', reason: 'not read' };
    if (inScope.has(g)) {
      if (k.source === 'last-known' || k.source === 'unknown') blocked.push({ gateway: g, reason: k.reason });
      continue;
    }
    if (k.source === 'recorded') outside.push({ gateway: g, status: 'unchanged', detail: 'not in this change', since: k.since });
    else if (k.source === 'live' || k.source === 'unread') outside.push({ gateway: g, status: 'unchanged', detail: 'not in this change' });
    else {
      const last = k.source === 'last-known' ? 'last known state in sync' : 'state unknown';
      outside.push({ gateway: g, status: 'unreachable', detail: `unreachable (not in this change; ${last}): ${k.reason}` });
    }
  }
  return { forwards, gateways: [...inScope].sort(byOrder), why, components, blocked, outside };
}

/** gateway -> the keys whose gateways include it, in the table's order. */
function indexByGateway<K>(table: Map<K, Iterable<string>>): Map<string, K[]> {
  const out = new Map<string, K[]>();
  for (const [k, gws] of table) for (const g of gws) (out.get(g) ?? out.set(g, []).get(g)!).push(k);
  return out;
}

const SIGN: Record<ChangedForward['change'], string> = { added: '+', removed: '-', changed: '~' };

/** Connected components of "shares a changed forward" (plus lone gateways that differ with no forward), stably ordered. */
export function componentsOf(gateways: string[], forwards: ChangedForward[], lone: Iterable<string> = []): string[][] {
  return runWhole(componentsSteps(gateways, forwards, lone));
}

function* componentsSteps(gateways: string[], forwards: ChangedForward[], lone: Iterable<string>): Steps<string[][]> {
  const parent = new Map<string, string>();
  const find = (g: string): string => {
    let r = g;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(g, r);
    return r;
  };
  const add = (g: string) => {
    if (!parent.has(g)) parent.set(g, g);
  };
  for (const g of lone) add(g);
  for (const f of forwards) {
    yield;
    for (const g of f.gateways) add(g);
    for (const g of f.gateways.slice(1)) parent.set(find(g), find(f.gateways[0]!));
  }
  const groups = new Map<string, string[]>();
  for (const g of gateways) {
    yield;
    if (!parent.has(g)) continue;
    const r = find(g);
    (groups.get(r) ?? groups.set(r, []).get(r)!).push(g);
  }
  return [...groups.values()];
}

/** A scope restricted by `--limit`. */
export interface LimitResult {
  /** The scope restricted to whole components. */
  scope: Scope;
  /** Gateways the limit did not name but the change needs, and why. */
  added: Array<{ gateway: string; why: string }>;
  /** Changed forwards the limit leaves for a later rollout. */
  left: string[];
}

/** `*` and `?` globs (nothing else is special). */
export function globRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** Restricts a scope to the components (patterns: a gateway name or glob, or `forward:NAME`, glob allowed) the `--limit` patterns touch, widened to whole chains; a pattern matching nothing is an error. */
export function limitScope(scope: Scope, allGateways: string[], allForwards: string[], patterns: string[]): LimitResult {
  const named = new Set<string>();
  const namedForwards = new Set<string>();
  const unmatched: string[] = [];
  for (const p of patterns) {
    if (p.startsWith('forward:')) {
      const re = globRegExp(p.slice('forward:'.length));
      const hits = allForwards.filter((f) => re.test(f));
      if (!hits.length) unmatched.push(p);
      for (const f of hits) namedForwards.add(f);
    } else {
      const re = globRegExp(p);
      const hits = allGateways.filter((g) => re.test(g));
      if (!hits.length) unmatched.push(p);
      for (const g of hits) named.add(g);
    }
  }
  if (unmatched.length) {
    const hints = unmatched.map((p) => [p, limitHint(p, allGateways, allForwards)] as const).filter(([, h]) => h !== '');
    const one = hints.length === 1 && unmatched.length === 1 ? hints[0]![1] : '';
    const details = one ? [] : hints.map(([p, h]) => `${quote(p)}${h.replace(/^;/, ':')}`);
    throw new UsageError(`--limit ${unmatched.map((p) => quote(p)).join(', ')} matches no gateway or forward of the topology${one}`, details);
  }
  const touched = (comp: string[]) =>
    comp.some((g) => named.has(g)) || scope.forwards.some((f) => namedForwards.has(f.forward) && f.gateways.some((g) => comp.includes(g)));
  const components = scope.components.filter(touched);
  const keep = new Set(components.flat());
  const added = scope.gateways.filter((g) => keep.has(g) && !named.has(g)).map((g) => ({ gateway: g, why: addedWhy(scope, g, named, namedForwards) }));
  const left = scope.forwards.filter((f) => !f.gateways.some((g) => keep.has(g))).map((f) => f.forward);
  const outside = [
    ...scope.outside,
    ...scope.gateways.filter((g) => !keep.has(g)).map((g): OutsideGateway => ({ gateway: g, status: 'left-out', detail: `left out by --limit (pending: ${scope.why.get(g)})` })),
  ];
  const restricted: Scope = {
    forwards: scope.forwards.filter((f) => f.gateways.some((g) => keep.has(g))),
    gateways: scope.gateways.filter((g) => keep.has(g)),
    why: new Map([...scope.why].filter(([g]) => keep.has(g))),
    components,
    blocked: scope.blocked.filter((b) => keep.has(b.gateway)),
    outside,
  };
  return { scope: restricted, added, left };
}

/** `; did you mean "x"?` for a --limit pattern that matched nothing (a forward's name given without `forward:` included). */
function limitHint(p: string, gateways: string[], forwards: string[]): string {
  if (p.startsWith('forward:')) return suggest(p, forwards.map((f) => `forward:${f}`));
  return suggest(p, [...gateways, ...forwards.map((f) => `forward:${f}`)]) || (forwards.includes(p) ? `; did you mean ${quote(`forward:${p}`)}?` : '');
}

/** Why a gateway the limit did not name joins the rollout. */
function addedWhy(scope: Scope, g: string, named: Set<string>, namedForwards: Set<string>): string {
  const mine = scope.forwards.filter((f) => f.gateways.includes(g));
  const direct = mine.find((f) => namedForwards.has(f.forward));
  if (direct) return `on the chain of forward ${direct.forward}, named by --limit`;
  const via = mine.find((f) => f.gateways.some((x) => named.has(x)));
  if (via) return `shares the changed forward ${via.forward} with ${via.gateways.filter((x) => named.has(x)).join(', ')}`;
  return `shares a changed forward (${mine.map((f) => f.forward).join(', ')}) with a gateway in the limit, through a chain of changed forwards`;
}

/**
 * The outside list after the reachability checks of the gateways not read: one whose check failed is
 * `unreachable (not in this change …)`; one whose check had not ended is `unchanged`, saying so.
 */
export function withReach(outside: OutsideGateway[], answers: { failed: Map<string, string>; pending: string[] }): OutsideGateway[] {
  const pending = new Set(answers.pending);
  return outside.map((x) => {
    if (x.status !== 'unchanged' || x.since === undefined) return x;
    const why = answers.failed.get(x.gateway);
    if (why !== undefined) return { ...x, status: 'unreachable', detail: `unreachable (not in this change; last known state in sync): ${why}` };
    if (pending.has(x.gateway)) return { ...x, reach: 'pending', detail: 'not in this change; its sshd had not answered yet when the change was done' };
    return { ...x, reach: 'answered' };
  });
}
