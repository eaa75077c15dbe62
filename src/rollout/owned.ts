// natchain's owned state on one gateway, for either backend, through the renderer's helpers:
// what to load to reach a target, what the gateway must show after the load (verify), and what
// restores the snapshot (the revert text the dead-man timer holds).
import {
  canonicalIptables,
  canonicalNftables,
  forwardFromComment,
  iptablesDesiredState,
  jumpSpec,
  NATCHAIN_CHAINS,
  parseIptablesSave,
  renderNftables,
  renderNftablesRestore,
  type IptablesState,
} from '../render/index.js';
import { createHash } from 'node:crypto';
import { iptablesTemplate } from './template.js';
import type { Intent } from '../solve/types.js';
import type { Backend, Gateway } from '../topology/types.js';

/** What a transaction makes of one gateway, known before its state is read (so it travels with the first exec). */
export interface Change {
  /** The template the gateway resolves against its own snapshot and loads (template.ts). */
  text: string;
  /** Canonical owned state after the load (compared with the read-back). */
  expected: string;
}

// A run reads the same dump into its canonical form several times (the scope, the transaction's
// plan, the guard, the journal, the known-state cache) and renders each gateway's target twice
// (the rollout's plan, the transaction): both are pure, so they are remembered (issue 12: CPU per
// gateway). Bounded: the table is emptied when it reaches MEMO_MAX entries.
const MEMO_MAX = 4096;
const canonicalMemo = { iptables: new Map<string, string>(), nftables: new Map<string, string>() };
const targetMemo = new WeakMap<readonly Intent[], Map<Gateway, Change>>();
const forwardsMemo = new Map<string, ReadonlyMap<string, string[]>>();

/** The canonical text of natchain's owned state in a dump (`iptables-save` or `nft list table ip natchain`). */
export function canonicalOf(backend: Backend, dump: string): string {
  const memo = backend === 'iptables' ? canonicalMemo.iptables : canonicalMemo.nftables;
  let c = memo.get(dump);
  if (c === undefined) {
    c = backend === 'iptables' ? canonicalIptables(parseIptablesSave(dump)) : canonicalNftables(dump);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(dump, c);
  }
  return c;
}

/** A short stable hash of a canonical state: the gateway keeps it beside each commit, so an unchanged gateway is known in one exec. */
export function stateHash(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** The state an iptables load of `target` leaves: its chains, and exactly one canonical jump to each chain it keeps. */
function afterLoad(target: IptablesState): IptablesState {
  const out: IptablesState = { chains: { ...target.chains }, jumps: { 'NATCHAIN-FORWARD': [], 'NATCHAIN-PREROUTING': [], 'NATCHAIN-POSTROUTING': [] } };
  for (const { chain } of NATCHAIN_CHAINS) {
    if (target.chains[chain] !== undefined && (target.jumps[chain] ?? []).length > 0) out.jumps[chain] = [jumpSpec(chain)];
  }
  return out;
}

/** The change that makes a gateway hold the rules for `intents` (the same object for the same gateway and intents: do not modify it). */
export function changeToIntents(gateway: Gateway, intents: readonly Intent[]): Change {
  let byGateway = targetMemo.get(intents);
  if (!byGateway) targetMemo.set(intents, (byGateway = new Map()));
  let change = byGateway.get(gateway);
  if (!change) byGateway.set(gateway, (change = renderChange(gateway, intents)));
  return change;
}

function renderChange(gateway: Gateway, intents: readonly Intent[]): Change {
  if (gateway.backend === 'iptables') {
    const target = iptablesDesiredState(gateway, intents);
    return { text: iptablesTemplate(target), expected: canonicalIptables(afterLoad(target)) };
  }
  const text = renderNftables(gateway, intents);
  return { text, expected: canonicalNftables(text) };
}

/** The change that puts back an earlier dump's owned state (rollback, roll-forward). */
export function changeToDump(backend: Backend, target: string): Change {
  if (backend === 'iptables') {
    const want = parseIptablesSave(target);
    return { text: iptablesTemplate(want), expected: canonicalIptables(afterLoad(want)) };
  }
  return { text: renderNftablesRestore(target), expected: canonicalNftables(target) };
}

/** The template the dead-man timer and a rollback load to put a snapshot back (resolved against the state at that moment). */
export function revertOf(backend: Backend, snapshot: string): string {
  return changeToDump(backend, snapshot).text;
}

/** natchain's own part of a dump (iptables: its chains and jumps in nat and filter; nft: the table is all its own): what the journal keeps. */
export function ownedDump(backend: Backend, dump: string): string {
  if (backend === 'nftables') return dump;
  const out: string[] = [];
  let table = '';
  for (const line of dump.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    if (table !== 'nat' && table !== 'filter') continue;
    if (line.startsWith('*') || line === 'COMMIT' || line.includes('NATCHAIN-')) out.push(line);
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** Forwards named by natchain's rule comments in a canonical state, each with its lines (for plan summaries; remembered, read-only). */
export function forwardsIn(canonical: string): ReadonlyMap<string, string[]> {
  const known = forwardsMemo.get(canonical);
  if (known) return known;
  const out = new Map<string, string[]>();
  for (const line of canonical.split('\n')) {
    for (const m of line.matchAll(/(?:--comment\s+"?|comment\s+")([^"\s]+)/g)) {
      const f = forwardFromComment(m[1]!);
      if (f === undefined) continue;
      const lines = out.get(f) ?? [];
      lines.push(line.trim());
      out.set(f, lines);
    }
  }
  if (forwardsMemo.size >= MEMO_MAX) forwardsMemo.clear();
  forwardsMemo.set(canonical, out);
  return out;
}

/** Forwards added, removed and changed between two canonical states of one gateway. */
export function forwardChanges(before: string, after: string): { added: string[]; removed: string[]; changed: string[] } {
  if (before === after) return { added: [], removed: [], changed: [] }; // a gateway in sync: what the lists below come to
  const a = forwardsIn(before);
  const b = forwardsIn(after);
  const added = [...b.keys()].filter((f) => !a.has(f)).sort();
  const removed = [...a.keys()].filter((f) => !b.has(f)).sort();
  const changed = [...b.keys()].filter((f) => a.has(f) && a.get(f)!.join('\n') !== b.get(f)!.join('\n')).sort();
  return { added, removed, changed };
}

/** Colours for formatForwardChanges (identity functions for plain text). */
export interface ChangePaint {
  added(s: string): string;
  removed(s: string): string;
  changed(s: string): string;
}
const PLAIN: ChangePaint = { added: (s) => s, removed: (s) => s, changed: (s) => s };

/** `+added -removed ~changed` forward names, as plan, apply and status show them. */
export function formatForwardChanges(f: { added: string[]; removed: string[]; changed: string[] }, paint: ChangePaint = PLAIN): string[] {
  return [...f.added.map((x) => paint.added(`+${x}`)), ...f.removed.map((x) => paint.removed(`-${x}`)), ...f.changed.map((x) => paint.changed(`~${x}`))];
}
