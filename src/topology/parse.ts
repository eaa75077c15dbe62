import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
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

/** Parses YAML text keeping node positions; never throws on bad input. */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): Pos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const diagnostics: Diagnostic[] = [...doc.errors, ...doc.warnings].map((e) => ({
    ...at(e.pos[0]),
    message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
  }));

  // Per-map key index so that looking up 100k forwards' positions stays linear.
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

  const posOf = (path: ReadonlyArray<string | number>, opts: { key?: boolean } = {}): Pos => {
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

  return { file, data: diagnostics.length ? undefined : doc.toJS({ maxAliasCount: 1000 }), posOf, diagnostics };
}
