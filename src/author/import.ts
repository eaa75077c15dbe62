// Bulk input for `natchain forward import`: CSV or YAML rows -> forward specs, each with the line
// it came from, so every error can be reported at its input line. Pure.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import type { ForwardSpec } from './forwards.js';

/** A spec and the input line it came from. */
export interface ImportRow {
  line: number;
  spec: ForwardSpec;
  /** CSV `allow` cell: an allow-list for every network source of the row (which sources are networks, the topology says). */
  allowAll?: string[];
}

/** A problem in the input file itself (before any topology check). */
export interface ImportProblem {
  line: number;
  message: string;
}

const COLUMNS = ['name', 'from', 'to', 'proto', 'expose', 'hairpin', 'allow'] as const;
const REQUIRED = ['name', 'from', 'to'];

/** Splits a `from` cell: entries separated by spaces, `;` or `,`. */
const splitFrom = (s: string) => s.split(/[\s;,]+/).filter(Boolean);

/** Builds a spec from named cells; problems are messages about the row. */
function specOfCells(cells: Record<string, string | undefined>, problems: string[]): ForwardSpec | null {
  for (const k of REQUIRED) if (!cells[k]?.trim()) problems.push(`missing ${k}`);
  const proto = (cells.proto?.trim() || 'tcp') as ForwardSpec['proto'];
  if (!['tcp', 'udp', 'both'].includes(proto)) problems.push(`proto must be tcp, udp or both, not "${proto}"`);
  const hp = cells.hairpin?.trim().toLowerCase() ?? '';
  if (!['', 'true', 'false', 'yes', 'no'].includes(hp)) problems.push(`hairpin must be true or false, not "${cells.hairpin}"`);
  if (problems.length) return null;
  const expose = cells.expose?.trim();
  return {
    name: cells.name!.trim(),
    from: splitFrom(cells.from!),
    to: cells.to!.trim(),
    proto,
    ...(expose ? { expose } : {}),
    ...(hp === 'true' || hp === 'yes' ? { hairpin: true } : {}),
  };
}

/** One CSV line as cells (RFC 4180 quoting, on one line). */
function csvCells(line: string): string[] | string {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return 'unterminated quote';
        if (line[i] === '"' && line[i + 1] === '"') {
          cell += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else cell += line[i++];
      }
      if (i < line.length && line[i] !== ',') return 'text after a closing quote';
    } else {
      const next = line.indexOf(',', i);
      cell = line.slice(i, next === -1 ? line.length : next);
      i = next === -1 ? line.length : next;
    }
    cells.push(cell.trim());
    if (i >= line.length) return cells;
    i++; // the comma
  }
}

/** Parses CSV with a header line naming the columns (name, from, to, proto, expose, hairpin, allow); `#` lines and blank lines are skipped. */
export function parseCsv(text: string): { rows: ImportRow[]; problems: ImportProblem[] } {
  const rows: ImportRow[] = [];
  const problems: ImportProblem[] = [];
  let header: string[] | null = null;
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = idx + 1;
    if (!raw.trim() || raw.trimStart().startsWith('#')) return;
    const cells = csvCells(raw);
    if (typeof cells === 'string') return problems.push({ line, message: cells });
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      const unknown = header.filter((h) => !(COLUMNS as readonly string[]).includes(h));
      if (unknown.length) problems.push({ line, message: `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (columns: ${COLUMNS.join(', ')})` });
      for (const k of REQUIRED) if (!header.includes(k)) problems.push({ line, message: `the header has no "${k}" column` });
      return;
    }
    if (cells.length > header.length) return problems.push({ line, message: `${cells.length} cells but the header names ${header.length} columns` });
    const named = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
    const msgs: string[] = [];
    const spec = specOfCells(named, msgs);
    for (const m of msgs) problems.push({ line, message: m });
    const allow = splitFrom(named.allow ?? '');
    if (spec) rows.push({ line, spec, ...(allow.length ? { allowAll: allow } : {}) });
  });
  if (!header && !problems.length) problems.push({ line: 1, message: 'the file is empty: expected a header line (name,from,to,proto,expose,hairpin) and one line per forward' });
  return { rows, problems };
}

/** Parses YAML: a map of forwards as a topology writes them (optionally under a `forwards:` key). */
export function parseYamlForwards(text: string): { rows: ImportRow[]; problems: ImportProblem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const lineOf = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : 1);
  if (doc.errors.length) return { rows: [], problems: doc.errors.map((e) => ({ line: lc.linePos(e.pos[0]).line, message: e.message.split('\n')[0]! })) };
  let root = doc.contents;
  if (isMap(root) && root.items.length === 1 && isScalar(root.items[0]!.key) && root.items[0]!.key.value === 'forwards') root = root.items[0]!.value as typeof root;
  if (!isMap(root)) return { rows: [], problems: [{ line: 1, message: 'expected a map of forwards: name: { from, to, proto, expose, hairpin }' }] };
  const rows: ImportRow[] = [];
  const problems: ImportProblem[] = [];
  for (const pair of root.items as Pair<Node, Node | null>[]) {
    const line = lineOf(pair.key);
    const body = pair.value;
    if (!isMap(body)) {
      problems.push({ line, message: `forward ${String((pair.key as { value?: unknown }).value)}: expected a map with from, to, proto...` });
      continue;
    }
    const cells: Record<string, string | undefined> = { name: String(isScalar(pair.key) ? pair.key.value : '') };
    const allow: NonNullable<ForwardSpec['allow']> = [];
    const msgs: string[] = [];
    for (const p of body.items as Pair<Node, Node | null>[]) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!(COLUMNS as readonly string[]).includes(k) || k === 'name' || k === 'allow') {
        problems.push({ line: lineOf(p.key), message: `unknown field "${k}" (fields: ${COLUMNS.slice(1, -1).join(', ')}; allow-lists go in from)` });
        continue;
      }
      const v = p.value;
      if (k === 'from' && isSeq(v)) {
        // `{ internet: [prefixes] }` entries: the network, with its allow-list.
        for (const x of v.items) {
          if (!isMap(x)) continue;
          const entry = x.toJSON() as Record<string, unknown>;
          for (const [network, list] of Object.entries(entry)) allow.push({ network, prefixes: (Array.isArray(list) ? list : [list]).map(String) });
        }
      }
      cells[k] = isSeq(v) ? v.items.map((x) => (isScalar(x) ? String(x.value) : isMap(x) ? Object.keys(x.toJSON() as object).join(' ') : '')).join(' ') : isScalar(v) ? String(v.value ?? '') : '';
    }
    const spec = specOfCells(cells, msgs);
    if (spec && allow.length) spec.allow = allow;
    for (const m of msgs) problems.push({ line, message: m });
    if (spec) rows.push({ line, spec });
  }
  return { rows, problems };
}

/** Parses an import file by its name: `.csv`, else YAML. */
export function parseImport(file: string, text: string): { rows: ImportRow[]; problems: ImportProblem[] } {
  return /\.csv$/i.test(file) ? parseCsv(text) : parseYamlForwards(text);
}
