// Progress of a transaction on stderr: on a TTY one live line per gateway (phase, elapsed time),
// redrawn in place; otherwise one plain line per finished phase.
import type { ChalkInstance } from 'chalk';
import type { ProgressSink } from './transaction.js';

interface Line {
  phase: string;
  since: number;
  started: number;
  state: 'running' | 'ok' | 'failed';
  detail?: string;
}

/** Progress for a terminal: a block of lines redrawn in place. Call `stop()` before printing anything else: after it, nothing is drawn (the cursor never moves again). */
export function ttyProgress(stream: NodeJS.WriteStream, gateways: string[], color: ChalkInstance): ProgressSink & { stop(): void } {
  const lines = new Map<string, Line>(gateways.map((g) => [g, { phase: 'waiting', since: Date.now(), started: Date.now(), state: 'running' }]));
  const width = Math.max(...gateways.map((g) => g.length), 4);
  let drawn = 0;
  let stopped = false;
  const draw = () => {
    // Stopped: whatever was printed since (a prompt, the plan) sits where the block was; never move over it.
    if (stopped) return;
    if (drawn) stream.write(`\x1b[${drawn}A`);
    for (const [g, l] of lines) {
      const secs = ((Date.now() - l.started) / 1000).toFixed(1) + 's';
      const mark = l.state === 'ok' ? color.green('✓') : l.state === 'failed' ? color.red('✗') : color.cyan('…');
      const text = `${mark} ${g.padEnd(width)}  ${l.phase.padEnd(9)} ${secs.padStart(6)}${l.detail ? '  ' + color.dim(l.detail.slice(0, 80)) : ''}`;
      stream.write(`\x1b[2K${text}\n`);
    }
    drawn = lines.size;
  };
  const timer = setInterval(draw, 200);
  timer.unref();
  draw();
  return {
    start(g, phase) {
      const l = lines.get(g);
      if (!l) return;
      Object.assign(l, { phase, since: Date.now(), state: 'running' as const });
      delete l.detail;
      draw();
    },
    finish(g, phase, ok, detail) {
      const l = lines.get(g);
      if (!l) return;
      Object.assign(l, { phase, state: ok ? ('ok' as const) : ('failed' as const) });
      if (detail) l.detail = detail;
      else delete l.detail;
      draw();
    },
    note(message) {
      if (stopped) return void stream.write(`${message}\n`);
      stream.write(`\x1b[2K${message}\n`);
      drawn = 0;
      draw();
    },
    stop() {
      if (stopped) return;
      clearInterval(timer);
      draw();
      stopped = true;
    },
  };
}

/** Progress for logs and pipes: `gw-a: check ok (0.21s)` per finished phase. */
export function plainProgress(stream: NodeJS.WritableStream): ProgressSink & { stop(): void } {
  const since = new Map<string, number>();
  return {
    start(g, phase) {
      since.set(`${g}\0${phase}`, Date.now());
    },
    finish(g, phase, ok, detail) {
      const t = since.get(`${g}\0${phase}`) ?? Date.now();
      stream.write(`${g}: ${phase} ${ok ? 'ok' : 'FAILED'} (${((Date.now() - t) / 1000).toFixed(2)}s)${detail ? `: ${detail}` : ''}\n`);
    },
    note(message) {
      stream.write(message + '\n');
    },
    stop() {},
  };
}
