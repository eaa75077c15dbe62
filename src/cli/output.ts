import { Chalk, type ChalkInstance } from 'chalk';
import { TimeSlice } from '../timeslice.js';

/**
 * Colour only for a terminal, never when NO_COLOR is set (https://no-color.org) or TERM is dumb;
 * FORCE_COLOR (1, 2, 3 or true; 0 or false turns colour off) decides over all of them, as in Node.
 */
export function makeChalk(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  return new Chalk({ level: colourLevel(stream, env) });
}

/** The chalk level (0 none, 1 basic, 2 256 colours, 3 true colour) for a stream. */
export function colourLevel(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    return force === '2' ? 2 : force === '3' ? 3 : 1;
  }
  return stream.isTTY && !env.NO_COLOR && env.TERM !== 'dumb' ? 1 : 0;
}

/** Colours for stdout, shared by every command's human output. */
export const c = makeChalk();

/** Prints one JSON document on stdout (the `--json` contract). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Left-aligned text table, for summaries a person reads. */
export function table(rows: string[][], gap = 2): string {
  // eslint-disable-next-line no-control-regex
  const width = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell) + gap))).join('').trimEnd())
    .join('\n');
}

/**
 * Writes one JSON document like printJson, but element by element for the top level's arrays
 * and maps, waiting for stdout to drain: `solve --json` on 100k forwards would otherwise build
 * a second copy of everything as one string.
 */
export async function streamJson(value: Record<string, unknown>, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  let buffer = '';
  const write = async (text: string) => {
    buffer += text;
    if (buffer.length < 1 << 20) return;
    const chunk = buffer;
    buffer = '';
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  const keys = Object.keys(value).filter((k) => value[k] !== undefined);
  await write('{\n');
  for (const [n, key] of keys.entries()) {
    const v = value[key];
    await write(`  ${JSON.stringify(key)}: `);
    if (Array.isArray(v)) {
      await write(v.length ? '[\n' : '[');
      for (let i = 0; i < v.length; i++) await write(`    ${JSON.stringify(v[i])}${i + 1 < v.length ? ',' : ''}\n`);
      await write(v.length ? '  ]' : ']');
    } else if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      await write(entries.length ? '{\n' : '{');
      for (let i = 0; i < entries.length; i++) {
        await write(`    ${JSON.stringify(entries[i]![0])}: ${JSON.stringify(entries[i]![1])}${i + 1 < entries.length ? ',' : ''}\n`);
      }
      await write(entries.length ? '  }' : '}');
    } else await write(JSON.stringify(v));
    await write(n + 1 < keys.length ? ',\n' : '\n');
  }
  await write('}\n');
  if (buffer) out.write(buffer);
}

/**
 * Human output for a fleet, gathered and written a chunk at a time: one write per ~64 KiB instead of
 * one per line (stdout to a pipe or file is written synchronously, a system call each), with a turn
 * of the event loop between chunks and a wait whenever the stream asks to drain.
 */
export class ChunkedWriter {
  private buffer = '';
  private readonly slice = new TimeSlice();

  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly chunk = 1 << 16,
  ) {}

  /** Adds text; writes when a chunk has gathered, and lets the event loop in every ~20 ms of work. */
  async write(text: string): Promise<void> {
    this.buffer += text;
    if (this.buffer.length >= this.chunk) await this.flush();
    else await this.slice.turn();
  }

  /** Writes what has gathered, a chunk per write (call it once at the end). */
  async flush(): Promise<void> {
    const text = this.buffer;
    this.buffer = '';
    for (let at = 0; at < text.length; at += this.chunk) {
      if (!this.out.write(text.slice(at, at + this.chunk))) await new Promise<void>((resolve) => this.out.once('drain', () => resolve()));
      await this.slice.turn();
    }
  }
}
