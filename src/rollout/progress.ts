// Progress of a transaction on stderr: on a TTY one live line per gateway (phase, elapsed time),
// redrawn in place, or for a fleet a compact block (counts per phase, failures by name, the
// current wave) that fits a 24-line terminal; otherwise one plain line per finished phase.
// Notices (Ctrl-C) go through note(): printed above the block, never drawn over.
import type { ChalkInstance } from 'chalk';
import type { ProgressSink } from './transaction.js';

interface Line {
  phase: string;
  since: number;
  started: number;
  state: 'running' | 'ok' | 'failed';
  detail?: string;
}

/** A block of lines redrawn in place; notes print above it; after stop() nothing is drawn (the cursor never moves again). */
function liveBlock(stream: NodeJS.WriteStream, render: () => string[], everyMs: number): { draw(): void; note(message: string): void; stop(): void } {
  let drawn = 0;
  let stopped = false;
  const draw = () => {
    // Stopped: whatever was printed since (a prompt, the plan) sits where the block was; never move over it.
    if (stopped) return;
    const lines = render();
    stream.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join('') + '\x1b[J');
    drawn = lines.length;
  };
  const timer = setInterval(draw, everyMs);
  timer.unref();
  return {
    draw,
    note(message) {
      if (stopped) return void stream.write(`${message}\n`);
      // Erase the block, print the note where it was, draw the block again below it.
      stream.write((drawn ? `\x1b[${drawn}A\x1b[J` : '') + `${message}\n`);
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

/** Progress for a terminal: a line per gateway redrawn in place. Call `stop()` before printing anything else. */
export function ttyProgress(stream: NodeJS.WriteStream, gateways: string[], color: ChalkInstance): ProgressSink & { stop(): void } {
  const lines = new Map<string, Line>(gateways.map((g) => [g, { phase: 'waiting', since: Date.now(), started: Date.now(), state: 'running' }]));
  const width = Math.max(...gateways.map((g) => g.length), 4);
  const block = liveBlock(
    stream,
    () =>
      [...lines].map(([g, l]) => {
        const secs = ((Date.now() - l.started) / 1000).toFixed(1) + 's';
        const mark = l.state === 'ok' ? color.green('✓') : l.state === 'failed' ? color.red('✗') : color.cyan('…');
        return `${mark} ${g.padEnd(width)}  ${l.phase.padEnd(9)} ${secs.padStart(6)}${l.detail ? '  ' + color.dim(l.detail.slice(0, 80)) : ''}`;
      }),
    200,
  );
  block.draw();
  return {
    start(g, phase) {
      const l = lines.get(g);
      if (!l) return;
      Object.assign(l, { phase, since: Date.now(), state: 'running' as const });
      delete l.detail;
      block.draw();
    },
    finish(g, phase, ok, detail) {
      const l = lines.get(g);
      if (!l) return;
      Object.assign(l, { phase, state: ok ? ('ok' as const) : ('failed' as const) });
      if (detail) l.detail = detail;
      else delete l.detail;
      block.draw();
    },
    note: (m) => block.note(m),
    stop: () => block.stop(),
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

/** Progress of a rollout in waves: a ProgressSink told when each wave starts. */
export interface FleetProgress extends ProgressSink {
  /** A new wave starts: `label` (e.g. `wave 2 of 5`) on these gateways. */
  wave(label: string, gateways: string[]): void;
  stop(): void;
}

/** The most lines the fleet block takes (it must fit a 24-line terminal with the prompt line). */
export const FLEET_BLOCK_LINES = 20;

interface GwState {
  phase: string;
  state: 'waiting' | 'running' | 'ok' | 'failed';
}

/** The compact block for a fleet: one head line, a line per phase seen, the failures by name; at most `maxLines`. */
export function fleetBlock(
  label: string,
  gws: Map<string, GwState>,
  phases: string[],
  failures: Array<{ gateway: string; phase: string; detail: string }>,
  elapsedMs: number,
  color: ChalkInstance,
  maxLines = FLEET_BLOCK_LINES,
): string[] {
  const all = [...gws.values()];
  const count = (st: GwState['state']) => all.filter((g) => g.state === st).length;
  const lines = [
    `${color.bold(label)}: ${all.length} gateway(s): ${count('waiting')} waiting, ${count('running')} running, ${color.green(`${count('ok')} ok`)}, ${color.red(`${count('failed')} failed`)}  ${(elapsedMs / 1000).toFixed(1)}s`,
  ];
  const shownPhases = phases.slice(-Math.max(1, Math.floor((maxLines - 1) / 2)));
  for (const ph of shownPhases) {
    const at = all.filter((g) => g.phase === ph);
    const n = (st: GwState['state']) => at.filter((g) => g.state === st).length;
    lines.push(`  ${ph.padEnd(10)} ${color.cyan(`… ${String(n('running')).padStart(4)}`)}  ${color.green(`✓ ${String(n('ok')).padStart(4)}`)}  ${color.red(`✗ ${String(n('failed')).padStart(4)}`)}`);
  }
  const room = maxLines - lines.length;
  const shown = failures.length > room ? failures.slice(0, Math.max(0, room - 1)) : failures;
  for (const f of shown) lines.push(`  ${color.red('✗')} ${f.gateway} ${f.phase}: ${color.dim(f.detail.slice(0, 70))}`);
  if (shown.length < failures.length) lines.push(color.red(`  … and ${failures.length - shown.length} more failed`));
  return lines;
}

/** Fleet progress on a terminal: the compact block redrawn in place; notes printed above it. */
export function ttyFleetProgress(stream: NodeJS.WriteStream, color: ChalkInstance, maxLines = FLEET_BLOCK_LINES): FleetProgress {
  let label = 'rollout';
  let gws = new Map<string, GwState>();
  const phases: string[] = [];
  const failures: Array<{ gateway: string; phase: string; detail: string }> = [];
  let started = Date.now();
  const block = liveBlock(stream, () => fleetBlock(label, gws, phases, failures, Date.now() - started, color, maxLines), 250);
  const set = (g: string, phase: string, state: GwState['state']) => {
    const s = gws.get(g);
    if (!s) return;
    if (!phases.includes(phase)) phases.push(phase);
    s.phase = phase;
    s.state = state;
  };
  return {
    wave(l, gateways) {
      label = l;
      gws = new Map(gateways.map((g) => [g, { phase: 'waiting', state: 'waiting' }]));
      phases.length = 0;
      started = Date.now();
      block.draw();
    },
    start(g, phase) {
      set(g, phase, 'running');
    },
    finish(g, phase, ok, detail) {
      set(g, phase, ok ? 'ok' : 'failed');
      if (!ok && gws.has(g)) failures.push({ gateway: g, phase, detail: detail ?? '' });
    },
    note: (m) => block.note(m),
    stop: () => block.stop(),
  };
}

/** Fleet progress for logs and pipes: a line per wave, then plain phase lines. */
export function plainFleetProgress(stream: NodeJS.WritableStream): FleetProgress {
  const inner = plainProgress(stream);
  return {
    ...inner,
    wave(label, gateways) {
      stream.write(`${label}: ${gateways.join(', ')}\n`);
    },
  };
}
