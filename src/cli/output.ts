import { Chalk, type ChalkInstance } from 'chalk';

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function makeChalk(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  const enabled = stream.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  return new Chalk({ level: enabled ? 1 : 0 });
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
