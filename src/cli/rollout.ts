// `apply` and `rollback` as fleet rollouts from the CLI: one prologue (connections, the plan shown
// once, progress, Ctrl-C), the report per wave (human and --json), the exit code; apply's wave options.
import { confirm as askYesNo } from '@inquirer/prompts';
import { UsageError } from '../errors.js';
import { readFaults } from '../rollout/faults.js';
import { gatewayRows, pauseFor, RolloutError, runRollout, type RolloutOptions, type RolloutPlan, type RolloutReport, type WaveReport } from '../rollout/fleet.js';
import type { RollbackReport } from '../rollout/rollback-run.js';
import { Journal, stateDir } from '../rollout/journal.js';
import { KnownStore } from '../rollout/known-store.js';
import { formatForwardChanges } from '../rollout/owned.js';
import { plainFleetProgress, ttyFleetProgress, type FleetProgress } from '../rollout/progress.js';
import type { RolloutLog, RolloutSettings } from '../rollout/rollouts.js';
import { parseCanary, parseCount, type WaveOptions } from '../rollout/waves.js';
import type { Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, SshPool } from '../transport/index.js';
import { c, ChunkedWriter, makeChalk, printJson } from './output.js';
import type { WaveCliOptions } from './commands/apply.js';
import type { TxCliOptions } from './options.js';
import { connectOptionsOf, connectors, factsGuard, formatPlan, onFirstInterrupt, summary, topologyHashOf, txSettings } from './remote.js';

/** The parsed wave options (refused before anything is connected). */
export function waveSettings(o: WaveCliOptions, tty: boolean): { waves: WaveOptions; maxFail: RolloutOptions['maxFail']; pause?: number | 'prompt'; settings: RolloutSettings } {
  const waves: WaveOptions = {};
  if (o.canary !== undefined) waves.canary = parseCanary(o.canary);
  if (o.waveSize !== undefined) waves.waveSize = parseCount('--wave-size', o.waveSize, 1);
  const maxFail = parseCount('--max-fail', o.maxFail ?? '0', 0);
  let pause: number | 'prompt' | undefined;
  if (o.pause !== undefined) {
    if (o.pause === 'prompt') {
      if (!tty) throw new UsageError('--pause prompt needs a terminal to ask on; pass --pause <seconds> instead');
      pause = 'prompt';
    } else if (/^\d{1,5}$/.test(o.pause)) pause = Number(o.pause);
    else throw new UsageError(`--pause takes whole seconds or "prompt", not "${o.pause}"`);
  }
  const settings: RolloutSettings = { maxFail: o.maxFail ?? '0' };
  if (o.canary !== undefined) settings.canary = o.canary;
  if (o.waveSize !== undefined) settings.waveSize = o.waveSize;
  if (o.limit?.length) settings.limit = o.limit;
  return { waves, maxFail, ...(pause !== undefined ? { pause } : {}), settings };
}

/** What apply hands over: the desired state and where it came from. */
export interface RolloutSetup {
  topology: Topology;
  topologyText: string;
  intents: RolloutOptions['intents'];
  chains: RolloutOptions['chains'];
  saved?: RolloutOptions['saved'];
  resumes?: string;
  log: RolloutLog;
  /** Called when at least one wave committed (writes the port lock); its lines are printed. */
  after?: (r: RolloutReport) => Promise<string[]>;
}

/** Runs `apply` as a rollout: checks, plan shown once, waves, report, exit code. */
export async function runRolloutCommand(o: TxCliOptions & WaveCliOptions, setup: RolloutSetup): Promise<void> {
  const settings = await txSettings(o, 'apply');
  const ws = waveSettings(o, settings.tty);
  if (settings.mode === 'manual' && (ws.waves.canary || ws.waves.waveSize)) throw new UsageError('--confirm manual leaves one transaction armed; it cannot be combined with --canary or --wave-size');
  const checkOutside = o.checkOutside !== false;
  if (!checkOutside && (o.refresh || setup.saved)) throw new UsageError(`--no-check-outside leaves the gateways outside the change alone; ${o.refresh ? '--refresh' : '--plan'} reads every one of them first: choose one`);
  await runFleetCommand(o, 'apply', setup.topology, settings, async (ctx) => {
    const between = betweenWaves(ws.pause, ctx.signal, ctx.progress);
    return runRollout({
      ...ctx,
      topology: setup.topology,
      topologyText: setup.topologyText,
      intents: setup.intents,
      chains: setup.chains,
      known: new KnownStore(stateDir(o.stateDir)),
      ...(o.refresh ? { refresh: true } : {}),
      ...(checkOutside ? { reach: (g, ms, signal) => ctx.pool.reach(setup.topology, g, ms, signal) } : {}),
      log: setup.log,
      waves: ws.waves,
      maxFail: ws.maxFail,
      ...(o.limit?.length ? { limit: o.limit } : {}),
      settings: ws.settings,
      ...(setup.saved ? { saved: setup.saved } : {}),
      ...(setup.resumes ? { resumes: setup.resumes } : {}),
      ...(between ? { between } : {}),
      ...(o.probe ? { probe: (forwards: string[]) => probeWave(setup, forwards, ctx.connector, ctx.connect, ctx.concurrency) } : {}),
    });
  }, setup.after);
}

/** --pause: wait that many seconds between waves, or ask on the terminal. */
function betweenWaves(pause: number | 'prompt' | undefined, signal: AbortSignal, progress: FleetProgress): RolloutOptions['between'] {
  if (pause === 'prompt') {
    return async (next, of) => {
      // The question goes below the finished wave's block; the next wave draws a new block below the answer.
      progress.stop();
      try {
        return await askYesNo({ message: `start wave ${next.index} of ${of} (${next.gateways.length} gateway(s))?`, default: true }, { output: process.stderr });
      } catch {
        return false;
      }
    };
  }
  return pause === undefined ? undefined : pauseFor(pause, signal);
}

/** What the shared prologue hands a fleet command: connections, settings and hooks, named as runRollout takes them. */
export type FleetContext = Pick<
  RolloutOptions,
  'journal' | 'connector' | 'fresh' | 'connect' | 'concurrency' | 'confirmTimeoutSec' | 'confirmMode' | 'lockTimeoutSec' | 'enableIpForward' | 'breakLock' | 'faults' | 'progress' | 'guard' | 'topologyHash' | 'confirm'
> & { signal: AbortSignal; pool: SshPool };

/** A fleet command's report: a rollout's, and for a rollback what it restored. */
type FleetReport = RolloutReport & { rollback?: RollbackReport['rollback'] };

/**
 * Runs a command that changes gateways (apply, rollback) as a rollout: connections, the plan shown
 * once and confirmed, progress, Ctrl-C, the report (human and --json) and the exit code. `body` runs it.
 */
export async function runFleetCommand(
  o: TxCliOptions,
  kind: 'apply' | 'rollback',
  topology: Topology,
  settings: Awaited<ReturnType<typeof txSettings>>,
  body: (ctx: FleetContext) => Promise<FleetReport>,
  after?: (r: RolloutReport) => Promise<string[]>,
): Promise<void> {
  // Refused before anything is drawn or connected unless explicitly enabled (docs/rollout.md).
  const faults = readFaults();
  const connectOpts = connectOptionsOf(o);
  const { pool, managed, fresh } = connectors(connectOpts);
  const err = makeChalk(process.stderr);
  const progress = process.stderr.isTTY && !o.json ? ttyFleetProgress(process.stderr, err, { keys: process.stdin }) : plainFleetProgress(process.stderr);
  // A host key recorded by --accept-new mid-wave: above the block, not over it.
  connectOpts.onNotice = (gateway, message) => progress.note(`natchain: ${gateway}: ${message}`);
  const more = kind === 'apply' ? ', no new wave starts' : '';
  const interrupt = onFirstInterrupt((m) => progress.note(m), `natchain: interrupted; rolling back at the next step${more} (press Ctrl-C again to leave it to the dead-man timers)`);
  // Notes the plan already showed are not repeated in the report (the JSON keeps them all).
  const shown = new Set<string>();
  const showPlan = async (view: RolloutPlan): Promise<boolean> => {
    progress.stop();
    for (const n of view.notes) shown.add(n);
    const out = o.json ? process.stderr : process.stdout;
    const w = new ChunkedWriter(out);
    await w.write((await formatRolloutPlan(view, o.json ? err : c)) + '\n');
    await w.flush();
    if (o.yes) return true;
    try {
      return await askYesNo({ message: `${kind} these changes on ${view.plan.filter((p) => p.changed).length} gateway(s)${view.waves.length > 1 ? ` in ${view.waves.length} waves` : ''}?`, default: false }, { output: process.stderr });
    } catch {
      return false;
    }
  };
  let report: FleetReport;
  try {
    report = await body({
      pool,
      journal: new Journal(stateDir(o.stateDir)),
      connector: managed,
      fresh,
      connect: connectOpts,
      concurrency: settings.concurrency,
      confirmTimeoutSec: settings.timeout,
      enableIpForward: Boolean(o.enableIpForward),
      ...(o.breakLock ? { breakLock: o.breakLock } : {}),
      faults,
      signal: interrupt.signal,
      progress,
      confirm: showPlan,
      confirmMode: settings.mode,
      lockTimeoutSec: settings.lockTimeout,
      guard: factsGuard,
      ...topologyHashOf(topology),
    });
  } catch (e) {
    progress.stop();
    if (e instanceof RolloutError) {
      const notes = e.report.waves.some((w) => w.status === 'committed') && after ? await after(e.report) : [];
      if (o.json) printJson({ ...rolloutJson(topology, e.report, kind, notes), error: { code: e.code, message: e.message } });
      else if (e.code !== 'CANCELLED') process.stdout.write(formatRollout(e.report, topology.file, kind, shown) + '\n' + notes.map((n) => n + '\n').join(''));
    }
    throw e;
  } finally {
    interrupt.dispose();
    await pool.closeAll().catch(() => undefined);
  }
  progress.stop();
  const notes = after ? await after(report) : [];
  if (o.json) return printJson(rolloutJson(topology, report, kind, notes));
  process.stdout.write(formatRollout(report, topology.file, kind, shown) + '\n');
  for (const n of notes) process.stdout.write(n + '\n');
}

/** How the whole rollout ended, in one word (a single wave: its transaction's outcome). */
function outcomeOf(r: RolloutReport): string {
  if (!r.waves.length) return 'noop';
  if (r.waves.every((w) => w.status === 'noop')) return 'noop';
  if (r.waves.length === 1 && r.waves[0]!.status === 'armed') return 'armed';
  if (r.waves.every((w) => w.status === 'committed' || w.status === 'noop')) return 'committed';
  if (r.waves.length === 1) return r.waves[0]!.status;
  return r.waves.some((w) => w.status === 'committed') ? 'partial' : (r.waves.find((w) => w.status !== 'not-started')?.status ?? 'aborted');
}

/** The report as JSON: a transaction's fields (the last wave that ran) plus the rollout; `notes` adds the command's own. */
export function rolloutJson(topology: Topology, r: FleetReport, kind: 'apply' | 'rollback' = 'apply', notes: string[] = []) {
  const ran = r.waves.filter((w) => w.report);
  const last = ran[ran.length - 1];
  const failed = r.waves.find((w) => w.failure);
  return {
    rollout: r.rollout,
    tx: last?.tx ?? null,
    kind,
    outcome: outcomeOf(r),
    failure: failed?.failure ?? null,
    ...(last?.report?.deadline ? { deadline: last.report.deadline } : {}),
    elapsedMs: r.elapsedMs,
    gateways: gatewayRows(topology, r),
    plan: ran.flatMap((w) => w.report!.plan.map((p) => ({ gateway: p.gateway, backend: p.backend, changed: p.changed, forwards: p.forwards, ipForward: p.ipForward, enableIpForward: p.enableIpForward }))),
    scope: r.scope,
    outside: r.outside,
    refreshed: r.refreshed,
    waves: r.waves.map((w) => ({
      index: w.index,
      canary: w.canary,
      gateways: w.gateways,
      status: w.status,
      tx: w.tx,
      failure: w.failure ?? null,
      ...(w.error ? { error: w.error } : {}),
      ...(w.stopped ? { stopped: w.stopped } : {}),
      elapsedMs: w.report?.elapsedMs ?? 0,
      report: w.report ? w.report.gateways : [],
    })),
    notes: [...r.notes, ...notes],
    summary: r.summary,
    ...(r.rollback ? { rollback: r.rollback } : {}),
  };
}

/** The change shown before the first wave: per gateway the forwards and rule diff, the waves, the gateways left out. */
export async function formatRolloutPlan(v: RolloutPlan, color = c): Promise<string> {
  const lines = [await formatPlan(v.plan, color)];
  for (const a of v.limitAdded) lines.push(color.yellow(`--limit: added ${a.gateway}: ${a.why}`));
  if (v.left.length) lines.push(color.yellow(`--limit: left for a later apply: ${v.left.join(', ')}`));
  if (v.waves.length > 1) for (const w of v.waves) lines.push(`wave ${w.index}${w.canary ? ' (canary)' : ''}: ${w.gateways.join(', ')}${w.oversize ? color.yellow(' (one group of gateways sharing changed forwards, bigger than the wave size)') : ''}`);
  for (const n of v.notes) lines.push(color.yellow(n));
  for (const x of v.scope.outside.filter((x) => x.status === 'unreachable')) lines.push(color.yellow(`${x.gateway}: ${x.detail}`));
  const unread = v.scope.outside.filter((x) => x.since !== undefined).length;
  if (unread) lines.push(color.dim(`${unread} gateway(s) outside the change are not read: natchain's last record of each says it is in sync (--refresh reads them first)`));
  return lines.join('\n');
}

/** The report: one section per wave, the gateways outside the change that could not be read, the final count line. */
export function formatRollout(r: FleetReport, topologyFile: string, kind: 'apply' | 'rollback' = 'apply', shown: ReadonlySet<string> = new Set()): string {
  const lines: string[] = [];
  if (!r.waves.length) {
    const n = r.outside.filter((x) => x.status === 'unchanged').length;
    const how = kind === 'apply' && !r.refreshed ? ", by natchain's last record of each (none was read: natchain plan, or apply --refresh, reads them)" : '';
    lines.push(`${c.green('in sync')}: nothing to ${kind === 'apply' ? 'apply' : 'roll back'} on ${n} gateway(s)${how} (nothing changed)`);
  }
  const many = r.waves.length > 1;
  for (const w of r.waves) {
    if (many || w.status === 'not-started') lines.push(c.bold(`wave ${w.index} of ${r.waves.length}${w.canary ? ' (canary)' : ''}: ${waveStatus(w)}`) + ` ${w.gateways.join(', ')}`);
    if (w.report) lines.push(indent(summary(w.report), many));
    else if (w.error) lines.push(indent(c.red(w.error), many));
    if (!many && w.status === 'committed' && w.report) lines.push(`${c.green('committed')} transaction ${w.tx} in ${(w.report.elapsedMs / 1000).toFixed(1)}s`);
    if (w.status === 'armed' && w.report) {
      const when = w.report.deadline ? new Date(w.report.deadline * 1000).toISOString() : 'its deadline';
      lines.push(`${c.yellow('armed')}: transaction ${w.tx} is applied and verified, not committed. Commit it before ${when} with:\n  natchain confirm ${topologyFile} ${w.tx}\nwithout it every gateway restores its snapshot at that time.`);
    }
    if (w.stopped) lines.push(c.red(`stopped: ${w.stopped}`));
  }
  for (const a of r.scope.limitAdded) lines.push(`--limit added ${a.gateway}: ${a.why}`);
  const unchanged = r.outside.filter((x) => x.status === 'unchanged' && x.reach !== 'pending' && x.reach !== 'not-checked').map((x) => x.gateway);
  if (unchanged.length && r.waves.length) lines.push(c.dim(`unchanged (not in this change${r.refreshed ? '' : ", not read: as natchain last recorded them"}): ${listNames(unchanged)}`));
  const untouched = r.outside.filter((x) => x.reach === 'not-checked');
  if (untouched.length && r.waves.length) lines.push(c.dim(`not in this change, not contacted (--no-check-outside): in sync ${recordedWhen(untouched)}: ${listNames(untouched.map((x) => x.gateway))}`));
  const pending = r.outside.filter((x) => x.reach === 'pending').map((x) => x.gateway);
  if (pending.length) lines.push(c.yellow(`no answer yet from (not in this change; their sshd had not answered when it was done: natchain status reads them): ${listNames(pending)}`));
  for (const x of r.outside) if (x.status === 'unreachable') lines.push(c.yellow(`${x.gateway}: ${x.detail}`));
  for (const n of r.notes) if (!shown.has(n)) lines.push(c.yellow(n));
  const f = r.scope.forwards.map((x) => formatForwardChanges({ added: x.change === 'added' ? [x.forward] : [], removed: x.change === 'removed' ? [x.forward] : [], changed: x.change === 'changed' ? [x.forward] : [] })[0]).join(' ');
  if (r.rollback) {
    if (r.waves.length) lines.push(rollbackLine(r.rollback));
  } else if (r.waves.length) lines.push(`${r.summary} (rollout ${r.rollout}${f ? `; forwards ${f}` : ''})`);
  return lines.join('\n');
}

/** When natchain's records of these gateways were made: `by natchain's record of T`, or the span of them. */
function recordedWhen(outside: RolloutReport['outside']): string {
  const times = outside.map((x) => x.since!).sort();
  const [first, last] = [times[0]!, times[times.length - 1]!];
  return first === last ? `by natchain's record of ${first}` : `by natchain's records of ${first} to ${last}`;
}

/** Names, the first 20 of them, then how many more. */
function listNames(names: string[], max = 20): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** What a rollback restored, in one line. */
function rollbackLine(b: RollbackReport['rollback']): string {
  if (b.mode === 'to') return `restored the state transaction ${b.tx} left`;
  return b.rollout ? `undid rollout ${b.rollout} (transactions ${b.undo.join(', ')})` : `undid transaction ${b.tx}`;
}

function waveStatus(w: WaveReport): string {
  const s = w.status === 'committed' ? c.green(w.status) : w.status === 'noop' ? c.green('in sync') : w.status === 'not-started' ? c.dim('not started') : c.red(w.status);
  return w.tx ? `${s} (transaction ${w.tx})` : s;
}

function indent(text: string, yes: boolean): string {
  return yes ? text.replace(/^/gm, '  ') : text;
}

/** `--probe` between waves: natchain probe on the forwards of the wave just committed; the first failure, if any. */
async function probeWave(setup: RolloutSetup, forwards: string[], connector: Connector, connect: ConnectOptions, concurrency: number): Promise<string | undefined> {
  const { probeForwards } = await import('../gateway/probe.js');
  const solution = { chains: setup.chains, intents: setup.intents, allocations: [], lock: { version: 1 as const, ports: {} }, warnings: [] };
  const r = await probeForwards(setup.topology, solution, connector, connect, { forwards, concurrency });
  const f = r.forwards.flatMap((x) => x.chains.map((c) => ({ forward: x.forward, source: c.source, failure: c.failure }))).find((x) => x.failure);
  return f?.failure ? `${f.forward} from ${f.source}: ${f.failure.gateway} ${f.failure.check}: ${f.failure.detail}` : undefined;
}
