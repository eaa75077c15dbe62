import { TopologyError, type Diagnostic } from '../errors.js';
import { buildTopology } from './build.js';
import { parseYaml } from './parse.js';
import { RawTopology } from './schema.js';
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
 * entities), so a later stage can add its own errors to the same report. Throws on syntax and shape errors.
 */
export function checkTopology(text: string, file: string): { topology: Topology; diagnostics: Diagnostic[] } {
  const src = parseYaml(text, file);
  if (src.diagnostics.length) throw new TopologyError(src.diagnostics);
  const data = src.data ?? {};
  const shaped = RawTopology.safeParse(data);
  if (shaped.success) return buildTopology(shaped.data, src);

  const diagnostics: Diagnostic[] = shaped.error.issues.map((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    // For unknown keys, point at the key itself.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const at = keys.length ? src.posOf([...path, keys[0]!], { key: true }) : src.posOf(path, { key: issue.code === 'invalid_key' });
    return { ...at, message: describeIssue(issue, path) };
  });
  // Every error at once: leave out the entities with shape errors and check the meaning of the rest.
  const rest = withoutBroken(data, shaped.error.issues);
  const retry = rest && RawTopology.safeParse(rest.data);
  if (!rest || !retry?.success) throw new TopologyError(sortDiagnostics(diagnostics));
  const built = buildTopology(retry.data, src, rest.dropped);
  return { topology: built.topology, diagnostics: [...diagnostics, ...built.diagnostics] };
}

const ENTITY_MAPS = new Set(['sites', 'networks', 'gateways', 'forwards']);

/** A copy of the data without the named entities (or unknown top-level keys) the issues point into; null when an issue is elsewhere. */
function withoutBroken(data: unknown, issues: readonly { code: string; path: PropertyKey[]; keys?: string[] }[]): { data: unknown; dropped: Set<string> } | null {
  if (typeof data !== 'object' || data === null) return null;
  const copy: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  const dropped = new Set<string>();
  for (const issue of issues) {
    const [top, name] = issue.path;
    if (issue.path.length === 0 && issue.code === 'unrecognized_keys') {
      for (const k of issue.keys ?? []) delete copy[k];
    } else if (typeof top === 'string' && ENTITY_MAPS.has(top) && typeof name === 'string' && typeof copy[top] === 'object' && copy[top] !== null) {
      const map = { ...(copy[top] as Record<string, unknown>) };
      delete map[name];
      copy[top] = map;
      dropped.add(name);
    } else if (top === 'lab') {
      delete copy.lab;
    } else return null;
  }
  return { data: copy, dropped };
}

function describeIssue(issue: { code: string; message: string; keys?: string[]; issues?: { message: string }[] }, path: (string | number)[]): string {
  if (issue.code === 'invalid_key' && issue.issues?.length) {
    const parent = path.slice(0, -1).join('.');
    return `${parent ? parent + ': ' : ''}name "${String(path[path.length - 1])}" ${issue.issues[0]!.message}`;
  }
  const where = path.length ? `${path.join('.')}: ` : '';
  if (issue.code === 'unrecognized_keys') return `${where}unknown field${issue.keys!.length > 1 ? 's' : ''} ${issue.keys!.map((k) => `"${k}"`).join(', ')}`;
  if (issue.message.startsWith('Invalid input: expected') && issue.message.endsWith('received undefined')) {
    return `${where}missing required field`;
  }
  return `${where}${issue.message}`;
}

/** Diagnostics in file order, so the first one printed is the first one in the file. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
