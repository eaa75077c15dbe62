// zod finds shape errors; this says them in natchain's words (zod's own wording, like
// `Invalid option: expected one of "tcp"|"udp"|"both"` or bounds of 2^53, never reaches the
// user), one message per node, with any input it quotes escaped.
import { quote } from '../escape.js';

type Path = (string | number)[];

/** The subset of a zod issue natchain reads. */
export interface ShapeIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  values?: unknown[];
  keys?: string[];
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
  issues?: ShapeIssue[];
  errors?: ShapeIssue[][];
}

/** A shape issue as natchain says it: where (dotted path), what, and whether it concerns a key. */
export function describeIssue(issue: ShapeIssue, data: unknown): { path: Path; message: string; key: boolean } {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const value = valueAt(data, path);
  const where = path.length ? `${path.map(String).join('.')}: ` : '';
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys ?? [];
      return { path: [...path, keys[0] ?? ''], key: true, message: `${where}unknown field${keys.length > 1 ? 's' : ''} ${keys.map(keyText).join(', ')}` };
    }
    case 'invalid_key': {
      const parent = path.slice(0, -1).map(String).join('.');
      const why = issue.issues?.find((i) => i.code === 'invalid_format' || i.code === 'custom')?.message ?? 'is not a valid name';
      const name = path[path.length - 1];
      if (name === COMPLEX_KEY) return { path, key: true, message: `${parent ? parent + ': ' : ''}a map used as a name: names are plain text` };
      return { path, key: true, message: `${parent ? parent + ': ' : ''}name ${quote(name)} ${why}` };
    }
    case 'invalid_union': {
      // The alternative that got furthest says the most; when none did, list what was expected.
      const deeper = issue.errors?.map((alt) => alt.filter((i) => i.path.length > 0 || i.code !== 'invalid_type')).find((alt) => alt.length);
      if (deeper?.length) {
        const inner = describeIssue({ ...deeper[0]!, path: [...path, ...deeper[0]!.path] }, data);
        return inner;
      }
      const expected = (issue.errors ?? []).map((alt) => alt[0]?.expected).filter((e): e is string => !!e);
      return { path, key: false, message: `${where}expected ${orList(expected.map(expectedText))}, got ${kindOf(value)}` };
    }
    case 'invalid_type':
      if (value === undefined) return { path, key: false, message: `${where}missing (required)` };
      if (issue.expected === 'int') return { path, key: false, message: `${where}${numberText(value)} is not a whole number` };
      return { path, key: false, message: `${where}expected ${expectedText(issue.expected ?? '')}, got ${kindOf(value)}` };
    case 'invalid_value': {
      const values = issue.values ?? [];
      if (values.length === 1) return { path, key: false, message: `${where}must be ${String(values[0])}, got ${shown(value)}` };
      return { path, key: false, message: `${where}${shown(value)} is not one of ${orList(values.map(String))}` };
    }
    case 'too_big':
    case 'too_small':
      return { path, key: false, message: `${where}${boundText(issue, value)}` };
    default:
      // invalid_format and custom carry natchain's own message (schema.ts, names.ts).
      return { path, key: false, message: `${where}${typeof value === 'string' ? quote(value) + ' ' : ''}${issue.message}` };
  }
}

// js-yaml turns a map used as a key (`? {a: 1}`) into this string.
const COMPLEX_KEY = '[object Object]';

function keyText(k: string): string {
  return k === COMPLEX_KEY ? 'a map used as a key' : quote(k);
}

function boundText(issue: ShapeIssue, value: unknown): string {
  if (typeof value === 'number') {
    if (/port/i.test(issue.path.map(String).join('.'))) return `port ${numberText(value)} is outside 1-65535`;
    if (issue.origin === 'int' && Math.abs(value) > Number.MAX_SAFE_INTEGER) return `${numberText(value)} is far too large`;
    const min = issue.code === 'too_small' ? issue.minimum : undefined;
    const max = issue.code === 'too_big' ? issue.maximum : undefined;
    return max !== undefined ? `${numberText(value)} is more than ${String(max)}` : `${numberText(value)} is less than ${String(min)}`;
  }
  if (typeof value === 'string') return issue.code === 'too_big' ? `text longer than ${String(issue.maximum)} characters` : `text shorter than ${String(issue.minimum)} characters`;
  if (Array.isArray(value)) return issue.code === 'too_small' ? `the list must have at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}` : `the list must have at most ${String(issue.maximum)} items`;
  return issue.code === 'too_big' ? 'too large' : 'too small';
}

function expectedText(zodType: string): string {
  switch (zodType) {
    case 'string':
      return 'text';
    case 'number':
    case 'int':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'record':
    case 'map':
      return 'a map';
    case 'array':
    case 'tuple':
      return 'a list';
    default:
      return zodType;
  }
}

/** What a YAML value is, in words. */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `text ${quote(v, 40)}`;
  if (typeof v === 'boolean') return String(v);
  return numberText(v as number);
}

function shown(v: unknown): string {
  return typeof v === 'string' ? quote(v, 40) : kindOf(v);
}

function numberText(v: unknown): string {
  if (typeof v !== 'number') return kindOf(v);
  return String(v);
}

function orList(items: string[]): string {
  const u = [...new Set(items)];
  return u.length <= 1 ? (u[0] ?? 'something else') : `${u.slice(0, -1).join(', ')} or ${u[u.length - 1]}`;
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const p of path) {
    if (typeof v !== 'object' || v === null || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}
