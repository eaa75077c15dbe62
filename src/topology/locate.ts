// Positions of a few nodes, without a second full parse. js-yaml reads the data (fast, no
// positions); when an error must be reported, this finds where the erroneous node is by walking
// the text along the node's path: block mappings by their lines (each map's keys indexed once,
// and checked against the parsed data's keys, so a misread is detected rather than reported),
// anything else (flow collections, sequences, scalars) by parsing only that node's own text
// with `yaml`. When the text is too unusual to be sure (anchors, tags, explicit keys, tabs,
// numeric or quoted-with-escapes keys...), it answers `undefined` and the caller falls back to a
// full position-keeping parse. Errors thus cost about what success costs.
import type { Document, Node, Pair } from 'yaml';
import { yamlLib } from './yaml-lazy.js';

type Path = ReadonlyArray<string | number>;

// Per-map key index, so that looking up many positions stays linear.
const pairIndex = new WeakMap<object, Map<string, Pair>>();
function pairOf(map: { items: unknown[] }, step: string | number): Pair | undefined {
  let m = pairIndex.get(map);
  if (!m) {
    const { isPair, isScalar, isMap, isSeq } = yamlLib();
    m = new Map();
    // Keys as js-yaml names them: a map used as a key is "[object Object]", a list its items joined by ",".
    const keyOf = (k: unknown) => (isScalar(k) ? String(k.value) : isMap(k) ? '[object Object]' : isSeq(k) ? String(k.toJSON()) : String(k));
    for (const p of map.items) if (isPair(p)) m.set(keyOf(p.key), p);
    pairIndex.set(map, m);
  }
  return m.get(String(step));
}

/** Offset of the node at `path` in a parsed document (nearest existing parent when the path ends early); `keyAt`: the key offset the walk starts under. */
export function offsetIn(doc: Document, path: Path, key: boolean, keyAt?: number): number {
  const { isMap, isSeq } = yamlLib();
  let node: unknown = doc.contents;
  let keyOffset = keyAt;
  for (const step of path) {
    if (isMap(node)) {
      const pair = pairOf(node, step);
      if (!pair) break;
      keyOffset = (pair.key as Node | null)?.range?.[0];
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
      keyOffset = undefined;
      node = node.items[step];
    } else break;
  }
  if (key && keyOffset !== undefined) return keyOffset;
  return (node as Node | null | undefined)?.range?.[0] ?? keyOffset ?? 0;
}

/** A node's text: from just after its key's `:` (or the file start) to the start of the next sibling. */
interface Region {
  from: number;
  end: number;
}

interface Entry {
  keyAt: number;
  value: Region;
}

/** Finds the offsets of nodes by path in YAML text whose data (as js-yaml read it) is `data`. */
export class FastLocator {
  private readonly maps = new Map<number, Map<string, Entry> | null>();
  private readonly docs = new Map<number, Document | null>();

  constructor(
    private readonly text: string,
    private readonly data: unknown,
  ) {}

  /** Offset of the value at `path` (of its key with `key`), nearest existing parent when the path ends early; undefined when unsure. */
  offsetOf(path: Path, key: boolean): number | undefined {
    let region: Region = { from: 0, end: this.text.length };
    let node: unknown = this.data;
    let keyAt: number | undefined;
    for (let k = 0; k < path.length; k++) {
      const step = path[k]!;
      if (typeof node !== 'object' || node === null) break; // a scalar has no children: it is the nearest node
      const index = this.childrenOf(region, node, k === 0);
      if (index === undefined) return this.subParse(region, path.slice(k), key, keyAt);
      const entry = typeof node === 'object' && node !== null && Object.prototype.hasOwnProperty.call(node, step) ? index.get(String(step)) : undefined;
      if (!entry) break;
      if (!Array.isArray(node)) keyAt = entry.keyAt;
      else keyAt = undefined;
      region = entry.value;
      node = (node as Record<string, unknown>)[step];
    }
    if (key && keyAt !== undefined) return keyAt;
    // An empty value sits right after its key's colon, as `yaml` places it.
    return this.contentStart(region, region.from === 0) ?? (keyAt !== undefined ? this.afterBlanks(region.from) : 0);
  }

  private afterBlanks(i: number): number {
    while (this.text[i] === ' ' || this.text[i] === '\t') i++;
    return i;
  }

  /** The children of the collection in `region` by key (or index), read once; undefined when unsure. */
  private childrenOf(region: Region, node: unknown, root: boolean): Map<string, Entry> | undefined {
    if (typeof node !== 'object' || node === null) return undefined;
    const cached = this.maps.get(region.from);
    if (cached !== undefined) return cached ?? undefined;
    const at = this.contentStart(region, root);
    let built: Map<string, Entry> | undefined;
    if (at !== undefined && (this.text[at] === '{' || this.text[at] === '[')) built = this.flowEntries(at, region.end, node);
    else if (!Array.isArray(node)) built = this.buildBlockMap(region, node, root);
    this.maps.set(region.from, built ?? null);
    return built;
  }

  private buildBlockMap(region: Region, node: object, root: boolean): Map<string, Entry> | undefined {
    const t = this.text;
    const first = this.contentStart(region, root);
    if (first === undefined) return undefined;
    const ls = this.lineStartOf(first);
    for (let i = ls; i < first; i++) if (t.charCodeAt(i) !== 32) return undefined; // inline value or tab indent: not a block mapping
    const indent = first - ls;
    const entries = new Map<string, Entry>();
    let last: { key: string; keyAt: number; valueFrom: number } | undefined;
    const close = (end: number) => {
      if (last) entries.set(last.key, { keyAt: last.keyAt, value: { from: last.valueFrom, end } });
    };
    for (let pos = ls; pos < region.end; ) {
      let eol = t.indexOf('\n', pos);
      if (eol < 0 || eol > region.end) eol = region.end;
      let i = pos;
      while (i < eol && t.charCodeAt(i) === 32) i++;
      const c = t.charCodeAt(i);
      const blank = i >= eol || c === 13 || c === 35; /* \r, # */
      if (!blank) {
        if (c === 9) return undefined; // tabs around indentation: let the full parser judge
        if (i - pos < indent) return undefined; // a less indented line inside the region: unexpected
        if (i - pos === indent) {
          if (c === 45 /* - */ && isSpaceOrEnd(t.charCodeAt(i + 1))) {
            if (!last) return undefined; // a sequence, not a mapping
          } else {
            const k = this.readKey(i, eol);
            if (!k) return undefined;
            close(pos);
            if (entries.has(k.key)) return undefined;
            last = { key: k.key, keyAt: i, valueFrom: k.after };
          }
        }
      }
      pos = eol + 1;
    }
    close(region.end);
    // Trust the index only when it names exactly the keys the data has.
    const keys = Object.keys(node);
    if (keys.length !== entries.size) return undefined;
    for (const k of keys) if (!entries.has(k)) return undefined;
    return entries;
  }

  /** The entries of a flow collection (`{k: v, ...}` or `[a, b]`) opening at `open`; undefined when unsure. */
  private flowEntries(open: number, end: number, node: object): Map<string, Entry> | undefined {
    const t = this.text;
    const isMapping = t[open] === '{';
    if (isMapping === Array.isArray(node)) return undefined;
    const out = new Map<string, Entry>();
    let depth = 0;
    let itemStart = open + 1;
    for (let i = open; i < end; i++) {
      const c = t[i]!;
      if (c === '"' || c === "'") {
        i = this.quotedEnd(i, end);
        if (i < 0) return undefined;
      } else if (c === '#' && isSpaceOrEnd(t.charCodeAt(i - 1))) return undefined; // comments inside: let yaml judge
      else if (c === '{' || c === '[') depth++;
      else if ((c === ',' && depth === 1) || ((c === '}' || c === ']') && --depth === 0)) {
        if (!this.flowItem(itemStart, i, isMapping, out)) return undefined;
        itemStart = i + 1;
        if (depth === 0) {
          const n = Array.isArray(node) ? node.length : Object.keys(node).length;
          if (out.size !== n) return undefined;
          if (!Array.isArray(node)) for (const k of Object.keys(node)) if (!out.has(k)) return undefined;
          return out;
        }
      } else if (depth === 0) return undefined;
    }
    return undefined;
  }

  /** One item of a flow collection between `from` and `to` (exclusive), added to `out`; false when unsure. */
  private flowItem(from: number, to: number, isMapping: boolean, out: Map<string, Entry>): boolean {
    const t = this.text;
    let i = from;
    while (i < to && isSpaceOrEnd(t.charCodeAt(i))) i++;
    if (i === to) return true; // an empty collection or a trailing comma
    if (!isMapping) {
      out.set(String(out.size), { keyAt: i, value: { from: i, end: to } });
      return true;
    }
    const k = this.readKey(i, to);
    if (!k || out.has(k.key)) return false;
    let v = k.after;
    while (v < to && isSpaceOrEnd(t.charCodeAt(v))) v++;
    if (v === to) return false; // an empty value
    out.set(k.key, { keyAt: i, value: { from: k.after, end: to } });
    return true;
  }

  /** Offset of the closing quote of the quoted scalar opening at `i`, or -1. */
  private quotedEnd(i: number, end: number): number {
    const t = this.text;
    const q = t[i];
    for (let j = i + 1; j < end; j++) {
      if (q === '"' && t[j] === '\\') j++;
      else if (t[j] === q) {
        if (q === "'" && t[j + 1] === "'") j++;
        else return j;
      }
    }
    return -1;
  }

  /** A simple block-mapping key at `i` (plain name or quoted without escapes) and the offset after its `:`. */
  private readKey(i: number, eol: number): { key: string; after: number } | undefined {
    const t = this.text;
    const c = t[i]!;
    let key: string;
    let j: number;
    if (c === '"' || c === "'") {
      const close = t.indexOf(c, i + 1);
      if (close < 0 || close >= eol) return undefined;
      key = t.slice(i + 1, close);
      if (key.includes('\\') || (c === "'" && t[close + 1] === "'")) return undefined;
      j = close + 1;
      while (t[j] === ' ') j++;
      if (t[j] !== ':') return undefined;
    } else {
      if (!/[A-Za-z0-9_]/.test(c)) return undefined;
      j = i;
      while (j < eol && !(t[j] === ':' && isSpaceOrEnd(t.charCodeAt(j + 1))) && !(t[j] === '#' && t[j - 1] === ' ') && !'{}[],'.includes(t[j]!)) j++;
      if (t[j] !== ':') return undefined;
      key = t.slice(i, j).trimEnd();
      if (!plainStringKey(key)) return undefined;
    }
    return { key, after: j + 1 };
  }

  /** The node's own text parsed alone with `yaml`, then walked along the rest of the path. */
  private subParse(region: Region, rest: Path, key: boolean, keyAt: number | undefined): number | undefined {
    const from = region.from;
    let doc = this.docs.get(from);
    if (doc === undefined) {
      try {
        doc = yamlLib().parseDocument(this.text.slice(from, region.end), { uniqueKeys: false, prettyErrors: false });
        if (doc.errors.length) doc = null;
      } catch {
        doc = null; // too deep for the parser's recursion: the caller falls back
      }
      this.docs.set(from, doc);
    }
    if (!doc) return undefined;
    return offsetIn(doc, rest, key, keyAt === undefined ? undefined : keyAt - from) + from;
  }

  /** First offset of content in a region (skipping blanks, comments and a leading `---` at the root), or undefined when empty. */
  private contentStart(region: Region, root: boolean): number | undefined {
    const t = this.text;
    let i = region.from;
    while (i < region.end) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else if (c === 35 && (i === 0 || isSpaceOrEnd(t.charCodeAt(i - 1)))) {
        const eol = t.indexOf('\n', i);
        i = eol < 0 ? region.end : eol + 1;
      } else if (root && c === 45 && t.startsWith('---', i) && isSpaceOrEnd(t.charCodeAt(i + 3)) && this.lineStartOf(i) === i) i += 3;
      else return i < region.end ? i : undefined;
    }
    return undefined;
  }

  private lineStartOf(offset: number): number {
    return this.text.lastIndexOf('\n', offset - 1) + 1;
  }
}

function isSpaceOrEnd(c: number): boolean {
  return Number.isNaN(c) || c === 32 || c === 9 || c === 10 || c === 13;
}

/** Whether a plain key is read as that very string by the YAML core schema (not a number, bool, null or infinity). */
function plainStringKey(key: string): boolean {
  if (/^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE)$/.test(key) || /^[-+]?\.(?:inf|nan)$/i.test(key)) return false;
  if (!/^[-+.0-9]/.test(key)) return true;
  // Starts like a number: a short decimal integer reads back the same; otherwise only text no number syntax can make.
  return /^(?:0|[1-9][0-9]{0,14})$/.test(key) || /[^0-9a-fA-FxXoObB._+-]/.test(key);
}
