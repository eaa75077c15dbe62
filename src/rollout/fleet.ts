// A change across a fleet: work out its scope (rollout/scope) from what natchain last knew (journal
// and known-state cache), cut it into waves (rollout/waves) and run each wave as its own
// all-or-nothing transaction at once, stopping when the failures exceed the budget. Gateways
// outside the scope are not read (with --refresh or a saved plan they are, first): beside the
// change, a check that never logs in tells the report whether each one answers (outside.ts).
// Records the rollout in rollouts.jsonl for --resume and rollback, and what it read in the cache.
import { NatchainError } from '../errors.js';
import type { Chain, Intent } from '../solve/types.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, GatewaySession } from '../transport/types.js';
import type { Faults } from './faults.js';
import { newTxId, ownerIdentity } from './ids.js';
import type { Journal } from './journal.js';
import { FleetKnowledge } from './fleet-knowledge.js';
import { journalRecords } from './known.js';
import type { KnownStore } from './known-store.js';
import { inspectGateways } from './live.js';
import { canonicalOf, changeToIntents, forwardChanges } from './owned.js';
import { sha256, staleGateways } from './planfile.js';
import type { FleetProgress } from './progress.js';
import type { RolloutLog, RolloutSettings, WaveStatus } from './rollouts.js';
import { notContacted, ReachChecks } from './outside.js';
import { mapSliced, TimeSlice } from '../timeslice.js';
import { computeScopeSliced, limitScope, withReach, type LimitResult, type OutsideGateway, type Scope } from './scope.js';
import { runTransaction, TransactionError, type GatewayPlan, type GatewayReport, type TransactionOptions, type TransactionReport } from './transaction.js';
import { overBudget, planWaves, resolveCount, type Count, type Wave, type WaveOptions } from './waves.js';

/** Everything a rollout needs. */
export interface RolloutOptions {
  topology: Topology;
  /** The topology's text (its hash is recorded, and checked by --resume). */
  topologyText: string;
  intents: Record<string, Intent[]>;
  chains: Chain[];
  journal: Journal;
  log: RolloutLog;
  connector: Connector;
  fresh: Connector;
  connect: ConnectOptions;
  concurrency: number;
  confirmTimeoutSec: number;
  /** 'manual' (one wave only): leave it armed; `natchain confirm` commits it. */
  confirmMode?: 'auto' | 'manual';
  lockTimeoutSec?: number;
  enableIpForward: boolean;
  breakLock?: string;
  faults: Faults;
  signal?: AbortSignal;
  progress: FleetProgress;
  waves: WaveOptions;
  maxFail: Count;
  limit?: string[];
  settings: RolloutSettings;
  /** A saved plan: the canonical state each gateway had at plan time (null: unread); any difference is refused. */
  saved?: Map<string, string | null>;
  /** The rollout this one resumes. */
  resumes?: string;
  /** More checks under the lock (gateway facts); throwing stops the wave with nothing changed. */
  guard?: TransactionOptions['guard'];
  /** Kept in every gateway's history. */
  topologyHash?: string;
  /** Shown the whole change once before the first wave; false cancels. Absent: go on. */
  confirm?: (view: RolloutPlan) => Promise<boolean>;
  /** Between waves, after the new connections: check the forwards the wave changed (natchain probe); a returned text is why to stop. */
  probe?: (forwards: string[]) => Promise<string | undefined>;
  /** Between waves (after the checks): wait or ask; false stops the rollout. */
  between?: (next: Wave, of: number) => Promise<boolean>;
  /** The known-state cache: read for the scope, and every read of this rollout is recorded in it. */
  known?: KnownStore;
  /** Read every gateway outside the change first (drift there is found and brought in); implied by a saved plan. */
  refresh?: boolean;
  /** Whether a gateway outside the change answers, without logging in (resolves: it does; rejects: why not). Absent: they are not contacted at all. */
  reach?: (gateway: Gateway, timeoutMs: number, signal: AbortSignal) => Promise<unknown>;
}

/** What the rollout will do, shown before anything changes. */
export interface RolloutPlan {
  rollout: string;
  scope: Scope;
  waves: Wave[];
  notes: string[];
  /** In-scope gateways: the change, from what natchain knows of them (confirmed under the lock). */
  plan: GatewayPlan[];
  limitAdded: Array<{ gateway: string; why: string }>;
  left: string[];
}

/** One wave in the report. */
export interface WaveReport {
  index: number;
  canary: boolean;
  gateways: string[];
  status: WaveStatus;
  tx: string | null;
  failure?: { gateway: string; phase: string; reason: string };
  error?: string;
  /** The error code of a wave that did not commit (LOCKED, SSH, TRANSACTION...). */
  code?: NatchainError['code'];
  report?: TransactionReport;
  /** Why nothing more ran after this wave, when something stopped it. */
  stopped?: string;
}

/** What a rollout did. */
export interface RolloutReport {
  rollout: string;
  scope: { gateways: string[]; forwards: Scope['forwards']; limitAdded: RolloutPlan['limitAdded']; left: string[] };
  outside: OutsideGateway[];
  waves: WaveReport[];
  notes: string[];
  /** Exec calls per gateway outside the transactions (--refresh reads, re-planned waves). */
  reads: Record<string, number>;
  /** Whether the gateways outside the change were read (--refresh, saved plan) or taken from natchain's records. */
  refreshed: boolean;
  summary: string;
  elapsedMs: number;
}

/** A rollout with a wave that did not commit; carries the report. */
export class RolloutError extends NatchainError {
  constructor(
    message: string,
    readonly report: RolloutReport,
    code: NatchainError['code'] = 'TRANSACTION',
  ) {
    super(code, message);
    this.name = 'RolloutError';
  }
}

/** `3 waves committed, 1 rolled back, 2 not started`. */
export function rolloutSummary(waves: WaveReport[]): string {
  const n = (pred: (w: WaveReport) => boolean) => waves.filter(pred).length;
  const done = n((w) => w.status === 'committed' || w.status === 'noop');
  const back = n((w) => w.status === 'rolled-back' || w.status === 'aborted');
  const bad = n((w) => w.status === 'inconsistent');
  const idle = n((w) => w.status === 'not-started');
  return `${done} wave${done === 1 ? '' : 's'} committed, ${back} rolled back, ${idle} not started${bad ? `, ${bad} inconsistent (run natchain recover)` : ''}`;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** Runs a change across the fleet in waves; resolves when every wave committed (or nothing changes), throws RolloutError otherwise. */
export async function runRollout(o: RolloutOptions): Promise<RolloutReport> {
  return keepingSessions((kept) => planAndRun(o, kept));
}

/** Runs `body` with a list where it keeps the sessions of its reads open (a later transaction reuses their connections); closes them after. */
export async function keepingSessions<T>(body: (kept: GatewaySession[]) => Promise<T>): Promise<T> {
  const kept: GatewaySession[] = [];
  try {
    return await body(kept);
  } finally {
    // A fleet's worth of closes (a packet each to encrypt and send) is sliced.
    await Promise.all(await mapSliced(kept, (s) => s.close().catch(() => undefined)));
  }
}

/** The rollout itself (runRollout closes the sessions it kept). */
async function planAndRun(o: RolloutOptions, kept: GatewaySession[]): Promise<RolloutReport> {
  const byName = new Map(o.topology.gateways.map((g) => [g.name, g]));
  const k = await FleetKnowledge.build({ topology: o.topology, intents: o.intents, chains: o.chains, transactions: await o.journal.transactionsSliced(), cache: await o.known?.read(byName.keys()), saved: o.saved });
  const run = new RolloutRun(o, kept, k, byName);
  try {
    await run.beforeWaves();
    const stopped = await run.runPasses();
    return await run.finish(stopped);
  } finally {
    await run.end();
  }
}

/** A rollout while it runs: what it knows of the fleet, its scope, the checks of the gateways outside, the waves so far. */
class RolloutRun {
  private readonly t0 = Date.now();
  private readonly rollout = newTxId();
  /** The first rollout of the --resume chain: what the gateways record. */
  private readonly root: string;
  /** --refresh (and a saved plan, which must be refused when any gateway changed since): every gateway outside is read first. */
  private readonly refresh: boolean;
  private readonly checks: ReachChecks | undefined;
  private limited!: LimitResult;
  /** The knowledge's version `limited` was worked out from. */
  private limitedVersion = -1;
  private readonly waves: WaveReport[] = [];
  private readonly notes: string[] = [];
  /** Gateways of the waves that ran (their transactions' outcomes go into the known-state cache). */
  private readonly ranGateways = new Set<string>();

  constructor(
    private o: RolloutOptions,
    private readonly kept: GatewaySession[],
    private readonly k: FleetKnowledge,
    private readonly byName: Map<string, Gateway>,
  ) {
    this.root = o.resumes ? o.log.rootOf(o.resumes) : this.rollout;
    this.refresh = o.refresh === true || o.saved !== undefined;
    // Otherwise the change starts at once, and whether those outside answer is checked beside it.
    this.checks = !this.refresh && o.reach ? new ReachChecks((n, ms, signal) => o.reach!(byName.get(n)!, ms, signal), o.concurrency) : undefined;
  }

  private get scope(): Scope {
    return this.limited.scope;
  }

  /** The scope from what is known now, cut by --limit (sliced: one pass over the fleet), worked out again only when the knowledge moved. */
  private async scopeNow(): Promise<LimitResult> {
    const { o, k } = this;
    if (this.limitedVersion === k.version) return this.limited;
    const version = k.version;
    const gateways = o.topology.gateways.map((g) => g.name);
    const s = await computeScopeSliced({ gateways, chains: o.chains, desired: k.desired, known: k.knownMap() });
    this.limited = !o.limit?.length ? { scope: s, added: [], left: [] } : limitScope(s, gateways, [...new Set([...o.chains.map((c) => c.forward), ...s.forwards.map((f) => f.forward)])], o.limit);
    this.limitedVersion = version;
    return this.limited;
  }

  /** Reads these gateways (one inspect each) into the knowledge; their sessions are kept for the waves. */
  private async readGateways(names: string[]): Promise<void> {
    if (!names.length) return;
    // Sessions are kept open: a pooled connection serves the wave that may need the gateway later.
    const got = await inspectGateways(this.o.topology, names.map((n) => this.byName.get(n)!), this.o.connector, this.o.connect, { concurrency: this.o.concurrency, keep: (_g, s) => this.kept.push(s) });
    const slice = new TimeSlice();
    for (const [n, v] of got) {
      this.k.noteRead(n, v);
      await slice.turn();
    }
  }

  /** Gateways outside the scope this run has not read. */
  private outsideNow(): string[] {
    return this.o.topology.gateways.filter((g) => !this.scope.gateways.includes(g.name) && !this.k.read.has(g.name)).map((g) => g.name);
  }

  /** Before the first wave: the reads waves, --limit or --refresh need, a saved plan's check, the checks of the gateways outside. */
  async beforeWaves(): Promise<void> {
    const { o } = this;
    await this.scopeNow();
    // Waves and --limit cut the change along its forwards; a gateway natchain has no record of (its
    // forwards unknown) would make them guess, and each wrong guess costs a refused wave: read those first.
    const unread = [...this.k.knownMap()].filter(([, v]) => v.source === 'unread').map(([g]) => g);
    if (unread.length && (o.waves.canary !== undefined || o.waves.waveSize !== undefined || o.limit?.length)) {
      o.progress.note(`natchain: reading ${unread.length} gateway(s) natchain has no record of (waves and --limit follow their forwards)`);
      await this.readGateways(unread);
      await this.scopeNow();
    }
    // Those with no record are in the scope: their prepare reads them.
    if (this.refresh) await this.readGateways(this.outsideNow());
    this.startChecksAtPrepare();
    if (o.saved) refuseStale(o.saved, this.k.read);
  }

  /**
   * The checks of the gateways outside start once the first wave's prepare is on its way (its
   * connections are made). Earlier (with the scope), later (after the prepare, at the commit, at the
   * report), fewer at once or at a lower priority measured no better in the lab, and the later ones
   * left them unanswered by the report (docs/benchmarks.md, "The 2-of-50 change with and without the checks").
   */
  private startChecksAtPrepare(): void {
    const checks = this.checks;
    if (!checks) return;
    const outside = this.outsideNow();
    this.o = { ...this.o, progress: onFirstPhase(this.o.progress, 'prepare', () => checks.start(outside)) };
  }

  /** The waves, planned again (at most 5 times) when a gateway is not as assumed; resolves with why the rollout stopped, if it did. */
  async runPasses(): Promise<string | undefined> {
    let failed = 0;
    let stopped: string | undefined;
    for (let pass = 0; pass < 5 && !stopped; pass++) {
      const planned = await this.planPass(pass);
      if (!planned) break;
      const ran = await this.runPlanned(planned, failed);
      ({ failed, stopped } = ran);
      if (!ran.stale) break;
    }
    return stopped;
  }

  /** Plans the waves of the scope as known now (the first pass records the rollout and asks); none when nothing changes. */
  private async planPass(pass: number): Promise<WaveReport[] | undefined> {
    const scope = (await this.scopeNow()).scope;
    if (scope.blocked.length) {
      const b = scope.blocked.map((x) => `${x.gateway} (${scope.why.get(x.gateway)}): ${x.reason}`);
      throw new NatchainError('SSH', `cannot reach ${scope.blocked.length} gateway(s) this change needs; nothing was changed`, b);
    }
    if (!scope.gateways.length) return undefined;
    const wp = planWaves(scope.components, this.o.waves);
    this.notes.push(...wp.notes);
    const first = this.waves.length;
    const planned: WaveReport[] = wp.waves.map((w) => ({ index: first + w.index, canary: w.canary, gateways: w.gateways, status: 'not-started', tx: null }));
    this.waves.push(...planned);
    if (pass === 0) await this.startRollout(wp);
    return planned;
  }

  /** Records the rollout's start and shows the whole change once (false: cancelled, nothing changed). */
  private async startRollout(wp: ReturnType<typeof planWaves>): Promise<void> {
    const { o, scope, k } = this;
    o.log.append({ type: 'start', rollout: this.rollout, time: new Date().toISOString(), owner: ownerIdentity().text, topology: o.topology.file, topologySha256: sha256(o.topologyText), settings: o.settings, ...(o.resumes ? { resumes: o.resumes } : {}), waves: wp.waves.map((w) => w.gateways) });
    if (!o.confirm) return;
    const plan = await mapSliced(scope.gateways, (g) => gatewayPlan(this.byName.get(g)!, k.assumed(g) ?? '', k.desired.get(g)!));
    const yes = await o.confirm({ rollout: this.rollout, scope, waves: wp.waves, notes: wp.notes, plan, limitAdded: this.limited.added, left: this.limited.left });
    if (!yes) throw new NatchainError('CANCELLED', 'cancelled; nothing was changed');
  }

  /** Runs the planned waves in order until one stops the rollout or finds a gateway not as assumed (stale: the rest is planned again). */
  private async runPlanned(planned: WaveReport[], failedBefore: number): Promise<{ failed: number; stopped?: string; stale: boolean }> {
    const { o } = this;
    const budget = resolveCount(o.maxFail, this.scope.gateways.length, 'down');
    const of = planned[0]!.index - 1 + planned.length;
    let failed = failedBefore;
    let stopped: string | undefined;
    for (const [i, w] of planned.entries()) {
      if (o.signal?.aborted) stopped ??= 'interrupted by the user';
      if (stopped) break;
      o.progress.wave(`wave ${w.index} of ${of}${w.canary ? ' (canary)' : ''}`, w.gateways);
      const stale = await this.runOneWave(w);
      if (stale.size) {
        this.replan(w, stale);
        return { failed, stale: true, ...(stopped ? { stopped } : {}) };
      }
      if (w.status === 'committed' || w.status === 'noop') {
        const next = planned[i + 1];
        if (next) stopped = await betweenWaves(o, w, next, of);
        continue;
      }
      failed += w.gateways.length;
      stopped = whyStop(w, o.signal, failed, budget);
      if (stopped) w.stopped = stopped;
    }
    return { failed, stale: false, ...(stopped ? { stopped } : {}) };
  }

  /** Runs one wave and records it; resolves with the gateways found not as assumed. */
  private async runOneWave(w: WaveReport): Promise<Set<string>> {
    const stale = new Set<string>();
    const members = new Set(w.gateways);
    await runWave(this.o, this.root, w, this.k, (g, now) => this.k.closedIn(g, now, members), stale);
    if (w.report) for (const g of w.gateways) this.ranGateways.add(g);
    this.o.log.append({ type: 'wave', rollout: this.rollout, time: new Date().toISOString(), index: w.index, canary: w.canary, gateways: w.gateways, tx: w.tx, status: w.status });
    return stale;
  }

  /** A gateway of wave `w` was not in the state the plan assumed (its prepare read it): that wave changed nothing; it and the waves after it are planned again. */
  private replan(w: WaveReport, stale: Set<string>): void {
    this.notes.push(`re-planned: ${[...stale].join(', ')} ${stale.size === 1 ? 'was' : 'were'} not as natchain last recorded (or had no record here)`);
    for (const g of w.report?.gateways ?? []) this.k.reads[g.gateway] = (this.k.reads[g.gateway] ?? 0) + g.roundTrips;
    this.waves.splice(this.waves.indexOf(w));
  }

  /** The report (with what the checks of the gateways outside said); throws RolloutError when a wave did not commit or the rollout stopped early. */
  async finish(stopped: string | undefined): Promise<RolloutReport> {
    const { o, scope } = this;
    const summary = rolloutSummary(this.waves);
    o.log.append({ type: 'end', rollout: this.rollout, time: new Date().toISOString(), summary });
    const report: RolloutReport = {
      rollout: this.rollout,
      scope: { gateways: scope.gateways, forwards: scope.forwards, limitAdded: this.limited.added, left: this.limited.left },
      outside: await this.outsideReport(),
      waves: this.waves,
      notes: this.notes,
      reads: this.k.reads,
      refreshed: this.refresh,
      summary,
      elapsedMs: Date.now() - this.t0,
    };
    failIfBad(report, stopped);
    return report;
  }

  /** The gateways outside the change as reported: with what their checks said, as read (--refresh), or not contacted. */
  private async outsideReport(): Promise<OutsideGateway[]> {
    const outside = this.scope.outside;
    if (this.checks) return withReach(outside, await this.checks.answers(outside.filter((x) => x.status === 'unchanged' && x.since !== undefined).map((x) => x.gateway)));
    return this.refresh ? outside : notContacted(outside);
  }

  /** Whatever happened: the checks still running stop, and what this run read and changed goes into the known-state cache. */
  async end(): Promise<void> {
    this.checks?.stop();
    const { o, k } = this;
    const error = await o.known?.write([...k.seen, ...(await journalRecords(o.journal.writtenTransactions(), o.topology, this.ranGateways))]);
    if (error) o.progress.note(`natchain: ${error}`);
  }
}

/** Why a wave that did not commit stops the rollout, if it does. */
function whyStop(w: WaveReport, signal: AbortSignal | undefined, failed: number, budget: number): string | undefined {
  if (w.status === 'inconsistent') return 'a wave ended inconsistent (run natchain recover)';
  if (w.canary) return 'the canary failed';
  if (signal?.aborted) return 'interrupted by the user';
  if (overBudget(failed, budget)) return `${failed} gateway(s) failed, more than --max-fail ${budget}`;
  return undefined;
}

/** Throws the report as a RolloutError when a wave did not commit, or the rollout stopped with waves not started. */
function failIfBad(report: RolloutReport, stopped: string | undefined): void {
  const waves = report.waves;
  const bad = waves.find((w) => !['committed', 'noop', 'armed', 'not-started'].includes(w.status));
  if (!bad && !(stopped && waves.some((w) => w.status === 'not-started'))) return;
  const head = bad ? `wave ${bad.index} ${bad.status === 'aborted' ? 'did not start' : bad.status}${bad.failure ? ` (${bad.failure.gateway}, ${bad.failure.phase}: ${bad.failure.reason})` : bad.error ? ` (${bad.error})` : ''}` : `stopped: ${stopped}`;
  // One wave: the transaction's own words; several: which wave, and the count.
  const message = waves.length === 1 && bad?.error ? bad.error : `${head}; ${report.summary}`;
  throw new RolloutError(message, report, bad?.code ?? 'TRANSACTION');
}

/** The same progress sink, calling `then` once, when any gateway first starts `phase`. */
function onFirstPhase(p: FleetProgress, phase: string, then: () => void): FleetProgress {
  let fired = false;
  return {
    wave: (label, gateways) => p.wave(label, gateways),
    stop: () => p.stop(),
    note: (m) => p.note(m),
    finish: (g, ph, ok, detail) => p.finish(g, ph, ok, detail),
    start: (g, ph) => {
      if (!fired && ph === phase) {
        fired = true;
        then();
      }
      p.start(g, ph);
    },
  };
}

/** A saved plan is refused when any gateway read now differs from what the plan saw, naming each. */
function refuseStale(saved: Map<string, string | null>, read: Map<string, string | Error>): void {
  const stale = staleGateways(saved, read);
  if (stale.length) {
    throw new NatchainError('USAGE', `the saved plan is out of date: ${stale.map((s) => s.gateway).join(', ')} changed since it was made; nothing was changed: make a new plan`, stale.map((s) => `${s.gateway}: ${s.reason}`));
  }
}

/** The plan of one in-scope gateway, from the state natchain assumes it has. */
export function gatewayPlan(g: Gateway, before: string, after: string): GatewayPlan {
  return { gateway: g.name, backend: g.backend, changed: before !== after, before, after, forwards: forwardChanges(before, after), ipForward: '', enableIpForward: false };
}

/**
 * Runs one wave as a transaction; fills in its status, tx and report. Gateways found not as assumed
 * go into `stale`; `closed` says whether a gateway natchain had no record of keeps its changes inside the wave.
 */
async function runWave(o: RolloutOptions, root: string, w: WaveReport, k: FleetKnowledge, closed: (g: string, now: string) => boolean, stale: Set<string>): Promise<void> {
  const refused = await settleWave(w, () =>
    runTransaction({
      kind: 'apply',
      // In every gateway's history: a rollback from any machine undoes the whole rollout.
      rollout: root,
      topology: o.topology,
      gateways: w.gateways,
      target: (g) => changeToIntents(g, o.intents[g.name] ?? []),
      // Under the lock: the state must be the one the plan assumed (else re-plan, or refuse a saved plan).
      guard: (g, read) => {
        const now = canonicalOf(g.backend, read.snapshot);
        const then = k.assumed(g.name);
        k.noteLocked(g.name, now);
        if (then === undefined ? !closed(g.name, now) : now !== then) {
          if (o.saved) throw new Error("natchain's state changed since the plan was made; nothing was changed: make a new plan");
          stale.add(g.name);
          throw new Error('natchain\'s state is not what the plan assumed (changed by hand, by another operator, or never recorded here): re-planning');
        }
        o.guard?.(g, read);
      },
      needsForwarding: (g) => (o.intents[g.name] ?? []).length > 0,
      ...waveTxOptions(o),
    }),
  );
  // A gateway natchain had no record of and cannot reach: plan again without assuming anything of it.
  for (const d of refused?.details ?? []) {
    const name = w.gateways.find((g) => d.startsWith(`${g}: `));
    if (name && k.assumed(name) === undefined) {
      k.noteUnreachable(name, d.slice(name.length + 2));
      stale.add(name);
    }
  }
}

/** The options every wave's transaction takes from the rollout as they are (connections, settings, hooks). */
export function waveTxOptions(o: Omit<RolloutOptions, 'intents' | 'chains' | 'topologyText' | 'log' | 'waves' | 'maxFail' | 'settings'>) {
  return {
    connector: o.connector,
    fresh: o.fresh,
    connect: o.connect,
    journal: o.journal,
    concurrency: o.concurrency,
    confirmTimeoutSec: o.confirmTimeoutSec,
    enableIpForward: o.enableIpForward,
    progress: o.progress,
    faults: o.faults,
    ...(o.topologyHash ? { topologyHash: o.topologyHash } : {}),
    ...(o.confirmMode ? { confirmMode: o.confirmMode } : {}),
    ...(o.lockTimeoutSec ? { lockTimeoutSec: o.lockTimeoutSec } : {}),
    ...(o.breakLock ? { breakLock: o.breakLock } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

/** Runs one wave's transaction and records in `w` how it ended; returns the error of a refusal before anything was locked (a gateway of the wave cannot be reached). */
export async function settleWave(w: WaveReport, run: () => Promise<TransactionReport>): Promise<NatchainError | undefined> {
  try {
    const r = await run();
    w.report = r;
    w.tx = r.tx;
    w.status = r.outcome === 'noop' ? 'noop' : r.outcome === 'armed' ? 'armed' : 'committed';
  } catch (e) {
    if (e instanceof TransactionError) {
      w.report = e.report;
      w.tx = e.report.tx;
      w.status = e.report.outcome === 'inconsistent' ? 'inconsistent' : e.report.outcome === 'rolled-back' ? 'rolled-back' : 'aborted';
      if (e.report.failure) w.failure = e.report.failure;
      w.error = e.message;
      w.code = e.code;
    } else if (e instanceof NatchainError) {
      w.status = 'aborted';
      w.error = [e.message, ...e.details].join('; ');
      w.code = e.code;
      return e;
    } else throw e;
  }
  return undefined;
}

/** After a committed wave: every gateway of it must take a new connection; then the pause or the prompt. Returns why to stop, if so. */
async function betweenWaves(o: RolloutOptions, done: WaveReport, next: WaveReport, of: number): Promise<string | undefined> {
  const failures: string[] = [];
  await Promise.all(
    done.gateways.map(async (name) => {
      const g = o.topology.gateways.find((x) => x.name === name)!;
      try {
        const s = await o.fresh(o.topology, g, o.connect);
        await s.close().catch(() => undefined);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }),
  );
  if (failures.length) return (done.stopped = `after wave ${done.index} committed, a new connection failed: ${failures.join('; ')}`);
  if (o.probe) {
    const mine = new Set(done.gateways);
    const forwards = [...new Set(o.chains.filter((c) => c.hops.some((h) => mine.has(h.gateway))).map((c) => c.forward))];
    const bad = forwards.length ? await o.probe(forwards) : undefined;
    if (bad) return (done.stopped = `after wave ${done.index} committed, natchain probe failed: ${bad}`);
  }
  if (o.signal?.aborted) return (done.stopped = 'interrupted by the user');
  if (o.between && !(await o.between(waveOf(next), of))) return (done.stopped = `stopped before wave ${next.index}`);
  if (o.signal?.aborted) return (done.stopped = 'interrupted by the user');
  return undefined;
}

function waveOf(w: WaveReport): Wave {
  return { index: w.index, canary: w.canary, gateways: w.gateways, components: [w.gateways], oversize: false };
}

/** Waits `seconds` between waves (cut short by the signal). */
export function pauseFor(seconds: number, signal?: AbortSignal): () => Promise<boolean> {
  return async () => {
    await sleep(seconds * 1000, signal);
    return !signal?.aborted;
  };
}

/** One gateway in a rollout's report: its transaction's row, or why it had none. */
export type GatewayRow = Omit<Partial<GatewayReport>, 'state'> & { gateway: string; state: string; wave?: number; roundTrips: number; since?: string; reach?: OutsideGateway['reach'] };

/** Every gateway of the topology with where the rollout left it (for the JSON report). */
export function gatewayRows(topology: Topology, r: RolloutReport): GatewayRow[] {
  return topology.gateways.map((g) => {
    const reads = r.reads[g.name] ?? 0;
    const w = r.waves.find((x) => x.gateways.includes(g.name));
    const inTx = w?.report?.gateways.find((x) => x.gateway === g.name);
    if (w && inTx) return { ...inTx, wave: w.index, roundTrips: inTx.roundTrips + reads };
    if (w) return { gateway: g.name, backend: g.backend, changed: false, state: w.status === 'not-started' ? 'not-started' : 'unknown', wave: w.index, roundTrips: reads, ...(w.error ? { detail: w.error } : {}) };
    const out = r.outside.find((x) => x.gateway === g.name);
    return { gateway: g.name, backend: g.backend, changed: false, state: out?.status ?? 'unchanged', roundTrips: reads, ...(out ? { detail: out.detail } : {}), ...(out?.since ? { since: out.since } : {}), ...(out?.reach ? { reach: out.reach } : {}) };
  });
}
