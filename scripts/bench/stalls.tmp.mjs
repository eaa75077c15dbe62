// preload: records event-loop stalls > 50 ms as [startUs, endUs] (CLOCK_MONOTONIC) in $STALLS_OUT
import { writeFileSync } from 'node:fs';
const out = process.env.STALLS_OUT;
const stalls = [];
let last = process.hrtime.bigint();
const t = setInterval(() => {
  const now = process.hrtime.bigint();
  const gap = Number(now - last) / 1000;
  if (gap > 60000) stalls.push([Number(last / 1000n), Number(now / 1000n)]);
  last = now;
}, 10);
t.unref();
process.on('exit', () => writeFileSync(out, JSON.stringify(stalls)));
