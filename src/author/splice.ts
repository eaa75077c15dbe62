// Text positions and splices. The editor never re-serialises a document: it finds nodes with
// `yaml`'s Document API (their source ranges) and replaces exactly those bytes, so every other
// byte of the file (comments, blank lines, quoting, key order, anchors) stays as it was.

/** One replacement of `text.slice(start, end)` by `insert`. */
export interface Splice {
  start: number;
  end: number;
  insert: string;
}

/** Applies non-overlapping splices (in any order) to a text. */
export function applySplices(text: string, splices: Splice[]): string {
  const sorted = [...splices].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const s of sorted) out = out.slice(0, s.start) + s.insert + out.slice(s.end);
  return out;
}

/** Offset of the first character of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just after the newline ending the line holding `offset` (the text's length on the last line). */
export function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl === -1 ? text.length : nl + 1;
}

/** 0-based column of an offset. */
export function colOf(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

/** 0-based offset of a 1-based line and column. */
export function offsetOf(text: string, line: number, col: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl === -1) return text.length;
    off = nl + 1;
  }
  return off + col - 1;
}

/** The line starting at `start` (without its newline). */
function lineAt(text: string, start: number): string {
  const nl = text.indexOf('\n', start);
  return text.slice(start, nl === -1 ? text.length : nl);
}

const indentOf = (line: string) => line.length - line.trimStart().length;
const isComment = (line: string) => line.trimStart().startsWith('#');
const isBlank = (line: string) => line.trim() === '';

/**
 * The lines a block-map entry occupies: from its key's line (and the comment lines right above it
 * at the key's column, which describe it) to its last content line (and the comment lines below
 * it indented deeper than the key, which belong to its body). `lastContent` is the offset just
 * after the entry's last character of content.
 */
export function entryLines(text: string, keyStart: number, lastContent: number): { start: number; end: number } {
  const keyCol = colOf(text, keyStart);
  let start = lineStart(text, keyStart);
  while (start > 0) {
    const prev = lineStart(text, start - 1);
    const line = lineAt(text, prev);
    if (!isComment(line) || indentOf(line) !== keyCol) break;
    start = prev;
  }
  let end = text[lastContent - 1] === '\n' ? lastContent : lineEnd(text, lastContent);
  while (end < text.length) {
    const line = lineAt(text, end);
    if (!isComment(line) || indentOf(line) <= keyCol) break;
    end = lineEnd(text, end);
  }
  return { start, end };
}

/** Whether the line before `start` (a line start) is blank. */
export function blankBefore(text: string, start: number): boolean {
  return start > 0 && isBlank(lineAt(text, lineStart(text, start - 1)));
}

/** Whether the line at `start` (a line start) is blank (and not the end of the text). */
export function blankAt(text: string, start: number): boolean {
  return start < text.length && isBlank(lineAt(text, start));
}
