// `natchain recover`: finds transactions a crash interrupted (a journal with no end; with a
// topology, also any transaction its gateways show committed on some of them only, whatever
// machine ran it: split.ts) and brings every gateway of each to one consistent state. The gateways are the truth: recover reads each
// one's own record of the transaction (state, claim, commit record, history, live rules) and
//   - never touches a transaction that a later one superseded on any gateway (a later commit or
//     transaction there, or live rules that are no longer what it left): outcome "superseded";
//   - finishes a commit decision: the decision was journaled, or a gateway committed, or every
//     changed gateway is still armed with a verified read-back. Armed gateways are committed;
//     gateways whose timer already reverted them are rolled FORWARD as a new transaction;
//   - otherwise rolls every gateway back (undoing one that had committed).
import pLimit from 'p-limit';
import { NatchainError } from '../errors.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, GatewaySession } from '../transport/types.js';
import { PhaseError, runPhase } from './exec.js';
import { readFaults } from './faults.js';
import { ownerIdentity } from './ids.js';
import { Journal, outcomeOf, type GatewayPhase, type Outcome, type TxHistory } from './journal.js';
import { inspectGateways } from './live.js';
import { nameTable } from '../names.js';
import { splitTransactions } from './split.js';
import { canonicalOf, changeToDump, stateHash } from './owned.js';
import type { Sections } from './remote.js';
import { runTransaction, silentProgress, TransactionError, type ProgressSink } from './transaction.js';

/** What recover did for one gateway. */
export interface RecoveredGateway {
  gateway: string;
  /** The gateway's record of the transaction before recovery (armed, applied, reverted, committed, none...). */
  found: string;
  action: 'none' | 'committed' | 'rolled-back' | 'rolled-forward' | 'released' | 'unreachable';
  state: GatewayPhase;
  detail?: string;
}

/** What recover did for one transaction. */
export interface RecoveredTx {
  tx: string;
  kind: string;
  started: string;
  outcome: Outcome;
  /** The transaction that rolled reverted gateways forward, when one ran. */
  rollForward?: string;
  gateways: RecoveredGateway[];
}

/** The transactions of the journal (read with transactions() or transactionsSliced()) that never ended (or ended inconsistent, or armed past their deadline) and were not recovered since. */
export function unfinished(transactions: TxHistory[], nowSec = Date.now() / 1000): TxHistory[] {
  return transactions.filter((h) => {
    if (outcomeOf(h) !== undefined) return false;
    // Left armed for `natchain confirm`: not interrupted while its deadline is ahead.
    if (h.end?.outcome === 'armed') return Object.values(h.deadlines).every((d) => d + 5 < nowSec);
    return true;
  });
}

/** True when the natchain that runs a transaction is still alive on this host (recover must not race it). */
export function stillRunning(h: TxHistory): boolean {
  const m = /^(.+)@(.+):(\d+)$/.exec(h.begin?.owner ?? '');
  if (!m || m[2] !== ownerIdentity().host) return false;
  const pid = Number(m[3]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What recover needs. */
export interface RecoverOptions {
  journal: Journal;
  /** Reads the topology a transaction used. */
  topologyOf: (h: TxHistory) => Promise<Topology>;
  /** The transport settings of one transaction (asked once per transaction, not per gateway). */
  connect: (h: TxHistory) => ConnectOptions;
  /** Opens one transaction's connections (a pool: jump hosts shared); `close` ends them all. */
  sessions: (opts: ConnectOptions) => { connector: Connector; close(): Promise<void> };
  /** Opens a NEW connection (for a roll-forward transaction's lock-out proof and commit). Default: the pool's connector. */
  fresh?: Connector;
  concurrency: number;
  /** Only this transaction. */
  only?: string;
  progress?: ProgressSink;
  /** Dead-man timeout of a roll-forward transaction. */
  confirmTimeoutSec?: number;
  /**
   * Also look on these gateways (one read each) for transactions committed on some of them only,
   * which this journal may not know (another machine ran them, or another state directory).
   */
  scan?: { topology: Topology; connect: ConnectOptions };
}

/** What recover did, and the gateways of `scan` it could not read (any of them may hold an interrupted transaction too). */
export interface RecoverResult {
  transactions: RecoveredTx[];
  unread: string[];
}

/** Brings every interrupted transaction to a consistent state. */
export async function recover(o: RecoverOptions): Promise<RecoverResult> {
  const out: RecoveredTx[] = [];
  // A transaction whose natchain is still running on this host is not interrupted: leave it alone.
  const list = unfinished(o.journal.transactions()).filter((h) => (!o.only || h.tx === o.only) && !stillRunning(h));
  let unread: string[] = [];
  if (o.scan) {
    const found = await splitOnGateways(o, o.scan, new Set(list.map((h) => h.tx)));
    list.push(...found.histories.filter((h) => !o.only || h.tx === o.only));
    unread = found.unread;
  }
  if (o.only && list.length === 0 && unread.length === 0) {
    const known = o.journal.transactions().some((h) => h.tx === o.only);
    throw new NatchainError('NOT_FOUND', known ? `transaction ${o.only} is not interrupted; nothing to recover` : `no transaction ${o.only} in ${o.journal.file}`);
  }
  for (const h of list) out.push(await recoverOne(h, o));
  return { transactions: out, unread };
}

/** The transactions the gateways show committed on some of them only, as histories recover can act on (the decision was commit: a gateway committed). */
async function splitOnGateways(o: RecoverOptions, scan: NonNullable<RecoverOptions['scan']>, known: Set<string>): Promise<{ histories: TxHistory[]; unread: string[] }> {
  const pool = o.sessions(scan.connect);
  try {
    const live = await inspectGateways(scan.topology, scan.topology.gateways, pool.connector, scan.connect, { concurrency: o.concurrency });
    const unread = scan.topology.gateways.map((g) => g.name).filter((n) => live.get(n) instanceof Error);
    const histories: TxHistory[] = splitTransactions(live, scan.topology.gateways.map((g) => g.name))
      .filter((s) => !known.has(s.tx))
      .map((s) => ({
        tx: s.tx,
        begin: {
          type: 'begin' as const,
          tx: s.tx,
          time: s.time,
          kind: s.kind === 'rollback' || s.kind === 'roll-forward' ? s.kind : ('apply' as const),
          owner: s.owner,
          topology: scan.topology.file,
          gateways: Object.keys(s.states),
          confirmTimeoutSec: o.confirmTimeoutSec ?? 60,
        },
        decision: 'commit' as const,
        phases: nameTable<GatewayPhase[]>(),
        readback: nameTable<string>(),
        deadlines: nameTable<number>(),
        records: [],
      }));
    return { histories, unread };
  } finally {
    await pool.close().catch(() => undefined);
  }
}

/** One gateway's record of a transaction, as `inspect` shows it. */
export interface GatewayTxRecord {
  gateway: Gateway;
  state: string;
  claim: string;
  prev: string;
  last: string;
  live: string;
  applied?: string;
  snapshot?: string;
  /** Transactions in the gateway's history after this one. */
  later: string[];
  lockedBy?: string;
}

/** Reads a transaction's record from one gateway (one exec). */
export async function readTxRecord(session: GatewaySession, gateway: Gateway, tx: string): Promise<GatewayTxRecord> {
  const sec: Sections = await runPhase(session, gateway.backend, tx, 'inspect', [0]);
  const t = (n: string) => (sec.get(n) ?? '').trim();
  // Only a later commit (or undo) replaces what this transaction did; a later abort put things back as they were.
  const lines = (sec.get('history') ?? '').split('\n').map((l) => l.split('\t'));
  const at = lines.map((w) => w[0]).lastIndexOf(tx);
  // No line of its own yet (still armed, or killed before the end): what came after it by id (ids sort by time).
  const after = at >= 0 ? lines.slice(at + 1) : lines.filter((w) => (w[0] ?? '') > tx);
  const history = after.flatMap((w) => (w[0] && ['committed', 'undone'].includes(w[4] ?? '') ? [w[0]] : []));
  const r: GatewayTxRecord = {
    gateway,
    state: sec.has('txstate') ? t('txstate') || 'none' : 'none',
    claim: t('txclaim'),
    prev: t('txprev'),
    last: t('last'),
    live: sec.get('live') ?? '',
    later: history.filter((x) => x !== tx),
  };
  if (sec.has('txapplied')) r.applied = sec.get('txapplied')!;
  if (sec.has('txsnapshot')) r.snapshot = sec.get('txsnapshot')!;
  const lock = t('lock').split('\n')[0];
  if (lock && lock !== tx) r.lockedBy = lock;
  return r;
}

/** Why a gateway's record shows that a later transaction (or a hand) replaced what `tx` did there; undefined when it did not. */
export function supersededBy(r: GatewayTxRecord, tx: string): string | undefined {
  if (r.later.length) return `transaction ${r.later[r.later.length - 1]} ran here since`;
  if (r.lockedBy) return `transaction ${r.lockedBy} holds the lock here`;
  const b = r.gateway.backend;
  if (r.state === 'committed') {
    if (r.last !== tx) return `the commit record names ${r.last || 'nothing'}, not ${tx}`;
    if (r.applied !== undefined && canonicalOf(b, r.live) !== canonicalOf(b, r.applied)) return `its live rules are no longer what ${tx} left`;
  }
  if (['reverted', 'rolled-back'].includes(r.state)) {
    if (r.last !== r.prev) return `the commit record names ${r.last || 'nothing'}, not ${r.prev || 'nothing'} as before ${tx}`;
    if (r.snapshot !== undefined && canonicalOf(b, r.live) !== canonicalOf(b, r.snapshot)) return `its live rules are no longer what they were before ${tx}`;
  }
  return undefined;
}

const ARMED = (r: GatewayTxRecord) => ['armed', 'applied'].includes(r.state) && r.claim === '';

/** One transaction being recovered: its gateways, their connections, and what each one's record says. */
interface Recovery {
  h: TxHistory;
  o: RecoverOptions;
  topology: Topology;
  connect: ConnectOptions;
  connector: Connector;
  names: string[];
  /** Runs `fn` for every gateway of the transaction, o.concurrency at a time. */
  each: (fn: (n: string) => Promise<void>) => Promise<unknown>;
  sessions: Map<string, GatewaySession>;
  records: Map<string, GatewayTxRecord>;
  /** Gateways whose record could not be read, and why. */
  errors: Map<string, string>;
  results: Map<string, RecoveredGateway>;
}

async function recoverOne(h: TxHistory, o: RecoverOptions): Promise<RecoveredTx> {
  const topology = await o.topologyOf(h);
  const connect = o.connect(h);
  const pool = o.sessions(connect);
  const names = h.begin!.gateways;
  const limit = pLimit(Math.max(1, o.concurrency));
  const r: Recovery = {
    h,
    o,
    topology,
    connect,
    connector: pool.connector,
    names,
    each: (fn) => Promise.all(names.map((n) => limit(() => fn(n)))),
    sessions: new Map(),
    records: new Map(),
    errors: new Map(),
    results: new Map(),
  };
  try {
    // Look first, everywhere: the decision needs every gateway's record of the transaction.
    await readRecords(r);
    for (const [n, why] of r.errors) r.results.set(n, { gateway: n, found: 'unknown', action: 'unreachable', state: 'unknown', detail: why });
    const superseded = [...r.records.values()].flatMap((rec) => {
      const why = supersededBy(rec, h.tx);
      return why ? [{ r: rec, why }] : [];
    });
    let rollForward: string | undefined;
    if (superseded.length) leaveSuperseded(r, superseded);
    // A commit decision is finished, never undone: a member that cannot be reached now is reported, and the next recover finishes it.
    else if (decidedCommit(h, r.records, r.errors.size === 0)) rollForward = await finishCommit(r);
    else await rollBackAll(r);
    const { report, consistent } = reportOf(r, superseded.length > 0, rollForward);
    if (consistent) journalRecovered(o.journal, report);
    return report;
  } finally {
    await Promise.all([...r.sessions.values()].map((s) => s.close().catch(() => undefined)));
    await pool.close().catch(() => undefined);
  }
}

/** Connects to every gateway of the transaction and reads its record of it (or why it cannot). */
async function readRecords(r: Recovery): Promise<void> {
  await r.each(async (n) => {
    const g = r.topology.gateways.find((x) => x.name === n);
    if (!g) return void r.errors.set(n, `gateway ${n} is no longer in ${r.topology.file}`);
    try {
      const s = await r.connector(r.topology, g, r.connect);
      r.sessions.set(n, s);
      r.records.set(n, await readTxRecord(s, g, r.h.tx));
    } catch (e) {
      r.errors.set(n, e instanceof PhaseError ? e.reason : (e as Error).message);
    }
  });
}

/** Never recover a superseded transaction: a later one (or a hand) owns these gateways now. */
function leaveSuperseded(r: Recovery, superseded: { r: GatewayTxRecord; why: string }[]): void {
  for (const rec of r.records.values()) {
    const s = superseded.find((x) => x.r === rec);
    const n = rec.gateway.name;
    r.results.set(n, { gateway: n, found: rec.state, action: 'none', state: 'superseded', detail: s ? s.why : `left alone: ${r.h.tx} was superseded on ${superseded[0]!.r.gateway.name}` });
  }
}

/** The decision was commit: armed gateways are committed, reverted ones rolled forward (returns that transaction's id). */
async function finishCommit(r: Recovery): Promise<string | undefined> {
  const forward: GatewayTxRecord[] = [];
  await r.each(async (n) => {
    const rec = r.records.get(n);
    if (!rec) return;
    if (rec.state === 'committed') return void r.results.set(n, { gateway: n, found: rec.state, action: 'none', state: 'committed' });
    if (ARMED(rec)) return void r.results.set(n, await commitOne(r.sessions.get(n)!, rec, r.h.tx));
    if (['reverted', 'rolled-back'].includes(rec.state) && rec.applied !== undefined) return void forward.push(rec);
    r.results.set(n, { gateway: n, found: rec.state, action: 'none', state: rec.state === 'none' ? 'unchanged' : 'released', detail: rec.state === 'none' ? 'the transaction changed nothing here' : undefined });
  });
  return forward.length ? rollForwardGateways(r.h, forward, r.topology, r.connect, r.connector, r.o, r.results) : undefined;
}

/** No commit decision: every gateway that could be read is rolled back (one that had committed is undone). */
async function rollBackAll(r: Recovery): Promise<void> {
  await r.each(async (n) => {
    if (r.errors.has(n)) return;
    r.results.set(n, await rollBackOne(r.sessions.get(n)!, r.records.get(n)!, r.h.tx));
  });
}

async function commitOne(s: GatewaySession, r: GatewayTxRecord, tx: string): Promise<RecoveredGateway> {
  const n = r.gateway.name;
  try {
    await runPhase(s, r.gateway.backend, tx, 'commit', []);
    return { gateway: n, found: r.state, action: 'committed', state: 'committed', detail: 'the decision was commit: finished it' };
  } catch (e) {
    return { gateway: n, found: r.state, action: 'unreachable', state: 'unknown', detail: e instanceof PhaseError ? e.reason : (e as Error).message };
  }
}

/** The transaction's report, in the order of its gateways; consistent when every gateway's state is known and none failed. */
function reportOf(r: Recovery, superseded: boolean, rollForward: string | undefined): { report: RecoveredTx; consistent: boolean } {
  const list = r.names.map((n) => r.results.get(n) ?? { gateway: n, found: r.records.get(n)?.state ?? 'unknown', action: 'none' as const, state: 'unknown' as const });
  const consistent = list.every((x) => x.state !== 'unknown' && x.state !== 'failed');
  const outcome: Outcome = superseded ? 'superseded' : !consistent ? 'inconsistent' : list.some((x) => x.state === 'committed') ? 'committed' : 'rolled-back';
  const h = r.h;
  return { report: { tx: h.tx, kind: h.begin!.kind, started: h.begin!.time, outcome, gateways: list, ...(rollForward ? { rollForward } : {}) }, consistent };
}

/** Journals what recover found and did (a recovered transaction is no longer unfinished). */
function journalRecovered(journal: Journal, rec: RecoveredTx): void {
  const list = rec.gateways;
  journal.write({
    type: 'recovered',
    tx: rec.tx,
    time: new Date().toISOString(),
    outcome: rec.outcome,
    states: Object.fromEntries(list.map((x) => [x.gateway, x.state])),
    found: Object.fromEntries(list.map((x) => [x.gateway, x.found])),
    actions: list.map((x) => `${x.gateway}: ${x.action}${x.detail ? ` (${x.detail})` : ''}`),
  });
}

/**
 * The commit decision: journaled before the first commit was sent; or a gateway committed (only
 * a decision sends a commit); or every changed gateway is still armed with a read-back equal to
 * what was sent (recover's own new connection to each is the lock-out proof).
 */
function decidedCommit(h: TxHistory, records: Map<string, GatewayTxRecord>, complete: boolean): boolean {
  if (h.decision === 'commit') return true;
  const all = [...records.values()];
  if (all.some((r) => r.state === 'committed')) return true;
  const changed = all.filter((r) => r.state !== 'none');
  return (
    complete &&
    changed.length > 0 &&
    changed.every((r) => {
      const plan = h.plan?.gateways[r.gateway.name];
      return ARMED(r) && r.applied !== undefined && plan !== undefined && stateHash(canonicalOf(r.gateway.backend, r.applied)) === plan.expectedHash;
    })
  );
}

async function rollBackOne(s: GatewaySession, r: GatewayTxRecord, tx: string): Promise<RecoveredGateway> {
  const n = r.gateway.name;
  try {
    const sec = await runPhase(s, r.gateway.backend, tx, 'abort', [1]);
    const st = (sec.get('state') ?? '').trim();
    const state: GatewayPhase = st === 'reverted' ? 'reverted-by-timer' : st === 'rolled-back' ? 'rolled-back' : st === 'revert-failed' ? 'failed' : st === 'none' ? 'unchanged' : 'released';
    const action = r.state === st || st === 'reverted' || st === 'aborted' || st === 'none' ? 'none' : st === 'rolled-back' ? 'rolled-back' : 'released';
    const detail =
      st === 'reverted' ? 'its dead-man timer had restored the snapshot' : st === 'rolled-back' ? 'restored the snapshot' : st === 'none' ? 'the transaction never reached this gateway' : 'nothing had been changed; lock released';
    return { gateway: n, found: r.state, action, state, detail };
  } catch (e) {
    return { gateway: n, found: r.state, action: 'unreachable', state: 'unknown', detail: e instanceof PhaseError ? e.reason : (e as Error).message };
  }
}

/** The decision was commit but these gateways' timers reverted them: a new transaction puts back what the interrupted one had loaded. */
async function rollForwardGateways(
  h: TxHistory,
  forward: GatewayTxRecord[],
  topology: Topology,
  connect: ConnectOptions,
  connector: Connector,
  o: RecoverOptions,
  results: Map<string, RecoveredGateway>,
): Promise<string | undefined> {
  const dumps = new Map(forward.map((r) => [r.gateway.name, r.applied!]));
  try {
    const rep = await runTransaction({
      kind: 'roll-forward',
      topology,
      gateways: forward.map((r) => r.gateway.name),
      target: (g) => changeToDump(g.backend, dumps.get(g.name)!),
      needsForwarding: () => false,
      connector,
      fresh: o.fresh ?? connector,
      connect,
      journal: o.journal,
      concurrency: o.concurrency,
      confirmTimeoutSec: o.confirmTimeoutSec ?? 60,
      enableIpForward: false,
      progress: o.progress ?? silentProgress,
      faults: readFaults('', false),
      rollbackOf: h.tx,
      ...(h.begin!.topologyHash ? { topologyHash: h.begin!.topologyHash } : {}),
    });
    for (const r of forward) {
      results.set(r.gateway.name, { gateway: r.gateway.name, found: r.state, action: 'rolled-forward', state: 'committed', detail: `its timer had reverted it; transaction ${rep.tx} put back what ${h.tx} loaded` });
    }
    return rep.tx;
  } catch (e) {
    const why = e instanceof TransactionError ? e.message : (e as Error).message;
    for (const r of forward) results.set(r.gateway.name, { gateway: r.gateway.name, found: r.state, action: 'none', state: 'unknown', detail: `rolling forward failed: ${why}` });
    return e instanceof TransactionError ? e.report.tx : undefined;
  }
}
