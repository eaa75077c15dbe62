import { rangeSize, rangesOverlap } from '../topology/addr.js';
import type { PortRange, Proto } from '../topology/types.js';
import { formatPorts } from '../topology/types.js';
import { nameTable } from '../names.js';
import { quote } from '../escape.js';
import type { Allocation, AllocationOrigin, PortLock } from './types.js';

/** A port natchain needs on one gateway address for one forward; `fixed` when not ours to pick. */
export interface Slot {
  forward: string;
  gateway: string;
  address: string;
  protos: Proto[];
  fixed?: { ports: PortRange; origin: AllocationOrigin };
  /** Range to allocate from when not fixed. */
  range: PortRange;
}

/** A port claim that collides with another forward's. */
export interface Conflict {
  forward: string;
  other: string;
  gateway: string;
  address: string;
  proto: Proto;
  ports: PortRange;
  /** Why this forward claims the port (an exposure, a pin, a target port range). */
  origin: AllocationOrigin;
}

/** Key of a slot inside the lock: `gateway/address`. */
export const lockKey = (gateway: string, address: string) => `${gateway}/${address}`;

/**
 * Gives every slot its port(s): fixed ones as they are, then ports kept from the lock, then new
 * ones by a hash of the slot (so even without a lock a forward's port rarely depends on others).
 * Pure and deterministic; other forwards' ports never move unless their own claim does.
 */
export function allocate(slots: Slot[], lock: PortLock): { allocations: Allocation[]; conflicts: Conflict[]; exhausted: Slot[] } {
  const taken = new PortBook();
  const conflicts: Conflict[] = [];
  const allocations: Allocation[] = [];
  const done = (s: Slot, ports: PortRange, origin: AllocationOrigin) => {
    for (const proto of s.protos) taken.claim(s.gateway, s.address, proto, ports, s.forward);
    allocations.push({ forward: s.forward, gateway: s.gateway, address: s.address, ports, protos: s.protos, origin });
  };

  for (const s of slots) {
    if (!s.fixed) continue;
    let ok = true;
    for (const proto of s.protos) {
      const other = taken.holder(s.gateway, s.address, proto, s.fixed.ports, s.forward);
      if (other !== undefined) {
        conflicts.push({ forward: s.forward, other, gateway: s.gateway, address: s.address, proto, ports: s.fixed.ports, origin: s.fixed.origin });
        ok = false;
      }
    }
    if (ok) done(s, s.fixed.ports, s.fixed.origin);
  }

  const open = slots.filter((s) => !s.fixed);
  const rest: Slot[] = [];
  for (const s of open) {
    const port = lock.ports[s.forward]?.[lockKey(s.gateway, s.address)];
    const r = port === undefined ? undefined : { from: port, to: port };
    if (r && port! >= s.range.from && port! <= s.range.to && s.protos.every((p) => taken.holder(s.gateway, s.address, p, r) === undefined)) {
      done(s, r, 'lock');
    } else rest.push(s);
  }

  const exhausted: Slot[] = [];
  rest.sort((a, b) => cmp(a.forward, b.forward) || cmp(a.gateway, b.gateway) || cmp(a.address, b.address));
  for (const s of rest) {
    const size = rangeSize(s.range);
    const start = fnv1a(`${s.forward}\0${s.gateway}\0${s.address}`) % size;
    let found: PortRange | undefined;
    for (let k = 0; k < size && !found; k++) {
      const p = (s.range.from + ((start + k) % size)) | 0; // an int, not a double: V8 keeps ports as small integers
      const r = { from: p, to: p };
      if (s.protos.every((proto) => taken.holder(s.gateway, s.address, proto, r) === undefined)) found = r;
    }
    if (found) done(s, found, 'new');
    else exhausted.push(s);
  }
  return { allocations, conflicts, exhausted };
}

/** The lock that records exactly the ports natchain picked (not exposed, pinned or target ports). */
export function lockOf(allocations: Allocation[]): PortLock {
  // Null-prototype tables: a forward named `toString` or `__proto__` is just a key.
  const ports: PortLock['ports'] = nameTable();
  const picked = allocations.filter((a) => a.origin === 'lock' || a.origin === 'new');
  picked.sort((a, b) => cmp(a.forward, b.forward) || cmp(a.gateway, b.gateway) || cmp(a.address, b.address));
  for (const a of picked) (ports[a.forward] ??= nameTable())[lockKey(a.gateway, a.address)] = a.ports.from;
  return { version: 1, ports };
}

/** Describes a conflict for a person. */
export function describeConflict(c: Conflict): string {
  return `${c.address}:${formatPorts(c.ports)}/${c.proto} on gateway ${c.gateway} is already used by forward ${quote(c.other)}`;
}

/** Which forward holds which port, per gateway address and protocol; ranges kept apart so single ports stay O(1). */
class PortBook {
  private readonly singles = new Map<string, Map<number, string>>();
  private readonly ranges = new Map<string, { r: PortRange; forward: string }[]>();

  holder(gw: string, addr: string, proto: Proto, r: PortRange, except?: string): string | undefined {
    const base = `${gw}|${addr}|${proto}`;
    for (const x of this.ranges.get(base) ?? []) if (x.forward !== except && rangesOverlap(x.r, r)) return x.forward;
    const singles = this.singles.get(base);
    if (!singles) return undefined;
    if (r.to - r.from > singles.size) {
      // A wide range against few claimed ports: scan the claims, not the range.
      for (const [p, f] of singles) if (f !== except && p >= r.from && p <= r.to) return f;
      return undefined;
    }
    for (let p = r.from; p <= r.to; p++) {
      const f = singles.get(p);
      if (f !== undefined && f !== except) return f;
    }
    return undefined;
  }

  claim(gw: string, addr: string, proto: Proto, r: PortRange, forward: string): void {
    const base = `${gw}|${addr}|${proto}`;
    if (r.from === r.to) {
      let singles = this.singles.get(base);
      if (!singles) this.singles.set(base, (singles = new Map()));
      singles.set(r.from, forward);
    } else {
      const list = this.ranges.get(base) ?? [];
      list.push({ r, forward });
      this.ranges.set(base, list);
    }
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** 32-bit FNV-1a: a stable, dependency-free hash for starting points. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
