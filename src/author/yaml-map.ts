// Splices that insert, replace and delete entries of a YAML map in place, block or flow style,
// found through `yaml`'s Document API. Each returns the splice; nothing else of the text moves.
import { isAlias, isMap, isScalar, isSeq, stringify, visit, type Document, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { NatchainError } from '../errors.js';
import { blankAt, blankBefore, colOf, entryLines, lineEnd, lineStart, type Splice } from './splice.js';

/** A network source with an allow-list: written `{ <network>: [prefixes] }`. */
export interface AllowEntry {
  network: string;
  prefixes: string[];
}

/** A value natchain writes into a topology: a scalar string, a list (of strings and allow-lists), or a boolean. */
export type FieldValue = string | Array<string | AllowEntry> | boolean;

/** A list item as YAML flow text. */
function itemText(x: string | AllowEntry): string {
  return typeof x === 'string' ? scalarText(x) : `{ ${scalarText(x.network)}: [${x.prefixes.map((p) => scalarText(p)).join(', ')}] }`;
}

/** The map entry whose key is `key`, if any. */
export function pairOf(map: YAMLMap, key: string): Pair<Node, Node | null> | undefined {
  return (map.items as Pair<Node, Node | null>[]).find((p) => isScalar(p.key) && String(p.key.value) === key);
}

const start = (n: Node) => n.range![0];
const valueEnd = (n: Node) => n.range![1];

/** Where a pair's content ends: its value's end, or its key's when it has no value. */
function pairEnd(p: Pair<Node, Node | null>): number {
  return p.value && p.value.range ? Math.max(valueEnd(p.value), valueEnd(p.key)) : valueEnd(p.key);
}

/** A scalar as YAML text, keeping the quoting style of the scalar it replaces. */
export function scalarText(value: string, type?: Scalar.Type): string {
  if (type === 'QUOTE_DOUBLE') return JSON.stringify(value);
  if (type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  // Plain unless YAML would read it as something else (yaml quotes it then).
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

/** A flow sequence, `[a, b]` (or `[ a, b ]` when the one it replaces was spaced that way). */
function flowSeq(items: Array<string | AllowEntry>, spaced = false): string {
  const inner = items.map(itemText).join(', ');
  return spaced ? `[ ${inner} ]` : `[${inner}]`;
}

/** A new value as text, in the style of the node it replaces (or the natural style when there is none). */
export function valueText(text: string, value: FieldValue, old?: Node | null): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return scalarText(value, isScalar(old) ? old.type : undefined);
  if (isSeq(old) && !old.flow && old.items.length) {
    const col = colOf(text, start(old));
    return value.map((v) => `- ${itemText(v)}`).join('\n' + ' '.repeat(col));
  }
  if (isSeq(old)) return flowSeq(value, text.slice(start(old), start(old) + 2) === '[ ');
  if (value.length === 1 && typeof value[0] === 'string') return scalarText(value[0], isScalar(old) ? old.type : undefined);
  return flowSeq(value);
}

/** Refuses to replace or delete a node whose anchor an alias elsewhere still uses (the alias would dangle or change). */
export function checkAnchors(doc: Document, node: Node, where: string, span: [number, number] = [start(node), node.range![2]]): void {
  const anchors = new Set<string>();
  visit(node, {
    Node(_, n) {
      if ((isScalar(n) || isMap(n) || isSeq(n)) && n.anchor) anchors.add(n.anchor);
    },
  });
  if (!anchors.size) return;
  visit(doc, {
    Alias(_, a) {
      const at = a.range?.[0] ?? -1;
      if (anchors.has(a.source) && (at < span[0] || at >= span[1])) {
        throw new NatchainError('USAGE', `${where} defines the anchor &${a.source}, which is used elsewhere (*${a.source}); edit that part of the file by hand`);
      }
    },
  });
}

/** Replaces a pair's value in place. */
export function replaceValue(text: string, p: Pair<Node, Node | null>, value: FieldValue): Splice {
  const old = p.value!;
  let end = valueEnd(old);
  // Block collections end after their last newline; the replacement keeps that line end.
  if (text[end - 1] === '\n') end--;
  return { start: start(old), end, insert: valueText(text, value, isAlias(old) ? undefined : old) };
}

/** Renames a map key in place (same quoting). */
export function renameKey(p: Pair<Node, Node | null>, name: string): Splice {
  const k = p.key as Scalar;
  return { start: start(k), end: valueEnd(k), insert: scalarText(name, k.type) };
}

/** An entry to insert: its block lines (given the key's column) and its flow text (`key: value`). */
export interface NewEntry {
  block(col: number): string;
  flow: string;
}

/** Inserts an entry after a map's last one: a line in a block map, `, key: value` in a flow map. */
export function insertEntry(text: string, map: YAMLMap, entry: NewEntry): Splice {
  const items = map.items as Pair<Node, Node | null>[];
  if (map.flow) {
    if (!items.length) {
      const [s, e] = [start(map), valueEnd(map)];
      return { start: s, end: e, insert: `{ ${entry.flow} }` };
    }
    const at = pairEnd(items[items.length - 1]!);
    return { start: at, end: at, insert: `, ${entry.flow}` };
  }
  const first = items[0]!;
  const last = items[items.length - 1]!;
  const col = colOf(text, start(first.key));
  const after = entryLines(text, start(last.key), pairEnd(last)).end;
  // Entries separated by blank lines get one too.
  const spaced = items.length > 1 && blankBefore(text, lineStart(text, start(items[1]!.key)));
  const lead = (after > 0 && text[after - 1] !== '\n' ? '\n' : '') + (spaced ? '\n' : '');
  return { start: after, end: after, insert: lead + entry.block(col) };
}

/** Deletes an entry: its lines in a block map (with its own comments), `key: value` and one comma in a flow map. */
export function deleteEntry(text: string, map: YAMLMap, p: Pair<Node, Node | null>): Splice {
  const items = map.items as Pair<Node, Node | null>[];
  const i = items.indexOf(p);
  if (map.flow) {
    if (i > 0) return { start: pairEnd(items[i - 1]!), end: pairEnd(p), insert: '' };
    if (items.length > 1) return { start: start(p.key), end: start(items[1]!.key), insert: '' };
    return { start: start(p.key), end: pairEnd(p), insert: '' };
  }
  let { start: s, end: e } = entryLines(text, start(p.key), pairEnd(p));
  // Do not leave two blank lines (or a blank line before the next section) where the entry was.
  if (blankBefore(text, s) && (blankAt(text, e) || i === items.length - 1)) s = lineStart(text, s - 1);
  return { start: s, end: e, insert: '' };
}

/** The end of the line holding an offset (for inserting lines after a key). */
export function afterLine(text: string, offset: number): number {
  return lineEnd(text, offset);
}
