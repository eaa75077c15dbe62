// Gateways outside a change are not read (their state is natchain's last record of it), but the
// report says whether each one answers: a check that never logs in (its sshd's version line, see
// transport/reach.ts), started beside the change with a limiter of its own (never a connection
// slot of --concurrency) and bounded per gateway (REACH_TIMEOUT_MS). The report waits for the
// checks still running at most REACH_GRACE_MS after the change: a refused or closed connection
// (sshd killed, socket gone, no route) fails in milliseconds and is reported; a check with no
// answer yet (a silent link, a hung or slow sshd) is reported as such, never made to hold the report.
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { withoutGateway } from '../errors.js';
import type { OutsideGateway } from './scope.js';

/** Longest a reachability check may take (a live sshd answers in milliseconds; a cut link never does). */
export const REACH_TIMEOUT_MS = 4000;
/** Checks in flight at once, at least (they are one socket or one ProxyCommand each, no login). */
export const REACH_MIN_PARALLEL = 64;
/** How long the report waits, after the change, for checks still running. */
export const REACH_GRACE_MS = 300;

/** What the checks of some gateways said by a deadline. */
export interface ReachAnswers {
  /** Why each of these gateways did not answer. */
  failed: Map<string, string>;
  /** Gateways whose check had not ended by then. */
  pending: string[];
}

/** Checks gateways as they are started; `failures` waits for the ones asked about. */
export class ReachChecks {
  private readonly runs = new Map<string, Promise<string | undefined>>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly stopper = new AbortController();

  constructor(
    /** Resolves when the gateway's sshd answers within the time given, rejects with why not (or when the signal stops it). */
    private readonly check: (gateway: string, timeoutMs: number, signal: AbortSignal) => Promise<unknown>,
    concurrency: number,
    private readonly timeoutMs = REACH_TIMEOUT_MS,
  ) {
    this.limit = pLimit(Math.max(REACH_MIN_PARALLEL, concurrency));
    // Every check in flight listens to it: without this Node prints a leak warning over the progress block at 11.
    setMaxListeners(0, this.stopper.signal);
  }

  /** Starts checking these gateways (each at most once). */
  start(gateways: Iterable<string>): void {
    for (const g of gateways) if (!this.runs.has(g)) this.runs.set(g, this.limit(() => (this.stopper.signal.aborted ? Promise.resolve('check stopped') : this.one(g))));
  }

  /** What the checks of these gateways said, waiting at most `waitMs` for those still running (and starting those not started). */
  async answers(gateways: string[], waitMs = REACH_GRACE_MS): Promise<ReachAnswers> {
    this.start(gateways);
    const done = new Map<string, string | undefined>();
    const all = Promise.all(gateways.map(async (g) => done.set(g, await this.runs.get(g)!)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    const failed = new Map<string, string>();
    for (const [g, why] of done) if (why !== undefined) failed.set(g, why);
    return { failed, pending: gateways.filter((g) => !done.has(g)) };
  }

  /** Ends the checks still running (nobody will read their answers): their sockets and processes go at once. */
  stop(): void {
    this.stopper.abort();
  }

  /** One check, bounded here too (a check that does not honour its time must not hold the report). */
  private async one(gateway: string): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((r) => (timer = setTimeout(() => r(`no answer within ${(this.timeoutMs / 1000).toFixed(1)} s`), this.timeoutMs + 250)));
    try {
      return await Promise.race([
        this.check(gateway, this.timeoutMs, this.stopper.signal).then(
          () => undefined,
          (e: unknown) => withoutGateway(gateway, e instanceof Error ? e.message : String(e)),
        ),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The outside list when nobody contacted them (apply --no-check-outside): each one natchain has a record of is reported from it, saying so. */
export function notContacted(outside: OutsideGateway[]): OutsideGateway[] {
  return outside.map((x) => (x.status !== 'unchanged' || x.since === undefined ? x : { ...x, reach: 'not-checked', detail: 'not in this change; not contacted: as natchain last recorded it' }));
}
