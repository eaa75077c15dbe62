// What every command that reaches gateways shares when it runs: the connectors, and running a
// transaction from the CLI (confirmation, progress, summary, JSON, exit code). Their options are in options.ts.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { confirm as askYesNo, password } from '@inquirer/prompts';
import { UsageError } from '../errors.js';
import { readFaults } from '../rollout/faults.js';
import { isTxId } from '../rollout/ids.js';
import { Journal, stateDir, type TxHistory } from '../rollout/journal.js';
import { knownRecord, KnownStore, type KnownRecord } from '../rollout/known-store.js';
import type { SeenHook } from '../rollout/live.js';
import { stillRunning, unfinished } from '../rollout/recover.js';
import { describeSplit, type SplitTx } from '../rollout/split.js';
import { formatForwardChanges } from '../rollout/owned.js';
import { plainProgress, ttyProgress } from '../rollout/progress.js';
import { runTransaction, TransactionError, type GatewayPlan, type GatewayRead, type ProgressSink, type TransactionOptions, type TransactionReport } from '../rollout/transaction.js';
import type { Gateway, Topology } from '../topology/types.js';
import { checkFacts } from '../gateway/facts.js';
import { connect, SshPool, type ConnectOptions, type Connector } from '../transport/index.js';
import { diffRuleset } from '../plan/index.js';
import { TimeSlice } from '../timeslice.js';
import { c, ChunkedWriter, makeChalk, printJson, table } from './output.js';
import type { RemoteOptions, TxCliOptions } from './options.js';

/** The transport settings the options ask for (passphrases asked once on a TTY). */
export function connectOptionsOf(o: RemoteOptions): ConnectOptions {
  const opts: ConnectOptions = {};
  if (o.sshConfig) opts.sshConfigFile = o.sshConfig;
  if (o.acceptNew) opts.acceptNew = true;
  // --concurrency bounds open connections as well as work (memory stays flat on large fleets).
  opts.maxConnections = concurrencyOf(o);
  if (process.stdin.isTTY && process.stderr.isTTY) {
    opts.askPassphrase = (keyFile) => password({ message: `passphrase for ${keyFile}:` }, { output: process.stderr });
  }
  opts.onNotice = (gateway, message) => process.stderr.write(`natchain: ${gateway}: ${message}\n`);
  return opts;
}

/** --concurrency as a positive integer. */
export function concurrencyOf(o: RemoteOptions): number {
  const n = Number(o.concurrency ?? 32);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--concurrency must be a whole number from 1 to 256, not "${o.concurrency}"`);
  return n;
}

/** Management sessions share one connection per gateway (and per jump host); the probe always opens new ones. */
export function connectors(opts: ConnectOptions): { pool: SshPool; managed: Connector; fresh: Connector } {
  const pool = new SshPool(opts);
  return { pool, managed: (t, g) => pool.connect(t, g), fresh: connect };
}

/** Records what a read command saw per gateway in the known-state cache (apply's scope comes from it); `save` warns on stderr when it cannot. */
export function knownRecorder(o: RemoteOptions, by: string): { seen: SeenHook; save(): void } {
  const records: KnownRecord[] = [];
  return {
    seen: (g, canonical, busy) => records.push(knownRecord(g.name, g.backend, canonical, busy, by)),
    save: () => {
      const error = new KnownStore(stateDir(o.stateDir)).write(records);
      if (error) process.stderr.write(`natchain: ${error}\n`);
    },
  };
}

/** The checks every transaction command makes before anything is drawn or connected (and the unfinished transactions named); the settings they give. */
export function txSettings(o: TxCliOptions, kind: string): { tty: boolean; timeout: number; mode: 'auto' | 'manual'; lockTimeout: number; concurrency: number } {
  const tty = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (!o.yes && !tty) throw new UsageError(`refusing to ${kind} without confirmation: there is no terminal to ask on; pass --yes`);
  const timeout = Number(o.confirmTimeout ?? 60);
  if (!Number.isInteger(timeout) || timeout < 2 || timeout > 86400) throw new UsageError(`--confirm-timeout must be whole seconds from 2 to 86400, not "${o.confirmTimeout}"`);
  if (o.breakLock !== undefined && !isTxId(o.breakLock)) throw new UsageError(`--break-lock takes a transaction id such as 20260101T120000Z-a1b2c3, not "${o.breakLock}"`);
  const mode = o.confirm ?? 'auto';
  if (mode !== 'auto' && mode !== 'manual') throw new UsageError(`--confirm takes auto or manual, not "${o.confirm}"`);
  const lockTimeout = Number(o.lockTimeout ?? 0);
  if (!Number.isInteger(lockTimeout) || lockTimeout < 0 || lockTimeout > 86400) throw new UsageError(`--lock-timeout must be whole seconds from 0 to 86400, not "${o.lockTimeout}"`);
  const concurrency = concurrencyOf(o);
  noteUnfinished(o);
  return { tty, timeout, mode, lockTimeout, concurrency };
}

/** The first Ctrl-C notes `message` (through the progress renderer, so no redraw overwrites it) and aborts the signal; the second is Node's own. */
export function onFirstInterrupt(note: (message: string) => void, message: string): { signal: AbortSignal; dispose(): void } {
  const ctl = new AbortController();
  // Shared by every wait of the run (Node warns over the progress block past 10 listeners).
  setMaxListeners(0, ctl.signal);
  const onSigint = () => {
    note(message);
    ctl.abort();
    process.removeListener('SIGINT', onSigint);
  };
  process.on('SIGINT', onSigint);
  return { signal: ctl.signal, dispose: () => process.removeListener('SIGINT', onSigint) };
}

/** Runs one rollback transaction from the CLI: confirmation, progress, summary, JSON, exit code (apply runs through rollout.ts, in waves). */
export async function runTxCommand(
  o: TxCliOptions,
  kind: 'rollback',
  topology: Topology,
  setup: Pick<TransactionOptions, 'target' | 'needsForwarding'> & { gateways?: string[]; rollbackOf?: string },
  after?: (r: TransactionReport) => Promise<string[]>,
): Promise<void> {
  const { timeout, mode, lockTimeout, concurrency } = txSettings(o, kind);
  // Refused before anything is drawn or connected unless explicitly enabled (docs/rollout.md).
  const faults = readFaults();
  const connectOpts = connectOptionsOf(o);
  const { pool, managed, fresh } = connectors(connectOpts);
  const names = setup.gateways ?? topology.gateways.map((g) => g.name);
  const err = makeChalk(process.stderr);
  let inner: ProgressSink & { stop(): void } = process.stderr.isTTY && !o.json ? ttyProgress(process.stderr, names, err) : plainProgress(process.stderr);
  connectOpts.onNotice = (gateway, message) => inner.note(`natchain: ${gateway}: ${message}`);
  const progress: ProgressSink = {
    start: (g, p) => inner.start(g, p),
    finish: (g, p, ok, d) => inner.finish(g, p, ok, d),
    note: (m) => inner.note(m),
  };
  const interrupt = onFirstInterrupt((m) => inner.note(m), 'natchain: interrupted; rolling back at the next step (press Ctrl-C again to leave it to the dead-man timers)');
  const showPlan = async (plan: GatewayPlan[]): Promise<boolean> => {
    inner.stop();
    const out = o.json ? process.stderr : process.stdout;
    const w = new ChunkedWriter(out);
    await w.write((await formatPlan(plan, o.json ? makeChalk(process.stderr) : c)) + '\n');
    await w.flush();
    let yes = true;
    if (!o.yes) {
      try {
        yes = await askYesNo({ message: `${kind} these changes on ${plan.filter((p) => p.changed).length} gateway(s)?`, default: false }, { output: process.stderr });
      } catch {
        yes = false;
      }
    }
    if (yes && process.stderr.isTTY && !o.json) inner = ttyProgress(process.stderr, plan.filter((p) => p.changed).map((p) => p.gateway), err);
    return yes;
  };
  let report: TransactionReport;
  try {
    report = await runTransaction({
      kind,
      topology,
      ...setup,
      connector: managed,
      fresh,
      connect: connectOpts,
      journal: new Journal(stateDir(o.stateDir)),
      concurrency,
      confirmTimeoutSec: timeout,
      enableIpForward: Boolean(o.enableIpForward),
      ...(o.breakLock ? { breakLock: o.breakLock } : {}),
      confirm: showPlan,
      guard: factsGuard,
      confirmMode: mode,
      lockTimeoutSec: lockTimeout,
      ...topologyHashOf(topology),
      progress,
      faults,
      signal: interrupt.signal,
    });
  } catch (e) {
    inner.stop();
    if (e instanceof TransactionError) {
      if (o.json) printJson({ ...jsonReport(e.report), error: { code: e.code, message: e.message } });
      else if (e.code !== 'CANCELLED' && e.code !== 'LOCKED') process.stdout.write(summary(e.report) + '\n');
    }
    throw e;
  } finally {
    interrupt.dispose();
    await pool.closeAll().catch(() => undefined);
  }
  inner.stop();
  const notes = after ? await after(report) : [];
  if (o.json) return printJson({ ...jsonReport(report), notes });
  if (report.outcome === 'noop') {
    process.stdout.write(`${c.green('in sync')}: nothing to ${kind} on ${report.gateways.length} gateway(s) (transaction ${report.tx}, nothing changed)\n`);
  } else if (report.outcome === 'armed') {
    process.stdout.write(summary(report) + '\n');
    const when = report.deadline ? new Date(report.deadline * 1000).toISOString() : `within ${timeout}s`;
    process.stdout.write(`${c.yellow('armed')}: transaction ${report.tx} is applied and verified, not committed. Commit it before ${when} with:\n  natchain confirm ${topology.file} ${report.tx}\nwithout it every gateway restores its snapshot at that time.\n`);
  } else {
    process.stdout.write(summary(report) + '\n');
    process.stdout.write(`${c.green('committed')} transaction ${report.tx} in ${(report.elapsedMs / 1000).toFixed(1)}s\n`);
  }
  for (const n of notes) process.stdout.write(n + '\n');
}

/** Names every transaction of the local journal a crash left unfinished (on stderr): apply, plan and status say so before anything else. */
export function noteUnfinished(o: { stateDir?: string }): TxHistory[] {
  const list = unfinished(new Journal(stateDir(o.stateDir))).filter((h) => !stillRunning(h));
  for (const h of list) {
    const b = h.begin!;
    const decided = h.decision === 'commit' ? ' after its commit decision' : '';
    process.stderr.write(`natchain: transaction ${h.tx} (${b.kind} of ${b.topology}, started ${b.time} by ${b.owner}) was interrupted${decided} and is not finished: run natchain recover\n`);
  }
  return list;
}

/** Names, on stderr, every transaction the gateways show committed on some of them only (read by plan and status from the gateways: any machine sees it), but those `named` already. */
export function noteSplit(list: SplitTx[], topologyFile: string, named: TxHistory[]): void {
  for (const s of list) if (!named.some((h) => h.tx === s.tx)) process.stderr.write(`natchain: ${describeSplit(s, topologyFile)}\n`);
}

/** A hash of the topology file's bytes (kept in the journal and in every gateway's history); none when it cannot be read. */
export function topologyHashOf(topology: Topology): { topologyHash?: string } {
  try {
    return { topologyHash: createHash('sha256').update(readFileSync(topology.file)).digest('hex').slice(0, 16) };
  } catch {
    return {};
  }
}

/**
 * Refuses a gateway of the transaction whose facts contradict the topology (src/gateway/facts.ts):
 * changed or not, it is on the chain of a forward the transaction changes, so that forward could not work.
 */
export function factsGuard(gateway: Gateway, read: GatewayRead): void {
  const m = checkFacts(gateway, read.facts).mismatches;
  if (m.length) throw new Error(m.map((x) => x.message.replace(`${gateway.name}: `, '')).join('; '));
}

/** The report as JSON (canonical states left out: `natchain plan --json` has diffs). */
function jsonReport(r: TransactionReport) {
  return {
    tx: r.tx,
    kind: r.kind,
    outcome: r.outcome,
    failure: r.failure ?? null,
    ...(r.deadline ? { deadline: r.deadline, deadlineIso: new Date(r.deadline * 1000).toISOString() } : {}),
    elapsedMs: r.elapsedMs,
    gateways: r.gateways,
    plan: r.plan.map((p) => ({ gateway: p.gateway, backend: p.backend, changed: p.changed, forwards: p.forwards, ipForward: p.ipForward, enableIpForward: p.enableIpForward })),
  };
}

/** The plan shown before confirmation: per gateway, forwards added/removed/changed and the rule diff (sliced: a fleet's diff is no single stall). */
export async function formatPlan(plan: GatewayPlan[], color = c): Promise<string> {
  const lines: string[] = [];
  const slice = new TimeSlice();
  for (const p of plan) {
    await slice.turn();
    if (!p.changed) {
      lines.push(`${color.bold(p.gateway)} (${p.backend}): ${color.green('in sync')}`);
      continue;
    }
    const f = p.forwards;
    const parts = formatForwardChanges(f, { added: color.green, removed: color.red, changed: color.yellow });
    lines.push(`${color.bold(p.gateway)} (${p.backend}): ${parts.length ? parts.join(' ') : 'rules change'}${p.enableIpForward ? color.yellow(' + net.ipv4.ip_forward=1') : ''}`);
    const { diff } = diffRuleset(p.gateway, p.backend, p.before, p.after, { oldLabel: 'live', newLabel: 'desired' });
    lines.push(...colourDiff(diff, color));
  }
  return lines.join('\n');
}

/** A unified diff, indented and coloured (headers dimmed). */
export function colourDiff(diff: string, color = c): string[] {
  if (!diff) return [];
  return diff
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => '    ' + (/^(---|\+\+\+|@@)/.test(l) ? color.dim(l) : l.startsWith('+') ? color.green(l) : l.startsWith('-') ? color.red(l) : l));
}

/** Summary table: every gateway's state now, with forwards, round trips and time. */
export function summary(r: TransactionReport): string {
  const rows = [['GATEWAY', 'BACKEND', 'STATE', 'FORWARDS', 'TRIPS', 'TIME', 'DETAIL'].map((h) => c.bold(h))];
  for (const g of r.gateways) {
    const f = g.forwards;
    const fw = formatForwardChanges(f).join(' ') || (g.changed ? 'rules' : '-');
    const st = ['committed'].includes(g.state) ? c.green(g.state) : ['rolled-back', 'reverted-by-timer', 'released'].includes(g.state) ? c.yellow(g.state) : c.red(g.state);
    rows.push([g.gateway, g.backend, st, fw, String(g.roundTrips), `${(g.elapsedMs / 1000).toFixed(1)}s`, g.detail ?? '']);
  }
  const head = r.failure ? `${c.red('failed')}: ${r.failure.gateway}, phase ${r.failure.phase}: ${r.failure.reason}\n` : '';
  return head + table(rows);
}
