// Long loops over a fleet (a plan, a diff, a report for 1,000 gateways) are seconds of CPU in one
// thread; run in one synchronous stretch they hold up every timer, keepalive and connection (issue
// 12: no event-loop stall over 100 ms). A TimeSlice lets such a loop give the event loop a turn
// whenever it has run for its budget, so no stretch is longer than the budget plus one item.

/** Milliseconds of CPU a loop may run before it lets the event loop have a turn. */
export const SLICE_MS = 20;

/**
 * Loops waiting for their turn. Each `setImmediate` resumes ONE of them (first come, first served),
 * so several sliced loops running at once (a transaction's closes, the known-state records, plan's
 * per-gateway views) take one slice per turn of the event loop, never their slices back to back.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function resumeNext(): void {
  scheduled = false;
  const next = waiting.shift();
  // Queued from within this immediate: it runs on the next turn of the loop, after timers and I/O.
  if (waiting.length) schedule();
  next?.();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(resumeNext);
}

/** A loop's running time since its last turn; `turn()` yields only when the budget is spent. */
export class TimeSlice {
  private since = performance.now();

  constructor(private readonly budgetMs = SLICE_MS) {}

  /** Resolves at once within the budget; otherwise on a later turn of the event loop (timers and I/O run first), one sliced loop per turn. */
  async turn(): Promise<void> {
    if (performance.now() - this.since < this.budgetMs) return;
    await new Promise<void>((r) => {
      waiting.push(r);
      schedule();
    });
    this.since = performance.now();
  }
}

/** `items.map(f)`, giving the event loop a turn every `budgetMs` of work. */
export async function mapSliced<T, U>(items: readonly T[], f: (item: T, index: number) => U, budgetMs = SLICE_MS): Promise<U[]> {
  const slice = new TimeSlice(budgetMs);
  const out: U[] = [];
  for (let i = 0; i < items.length; i++) {
    await slice.turn();
    out.push(f(items[i]!, i));
  }
  return out;
}

/**
 * A computation written once as a generator that yields between items (e.g. gateways), run two
 * ways with the same result: `runWhole` in one synchronous go, `runSliced` with a turn of the
 * event loop whenever it has run for its budget.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to their end at once. */
export function runWhole<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs the steps, giving the event loop a turn every `budgetMs` of work. */
export async function runSliced<T>(steps: Steps<T>, budgetMs = SLICE_MS): Promise<T> {
  const slice = new TimeSlice(budgetMs);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await slice.turn();
  }
}
