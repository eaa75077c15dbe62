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
  const shaped = RawTopology.safeParse(src.data ?? {});
  if (!shaped.success) {
    const diagnostics: Diagnostic[] = shaped.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      // For unknown keys, point at the key itself.
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const at = keys.length ? src.posOf([...path, keys[0]!], { key: true }) : src.posOf(path, { key: issue.code === 'invalid_key' });
      return { ...at, message: describeIssue(issue, path) };
    });
    throw new TopologyError(sortDiagnostics(diagnostics));
  }
  return buildTopology(shaped.data, src);
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
