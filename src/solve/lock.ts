import { TopologyError } from '../errors.js';
import { nameTable } from '../names.js';
import { parseYaml } from '../topology/parse.js';
import { yamlLib } from '../topology/yaml-lazy.js';
import type { PortLock } from './types.js';

/** The lock file beside a topology: `x.yaml` -> `x.lock`. */
export function lockPathFor(topologyFile: string): string {
  return topologyFile.replace(/\.ya?ml$/i, '') + '.lock';
}

/** Parses lock text; a malformed lock is an error with positions, never silently ignored. */
export function parseLock(text: string, file: string): PortLock {
  const src = parseYaml(text, file);
  if (src.diagnostics.length) throw new TopologyError(src.diagnostics);
  const data = (src.data ?? {}) as { version?: unknown; ports?: unknown };
  const bad = (path: (string | number)[], message: string) => new TopologyError([{ ...src.posOf(path), message }]);
  if (data.version !== 1) throw bad(['version'], 'lock version must be 1');
  // Null-prototype tables: a forward named `constructor` or `__proto__` is just a key.
  const ports: PortLock['ports'] = nameTable();
  for (const [forward, entries] of Object.entries((data.ports ?? {}) as Record<string, unknown>)) {
    if (typeof entries !== 'object' || entries === null) throw bad(['ports', forward], 'expected a map of gateway/address: port');
    ports[forward] = nameTable();
    for (const [key, port] of Object.entries(entries)) {
      if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) throw bad(['ports', forward, key], 'expected a port number');
      ports[forward]![key] = port as number;
    }
  }
  return { version: 1, ports };
}

/** Serialises a lock, with a header that says what it is. */
export function formatLock(lock: PortLock): string {
  const header =
    '# natchain port lock: the hop ports natchain picked, kept stable across runs.\n' +
    '# Maintained by natchain; review and commit it beside the topology. Key: gateway/address.\n';
  return header + yamlLib().stringify(lock, { indent: 2 });
}
