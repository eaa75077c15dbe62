// Long loops over a fleet give the event loop a turn now and then, so timers and keepalives of
// open connections keep running at any fleet size (issue 12: no stall over 100 ms).
import { SLICE_MS, TimeSlice } from '../timeslice.js';

/** A function to await between pieces of work: it gives the event loop a turn once `ms` of synchronous work has passed since the last one (a TimeSlice's turn). */
export function yielder(ms = SLICE_MS): () => Promise<void> {
  const slice = new TimeSlice(ms);
  return () => slice.turn();
}
