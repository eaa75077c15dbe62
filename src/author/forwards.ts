// Forward edits on topology text: add, edit, remove. Pure text in, text out; every byte outside
// the forward being written stays as it was (see splice.ts).
import { isMap, isScalar, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { NatchainError } from '../errors.js';
import type { Forward } from '../topology/types.js';
import { formatCidr, formatPorts, formatSource } from '../topology/types.js';
import { applySplices, colOf, entryLines, lineEnd, lineStart, type Splice } from './splice.js';
import { checkAnchors, deleteEntry, insertEntry, pairOf, renameKey, replaceValue, scalarText, valueText, type AllowEntry, type FieldValue, type NewEntry } from './yaml-map.js';

/** A forward as authoring tools write it: the fields the wizard and `natchain forward` manage. */
export interface ForwardSpec {
  name: string;
  /** Sites, subnets (CIDR) or networks, as the topology writes them. */
  from: string[];
  /** Allow-lists of network sources in `from` (only these client prefixes may use the forward from there). */
  allow?: AllowEntry[];
  /** `host:port` or `host:from-to`. */
  to: string;
  proto: 'tcp' | 'udp' | 'both';
  /** `address[:port]` where a network's clients enter. */
  expose?: string;
  hairpin?: boolean;
}

/** The fields a spec manages, in the order a new forward lists them. */
export const MANAGED_FIELDS = ['from', 'to', 'proto', 'expose', 'hairpin'] as const;
type Field = (typeof MANAGED_FIELDS)[number];

/** The spec of a forward of a validated topology (what the file says, normalised). */
export function specOf(f: Forward): ForwardSpec {
  return {
    name: f.name,
    from: f.from.map(formatSource),
    ...(allowOf(f).length ? { allow: allowOf(f) } : {}),
    to: `${f.to.address}:${formatPorts(f.to.ports)}`,
    proto: f.protos.length === 2 ? 'both' : f.protos[0]!,
    ...(f.expose ? { expose: f.expose.ports ? `${f.expose.address}:${formatPorts(f.expose.ports)}` : f.expose.address } : {}),
    ...(f.hairpin ? { hairpin: true } : {}),
  };
}

/** The allow-lists of a forward's network sources. */
function allowOf(f: Forward): AllowEntry[] {
  return f.from.flatMap((s) => (s.kind === 'network' && s.allow ? [{ network: s.network, prefixes: s.allow.map(formatCidr) }] : []));
}

/** The `from` list as written: a network with an allow-list becomes `{ network: [prefixes] }`. */
function fromValue(spec: ForwardSpec): Array<string | AllowEntry> {
  return spec.from.map((x) => spec.allow?.find((a) => a.network === x && a.prefixes.length) ?? x);
}

/** The value a spec gives a field; undefined means the field is left out. */
function fieldValue(spec: ForwardSpec, field: Field): FieldValue | undefined {
  switch (field) {
    case 'from': {
      const v = fromValue(spec);
      return v.length === 1 && typeof v[0] === 'string' ? v[0] : v;
    }
    case 'to':
      return spec.to;
    case 'proto':
      return spec.proto;
    case 'expose':
      return spec.expose;
    case 'hairpin':
      return spec.hairpin ? true : undefined;
  }
}

function parse(text: string): { doc: Document; top: YAMLMap } {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) throw new NatchainError('TOPOLOGY_INVALID', `the topology is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (!isMap(doc.contents)) throw new NatchainError('TOPOLOGY_INVALID', 'the topology is not a YAML map');
  return { doc, top: doc.contents };
}

/** A new forward as an entry of the forwards map: block lines (`step` spaces per level) or flow text. */
function forwardEntry(spec: ForwardSpec, step: number, flowBody: boolean): NewEntry {
  const fields = MANAGED_FIELDS.flatMap((f) => {
    const v = fieldValue(spec, f);
    return v === undefined ? [] : [[f, valueText('', v)] as const];
  });
  const flow = `{ ${fields.map(([k, v]) => `${k}: ${v}`).join(', ')} }`;
  const key = scalarText(spec.name);
  return {
    block: (col) => {
      const pad = ' '.repeat(col);
      if (flowBody) return `${pad}${key}: ${flow}\n`;
      return `${pad}${key}:\n` + fields.map(([k, v]) => `${pad}${' '.repeat(step)}${k}: ${v}\n`).join('');
    },
    flow: `${key}: ${flow}`,
  };
}

/** How existing forwards are written: the indent step of their fields, and whether all are one-line flow maps. */
function styleOf(text: string, forwards: YAMLMap | null, top: YAMLMap): { step: number; flowBody: boolean } {
  const items = (forwards?.items ?? []) as Pair<Node, Node | null>[];
  const bodies = items.map((p) => p.value).filter(isMap);
  const block = bodies.find((b) => !b.flow && b.items.length);
  let step = 2;
  if (block) step = colOf(text, (block.items[0] as Pair<Node>).key.range![0]) - colOf(text, items[bodies.indexOf(block)]!.key.range![0]);
  else {
    // No block forward to copy: use the indent step of the gateways map.
    const gws = pairOf(top, 'gateways')?.value;
    if (isMap(gws) && !gws.flow && gws.items.length) step = Math.max(1, colOf(text, (gws.items[0] as Pair<Node>).key.range![0]) - colOf(text, pairOf(top, 'gateways')!.key.range![0]));
  }
  return { step, flowBody: bodies.length > 0 && bodies.every((b) => b.flow) };
}

/** Lines natchain inserted end like the file's own: in a CRLF file, every lone `\n` becomes `\r\n`. */
function sameNewlines(original: string, out: string): string {
  return original.includes('\r\n') ? out.replace(/(?<!\r)\n/g, '\r\n') : out;
}

/** Adds forwards (in order) after the existing ones; creates the `forwards` section when there is none. */
export function addForwards(text: string, specs: ForwardSpec[]): string {
  return sameNewlines(text, addForwardsLf(text, specs));
}

function addForwardsLf(text: string, specs: ForwardSpec[]): string {
  const { top } = parse(text);
  const pair = pairOf(top, 'forwards');
  const map = pair && isMap(pair.value) ? pair.value : null;
  for (const s of specs) if (map && pairOf(map, s.name)) throw new NatchainError('USAGE', `a forward named "${s.name}" already exists`);
  const { step, flowBody } = styleOf(text, map, top);
  const entries = specs.map((s) => forwardEntry(s, step, flowBody));
  if (map && map.items.length) {
    let out = text;
    // One at a time: each insertion goes after the previous one.
    for (const e of entries) {
      const { top: t } = parse(out);
      out = applySplices(out, [insertEntry(out, pairOf(t, 'forwards')!.value as YAMLMap, e)]);
    }
    return out;
  }
  const body = (col: number) => entries.map((e) => e.block(col)).join('');
  if (pair) return intoEmptySection(text, pair, body(colOf(text, pair.key.range![0]) + step));
  return newSection(text, top, 'forwards', body(step));
}

/** Fills `forwards:` whose value is empty (`forwards:`, `forwards: {}`, `forwards: ~`) with block lines. */
function intoEmptySection(text: string, pair: Pair<Node, Node | null>, lines: string): string {
  const splices: Splice[] = [];
  const v = pair.value;
  let keyLineEnd = lineEnd(text, pair.key.range![1]);
  if (v && v.range && v.range[1] > v.range[0]) {
    // Drop the empty value (and the spaces before it); a comment after it stays.
    let s = v.range[0];
    while (s > pair.key.range![1] && text[s - 1] === ' ') s--;
    splices.push({ start: s, end: v.range[1], insert: '' });
    keyLineEnd = lineEnd(text, v.range[1]);
  }
  splices.push({ start: keyLineEnd, end: keyLineEnd, insert: (text[keyLineEnd - 1] === '\n' ? '' : '\n') + lines });
  return applySplices(text, splices);
}

/** Adds a top-level section before `lab` (and the comments above it), or at the end of the file. */
function newSection(text: string, top: YAMLMap, key: string, lines: string): string {
  const lab = pairOf(top, 'lab');
  const section = `${key}:\n${lines}`;
  if (lab) {
    const at = entryLines(text, lab.key.range![0], lab.key.range![1]).start;
    return text.slice(0, at) + section + text.slice(at);
  }
  const sep = text.length && !text.endsWith('\n') ? '\n' : '';
  return text + sep + section;
}

/** The forward's map in the document, or an error naming the forward. */
function forwardPair(text: string, name: string): { doc: Document; map: YAMLMap; pair: Pair<Node, Node | null>; body: YAMLMap } {
  const { doc, top } = parse(text);
  const fw = pairOf(top, 'forwards')?.value;
  const pair = isMap(fw) ? pairOf(fw, name) : undefined;
  if (!pair || !isMap(fw)) throw new NatchainError('NOT_FOUND', `there is no forward named "${name}"`);
  if (!isMap(pair.value)) throw new NatchainError('TOPOLOGY_INVALID', `forward "${name}" is not a map`);
  return { doc, map: fw, pair, body: pair.value };
}

/** Removes a forward (its lines, with the comments that belong to it). */
export function removeForward(text: string, name: string): string {
  const { doc, map, pair } = forwardPair(text, name);
  const splice = deleteEntry(text, map, pair);
  checkAnchors(doc, pair.value!, `forward "${name}"`, [splice.start, splice.end]);
  return applySplices(text, [splice]);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** A `from` value as comparable data: always a list; allow-lists as `{network: [prefix/len]}` (a bare address is its /32). */
function fromData(v: unknown): unknown {
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list.map((x) => {
    if (typeof x === 'string') return x;
    if (x && typeof x === 'object' && 'network' in x && 'prefixes' in x) return { [(x as AllowEntry).network]: (x as AllowEntry).prefixes };
    return Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, ps]) => [k, (Array.isArray(ps) ? ps : []).map((p) => (String(p).includes('/') ? String(p) : `${p}/32`))]));
  });
}

/**
 * Sets a forward's managed fields to the spec's values (renaming it when the spec's name differs).
 * Only fields whose value changes are written; the others (and fields natchain does not manage,
 * such as `ports` or `description`), their comments and their style stay as they are.
 */
export function editForward(text: string, name: string, spec: ForwardSpec): string {
  return sameNewlines(text, editForwardLf(text, name, spec));
}

function editForwardLf(text: string, name: string, spec: ForwardSpec): string {
  const { doc, map, pair, body } = forwardPair(text, name);
  if (spec.name !== name && pairOf(map, spec.name)) throw new NatchainError('USAGE', `a forward named "${spec.name}" already exists`);
  const old = body.toJS(doc) as Record<string, unknown>;
  const splices: Splice[] = [];
  if (spec.name !== name) splices.push(renameKey(pair, spec.name));
  const inserts: [Field, FieldValue][] = [];
  for (const field of MANAGED_FIELDS) {
    const want = fieldValue(spec, field);
    const p = pairOf(body, field);
    const had = old[field];
    const unchanged =
      field === 'from'
        ? same(fromData(had), fromData(want))
        : field === 'proto'
          ? (had ?? 'tcp') === want
          : field === 'hairpin'
            ? Boolean(had) === Boolean(want)
            : same(had, want);
    if (unchanged) continue;
    if (p?.value) checkAnchors(doc, p.value, `forwards.${name}.${field}`);
    const empty = !p?.value || (isScalar(p.value) && p.value.value === null);
    if (p && (want === undefined || empty)) splices.push(deleteEntry(text, body, p));
    if (want === undefined) continue;
    if (p && !empty) splices.push(replaceValue(text, p, want));
    else inserts.push([field, want]);
  }
  let out = applySplices(text, splices);
  // Inserted fields go after the forward's last field, one at a time, on the edited text.
  for (const [field, value] of inserts) {
    const { body: b } = forwardPair(out, spec.name);
    const v = valueText(out, value);
    out = applySplices(out, [insertEntry(out, b, { block: (col) => `${' '.repeat(col)}${field}: ${v}\n`, flow: `${field}: ${v}` })]);
  }
  return out;
}

/** Offsets of a forward's entry in the text (for telling which diagnostics are about it). */
export function forwardSpan(text: string, name: string): { start: number; end: number; fields: Map<string, [number, number]> } | null {
  try {
    const { pair, body } = forwardPair(text, name);
    const fields = new Map<string, [number, number]>();
    for (const p of body.items as Pair<Node, Node | null>[]) {
      if (isScalar(p.key)) fields.set(String(p.key.value), [lineStart(text, p.key.range![0]), p.value?.range?.[2] ?? p.key.range![2]]);
    }
    return { start: lineStart(text, pair.key.range![0]), end: body.range![2], fields };
  } catch {
    return null;
  }
}
