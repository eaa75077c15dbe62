// Long loops over a fleet give the event loop a turn now and then, so timers and keepalives of
// open connections keep running at any fleet size (issue 12: no stall over 100 ms).

/** A function to await between pieces of work: it gives the event loop a turn once `ms` of synchronous work has passed since the last one. */
export function yielder(ms = 20): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < ms) return;
    await new Promise((r) => setImmediate(r));
    last = Date.now();
  };
}
