// Read-only views of live gateways: `plan` (what apply would change) and `status` (sync, drift,
// last transaction, lock, armed timers). One exec per gateway, no lock taken.
import pLimit from 'p-limit';
import { withoutGateway } from '../errors.js';
import { diffRuleset } from '../plan/index.js';
import { mapSliced, TimeSlice } from '../timeslice.js';
import type { Intent } from '../solve/types.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, GatewaySession } from '../transport/types.js';
import { parseCounters, type Count } from '../gateway/counters.js';
import { checkFacts } from '../gateway/facts.js';
import { findShadows, formatShadow, onlyJumpsMoved, type ShadowHit } from '../gateway/shadow.js';
import { runPhase } from './exec.js';
import { parseHistory, type GatewayHistoryEntry } from './history.js';
import { canonicalOf, changeToIntents, formatForwardChanges, forwardChanges } from './owned.js';
import { parseArmed, parseLockInfo, type LockHolder } from './remote.js';
import { splitTransactions, type SplitTx } from './split.js';

/** What one `inspect` call saw on a gateway. */
export interface LiveGateway {
  gateway: Gateway;
  /** Raw dump of natchain's owned state. */
  live: string;
  ipForward: string;
  lock?: LockHolder;
  armed: Array<{ tx: string; deadline: number }>;
  /** Gateway clock, epoch seconds. */
  now: number;
  lastTx?: string;
  /** The dump read back when the last transaction applied (what it committed). */
  committed?: string;
  /** State of the transaction asked about, when given. */
  txState?: string;
  /** The gateway's facts (src/gateway/facts.ts), `nft -j list ruleset` (nftables) and natchain's DNAT counters (iptables), as printed. */
  facts?: string;
  ruleset?: string;
  counters?: string;
  /** The gateway's record of the transactions that touched it (history.ts), oldest first. */
  history: GatewayHistoryEntry[];
  /** The newest history line pruned away (the history reaches no further back), when any was. */
  pruned?: GatewayHistoryEntry;
  /** The directory of the transaction asked about, when the gateway has one: the gateways it changed, what it read back, its snapshot. */
  txFiles?: { members: string[]; applied?: string; snapshot?: string };
  roundTrips: number;
}

/** What natchain checks on a live gateway besides its own rules: is it what the topology says, are natchain's rules reached. */
export interface Findings {
  /** How the gateway differs from the topology (`gw-b: interface eth1 has ... but ... on the gateway`). */
  mismatches: string[];
  /** Foreign rules that can catch forwards before natchain's rules. */
  shadowed: ShadowHit[];
}

/** The mismatches and shadowing one inspect shows. */
export function findingsOf(g: Gateway, intents: readonly Intent[], l: LiveGateway): Findings {
  return { mismatches: checkFacts(g, l.facts).mismatches.map((m) => m.message), shadowed: findShadows(g, intents, l.live, l.ruleset) };
}

/** Per forward with rules on the gateway: the packets and bytes its DNAT rules matched (null: no counter found). */
export function countersOf(g: Gateway, intents: readonly Intent[], l: LiveGateway): Array<{ forward: string; packets: number | null; bytes: number | null }> {
  const counts = parseCounters(g.backend, l.counters ?? '', l.live);
  const names = [...new Set([...intents.map((i) => i.forward), ...counts.keys()])].sort();
  return names.map((forward) => {
    const c: Count | undefined = counts.get(forward);
    return { forward, packets: c ? c.packets : null, bytes: c ? c.bytes : null };
  });
}

/** Inspects gateways in parallel; a gateway that cannot be reached or read comes back as an error. */
export async function inspectGateways(
  topology: Topology,
  gateways: Gateway[],
  connector: Connector,
  connect: ConnectOptions,
  opts: { concurrency?: number; tx?: string; keep?: (g: Gateway, s: GatewaySession) => void; counters?: boolean } = {},
): Promise<Map<string, LiveGateway | Error>> {
  const limit = pLimit(Math.max(1, opts.concurrency ?? 8));
  const out = new Map<string, LiveGateway | Error>();
  await Promise.all(
    gateways.map((g) =>
      limit(async () => {
        let session: GatewaySession | undefined;
        try {
          session = await connector(topology, g, connect);
          // The DNAT counters cost an iptables gateway one more iptables-save: read only when shown.
          const sec = await runPhase(session, g.backend, opts.tx ?? null, 'inspect', [opts.counters ? 1 : 0]);
          const now = Number((sec.get('now') ?? '').trim()) || Math.floor(Date.now() / 1000);
          const last = (sec.get('last') ?? '').trim();
          const lock = parseLockInfo(sec.get('lock'), now);
          const v: LiveGateway = { gateway: g, live: sec.get('live') ?? '', ipForward: (sec.get('forward') ?? '').trim(), armed: parseArmed(sec.get('armed')), now, history: parseHistory(sec.get('history')), roundTrips: session.execCount };
          if (lock) v.lock = lock;
          if (last) v.lastTx = last;
          if (sec.has('committed')) v.committed = sec.get('committed')!;
          if (sec.has('txstate')) {
            v.txState = sec.get('txstate')!.trim();
            v.txFiles = { members: (sec.get('txmembers') ?? '').split(/\s+/).filter(Boolean) };
            if (sec.has('txapplied')) v.txFiles.applied = sec.get('txapplied')!;
            if (sec.has('txsnapshot')) v.txFiles.snapshot = sec.get('txsnapshot')!;
          }
          const pruned = parseHistory(sec.get('pruned'))[0];
          if (pruned) v.pruned = pruned;
          for (const k of ['facts', 'ruleset', 'counters'] as const) if (sec.has(k)) v[k] = sec.get(k)!;
          out.set(g.name, v);
        } catch (e) {
          out.set(g.name, e instanceof Error ? e : new Error(String(e)));
        } finally {
          if (session && !opts.keep) await session.close().catch(() => undefined);
          else if (session) opts.keep!(g, session);
        }
      }),
    ),
  );
  return out;
}

/** One gateway in `natchain plan`. */
export interface GatewayPlanView {
  gateway: string;
  backend: Gateway['backend'];
  /**
   * in-sync, changes pending, shadowed (foreign rules can catch forwards first), mismatch (the gateway is
   * not what the topology says: apply refuses it), or the error that kept natchain from reading it.
   */
  status: 'in-sync' | 'changes' | 'shadowed' | 'mismatch' | 'error';
  mismatches: string[];
  shadowed: ShadowHit[];
  forwards: { added: string[]; removed: string[]; changed: string[] };
  rulesAdded: number;
  rulesRemoved: number;
  /** Unified diff of the canonical owned state (live -> desired). */
  diff: string;
  ipForward?: string;
  lock?: LockHolder;
  error?: string;
}

/** What `natchain plan` reports. */
export interface LivePlan {
  topology: string;
  inSync: boolean;
  gateways: GatewayPlanView[];
  /** The canonical owned state read on each gateway that could be read (for a saved plan). */
  states: Map<string, string>;
  /** Transactions the gateways show committed on some of them only. */
  split: SplitTx[];
}

/** Told what a read saw on a gateway (canonical owned state; busy: another transaction holds it), for the known-state cache. */
export type SeenHook = (g: Gateway, canonical: string, busy: boolean) => void;

/** Compares every gateway's live state with what the topology renders to. */
export async function planLive(
  topology: Topology,
  intents: Record<string, Intent[]>,
  connector: Connector,
  connect: ConnectOptions,
  concurrency = 8,
  opts: { seen?: SeenHook } = {},
): Promise<LivePlan> {
  const live = await inspectGateways(topology, topology.gateways, connector, connect, { concurrency });
  const views: GatewayPlanView[] = [];
  const states = new Map<string, string>();
  // Each gateway's plan is milliseconds of CPU: let timers and keepalives run between them.
  const slice = new TimeSlice();
  for (const g of topology.gateways) {
    await slice.turn();
    const l = live.get(g.name)!;
    if (l instanceof Error) {
      views.push({ gateway: g.name, backend: g.backend, status: 'error', mismatches: [], shadowed: [], forwards: { added: [], removed: [], changed: [] }, rulesAdded: 0, rulesRemoved: 0, diff: '', error: withoutGateway(g.name, l.message) });
      continue;
    }
    const before = canonicalOf(g.backend, l.live);
    const after = changeToIntents(g, intents[g.name] ?? []).expected;
    states.set(g.name, before);
    opts.seen?.(g, before, Boolean(l.lock || l.armed.length));
    const found = findingsOf(g, intents[g.name] ?? [], l);
    // The rule-level diff of the canonical states, by the diff engine.
    const i = diffRuleset(g.name, g.backend, before, after, { oldLabel: 'live', newLabel: 'desired' });
    const v: GatewayPlanView = {
      gateway: g.name,
      backend: g.backend,
      status: found.mismatches.length ? 'mismatch' : found.shadowed.length ? 'shadowed' : before === after ? 'in-sync' : 'changes',
      ...found,
      forwards: forwardChanges(before, after),
      rulesAdded: i.rulesAdded,
      rulesRemoved: i.rulesRemoved,
      diff: i.diff,
      ipForward: l.ipForward,
    };
    if (g.backend === 'nftables') {
      // The diff is of canonical states, not nft syntax (the engine counts statements inside `chain { }`
      // blocks and so finds none): count the canonical `rule` lines instead.
      v.rulesAdded = i.diff.split('\n').filter((x) => x.startsWith('+  rule ')).length;
      v.rulesRemoved = i.diff.split('\n').filter((x) => x.startsWith('-  rule ')).length;
    }
    if (l.lock) v.lock = l.lock;
    views.push(v);
  }
  return { topology: topology.file, inSync: views.every((v) => v.status === 'in-sync'), gateways: views, states, split: splitTransactions(live, topology.gateways.map((g) => g.name)) };
}

/** One gateway in `natchain status`. */
export interface GatewayStatus {
  gateway: string;
  backend: Gateway['backend'];
  /** in-sync: live = last commit = topology; drifted: live differs from what natchain last committed; pending: the topology changed since. */
  sync: 'in-sync' | 'drifted' | 'pending' | 'unmanaged' | 'unreachable' | 'shadowed' | 'mismatch';
  mismatches: string[];
  shadowed: ShadowHit[];
  /** With `counters`: per forward with rules here, what its DNAT rules matched. */
  counters?: Array<{ forward: string; packets: number | null; bytes: number | null }>;
  lastTx?: string;
  lock?: LockHolder;
  armed: Array<{ tx: string; deadline: number; inSec: number }>;
  ipForward?: string;
  detail?: string;
}

/** What `natchain status` reports. */
export interface StatusView {
  gateways: GatewayStatus[];
  /** Transactions the gateways show committed on some of them only. */
  split: SplitTx[];
}

/** Per gateway: sync or drift, the last transaction, a lock or an armed timer; and the transactions left half committed. */
export async function statusLive(
  topology: Topology,
  intents: Record<string, Intent[]>,
  connector: Connector,
  connect: ConnectOptions,
  concurrency = 8,
  opts: { counters?: boolean; seen?: SeenHook } = {},
): Promise<StatusView> {
  const live = await inspectGateways(topology, topology.gateways, connector, connect, { concurrency, counters: Boolean(opts.counters) });
  return { gateways: await mapSliced(topology.gateways, statusOf), split: splitTransactions(live, topology.gateways.map((g) => g.name)) };

  function statusOf(g: Gateway): GatewayStatus {
    const l = live.get(g.name)!;
    if (l instanceof Error) return { gateway: g.name, backend: g.backend, sync: 'unreachable', mismatches: [], shadowed: [], armed: [], detail: withoutGateway(g.name, l.message) };
    const now = canonicalOf(g.backend, l.live);
    opts.seen?.(g, now, Boolean(l.lock || l.armed.length));
    const desired = changeToIntents(g, intents[g.name] ?? []).expected;
    let sync: GatewayStatus['sync'];
    let detail: string | undefined;
    // An armed transaction (applied, not committed yet) explains a difference: not a change by hand.
    const inFlight = l.armed.length
      ? `transaction ${l.armed.map((a) => a.tx).join(', ')} applied here and is not committed yet (its dead-man timer restores the snapshot unless it commits; natchain recover finishes or undoes it)`
      : undefined;
    if (l.committed === undefined) {
      sync = now === canonicalOf(g.backend, '') ? 'unmanaged' : 'drifted';
      detail = sync === 'unmanaged' ? 'natchain never committed here' : (inFlight ?? 'natchain rules present, but no commit recorded on the gateway');
    } else if (canonicalOf(g.backend, l.committed) !== now) {
      sync = 'drifted';
      const fc = forwardChanges(canonicalOf(g.backend, l.committed), now);
      const parts = formatForwardChanges(fc);
      detail = inFlight ?? `natchain's rules were changed by hand since ${l.lastTx}${parts.length ? ` (${parts.join(' ')})` : ''}`;
      if (!inFlight && onlyJumpsMoved(canonicalOf(g.backend, l.committed), now)) {
        detail = "another rule was put ahead of natchain's jump (none can catch a forward, see shadowing); apply moves the jump back to the top";
      }
    } else sync = now === desired ? 'in-sync' : 'pending';
    if (sync === 'pending') detail = 'the topology differs from what is applied (natchain plan shows how)';
    // Shadowing makes rules that look right dead; a gateway that is not what the topology says makes the whole view moot.
    const found = findingsOf(g, intents[g.name] ?? [], l);
    if (found.shadowed.length && sync !== 'unmanaged') {
      sync = 'shadowed';
      detail = found.shadowed.map(formatShadow).join('; ');
    }
    if (found.mismatches.length) {
      sync = 'mismatch';
      detail = found.mismatches.join('; ');
    }
    const s: GatewayStatus = {
      gateway: g.name,
      backend: g.backend,
      sync,
      ...found,
      armed: l.armed.map((a) => ({ ...a, inSec: Math.max(0, a.deadline - l.now) })),
      ipForward: l.ipForward,
    };
    if (l.lastTx) s.lastTx = l.lastTx;
    if (l.lock) s.lock = l.lock;
    if (detail) s.detail = detail;
    if (opts.counters) s.counters = countersOf(g, intents[g.name] ?? [], l);
    return s;
  }
}
