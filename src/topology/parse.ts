import jsyaml from 'js-yaml';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Diagnostic, Pos } from '../errors.js';

/** A YAML document with the means to turn a data path back into `file:line:col`. */
export interface ParsedYaml {
  file: string;
  data: unknown;
  /** Position of the value at `path` (or of its key with `key: true`); falls back to the nearest existing parent. */
  posOf(path: ReadonlyArray<string | number>, opts?: { key?: boolean }): Pos;
  /** Syntax errors (duplicate keys among them); non-empty means `data` must not be used. */
  diagnostics: Diagnostic[];
}

/**
 * Parses YAML text; never throws on bad input. Two parsers on purpose: js-yaml reads the data
 * (about 8x faster on a 100k-forward file), and `yaml`, which keeps every node's position, runs
 * only when a position is asked for, that is when there is an error to report.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  let data: unknown;
  let fastError: jsyaml.YAMLException | undefined;
  try {
    // CORE_SCHEMA is YAML 1.2's core schema, as `yaml` uses: no timestamps, no merge keys. json: false refuses duplicate keys.
    data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, json: false, filename: file });
  } catch (e) {
    if (!(e instanceof jsyaml.YAMLException)) throw e;
    fastError = e;
  }
  let located: Located | undefined;
  const locate = () => (located ??= locateAll(text, file));
  const posOf = (path: ReadonlyArray<string | number>, opts: { key?: boolean } = {}) => locate().posOf(path, opts);

  let diagnostics: Diagnostic[] = [];
  if (fastError) {
    diagnostics = locate().diagnostics;
    // The two parsers disagree only at the margins; never let an error pass unreported.
    if (diagnostics.length === 0) {
      const m = fastError.mark;
      diagnostics = [{ file, line: (m?.line ?? 0) + 1, col: (m?.column ?? 0) + 1, message: fastError.reason || fastError.message }];
    }
  }
  return { file, data: diagnostics.length ? undefined : data, posOf, diagnostics };
}

interface Located {
  posOf(path: ReadonlyArray<string | number>, opts: { key?: boolean }): Pos;
  diagnostics: Diagnostic[];
}

/** The position-keeping parse: every diagnostic, and a path -> position lookup. */
function locateAll(text: string, file: string): Located {
  const lineCounter = new LineCounter();
  // yaml's own duplicate-key check compares every key with every other (quadratic for 100k
  // forwards); the same check is done below in one pass with a Set.
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number): Pos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const diagnostics: Diagnostic[] = [...doc.errors, ...doc.warnings].map((e) => ({
    ...at(e.pos[0]),
    message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
  }));
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          diagnostics.push({ ...at((pair.key as Node | null)?.range?.[0] ?? 0), message: `duplicate key "${String(key)}": each name may appear once` });
        }
        seen.add(key);
      }
    },
  });

  // Per-map key index so that looking up many positions stays linear.
  const index = new WeakMap<object, Map<unknown, { key: unknown; value: unknown }>>();
  const pairOf = (map: { items: unknown[] }, key: string | number) => {
    let m = index.get(map);
    if (!m) {
      m = new Map();
      for (const p of map.items) if (isPair(p)) m.set(isScalar(p.key) ? p.key.value : p.key, p);
      index.set(map, m);
    }
    return m.get(key);
  };

  const posOf = (path: ReadonlyArray<string | number>, opts: { key?: boolean }): Pos => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const step of path) {
      if (isMap(node)) {
        const pair = pairOf(node, step);
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
        keyNode = undefined;
        node = node.items[step];
      } else {
        break;
      }
    }
    const target = (opts.key && keyNode ? keyNode : node) as Node | undefined;
    return at(target?.range?.[0] ?? 0);
  };
  return { posOf, diagnostics };
}

/** A position computed only when read (entities keep one each; most are never reported). */
export function lazyPos(src: ParsedYaml, path: ReadonlyArray<string | number>): Pos {
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
