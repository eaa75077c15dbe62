// The local journal: one append-only JSON-lines file, each record fsynced before natchain goes on,
// so that after a crash `natchain recover` knows every transaction's plan, snapshots and how far
// each gateway got.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { nameTable, toNameTable } from '../names.js';
import type { Backend } from '../topology/types.js';

/** The phases a gateway goes through in a transaction, as journaled. */
export type GatewayPhase =
  | 'connected'
  | 'locked'
  | 'staged'
  | 'applied'
  | 'verified'
  | 'committed'
  | 'rolled-back'
  | 'reverted-by-timer'
  | 'released'
  | 'failed'
  | 'unknown';

/** How a transaction ended. */
export type Outcome = 'committed' | 'rolled-back' | 'aborted' | 'noop' | 'inconsistent';

/** What a transaction does to one gateway, journaled before anything is changed. */
export interface JournalGatewayPlan {
  backend: Backend;
  /** The owned state read at lock time (raw dump). */
  snapshot: string;
  /** Loaded text, expected canonical state after it, and the revert text the timer holds. */
  text: string;
  expected: string;
  revert: string;
  /** net.ipv4.ip_forward before the transaction, and whether natchain turns it on. */
  ipForward: string;
  enableIpForward: boolean;
  /** Whether the transaction changes this gateway (unchanged ones are released after the plan). */
  changed: boolean;
}

/** One line of the journal. */
export type JournalRecord =
  | {
      type: 'begin';
      tx: string;
      time: string;
      kind: 'apply' | 'rollback';
      owner: string;
      /** Absolute path of the topology, so `recover` can reach the gateways again. */
      topology: string;
      sshConfig?: string;
      gateways: string[];
      confirmTimeoutSec: number;
      /** For rollbacks: the transaction whose state is restored. */
      target?: string;
    }
  | { type: 'plan'; tx: string; time: string; gateways: Record<string, JournalGatewayPlan> }
  | { type: 'phase'; tx: string; time: string; gateway: string; phase: GatewayPhase; detail?: string }
  /** The owned state read back right after the load (raw dump): what `rollback --to` restores. */
  | { type: 'readback'; tx: string; time: string; gateway: string; dump: string }
  | { type: 'end'; tx: string; time: string; outcome: Outcome; states: Record<string, GatewayPhase>; error?: string; lockFile?: string }
  | { type: 'recovered'; tx: string; time: string; outcome: Outcome; states: Record<string, GatewayPhase>; actions: string[] };

/** The state directory: --state-dir, else $NATCHAIN_STATE_DIR, else $XDG_STATE_HOME/natchain, else ~/.local/state/natchain. */
export function stateDir(override?: string): string {
  if (override) return resolve(override);
  if (process.env.NATCHAIN_STATE_DIR) return resolve(process.env.NATCHAIN_STATE_DIR);
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'natchain');
}

/** Appends fsynced records to `<stateDir>/journal.jsonl` and reads them back. */
export class Journal {
  readonly file: string;
  constructor(dir: string) {
    this.file = join(dir, 'journal.jsonl');
  }

  /** Appends one record and fsyncs it (and the directory when the file is new). */
  append(record: JournalRecord): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const fresh = !existsSync(this.file);
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, JSON.stringify(record) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (fresh) {
      const dfd = openSync(dirname(this.file), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    }
  }

  /** Every record, in order; a torn last line (crash mid-write) is skipped. */
  records(): JournalRecord[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: JournalRecord[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(withNameTables(JSON.parse(line) as JournalRecord));
      } catch {
        // torn write: ignore
      }
    }
    return out;
  }

  /** Every transaction, oldest first, with its records. */
  transactions(): TxHistory[] {
    const byTx = new Map<string, TxHistory>();
    for (const r of this.records()) {
      let h = byTx.get(r.tx);
      if (!h) {
        h = { tx: r.tx, phases: nameTable(), readback: nameTable(), records: [] };
        byTx.set(r.tx, h);
      }
      h.records.push(r);
      if (r.type === 'begin') h.begin = r;
      else if (r.type === 'plan') h.plan = r;
      else if (r.type === 'phase') (h.phases[r.gateway] ??= []).push(r.phase);
      else if (r.type === 'readback') h.readback[r.gateway] = r.dump;
      else if (r.type === 'end') h.end = r;
      else if (r.type === 'recovered') h.recovered = r;
    }
    return [...byTx.values()].filter((h) => h.begin);
  }
}

/** A record whose gateway-keyed tables are null-prototype objects (a gateway named `constructor` is just a key). */
function withNameTables(r: JournalRecord): JournalRecord {
  if (r.type === 'plan') return { ...r, gateways: toNameTable(r.gateways) };
  if (r.type === 'end' || r.type === 'recovered') return { ...r, states: toNameTable(r.states) };
  return r;
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
  records: JournalRecord[];
}

/** The outcome a transaction finally had (after recovery, if any); undefined while unfinished. */
export function outcomeOf(h: TxHistory): Outcome | undefined {
  return h.recovered?.outcome ?? (h.end && h.end.outcome !== 'inconsistent' ? h.end.outcome : undefined);
}
