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
  renderIptablesRestore,
  renderNftables,
  renderNftablesRestore,
  renderRuleset,
  type IptablesState,
} from '../render/index.js';
import type { Intent } from '../solve/types.js';
import type { Backend, Gateway } from '../topology/types.js';

/** One change to make on a gateway: the text to load, the canonical state it must leave, and how to undo it. */
export interface Change {
  /** Loaded with `iptables-restore --noflush` or `nft -f`. */
  text: string;
  /** Canonical owned state after the load (compared with the read-back). */
  expected: string;
  /** Loaded by a rollback or the dead-man timer: puts back the snapshot's owned state. */
  revert: string;
}

/** The canonical text of natchain's owned state in a dump (`iptables-save -t nat; -t filter` or `nft list table ip natchain`). */
export function canonicalOf(backend: Backend, dump: string): string {
  return backend === 'iptables' ? canonicalIptables(parseIptablesSave(dump)) : canonicalNftables(dump);
}

/** The state an iptables load of `target` leaves: its chains, and exactly one canonical jump to each chain it keeps. */
function afterLoad(target: IptablesState): IptablesState {
  const out: IptablesState = { chains: { ...target.chains }, jumps: { 'NATCHAIN-FORWARD': [], 'NATCHAIN-PREROUTING': [], 'NATCHAIN-POSTROUTING': [] } };
  for (const { chain } of NATCHAIN_CHAINS) {
    if (target.chains[chain] !== undefined && (target.jumps[chain] ?? []).length > 0) out.jumps[chain] = [jumpSpec(chain)];
  }
  return out;
}

/** The change that makes a gateway hold the rules for `intents`, given the snapshot just read from it. */
export function changeToIntents(gateway: Gateway, intents: readonly Intent[], snapshot: string): Change {
  if (gateway.backend === 'iptables') {
    const live = parseIptablesSave(snapshot);
    const text = renderRuleset(gateway, intents, { presentJumps: live.jumps, ...(live.ahead ? { rulesAhead: live.ahead } : {}) });
    const after = afterLoad(iptablesDesiredState(gateway, intents));
    return { text, expected: canonicalIptables(after), revert: renderIptablesRestore(live, after) };
  }
  const text = renderNftables(gateway, intents);
  return { text, expected: canonicalNftables(text), revert: renderNftablesRestore(snapshot) };
}

/** The change that puts back an earlier dump's owned state (rollback), given the snapshot just read. */
export function changeToDump(backend: Backend, target: string, snapshot: string): Change {
  if (backend === 'iptables') {
    const live = parseIptablesSave(snapshot);
    const want = parseIptablesSave(target);
    const after = afterLoad(want);
    return { text: renderIptablesRestore(want, live), expected: canonicalIptables(after), revert: renderIptablesRestore(live, after) };
  }
  const text = renderNftablesRestore(target);
  return { text, expected: canonicalNftables(target), revert: renderNftablesRestore(snapshot) };
}

/** Forwards named by natchain's rule comments in a canonical state, each with its lines (for plan summaries). */
export function forwardsIn(canonical: string): Map<string, string[]> {
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
  return out;
}

/** Forwards added, removed and changed between two canonical states of one gateway. */
export function forwardChanges(before: string, after: string): { added: string[]; removed: string[]; changed: string[] } {
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
