import { TopologyError } from '../errors.js';
import { nameTable } from '../names.js';
import { TimeSlice } from '../timeslice.js';
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

const LOCK_HEADER =
  '# natchain port lock: the hop ports natchain picked, kept stable across runs.\n' +
  '# Maintained by natchain; review and commit it beside the topology. Key: gateway/address.\n';

/** Serialises a lock, with a header that says what it is. */
export function formatLock(lock: PortLock): string {
  return LOCK_HEADER + yamlLib().stringify(lock, { indent: 2 });
}

/** formatLock, one forward at a time with turns of the event loop between (a fleet's lock is one long stringify otherwise). */
export async function formatLockSliced(lock: PortLock): Promise<string> {
  const forwards = Object.keys(lock.ports);
  if (!forwards.length) return formatLock(lock);
  // Loading the YAML library counts toward the first slice.
  const slice = new TimeSlice();
  const yaml = yamlLib();
  const parts = [LOCK_HEADER, yaml.stringify({ version: lock.version }, { indent: 2 }), 'ports:\n'];
  for (const f of forwards) {
    await slice.turn();
    // A one-key map: its key is data (a forward may be named __proto__), so built with defineProperty.
    const one = Object.defineProperty(Object.create(null), f, { value: lock.ports[f], enumerable: true });
    parts.push(yaml.stringify(one, { indent: 2 }).replace(/^(?=.)/gm, '  '));
  }
  return parts.join('');
}
