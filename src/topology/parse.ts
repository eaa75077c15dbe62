import jsyaml from 'js-yaml';
import type { Document, Node } from 'yaml';
import type { Diagnostic, Pos } from '../errors.js';
import { quote } from '../escape.js';
import { FastLocator, offsetIn } from './locate.js';
import { yamlLib } from './yaml-lazy.js';

/** Deepest nesting of collections a topology file may have (a topology needs 6); deeper input is refused, not recursed into. */
export const MAX_DEPTH = 32;

type Path = ReadonlyArray<string | number>;

/** A YAML document with the means to turn a data path back into `file:line:col`. */
export interface ParsedYaml {
  file: string;
  data: unknown;
  /** Position of the value at `path` (or of its key with `key: true`); falls back to the nearest existing parent. */
  posOf(path: Path, opts?: { key?: boolean }): Pos;
  /** Syntax errors (duplicate keys among them); non-empty means `data` must not be used. */
  diagnostics: Diagnostic[];
}

/**
 * Parses YAML text; never throws on bad input. js-yaml reads the data (about 8x faster than
 * `yaml` on a 100k-forward file); positions are found only for the nodes an error is reported
 * on (see locate.ts), and `yaml`, which keeps every node's position, parses the whole text only
 * for syntax errors or text too unusual for the quick way.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineIndex(text, file);
  let data: unknown;
  try {
    // CORE_SCHEMA is YAML 1.2's core schema, as `yaml` uses: no timestamps, no merge keys. json: false refuses duplicate keys.
    // maxDepth (js-yaml 4.1.1+; not in @types) refuses deep nesting before any recursion can overflow.
    data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, json: false, filename: file, maxDepth: MAX_DEPTH } as jsyaml.LoadOptions);
  } catch (e) {
    if (!(e instanceof jsyaml.YAMLException)) throw e;
    return { file, data: undefined, posOf: () => lines.pos(0), diagnostics: syntaxDiagnostics(text, e, lines) };
  }
  const fast = new FastLocator(text, data);
  let full: Document | null | undefined;
  const posOf = (path: Path, opts: { key?: boolean } = {}): Pos => {
    let offset = fast.offsetOf(path, opts.key ?? false);
    if (offset === undefined) {
      full ??= fullParse(text);
      offset = full ? offsetIn(full, path, opts.key ?? false) : 0;
    }
    return lines.pos(offset);
  };
  return { file, data, posOf, diagnostics: [] };
}

/** The position-keeping parse of the whole text (null if even that fails). */
function fullParse(text: string): Document | null {
  try {
    // yaml's own duplicate-key check compares every key with every other (quadratic for 100k forwards).
    return yamlLib().parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  } catch {
    return null;
  }
}

/** Every syntax error js-yaml's first one hides, as `yaml` sees them, each where its construct opens. */
function syntaxDiagnostics(text: string, e: jsyaml.YAMLException, lines: LineIndex): Diagnostic[] {
  const jsAt = e.mark?.position ?? 0;
  if (e.reason?.startsWith('nesting exceeded maxDepth')) {
    // Never hand such text to a recursive parser.
    return [{ ...lines.pos(jsAt), message: `nested more than ${MAX_DEPTH} levels deep: a topology needs at most 6 (sites.NAME.subnets.N is 4)` }];
  }
  const own = [{ ...lines.pos(jsAt), message: cleanMessage(e.reason || e.message) }];
  const doc = fullParse(text);
  if (!doc) return own;
  let found: Diagnostic[];
  try {
    found = [...yamlErrors(doc, text, lines), ...duplicateKeys(doc, lines)];
  } catch {
    return own; // deeper than yaml's visitor can go: js-yaml's own error stands
  }
  // yaml reports its own stack overflow as an error of the text: such text is too deep for it.
  if (found.some((d) => /call stack/i.test(d.message))) return own;
  // The two parsers disagree only at the margins; never let an error pass unreported.
  return found.length ? found : own;
}

/** yaml's errors, each moved to where an unclosed quote or bracket opens when that is what it is about. */
function yamlErrors(doc: Document, text: string, lines: LineIndex): Diagnostic[] {
  const open = unclosedConstructs(doc, text);
  const reported = new Set<number>();
  return [...doc.errors, ...doc.warnings].flatMap((err): Diagnostic[] => {
    const at = err.pos[0];
    const message = cleanMessage(err.message);
    const opener = open.filter((o) => o.from <= at).pop();
    if (!opener || !/MISSING_CHAR|BAD_INDENT|UNEXPECTED_TOKEN|MISSING_FLOW|UNEXPECTED_EOF/.test(err.code)) return [{ ...lines.pos(at), message }];
    if (reported.has(opener.from)) return []; // one report per unclosed construct
    reported.add(opener.from);
    const gaveUp = lines.pos(at);
    const start = lines.pos(opener.from);
    const where = at >= lines.end ? 'the end of the file' : `${gaveUp.line}:${gaveUp.col}`;
    return [{ ...start, message: `${opener.what} opened here is never closed (the parser gave up at ${where})` }];
  });
}

/** Quoted scalars and flow collections whose text does not end with their closing character, by start offset. */
function unclosedConstructs(doc: Document, text: string): { from: number; what: string }[] {
  const { isMap, isSeq, visit, Scalar } = yamlLib();
  const out: { from: number; what: string }[] = [];
  visit(doc, (_, node) => {
    const range = (node as Node).range;
    if (!range) return;
    const [from, valueEnd] = range;
    const body = text.slice(from, valueEnd).trimEnd();
    if (node instanceof Scalar && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) {
      const q = node.type === 'QUOTE_DOUBLE' ? '"' : "'";
      if (body.length < 2 || !body.endsWith(q)) out.push({ from, what: `the ${node.type === 'QUOTE_DOUBLE' ? 'double' : 'single'}-quoted string` });
    } else if ((isMap(node) || isSeq(node)) && node.flow && text[from] === (isMap(node) ? '{' : '[')) {
      // (a pair inside a flow sequence is a flow map without braces: not an opener)
      const close = isMap(node) ? '}' : ']';
      if (!body.endsWith(close)) out.push({ from, what: `the flow ${isMap(node) ? 'map "{"' : 'sequence "["'}` });
    }
  });
  return out.sort((a, b) => a.from - b.from);
}

/** Keys that appear twice in one map (checked in one pass with a Set, not pairwise). */
function duplicateKeys(doc: Document, lines: LineIndex): Diagnostic[] {
  const { isScalar, visit } = yamlLib();
  const out: Diagnostic[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) out.push({ ...lines.pos((pair.key as Node | null)?.range?.[0] ?? 0), message: `duplicate key ${quote(String(key))}: each name may appear once` });
        seen.add(key);
      }
    },
  });
  return out;
}

/** A parser's message on one line, without the position it repeats and without its source excerpt. */
function cleanMessage(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/ \(\d+:\d+\)$/, '');
}

/** Offsets to 1-based line:col, never past the end of the text. */
class LineIndex {
  private starts: number[] | undefined;
  /** The last offset a position may name: the file's last character (its final newline counts as the end of the last line). */
  readonly end: number;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    this.end = Math.max(0, text.endsWith('\n') ? text.length - 1 : text.length);
  }

  pos(offset: number): Pos {
    const at = Math.max(0, Math.min(offset, this.end));
    const starts = (this.starts ??= lineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: at - starts[lo]! + 1 };
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** A position computed only when read (entities keep one each; most are never reported). */
export function lazyPos(src: ParsedYaml, path: Path): Pos {
  let cached: Pos | undefined;
  const get = () => (cached ??= src.posOf(path, { key: true }));
  return {
    get file() {
      return src.file;
    },
    get line() {
      return get().line;
    },
    get col() {
      return get().col;
    },
    toJSON() {
      return { file: src.file, line: get().line, col: get().col };
    },
  } as Pos;
}
