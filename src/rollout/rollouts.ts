// The record of wave rollouts: `<stateDir>/rollouts.jsonl`, append-only and fsynced like the journal.
// A rollout is several transactions (one per wave); this file ties them together so that
// `apply --resume` and `rollback` can treat them as one change.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The options a rollout ran with (kept for --resume). */
export interface RolloutSettings {
  canary?: string;
  waveSize?: string;
  maxFail: string;
  limit?: string[];
}

/** One line of rollouts.jsonl. */
export type RolloutRecord =
  | { type: 'start'; rollout: string; time: string; owner: string; topology: string; topologySha256: string; settings: RolloutSettings; resumes?: string; waves: string[][] }
  | { type: 'wave'; rollout: string; time: string; index: number; canary: boolean; gateways: string[]; tx: string | null; status: WaveStatus }
  | { type: 'end'; rollout: string; time: string; summary: string };

/** How a wave ended. */
export type WaveStatus = 'committed' | 'noop' | 'armed' | 'rolled-back' | 'aborted' | 'inconsistent' | 'not-started';

/** One rollout as the file tells it. */
export interface RolloutHistory {
  id: string;
  start: Extract<RolloutRecord, { type: 'start' }>;
  waves: Array<Extract<RolloutRecord, { type: 'wave' }>>;
  end?: Extract<RolloutRecord, { type: 'end' }>;
}

/** Appends to and reads `<stateDir>/rollouts.jsonl`. */
export class RolloutLog {
  readonly file: string;
  constructor(dir: string) {
    this.file = join(dir, 'rollouts.jsonl');
  }

  /** Appends one record, fsynced. */
  append(r: RolloutRecord): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, JSON.stringify(r) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Every rollout, oldest first (a torn last line is skipped). */
  rollouts(): RolloutHistory[] {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const by = new Map<string, RolloutHistory>();
    for (const line of text.split('\n')) {
      let r: RolloutRecord;
      try {
        r = JSON.parse(line) as RolloutRecord;
      } catch {
        continue;
      }
      if (r.type === 'start') by.set(r.rollout, { id: r.rollout, start: r, waves: [] });
      else if (r.type === 'wave') by.get(r.rollout)?.waves.push(r);
      else if (r.type === 'end') {
        const h = by.get(r.rollout);
        if (h) h.end = r;
      }
    }
    return [...by.values()];
  }

  /** The rollout with this id, or the one a wave transaction `id` belongs to. */
  find(id: string): RolloutHistory | undefined {
    return this.rollouts().find((h) => h.id === id || h.waves.some((w) => w.tx === id));
  }

  /** The first rollout of the --resume chain `id` is part of (`id` itself when it resumes none, or is not recorded here). */
  rootOf(id: string): string {
    const all = this.rollouts();
    let at = id;
    for (let n = 0; n < all.length; n++) {
      const prev = all.find((x) => x.id === at)?.start.resumes;
      if (!prev) break;
      at = prev;
    }
    return at;
  }

  /** The rollout a committed transaction belongs to (following resumes back to the first rollout). */
  chainOf(tx: string): RolloutHistory[] {
    const all = this.rollouts();
    let h = all.find((x) => x.waves.some((w) => w.tx === tx));
    const out: RolloutHistory[] = [];
    while (h) {
      out.unshift(h);
      const prev = h.start.resumes;
      h = prev ? all.find((x) => x.id === prev) : undefined;
    }
    // And the resumes that came after it.
    for (let next: RolloutHistory | undefined = out[out.length - 1]; next; ) {
      const id: string = next.id;
      next = all.find((x) => x.start.resumes === id);
      if (next) out.push(next);
    }
    return out;
  }
}

/**
 * `rollback` of a wave rollout: when `lastTx` (the last committed transaction) was a wave of a rollout recorded
 * here, every committed wave of that rollout and its resumes, oldest first; undefined when it was not a wave.
 */
export function rolloutWaves(log: RolloutLog, lastTx: string): { rollout: string; waves: string[] } | undefined {
  const chain = log.chainOf(lastTx);
  if (!chain.length) return undefined;
  const waves = chain.flatMap((h) => h.waves.filter((w) => w.status === 'committed' && w.tx).map((w) => w.tx!));
  return waves.includes(lastTx) ? { rollout: chain[0]!.id, waves } : undefined;
}
