// Preloaded by stall-profile.ts (`node --import ./stall-ticker.mjs ...`): a 10 ms interval timer
// notes every gap over 40 ms between its ticks (the event loop was held) as [start, end] in
// microseconds of the monotonic clock, the clock of V8's CPU profiles; written to
// $NATCHAIN_STALLS at exit.
import { writeFileSync } from 'node:fs';

const out = process.env.NATCHAIN_STALLS;
if (out) {
  const stalls = [];
  let last = process.hrtime.bigint();
  const t = setInterval(() => {
    const now = process.hrtime.bigint();
    if (now - last > 40_000_000n) stalls.push([Number(last / 1000n), Number(now / 1000n)]);
    last = now;
  }, 10);
  t.unref();
  process.on('exit', () => writeFileSync(out, JSON.stringify(stalls)));
}
