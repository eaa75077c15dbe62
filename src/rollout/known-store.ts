// The known-state cache: what natchain last saw of each gateway's owned state, so that `apply` can
// work out a change's scope without reading the gateways outside it. One small JSON file per
// gateway in <state dir>/known/, replaced whole (temp file + rename) on every read natchain makes
// (plan, status, apply's reads and its prepares under the lock): one entry per gateway, never a
// growing log, and two natchain runs writing at once lose nothing but each other's older view of
// the same gateway. Past KNOWN_KEEP files the least recently written are removed.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../topology/types.js';
import { TimeSlice } from '../timeslice.js';

/** What natchain last saw of one gateway. */
export interface KnownRecord {
  gateway: string;
  backend: Backend;
  /** Canonical owned state (owned.ts canonicalOf); null: seen locked or armed by a transaction, so unknown from then on. */
  canonical: string | null;
  /** When it was seen (ISO, this machine's clock). */
  time: string;
  /** Which read saw it: plan, status, apply (a read before the change), prepare (under the lock). */
  by: string;
}

/** Gateway files kept (the least recently written beyond this are removed). */
export const KNOWN_KEEP = 10_000;

/** The cache in `<stateDir>/known/`. */
export class KnownStore {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'known');
  }

  private file(gateway: string): string {
    // Gateway names are [A-Za-z0-9][A-Za-z0-9_.-]* (topology/names.ts): safe as file names.
    return join(this.dir, `${gateway}.json`);
  }

  /** The records of these gateways that exist and parse (a torn or foreign file counts as none); a fleet's files are read with turns of the event loop. */
  async read(gateways: Iterable<string>): Promise<Map<string, KnownRecord>> {
    const out = new Map<string, KnownRecord>();
    const slice = new TimeSlice();
    for (const g of gateways) {
      await slice.turn();
      let v: Partial<KnownRecord> | null = null;
      try {
        v = JSON.parse(readFileSync(this.file(g), 'utf8')) as Partial<KnownRecord>;
      } catch {
        continue;
      }
      if (v && v.gateway === g && typeof v.time === 'string' && typeof v.backend === 'string' && (v.canonical === null || typeof v.canonical === 'string')) out.set(g, v as KnownRecord);
    }
    return out;
  }

  /** Replaces the records of these gateways; resolves with why it could not, if so (the cache only saves reads: callers warn and go on). */
  async write(records: KnownRecord[]): Promise<string | undefined> {
    if (!records.length) return undefined;
    const slice = new TimeSlice();
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      for (const r of records) {
        const tmp = `${this.file(r.gateway)}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(r) + '\n', { mode: 0o600 });
        renameSync(tmp, this.file(r.gateway));
        await slice.turn();
      }
      this.prune();
      return undefined;
    } catch (e) {
      return `cannot record what was read in ${this.dir}: ${(e as Error).message}`;
    }
  }

  /** Keeps the KNOWN_KEEP most recently written records. */
  private prune(keep = KNOWN_KEEP): void {
    const names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    if (names.length <= keep) return;
    const aged = names.map((n) => ({ n, t: statSync(join(this.dir, n)).mtimeMs })).sort((a, b) => b.t - a.t);
    for (const { n } of aged.slice(keep)) rmSync(join(this.dir, n), { force: true });
  }
}

/** A record of a read: the canonical state, or null when another transaction held the gateway (its state was in flux). */
export function knownRecord(gateway: string, backend: Backend, canonical: string, busy: boolean, by: string): KnownRecord {
  return { gateway, backend, canonical: busy ? null : canonical, time: new Date().toISOString(), by };
}
