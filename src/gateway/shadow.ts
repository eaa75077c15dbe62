// Shadowing: natchain's rules must be reached. A foreign rule that can catch a forward's packets
// before natchain's own rules (iptables: ahead of the jump in the built-in chain; nftables: a base
// chain of another table that runs first) makes the forward dead while natchain's state looks right.
import type { Intent } from '../solve/types.js';
import type { Gateway } from '../topology/types.js';
import { flowsOf } from './flows.js';
import { iptablesShadows } from './shadow-iptables.js';
import type { ShadowHit } from './shadow-hit.js';
import { nftShadows } from './shadow-nft.js';

export type { ShadowHit } from './shadow-hit.js';

/** The section of the inspect script holding what the check needs beyond natchain's own dump. */
export const RULESET_SECTION = 'ruleset';

/** A sh function `ruleset`: the whole nftables ruleset as JSON on an nftables gateway (iptables: the dump has every rule already). */
export const RULESET_SHELL = String.raw`
ruleset() { if [ "$B" = nftables ]; then nft -j list ruleset 2>/dev/null; fi; }
`;

/**
 * The foreign rules that shadow natchain's on one gateway. `dump` is the iptables dump natchain
 * reads (`iptables-save -t nat; -t filter`); `ruleset` the `nft -j list ruleset` JSON (nftables).
 */
export function findShadows(gateway: Gateway, intents: readonly Intent[], dump: string, ruleset?: string): ShadowHit[] {
  const flows = flowsOf(gateway, intents);
  if (!flows.length) return [];
  if (gateway.backend === 'iptables') return iptablesShadows(gateway.name, dump, flows);
  if (!ruleset || !ruleset.trim()) return [];
  try {
    return nftShadows(gateway.name, ruleset, flows);
  } catch {
    return [{ gateway: gateway.name, backend: 'nftables', where: 'nft -j list ruleset', rule: '', reason: 'the ruleset could not be read as JSON, so natchain cannot tell whether its chains are reached', repairable: false, forwards: [] }];
  }
}

/** `gw-a: nat PREROUTING: -A PREROUTING -i eth0 -j DROP (ahead of natchain's jump) can catch ssh-12` */
export function formatShadow(h: ShadowHit): string {
  const who = h.forwards.length ? ` can catch ${h.forwards.join(', ')}` : '';
  return `${h.gateway}: ${h.where}: ${h.rule} (${h.reason})${who}`;
}

const NOT_FIRST = /^# jump (\S+) -> (\S+) is not first: (\d+) rules? ahead$/;

/** The jumps a load moved back to the top of their built-in chain, from the canonical states before and after (iptables; the renderer marks a jump with rules ahead). */
export function jumpMoves(before: string, after: string): string[] {
  const still = new Set(after.split('\n').map((l) => l.trim()));
  return before
    .split('\n')
    .map((l) => NOT_FIRST.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null && !still.has(m[0]))
    .map((m) => `moved natchain's jump back to the top of ${m[1]} (${m[3]} rule${m[3] === '1' ? ' was' : 's were'} ahead of it)`);
}

/** True when two canonical states differ only in where natchain's jumps sit (a foreign rule got ahead of one). */
export function onlyJumpsMoved(a: string, b: string): boolean {
  const strip = (t: string) => t.split('\n').filter((l) => !NOT_FIRST.test(l.trim())).join('\n');
  return a !== b && strip(a) === strip(b);
}
