// Preloaded into a natchain process by the benchmarks (`node --import ./measure.mjs ...`): writes
// what the process cost to $NATCHAIN_MEASURE when it exits. Start-up (module loading, reading
// and solving the topology) is told apart from the rest by the first outgoing connection (ssh2
// calls net.Socket#connect itself, so no diagnostics channel sees it: the method is wrapped, and
// so is child_process.spawn for ProxyCommand connections);
// event-loop stalls are measured from then on (perf_hooks.monitorEventLoopDelay), since that is
// when keepalives and timers start to matter.
import childProcess from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const out = process.env.NATCHAIN_MEASURE;
if (out) {
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  let startup;
  const onSocket = () => {
    if (startup) return;
    const cpu = process.cpuUsage();
    // atUs: the monotonic clock in microseconds (V8 CPU profiles' clock: stall-profile.ts tells start-up stalls apart).
    startup = { wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000, eldMaxMs: eld.max / 1e6, atUs: Number(process.hrtime.bigint() / 1000n) };
    eld.reset();
  };
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    onSocket();
    return connect.apply(this, args);
  };
  // A ProxyCommand (the lab's `socat`) is the first connection when there is no TCP one.
  const spawn = childProcess.spawn;
  childProcess.spawn = function (...args) {
    onSocket();
    return spawn.apply(this, args);
  };
  syncBuiltinESMExports();
  process.on('exit', () => {
    const cpu = process.cpuUsage();
    const ru = process.resourceUsage();
    writeFileSync(
      out,
      JSON.stringify({
        wallMs: performance.now(),
        cpuMs: (cpu.user + cpu.system) / 1000,
        maxRssKiB: ru.maxRSS,
        startup: startup ?? null,
        // Stalls after the first connection (or over the whole run when there was none).
        eldMaxMs: eld.max / 1e6,
        eldP99Ms: eld.percentile(99) / 1e6,
      }),
    );
  });
}
