// What a rollout knows of each gateway while it runs: the state the topology wants there, the
// last state natchain recorded (journal + known-state cache, known.ts), what this run read (before
// the waves with --refresh, and under each wave's lock), and an index of which gateways' assumed
// states hold each forward (so the guard's "does this change stay inside the wave" is a lookup,
// not a parse of every gateway's state per forward). Built with yields: the event loop (timers,
// keepalives) keeps running at any fleet size.
import type { Chain, Intent } from '../solve/types.js';
import type { Topology } from '../topology/types.js';
import { knownEntries, type KnownEntry } from './known.js';
import { knownRecord, type KnownRecord } from './known-store.js';
import type { TxHistory } from './journal.js';
import type { LiveGateway } from './live.js';
import { canonicalOf, changeToIntents, forwardChanges, forwardsIn } from './owned.js';
import type { KnownState } from './scope.js';
import { TimeSlice } from '../timeslice.js';

/** A rollout's knowledge of the fleet. */
export class FleetKnowledge {
  /** Canonical state the topology wants, per gateway. */
  readonly desired = new Map<string, string>();
  /** What this run read: the canonical state, or why the gateway could not be read. */
  readonly read = new Map<string, string | Error>();
  /** Read while another transaction held it (locked or armed): why. */
  readonly busy = new Map<string, string>();
  /** Exec calls per gateway outside the transactions. */
  readonly reads: Record<string, number> = Object.create(null);
  /** This run's reads, for the known-state cache. */
  readonly seen: KnownRecord[] = [];
  private readonly recorded = new Map<string, { canonical: string; time: string }>();
  /** forward -> gateways whose assumed state holds it; gateway -> the forwards it holds. */
  private readonly holders = new Map<string, Set<string>>();
  private readonly heldBy = new Map<string, string[]>();
  /** forward -> gateways of its desired chains. */
  private readonly chainGateways = new Map<string, Set<string>>();
  /** Counts what this run learnt (reads, locked reads, unreachable gateways): the scope is worked out again only when it moved. */
  version = 0;

  private constructor(
    private readonly topology: Topology,
    /** A saved plan's states (null: unread then), which stand in for the records. */
    private readonly saved: Map<string, string | null> | undefined,
  ) {}

  /** The knowledge at the start of a rollout: desired states, records, the forward index. */
  static async build(o: { topology: Topology; intents: Record<string, Intent[]>; chains: Chain[]; transactions: TxHistory[]; cache?: Map<string, KnownRecord> | undefined; saved?: Map<string, string | null> | undefined }): Promise<FleetKnowledge> {
    const k = new FleetKnowledge(o.topology, o.saved);
    const slice = new TimeSlice();
    for (const g of o.topology.gateways) {
      k.desired.set(g.name, changeToIntents(g, o.intents[g.name] ?? []).expected);
      await slice.turn();
    }
    const entries: Map<string, KnownEntry> = knownEntries(o.transactions, o.topology, o.cache);
    for (const [name, e] of entries) {
      const canonical = e.canonical();
      if (canonical !== null) k.recorded.set(name, { canonical, time: e.time });
      await slice.turn();
    }
    for (const c of o.chains) {
      const set = k.chainGateways.get(c.forward) ?? new Set<string>();
      for (const h of c.hops) set.add(h.gateway);
      k.chainGateways.set(c.forward, set);
    }
    for (const g of o.topology.gateways) {
      k.index(g.name);
      await slice.turn();
    }
    return k;
  }

  /** The state the plan assumes for a gateway: read now, saved in the plan, or natchain's record. */
  assumed(g: string): string | undefined {
    const r = this.read.get(g);
    if (typeof r === 'string') return r;
    if (this.saved) return this.saved.get(g) ?? undefined;
    return this.recorded.get(g)?.canonical;
  }

  /** Records an `inspect` read (or why it failed): its state, whether another transaction holds it, its execs. */
  noteRead(name: string, v: LiveGateway | Error): void {
    this.busy.delete(name);
    this.version++;
    if (v instanceof Error) {
      // Errors are reported beside the gateway's name: drop the transport's own "<gateway>: " prefix.
      this.read.set(name, new Error(v.message.startsWith(`${name}: `) ? v.message.slice(name.length + 2) : v.message));
      return;
    }
    const now = canonicalOf(v.gateway.backend, v.live);
    if (v.lock || v.armed.length) this.busy.set(name, v.lock ? `locked by transaction ${v.lock.tx} of ${v.lock.owner}` : `transaction ${v.armed[0]!.tx} is armed here`);
    this.setRead(name, now);
    this.seen.push(knownRecord(name, v.gateway.backend, now, this.busy.has(name), 'apply'));
    this.reads[name] = (this.reads[name] ?? 0) + v.roundTrips;
  }

  /** Records the state a wave's prepare read under the lock. */
  noteLocked(name: string, canonical: string): void {
    this.setRead(name, canonical);
    const g = this.topology.gateways.find((x) => x.name === name)!;
    this.seen.push(knownRecord(name, g.backend, canonical, false, 'prepare'));
  }

  /** A gateway that could not be reached for its wave (it had no record): nothing is assumed of it any more. */
  noteUnreachable(name: string, reason: string): void {
    this.version++;
    this.read.set(name, new Error(reason));
    this.index(name);
  }

  private setRead(name: string, canonical: string): void {
    this.version++;
    this.read.set(name, canonical);
    this.index(name);
  }

  /** Re-indexes the forwards a gateway's assumed state holds. */
  private index(name: string): void {
    for (const f of this.heldBy.get(name) ?? []) this.holders.get(f)?.delete(name);
    const held = [...forwardsIn(this.assumed(name) ?? '').keys()];
    this.heldBy.set(name, held);
    for (const f of held) (this.holders.get(f) ?? this.holders.set(f, new Set()).get(f)!).add(name);
  }

  /** What the scope is computed from, per gateway. */
  knownMap(): Map<string, KnownState> {
    return new Map(
      this.topology.gateways.map((g): [string, KnownState] => {
        const r = this.read.get(g.name);
        const a = this.assumed(g.name);
        if (r instanceof Error) return [g.name, a === undefined ? { source: 'unknown', reason: r.message } : { source: 'last-known', canonical: a, reason: r.message }];
        // Not read (yet): the last known state stands in for the live one (confirmed under the lock if it takes part).
        if (a === undefined) return [g.name, { source: 'unread' }];
        if (r === undefined) return [g.name, { source: 'recorded', canonical: a, since: this.saved ? 'the saved plan' : this.recorded.get(g.name)!.time }];
        const b = this.busy.get(g.name);
        return [g.name, b ? { source: 'live', canonical: a, busy: b } : { source: 'live', canonical: a }];
      }),
    );
  }

  /** Whether every gateway a forward changing on `g` (state `now`, read under the lock) touches is in `wave`. */
  closedIn(g: string, now: string, wave: ReadonlySet<string>): boolean {
    const fc = forwardChanges(now, this.desired.get(g)!);
    for (const f of [...fc.added, ...fc.removed, ...fc.changed]) {
      for (const set of [this.chainGateways.get(f), this.holders.get(f)]) for (const x of set ?? []) if (x !== g && !wave.has(x)) return false;
    }
    return true;
  }
}
