import { TopologyError, type Diagnostic } from '../errors.js';
import { buildTopology } from './build.js';
import { parseYaml } from './parse.js';
import { describeIssue, type ShapeIssue } from './issues.js';
import type * as z from 'zod/mini';
import { RawForward, RawGateway, RawLabHost, RawNetwork, RawSite, RawTopology } from './schema.js';
import type { Topology } from './types.js';

export * from './types.js';
export { topologyJsonSchema } from './schema.js';

/** Parses and validates topology text; throws a TopologyError listing every problem found. */
export function parseTopology(text: string, file: string): Topology {
  const { topology, diagnostics } = checkTopology(text, file);
  if (diagnostics.length) throw new TopologyError(sortDiagnostics(diagnostics));
  return topology;
}

/**
 * Like parseTopology, but returns the meaning errors beside the model (which leaves out the broken
 * entities), so a later stage can add its own errors to the same report. Throws on syntax errors,
 * and on shape errors that leave nothing to check (the file is not a map).
 */
export function checkTopology(text: string, file: string): { topology: Topology; diagnostics: Diagnostic[] } {
  const src = parseYaml(text, file);
  if (src.diagnostics.length) throw new TopologyError(src.diagnostics);
  // The input data itself is used, not zod's copy: zod's records drop a key named __proto__.
  let data: unknown = src.data ?? {};
  const diagnostics: Diagnostic[] = [];
  const leftOut = { entities: new Set<string>(), partial: new Set<string>(), wholeMap: false };
  const seen = new Set<string>();
  // zod's records skip a key named __proto__ without checking it: it is refused here (no name or field is called so).
  const protos = protoKeys(data);
  for (const path of protos) {
    seen.add([...path, '__proto__'].join('\0'));
    const where = path.length ? `${path.join('.')}: ` : '';
    diagnostics.push({ ...src.posOf([...path, '__proto__'], { key: true }), message: `${where}"__proto__" is not a valid name or field (names start with a letter or digit)` });
  }
  if (protos.length) data = withoutBroken(data, protos.map((path) => ({ code: 'unrecognized_keys', path, keys: ['__proto__'], message: '' })), leftOut) ?? {};
  // Every error at once: each round reports the shape errors and leaves out only the broken part
  // (the named entity, or the one field); the rest goes on to the meaning checks.
  for (let round = 0; round < 3; round++) {
    const shaped = RawTopology.safeParse(data);
    if (shaped.success) {
      const built = buildTopology(data as RawTopology, src, leftOut);
      return { topology: built.topology, diagnostics: [...diagnostics, ...built.diagnostics] };
    }
    for (const issue of shaped.error.issues) {
      const d = describeIssue(issue as ShapeIssue, data);
      const id = d.path.join('\0');
      if (seen.has(id)) continue; // one message per node
      seen.add(id);
      diagnostics.push({ ...src.posOf(d.path, { key: d.key }), message: d.message });
    }
    const rest = withoutBroken(data, shaped.error.issues as ShapeIssue[], leftOut);
    if (!rest) break;
    data = rest;
  }
  throw new TopologyError(sortDiagnostics(diagnostics));
}

// Top-level maps of named entities: where the entity's name is in a path, and its schema. A shape
// error in an optional field of an entity leaves out that field; in a required one (or in the
// name), the entity. Any other shape error leaves out the one field it is in (defaults.backend).
const ENTITIES: Record<string, { map: string[]; depth: number; schema: z.ZodMiniObject }> = Object.assign(Object.create(null) as Record<string, never>, {
  sites: { map: ['sites'], depth: 1, schema: RawSite },
  networks: { map: ['networks'], depth: 1, schema: RawNetwork },
  gateways: { map: ['gateways'], depth: 1, schema: RawGateway },
  forwards: { map: ['forwards'], depth: 1, schema: RawForward },
  lab: { map: ['lab', 'hosts'], depth: 2, schema: RawLabHost },
});

/** Paths of the objects in `data` that have an own key `__proto__` (deepest last). */
function protoKeys(data: unknown): string[][] {
  const out: string[][] = [];
  const stack: [unknown, string[]][] = [[data, []]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (!Array.isArray(v) && Object.hasOwn(v, '__proto__')) out.push(path);
    for (const [k, child] of Object.entries(v)) if (k !== '__proto__') stack.push([child, [...path, k]]);
  }
  return out;
}

/** A copy of the data without the parts the issues point into; null when the root itself is wrong. */
function withoutBroken(data: unknown, issues: readonly ShapeIssue[], leftOut: { entities: Set<string>; partial: Set<string>; wholeMap: boolean }): unknown {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  const copy: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol').map(String);
    const paths = issue.code === 'unrecognized_keys' ? (issue.keys ?? []).map((k) => [...path, k]) : [path];
    for (const p of paths) {
      const cut = cutPoint(p);
      if (!cut) continue;
      if (cut.entity && cut.path.length === ENTITIES[cut.path[0]!]!.depth) {
        // The map itself (or lab.hosts) has the wrong type: check the rest as if it were empty.
        setAt(copy, cut.path, {});
        leftOut.wholeMap = true;
      } else {
        deleteAt(copy, cut.path);
        const depth = ENTITIES[cut.path[0]!]?.depth;
        if (cut.entity) leftOut.entities.add(cut.path[cut.path.length - 1]!);
        else if (depth !== undefined) leftOut.partial.add(`${cut.path[0]}\0${cut.path[depth]}`);
      }
    }
  }
  return copy;
}

/** Where to cut for a broken node at `path`: the field, or the whole entity (`entity: true`). */
function cutPoint(path: string[]): { path: string[]; entity: boolean } | undefined {
  if (path.length === 0) return undefined;
  const e = ENTITIES[path[0]!];
  // Not inside a map of entities (`lab` itself, `lab.colour`): the field goes.
  if (!e || path.length < e.depth || e.map.some((m, i) => path[i] !== m)) return { path: path.slice(0, 2), entity: false };
  if (path.length <= e.depth + 1) return { path: path.slice(0, e.depth + 1), entity: true };
  const field = path[e.depth + 1]!;
  const fieldSchema = Object.hasOwn(e.schema.shape, field) ? (e.schema.shape[field] as z.ZodMiniType) : undefined;
  // An unknown or optional field goes alone; a required one takes its entity with it.
  if (path.length === e.depth + 2 && (!fieldSchema || fieldSchema.safeParse(undefined).success)) return { path, entity: false };
  if (fieldSchema?.safeParse(undefined).success && path.length > e.depth + 2) return { path: path.slice(0, e.depth + 2), entity: false };
  return { path: path.slice(0, e.depth + 1), entity: true };
}

/** Sets `value` at `path`, copying every object on the way (the input data is never changed). */
function setAt(root: Record<string, unknown>, path: string[], value: unknown): void {
  const parent = parentOf(root, path);
  if (parent) Object.defineProperty(parent, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
}

/** Deletes the node at `path`, copying every object on the way. */
function deleteAt(root: Record<string, unknown>, path: string[]): void {
  const parent = parentOf(root, path);
  if (parent) delete parent[path[path.length - 1]!];
}

function parentOf(root: Record<string, unknown>, path: string[]): Record<string, unknown> | undefined {
  let node = root;
  for (const step of path.slice(0, -1)) {
    const child = node[step];
    if (typeof child !== 'object' || child === null || Array.isArray(child)) return undefined;
    const copy = { ...(child as Record<string, unknown>) };
    Object.defineProperty(node, step, { value: copy, enumerable: true, writable: true, configurable: true });
    node = copy;
  }
  return node;
}

/** Diagnostics in file order, so the first one printed is the first one in the file. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
