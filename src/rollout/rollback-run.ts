// `natchain rollback` as a one-wave rollout: read every gateway's records (one inspect each; a
// second one where the state to restore is in another transaction's directory), decide what each
// gateway goes back to (rollback.ts), show it, and run it as one transaction over the gateways that
// move. The report is a rollout's (fleet.ts), so apply and rollback print and exit alike.
import { NatchainError } from '../errors.js';
import type { Gateway } from '../topology/types.js';
import type { GatewaySession } from '../transport/types.js';
import { gatewayPlan, keepingSessions, rolloutSummary, RolloutError, settleWave, waveTxOptions, type RolloutOptions, type RolloutReport, type WaveReport } from './fleet.js';
import { newTxId } from './ids.js';
import { outcomeOf } from './journal.js';
import { journalRecords } from './known.js';
import { knownRecord, type KnownRecord } from './known-store.js';
import { inspectGateways, type LiveGateway } from './live.js';
import { canonicalOf, changeToDump } from './owned.js';
import { lastCommitted, rolloutOnGateways, targetDumps, toChoice, undoChoice, type GatewayRecords, type RollbackChoice, type TxFiles } from './rollback.js';
import { rolloutWaves } from './rollouts.js';
import type { ChangedForward, OutsideGateway } from './scope.js';
import { runTransaction } from './transaction.js';

/** What a rollback needs: a rollout's connections, settings and hooks, and what to restore. */
export type RollbackOptions = Pick<
  RolloutOptions,
  | 'topology'
  | 'journal'
  | 'log'
  | 'connector'
  | 'fresh'
  | 'connect'
  | 'concurrency'
  | 'confirmTimeoutSec'
  | 'confirmMode'
  | 'lockTimeoutSec'
  | 'enableIpForward'
  | 'breakLock'
  | 'faults'
  | 'signal'
  | 'progress'
  | 'guard'
  | 'topologyHash'
  | 'confirm'
  | 'known'
> & {
  /** Restore the state this transaction left; default: undo the last committed transaction. */
  to?: string;
};

/** A rollback's report: a one-wave rollout's, plus what it restored. */
export interface RollbackReport extends RolloutReport {
  rollback: { mode: 'undo' | 'to'; tx: string; undo: string[]; rollout?: string };
}

/** Runs a rollback; resolves when it committed (or nothing had to move), throws RolloutError when its transaction did not commit. */
export async function runRollback(o: RollbackOptions): Promise<RollbackReport> {
  const seen: Seen = { reads: [], ran: [] };
  try {
    return await keepingSessions((kept) => rollback(o, kept, seen));
  } finally {
    // What the reads saw, then where the transaction left each gateway it ran on: what apply's scope starts from.
    const error = await o.known?.write([...seen.reads, ...(await journalRecords(o.journal.writtenTransactions(), o.topology, seen.ran))]);
    if (error) o.progress.note(`natchain: ${error}`);
  }
}

/** For the known-state cache: the states read, and the gateways the transaction ran on. */
interface Seen {
  reads: KnownRecord[];
  ran: string[];
}

async function rollback(o: RollbackOptions, kept: GatewaySession[], seen: Seen): Promise<RollbackReport> {
  const t0 = Date.now();
  const tx = newTxId();
  const reads: Record<string, number> = Object.create(null);
  const read = (gateways: Gateway[], asked?: string) => readRecords(o, gateways, asked, kept, reads);
  const { live, unreadable } = await read(o.topology.gateways, o.to);
  for (const l of live.values()) seen.reads.push(knownRecord(l.gateway.name, l.gateway.backend, canonicalOf(l.gateway.backend, l.live), Boolean(l.lock || l.armed.length), 'rollback'));
  const records = [...live.values()].map((l) => recordsOf(l, o.to));
  const { choice, rollout, notes } = o.to ? { choice: toChoice(records, o.to, unreadable, o.topology.file), rollout: undefined, notes: journalNotes(o, o.to) } : undoLast(o, records, unreadable);
  notes.push(...choice.notes);
  const files = await filesToRestore(o, choice, live, read);
  if (choice.mode === 'undo') refuseUnreadMembers(choice, files, unreadable);
  const dumps = targetDumps(choice, new Map(o.topology.gateways.map((g) => [g.name, g.backend])), files);

  // Only gateways whose state differs from the one to restore take part; the others are reported.
  const moving = o.topology.gateways.filter((g) => dumps.has(g.name) && live.has(g.name) && canonicalOf(g.backend, dumps.get(g.name)!) !== canonicalOf(g.backend, live.get(g.name)!.live));
  const names = moving.map((g) => g.name);
  const plan = moving.map((g) => gatewayPlan(g, canonicalOf(g.backend, live.get(g.name)!.live), canonicalOf(g.backend, dumps.get(g.name)!)));
  const scope = { gateways: names, forwards: changedForwards(plan), limitAdded: [], left: [] };
  const outside = outsideOf(o, names, dumps, unreadable);
  const wave: WaveReport = { index: 1, canary: false, gateways: names, status: 'not-started', tx: null };
  const report = (waves: WaveReport[]): RollbackReport => ({
    rollout: tx,
    scope,
    outside,
    // Every gateway was read: what the report says of those outside the rollback is their live state.
    refreshed: true,
    waves,
    notes,
    reads,
    summary: rolloutSummary(waves),
    elapsedMs: Date.now() - t0,
    rollback: { mode: choice.mode, tx: choice.tx, undo: choice.undo, ...(rollout ? { rollout } : {}) },
  });
  if (!names.length) return report([]);
  if (o.confirm) {
    const why = new Map(names.map((n) => [n, choice.mode === 'to' ? `back to the state ${choice.tx} left` : `undoes ${choice.sources.get(n)!.tx}`]));
    const view = { rollout: tx, scope: { ...scope, why, components: [names], blocked: [], outside }, waves: [{ index: 1, canary: false, gateways: names, components: [names], oversize: false }], notes, plan, limitAdded: [], left: [] };
    if (!(await o.confirm(view))) throw new NatchainError('CANCELLED', 'cancelled; nothing was changed');
  }
  o.progress.wave(choice.mode === 'to' ? `rollback to ${choice.tx}` : `rollback of ${rollout ? `rollout ${rollout}` : choice.tx}`, names);
  seen.ran.push(...names);
  await settleWave(wave, () =>
    runTransaction({
      kind: 'rollback',
      tx,
      topology: o.topology,
      gateways: names,
      target: (g) => changeToDump(g.backend, dumps.get(g.name)!),
      needsForwarding: () => false,
      rollbackOf: choice.tx,
      ...(o.guard ? { guard: o.guard } : {}),
      ...waveTxOptions(o),
    }),
  );
  const r = report([wave]);
  if (!['committed', 'noop', 'armed'].includes(wave.status)) throw new RolloutError(wave.error ?? `the rollback ${wave.status}`, r, wave.code ?? 'TRANSACTION');
  return r;
}

/** The files to restore: from the first read when it asked for that transaction, else from a second read of the gateway asking for it. */
async function filesToRestore(
  o: RollbackOptions,
  choice: RollbackChoice,
  live: Map<string, LiveGateway>,
  read: (gateways: Gateway[], asked?: string) => ReturnType<typeof readRecords>,
): Promise<Map<string, TxFiles>> {
  const files = new Map<string, TxFiles>();
  const again = new Map<string, Gateway[]>();
  for (const [g, s] of choice.sources) {
    const l = live.get(g)!;
    if (l.txFiles && s.tx === o.to) files.set(g, l.txFiles);
    else again.set(s.tx, [...(again.get(s.tx) ?? []), l.gateway]);
  }
  await Promise.all(
    [...again].map(async ([tx, gateways]) => {
      const second = await read(gateways, tx);
      for (const [g, why] of second.unreadable) throw new NatchainError('SSH', `cannot read ${g} again: ${why}; nothing was changed`);
      for (const [g, l] of second.live) files.set(g, l.txFiles ?? { members: [] });
    }),
  );
  return files;
}

/** Every gateway that does not move: already as restored, not concerned, or unreadable. */
function outsideOf(o: RollbackOptions, moving: string[], dumps: Map<string, string>, unreadable: Map<string, string>): OutsideGateway[] {
  return o.topology.gateways
    .filter((g) => !moving.includes(g.name))
    .map((g) =>
      unreadable.has(g.name)
        ? { gateway: g.name, status: 'unreachable', detail: `unreachable (not in this rollback): ${unreadable.get(g.name)}` }
        : { gateway: g.name, status: 'unchanged', detail: dumps.has(g.name) ? 'already in the state to restore' : 'not changed by this rollback' },
    );
}

/** Default: the fleet's last committed transaction (with every committed wave of its rollout, when it was a wave). */
function undoLast(o: RollbackOptions, records: GatewayRecords[], unreadable: Map<string, string>): { choice: RollbackChoice; rollout?: string; notes: string[] } {
  const last = lastCommitted(records);
  if (!last) throw new NatchainError('NOT_FOUND', `no gateway of ${o.topology.file} records a committed transaction; nothing to roll back`);
  // This machine's rollouts.jsonl, else the rollout id every gateway recorded with the wave.
  const waves = rolloutWaves(o.log, last.tx) ?? rolloutOnGateways(records, last);
  const choice = undoChoice(records, waves?.waves ?? [last.tx], unreadable);
  return { choice, ...(waves ? { rollout: waves.rollout } : {}), notes: journalNotes(o, last.tx) };
}

/** Says where this machine's journal disagrees with the gateways (the gateways win: docs/rollout.md). */
function journalNotes(o: RollbackOptions, tx: string): string[] {
  const mine = o.journal.transactions();
  const h = mine.find((x) => x.tx === tx);
  if (!h) return [`transaction ${tx} is not in this machine's journal (another operator's, or another state directory): the gateways' records are used`];
  if (!o.to) {
    const names = new Set(o.topology.gateways.map((g) => g.name));
    const local = mine.filter((x) => outcomeOf(x) === 'committed' && x.begin?.gateways.some((g) => names.has(g))).pop();
    if (local && local.tx !== tx) return [`this machine's journal names ${local.tx} as the last commit, but the gateways record ${tx} as their last committed transaction: the gateways' records are used`];
  }
  return [];
}

/** An undo must move every gateway its transactions changed: one that cannot be read stops it. */
function refuseUnreadMembers(choice: RollbackChoice, files: Map<string, TxFiles>, unreadable: Map<string, string>): void {
  const members = new Set([...files.values()].flatMap((f) => f.members));
  const lost = [...unreadable].filter(([g]) => members.has(g));
  if (lost.length) {
    throw new NatchainError('SSH', `cannot reach ${lost.length} gateway(s) that ${choice.undo.join(', ')} changed; nothing was changed`, lost.map(([g, why]) => `${g}: ${why}`));
  }
}

/** One inspect per gateway (asking for `tx`'s directory); sessions are kept for the transaction. */
async function readRecords(o: RollbackOptions, gateways: Gateway[], tx: string | undefined, kept: GatewaySession[], reads: Record<string, number>) {
  const got = await inspectGateways(o.topology, gateways, o.connector, o.connect, { concurrency: o.concurrency, ...(tx ? { tx } : {}), keep: (_g, s) => kept.push(s) });
  const live = new Map<string, LiveGateway>();
  const unreadable = new Map<string, string>();
  for (const [n, v] of got) {
    if (v instanceof Error) unreadable.set(n, v.message.startsWith(`${n}: `) ? v.message.slice(n.length + 2) : v.message);
    else {
      live.set(n, v);
      reads[n] = (reads[n] ?? 0) + 1;
    }
  }
  return { live, unreadable };
}

function recordsOf(l: LiveGateway, asked: string | undefined): GatewayRecords {
  const r: GatewayRecords = { gateway: l.gateway.name, backend: l.gateway.backend, history: l.history };
  if (l.pruned) r.pruned = l.pruned;
  if (asked && l.txFiles) r.files = { tx: asked, ...l.txFiles };
  return r;
}

/** The forwards the rollback adds, removes or changes, and the gateways each touches. */
function changedForwards(plan: ReturnType<typeof gatewayPlan>[]): ChangedForward[] {
  const by = new Map<string, ChangedForward>();
  for (const p of plan) {
    for (const change of ['added', 'removed', 'changed'] as const) {
      for (const f of p.forwards[change]) {
        const x = by.get(f) ?? { forward: f, change, gateways: [] };
        x.gateways.push(p.gateway);
        by.set(f, x);
      }
    }
  }
  return [...by.values()];
}
