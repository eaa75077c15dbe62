// Progress of a rollout (apply, rollback) on stderr: on a terminal one compact block redrawn in
// place (the current wave, counts per phase, failures by name) that fits a 24-line terminal
// whatever the fleet; otherwise a line per wave and a plain line per finished phase.
// Notices (Ctrl-C, host keys) go through note(): printed above the block, never drawn over.
import { readFileSync } from 'node:fs';
import type { ChalkInstance } from 'chalk';
import type { ProgressSink } from './transaction.js';

/** The terminal's size (a stream that is not one: 80x24). */
function sizeOf(stream: NodeJS.WriteStream): { columns: number; rows: number } {
  return { columns: stream.columns || 80, rows: stream.rows || 24 };
}

const STYLE = /\x1b\[[0-9;]*m/y;

/**
 * `line` cut to `columns` visible characters (colour escapes kept, `…` marking a cut): a line
 * the terminal wraps takes two rows, and the redraw, moving up by lines, would drift down the screen.
 */
export function clip(line: string, columns: number): string {
  if ([...line.replace(new RegExp(STYLE.source, 'g'), '')].length <= columns) return line;
  let out = '';
  let seen = 0;
  for (let i = 0; i < line.length; ) {
    STYLE.lastIndex = i;
    const m = STYLE.exec(line);
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (seen === columns - 1) break;
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    out += ch;
    seen++;
    i += ch.length;
  }
  return out + '…' + (out.includes('\x1b[') ? '\x1b[0m' : '');
}

/** One line of detail: control characters (a newline in a gateway's message) would break the block's line count. */
function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}

/** A block of lines redrawn in place while live, each cut to the terminal's width; notes print above it; `keys` quiet while live. */
interface LiveBlock {
  /** Draws the block now (nothing when paused). */
  draw(): void;
  /** Prints `message` above the block (the block is drawn again below it). */
  note(message: string): void;
  /** Starts drawing (again): a new block below whatever was printed since the last pause. */
  resume(): void;
  /** Draws it a last time and stops: what is printed next goes below it, and the cursor never moves up over it. */
  pause(): void;
}

/**
 * While a block is live, the keyboard is quiet: the terminal in raw mode, so a key typed is not
 * echoed (an echoed Enter moves the cursor a row down and the next redraw leaves a stale copy
 * above); Ctrl-C is passed on as the SIGINT it would have been. Released before anything else is
 * printed (a prompt reads the keyboard itself).
 */
function quietKeys(keys: NodeJS.ReadStream | undefined): { hold(): void; release(): void } {
  // A background job changing the terminal's mode is stopped by the kernel (SIGTTOU): leave it alone then.
  const onData = (d: Buffer) => {
    if (d.includes(3)) process.kill(process.pid, 'SIGINT');
  };
  let held = false;
  return {
    hold() {
      if (held || !keys?.isTTY || typeof keys.setRawMode !== 'function' || !inForeground()) return;
      held = true;
      keys.setRawMode(true);
      keys.on('data', onData);
      keys.resume();
      // Reading keys must not keep natchain alive once its work is done.
      (keys as unknown as { unref?(): void }).unref?.();
    },
    release() {
      if (!held || !keys) return;
      held = false;
      keys.off('data', onData);
      keys.setRawMode(false);
      keys.pause();
      (keys as unknown as { ref?(): void }).ref?.();
    },
  };
}

/** Whether this process is in its terminal's foreground process group (Linux /proc; elsewhere: unknown, so no). */
function inForeground(): boolean {
  try {
    return isForeground(readFileSync('/proc/self/stat', 'utf8'));
  } catch {
    return false;
  }
}

/** From a /proc/<pid>/stat line: whether the process group (field 5) is the terminal's foreground group (field 8). */
export function isForeground(stat: string): boolean {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(f[2]);
  return pgrp > 0 && pgrp === Number(f[5]);
}

function liveBlock(stream: NodeJS.WriteStream, render: () => string[], everyMs: number, keys?: NodeJS.ReadStream): LiveBlock {
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const quiet = quietKeys(keys);
  const draw = () => {
    if (!timer) return;
    const width = sizeOf(stream).columns - 1;
    const lines = render().map((l) => clip(l, width));
    // `\r` first: the terminal's own echo (`^C`, typed keys) may have moved the cursor off column 0.
    stream.write('\r' + (drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join('') + '\x1b[J');
    drawn = lines.length;
  };
  return {
    draw,
    note(message) {
      if (!timer) return void stream.write(`\r\x1b[K${message}\n`);
      // Erase the block, print the note where it was (from column 0: over the `^C` echo), draw the block again below it.
      stream.write('\r' + (drawn ? `\x1b[${drawn}A` : '') + `\x1b[J${message}\n`);
      drawn = 0;
      draw();
    },
    resume() {
      if (timer) return;
      drawn = 0;
      timer = setInterval(draw, everyMs);
      timer.unref();
      quiet.hold();
      draw();
    },
    pause() {
      if (!timer) return;
      draw();
      clearInterval(timer);
      timer = undefined;
      drawn = 0;
      quiet.release();
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

/** Progress of a rollout in waves: a ProgressSink told when each wave starts. */
export interface FleetProgress extends ProgressSink {
  /** A new wave starts: `label` (e.g. `wave 2 of 5`) on these gateways; on a terminal the block is drawn (again) from here. */
  wave(label: string, gateways: string[]): void;
  /** Stops drawing (before a prompt, the plan, the report): what is printed next goes below the block. */
  stop(): void;
}

/** The most lines the fleet block takes (it must fit a 24-line terminal with the prompt line). */
export const FLEET_BLOCK_LINES = 20;

/** The lines the block may take on this terminal: FLEET_BLOCK_LINES, fewer on a short one (room for a note and the prompt). */
function blockLines(stream: NodeJS.WriteStream): number {
  return Math.max(4, Math.min(FLEET_BLOCK_LINES, sizeOf(stream).rows - 4));
}

interface GwState {
  phase: string;
  state: 'waiting' | 'running' | 'ok' | 'failed';
}

/** One phase of the current wave: the gateways in it now, and how many finished it well or badly. */
export interface PhaseCount {
  running: Set<string>;
  ok: number;
  failed: number;
}

/** The compact block for a fleet: two head lines, a line per phase seen (in it now / passed / failed), the failures by name; at most `maxLines`. */
export function fleetBlock(
  label: string,
  gws: Map<string, GwState>,
  phases: Map<string, PhaseCount>,
  failures: Array<{ gateway: string; phase: string; detail: string }>,
  elapsedMs: number,
  color: ChalkInstance,
  maxLines = FLEET_BLOCK_LINES,
): string[] {
  const all = [...gws.values()];
  const count = (st: GwState['state']) => all.filter((g) => g.state === st).length;
  const lines = [
    `${color.bold(label)}: ${all.length} gateway(s), ${(elapsedMs / 1000).toFixed(1)}s`,
    `  ${count('waiting')} waiting, ${count('running')} running, ${color.green(`${count('ok')} ok`)}, ${color.red(`${count('failed')} failed`)}`,
  ];
  const n = (x: number) => String(x).padStart(4);
  for (const [ph, k] of [...phases].slice(-Math.max(1, Math.floor((maxLines - 2) / 2)))) {
    lines.push(`  ${ph.padEnd(10)} ${color.cyan(`… ${n(k.running.size)}`)}  ${color.green(`✓ ${n(k.ok)}`)}  ${color.red(`✗ ${n(k.failed)}`)}`);
  }
  const room = maxLines - lines.length;
  const shown = failures.length > room ? failures.slice(0, Math.max(0, room - 1)) : failures;
  for (const f of shown) lines.push(`  ${color.red('✗')} ${f.gateway} ${f.phase}: ${color.dim(f.detail)}`);
  if (shown.length < failures.length) lines.push(color.red(`  … and ${failures.length - shown.length} more failed`));
  return lines;
}

/**
 * Fleet progress on a terminal: the compact block redrawn in place from the first wave on, each
 * line cut to the terminal's width; notes printed above it. stop() leaves it on screen; the next
 * wave() draws it again below whatever was printed in between (the prompt between waves).
 */
export function ttyFleetProgress(stream: NodeJS.WriteStream, color: ChalkInstance, o: { maxLines?: number; keys?: NodeJS.ReadStream } = {}): FleetProgress {
  const maxLines = o.maxLines ?? blockLines(stream);
  let label = 'rollout';
  let gws = new Map<string, GwState>();
  const phases = new Map<string, PhaseCount>();
  const failures: Array<{ gateway: string; phase: string; detail: string }> = [];
  let started = Date.now();
  const block = liveBlock(stream, () => fleetBlock(label, gws, phases, failures, Date.now() - started, color, maxLines), 250, o.keys);
  const set = (g: string, phase: string, state: GwState['state']) => {
    const s = gws.get(g);
    if (!s) return;
    let k = phases.get(phase);
    if (!k) phases.set(phase, (k = { running: new Set(), ok: 0, failed: 0 }));
    if (state === 'running') k.running.add(g);
    else if (k.running.delete(g)) k[state === 'ok' ? 'ok' : 'failed']++;
    s.phase = phase;
    s.state = state;
  };
  return {
    wave(l, gateways) {
      label = l;
      gws = new Map(gateways.map((g) => [g, { phase: 'waiting', state: 'waiting' }]));
      phases.clear();
      started = Date.now();
      block.resume();
      block.draw();
    },
    start(g, phase) {
      set(g, phase, 'running');
    },
    finish(g, phase, ok, detail) {
      set(g, phase, ok ? 'ok' : 'failed');
      if (!ok && gws.has(g)) failures.push({ gateway: g, phase, detail: oneLine(detail ?? '') });
    },
    note: (m) => block.note(m),
    stop: () => block.pause(),
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
