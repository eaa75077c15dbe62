// What every command that reaches gateways shares when it runs: the connectors, the checks and settings
// of a transaction, the plan and summary as shown (cli/rollout.ts runs apply and rollback). Options: options.ts.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { password } from '@inquirer/prompts';
import { UsageError } from '../errors.js';
import { isTxId } from '../rollout/ids.js';
import { Journal, stateDir, type TxHistory } from '../rollout/journal.js';
import { knownRecord, KnownStore, type KnownRecord } from '../rollout/known-store.js';
import type { SeenHook } from '../rollout/live.js';
import { stillRunning, unfinished } from '../rollout/recover.js';
import { describeSplit, type SplitTx } from '../rollout/split.js';
import { formatForwardChanges } from '../rollout/owned.js';
import type { GatewayPlan, GatewayRead, TransactionReport } from '../rollout/transaction.js';
import type { Gateway, Topology } from '../topology/types.js';
import { checkFacts } from '../gateway/facts.js';
import { connect, SshPool, type ConnectOptions, type Connector } from '../transport/index.js';
import { diffRuleset } from '../plan/index.js';
import { TimeSlice } from '../timeslice.js';
import { c, table } from './output.js';
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
export function knownRecorder(o: RemoteOptions, by: string): { seen: SeenHook; save(): Promise<void> } {
  const records: KnownRecord[] = [];
  return {
    seen: (g, canonical, busy) => records.push(knownRecord(g.name, g.backend, canonical, busy, by)),
    save: async () => {
      const error = await new KnownStore(stateDir(o.stateDir)).write(records);
      if (error) process.stderr.write(`natchain: ${error}\n`);
    },
  };
}

/** The checks every transaction command makes before anything is drawn or connected (and the unfinished transactions named); the settings they give. */
export async function txSettings(o: TxCliOptions, kind: string): Promise<{ tty: boolean; timeout: number; mode: 'auto' | 'manual'; lockTimeout: number; concurrency: number }> {
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
  await noteUnfinished(o);
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

/** Names every transaction of the local journal a crash left unfinished (on stderr): apply, plan and status say so before anything else. */
export async function noteUnfinished(o: { stateDir?: string }): Promise<TxHistory[]> {
  // Sliced: a fleet's journal is megabytes, and plan and status read it beside their connections.
  const list = unfinished(await new Journal(stateDir(o.stateDir)).transactionsSliced()).filter((h) => !stillRunning(h));
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
