import type { Backend } from '../topology/types.js';

/** A foreign rule that can catch forwards' packets before natchain's rules see them. */
export interface ShadowHit {
  gateway: string;
  backend: Backend;
  /** `nat PREROUTING`, or `table inet fw chain pre (hook prerouting priority -200, natchain's: -110)`. */
  where: string;
  /** The rule as the gateway lists it (iptables-save spelling, or nft JSON). */
  rule: string;
  reason: string;
  /** `apply` repairs it (a rule ahead of natchain's jump: the jump moves back to the top); otherwise only the rule's owner can. */
  repairable: boolean;
  /** Forwards whose packets it can catch. */
  forwards: string[];
}

/** Adds a hit to a list, merging the forwards of one rule found twice. */
export function addHit(hits: ShadowHit[], hit: ShadowHit): void {
  const same = hits.find((h) => h.where === hit.where && h.rule === hit.rule);
  if (!same) hits.push(hit);
  else for (const f of hit.forwards) if (!same.forwards.includes(f)) same.forwards.push(f);
}
