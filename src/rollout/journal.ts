// The local journal: one append-only JSON-lines file. Records are grouped and written with one
// fsync per phase barrier (begin, plan, applied, decision, end: see docs/rollout.md for why that
// is enough for recover), keep only natchain's own state, and the file is compacted when it grows
// (the last JOURNAL_KEEP transactions and every unfinished one stay). The gateways, not the
// journal, are the truth `recover` acts on; the journal says which transactions to look at.
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { nameTable, toNameTable } from '../names.js';
import { TimeSlice } from '../timeslice.js';
import type { Backend } from '../topology/types.js';

/** The phases a gateway goes through in a transaction, as journaled. */
export type GatewayPhase =
  | 'connected'
  | 'unchanged'
  | 'unreachable'
  | 'locked'
  | 'staged'
  | 'applied'
  | 'armed'
  | 'verified'
  | 'committed'
  | 'rolled-back'
  | 'reverted-by-timer'
  | 'released'
  | 'superseded'
  | 'failed'
  | 'unknown';

/** How a transaction ended ('armed': applied and left for `natchain confirm`). */
export type Outcome = 'committed' | 'rolled-back' | 'aborted' | 'noop' | 'inconsistent' | 'armed' | 'superseded';

/** What a transaction does to one gateway, journaled before anything is changed (natchain's own state only). */
export interface JournalGatewayPlan {
  backend: Backend;
  /** natchain's owned state read at prepare (its chains and jumps, or its table): what an undo restores. */
  snapshot: string;
  /** Hash of the canonical state the transaction leaves (owned.ts stateHash). */
  expectedHash: string;
  /** net.ipv4.ip_forward before the transaction, and whether natchain turns it on. */
  ipForward: string;
  enableIpForward: boolean;
  /** Whether the transaction changes this gateway. */
  changed: boolean;
}

/** One line of the journal. */
export type JournalRecord =
  | {
      type: 'begin';
      tx: string;
      time: string;
      kind: TxKind;
      owner: string;
      /** Absolute path of the topology, so `recover` can reach the gateways again. */
      topology: string;
      topologyHash?: string;
      sshConfig?: string;
      gateways: string[];
      confirmTimeoutSec: number;
      /** For rollbacks: the transaction whose state is restored. */
      target?: string;
    }
  | { type: 'plan'; tx: string; time: string; gateways: Record<string, JournalGatewayPlan> }
  | { type: 'phase'; tx: string; time: string; gateway: string; phase: GatewayPhase; detail?: string }
  /** Each armed gateway's dead-man deadline (gateway clock, epoch seconds). */
  | { type: 'armed'; tx: string; time: string; deadlines: Record<string, number> }
  /** The owned state read back right after the load: what `rollback --to` restores. */
  | { type: 'readback'; tx: string; time: string; gateway: string; dump: string }
  /** Written and fsynced before the first commit is sent: recover finishes this decision. */
  | { type: 'decision'; tx: string; time: string; decision: 'commit' }
  | { type: 'end'; tx: string; time: string; outcome: Outcome; states: Record<string, GatewayPhase>; error?: string; lockFile?: string }
  | { type: 'recovered'; tx: string; time: string; outcome: Outcome; states: Record<string, GatewayPhase>; found?: Record<string, string>; actions: string[] };

/** What a transaction does. */
export type TxKind = 'apply' | 'rollback' | 'roll-forward';

/** Transactions kept when the journal is compacted (plus every unfinished one). */
export const JOURNAL_KEEP = 200;
/** The size from which the journal is compacted (at the start of a transaction). */
export const JOURNAL_COMPACT_BYTES = 1 << 20;
/** The size of each write of a flush. */
const FLUSH_CHUNK = 1 << 20;
/** At most this many bytes of finished transactions are kept by compaction (the newest is always kept): a 1,000-gateway apply journals megabytes. */
export const JOURNAL_KEEP_BYTES = 32 << 20;

/** The state directory: --state-dir, else $NATCHAIN_STATE_DIR, else $XDG_STATE_HOME/natchain, else ~/.local/state/natchain. */
export function stateDir(override?: string): string {
  if (override) return resolve(override);
  if (process.env.NATCHAIN_STATE_DIR) return resolve(process.env.NATCHAIN_STATE_DIR);
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'natchain');
}

/** Appends records to `<stateDir>/journal.jsonl` (grouped: `flush` writes and fsyncs) and reads them back. */
export class Journal {
  readonly file: string;
  private pending: string[] = [];
  private pendingRecords: JournalRecord[] = [];
  /** What this object wrote (flushed): a run's end reads its own transactions from here, not the whole journal again. */
  private written: JournalRecord[] = [];
  /** fsyncs done by this object (for tests and benchmarks). */
  syncs = 0;
  constructor(dir: string) {
    this.file = join(dir, 'journal.jsonl');
  }

  /** Queues one record; nothing reaches the disk before `flush`. */
  append(record: JournalRecord): void {
    this.pending.push(JSON.stringify(record) + '\n');
    this.pendingRecords.push(record);
  }

  /** Writes the queued records in one write and fsyncs them (and the directory when the file is new): a phase barrier. */
  flush(): void {
    if (this.pending.length === 0) return;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const fresh = !existsSync(this.file);
    const fd = openSync(this.file, 'a+', 0o600);
    try {
      // A crash mid-write leaves a torn last line: the first record must start a line of its own, or it joins the torn one and every reader drops both.
      const size = fstatSync(fd).size;
      const last = Buffer.alloc(1);
      const torn = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
      if (torn) writeSync(fd, '\n');
      // In writes of about 1 MiB: a fleet's barrier is megabytes of read-backs, not one string (and its buffer) of them all.
      let batch: string[] = [];
      let bytes = 0;
      for (const line of this.pending) {
        batch.push(line);
        bytes += line.length;
        if (bytes < FLUSH_CHUNK) continue;
        writeSync(fd, batch.join(''));
        batch = [];
        bytes = 0;
      }
      if (batch.length) writeSync(fd, batch.join(''));
      fsyncSync(fd);
      this.syncs++;
    } finally {
      closeSync(fd);
    }
    this.pending = [];
    for (const r of this.pendingRecords) this.written.push(r);
    this.pendingRecords = [];
    if (fresh) syncDir(dirname(this.file));
  }

  /** Appends one record and flushes at once. */
  write(record: JournalRecord): void {
    this.append(record);
    this.flush();
  }

  /**
   * When the file is over `limit`: keeps every unfinished transaction and the newest finished ones,
   * at most `keep` of them and `keepBytes` of their lines (the newest always), and rewrites the file
   * with their lines as they were (atomically: temp file, fsync, rename) if that drops anything.
   * Cheap when nothing goes: only each line's head is read, and the few end records parsed (a
   * fleet's journal is megabytes per transaction, and this runs as every transaction starts).
   */
  compact(keep = JOURNAL_KEEP, limit = JOURNAL_COMPACT_BYTES, keepBytes = JOURNAL_KEEP_BYTES): boolean {
    this.flush();
    let text: string;
    try {
      if (statSync(this.file).size <= limit) return false;
      text = readFileSync(this.file, 'utf8');
    } catch {
      return false;
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const txs = lineIndex(lines);
    const kept = keptTransactions(txs, keep, keepBytes);
    if (lines.every((_, i) => kept.has(txs.lineTx[i]!))) return false;
    const out = lines.filter((_, i) => kept.has(txs.lineTx[i]!)).map((l) => l + '\n');
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, out.join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    syncDir(dirname(this.file));
    return true;
  }

  /** Every record, in order (those still queued by this object too); a torn last line (crash mid-write) is skipped. */
  records(): JournalRecord[] {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      // no journal yet
    }
    return this.linesOf(text).flatMap((line) => parseRecord(line));
  }

  /** Every transaction, oldest first, with its records. */
  transactions(): TxHistory[] {
    return groupTransactions(this.records());
  }

  /** transactions(), read and parsed with turns of the event loop (a fleet's journal is megabytes: issue 12). */
  async transactionsSliced(): Promise<TxHistory[]> {
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      // no journal yet
    }
    const slice = new TimeSlice();
    const out: JournalRecord[] = [];
    for (const line of this.linesOf(text)) {
      await slice.turn();
      out.push(...parseRecord(line));
    }
    return groupTransactions(out);
  }

  /**
   * The transactions this object wrote, as transactions() would read them back (a fleet's journal is
   * megabytes per transaction, and a run's end needs only its own: issue 12).
   */
  writtenTransactions(): TxHistory[] {
    return groupTransactions(this.written.map(withNameTables));
  }

  /** The journal's lines, those still queued by this object appended. */
  private linesOf(text: string): string[] {
    if (this.pending.length) text += (text && !text.endsWith('\n') ? '\n' : '') + this.pending.join('');
    return text.split('\n').filter((l) => l.trim() !== '');
  }
}

/** What compaction needs of each transaction: whether it has a begin, whether it finished, its lines' bytes (in the order first seen); each line's transaction ('' for a torn line). */
interface LineIndex {
  txs: Map<string, { begun: boolean; finished: boolean; bytes: number }>;
  lineTx: string[];
}

/** Every record starts with its type and tx (JSON.stringify keeps the object literal's order): only `end` and `recovered` lines are parsed. */
const HEAD = /^\{"type":"([a-z]+)","tx":"((?:[^"\\]|\\.)*)"/;

function lineIndex(lines: string[]): LineIndex {
  const txs: LineIndex['txs'] = new Map();
  const lineTx: string[] = [];
  for (const line of lines) {
    const head = HEAD.exec(line);
    const r = !head || head[1] === 'end' || head[1] === 'recovered' ? parseRecord(line)[0] : undefined;
    const type = r?.type ?? head?.[1];
    const tx = r?.tx ?? (head ? (JSON.parse(`"${head[2]}"`) as string) : undefined);
    if (type === undefined || tx === undefined) {
      lineTx.push('');
      continue;
    }
    lineTx.push(tx);
    const t = txs.get(tx) ?? { begun: false, finished: false, bytes: 0 };
    t.bytes += line.length + 1;
    if (type === 'begin') t.begun = true;
    if (r?.type === 'recovered' || (r?.type === 'end' && r.outcome !== 'inconsistent' && r.outcome !== 'armed')) t.finished = true;
    txs.set(tx, t);
  }
  return { txs, lineTx };
}

/** The transactions compaction keeps: every unfinished one, and the newest finished ones within `keep` and `keepBytes` (the newest always); those with no begin go. */
function keptTransactions(index: LineIndex, keep: number, keepBytes: number): Set<string> {
  const kept = new Set<string>();
  const begun = [...index.txs].filter(([, t]) => t.begun);
  let n = 0;
  let bytes = 0;
  for (const [tx, t] of begun.reverse()) {
    if (!t.finished) kept.add(tx);
    else if (n < keep && (n === 0 || bytes + t.bytes <= keepBytes)) {
      kept.add(tx);
      n++;
      bytes += t.bytes;
    }
  }
  return kept;
}

/** One journal line as a record; none for a torn write. */
function parseRecord(line: string): JournalRecord[] {
  try {
    return [withNameTables(JSON.parse(line) as JournalRecord)];
  } catch {
    return [];
  }
}

/** Records grouped by transaction, oldest first (those with no begin are left out). */
function groupTransactions(records: JournalRecord[]): TxHistory[] {
  const byTx = new Map<string, TxHistory>();
  for (const r of records) {
    let h = byTx.get(r.tx);
    if (!h) {
      h = { tx: r.tx, phases: nameTable(), readback: nameTable(), deadlines: nameTable(), records: [] };
      byTx.set(r.tx, h);
    }
    h.records.push(r);
    if (r.type === 'begin') h.begin = r;
    else if (r.type === 'plan') h.plan = r;
    else if (r.type === 'phase') (h.phases[r.gateway] ??= []).push(r.phase);
    else if (r.type === 'readback') h.readback[r.gateway] = r.dump;
    else if (r.type === 'armed') Object.assign(h.deadlines, r.deadlines);
    else if (r.type === 'decision') h.decision = r.decision;
    else if (r.type === 'end') h.end = r;
    else if (r.type === 'recovered') h.recovered = r;
  }
  return [...byTx.values()].filter((h) => h.begin);
}

/** A record whose gateway-keyed tables are null-prototype objects (a gateway named `constructor` is just a key). */
function withNameTables(r: JournalRecord): JournalRecord {
  if (r.type === 'plan') return { ...r, gateways: toNameTable(r.gateways) };
  if (r.type === 'end') return { ...r, states: toNameTable(r.states) };
  if (r.type === 'recovered') return { ...r, states: toNameTable(r.states), ...(r.found ? { found: toNameTable(r.found) } : {}) };
  if (r.type === 'armed') return { ...r, deadlines: toNameTable(r.deadlines) };
  return r;
}

function syncDir(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** One transaction as the journal tells it. */
export interface TxHistory {
  tx: string;
  begin?: Extract<JournalRecord, { type: 'begin' }>;
  plan?: Extract<JournalRecord, { type: 'plan' }>;
  end?: Extract<JournalRecord, { type: 'end' }>;
  recovered?: Extract<JournalRecord, { type: 'recovered' }>;
  phases: Record<string, GatewayPhase[]>;
  readback: Record<string, string>;
  /** Dead-man deadlines per armed gateway (epoch seconds, gateway clock). */
  deadlines: Record<string, number>;
  decision?: 'commit';
  records: JournalRecord[];
}

/** The outcome a transaction finally had (after recovery, if any); undefined while unfinished. */
export function outcomeOf(h: TxHistory): Outcome | undefined {
  return h.recovered?.outcome ?? (h.end && h.end.outcome !== 'inconsistent' && h.end.outcome !== 'armed' ? h.end.outcome : undefined);
}
