// Creating a topology file: the starter, or a proposal discovered from gateways. Shared by
// `natchain init` and the wizard (which offers it when its file does not exist yet).
import { writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { starterTopology } from '../author/starter.js';
import { compile } from '../compile.js';
import { NatchainError, TopologyError } from '../errors.js';
import type { ConnectOptions } from '../transport/index.js';

/** The schema shipped with natchain, as a path relative to the topology file (yaml-language-server resolves it from there). */
export function schemaRefFor(file: string): string {
  const schema = fileURLToPath(new URL('../../schema/topology.schema.json', import.meta.url));
  const rel = relative(dirname(resolve(file)), schema).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** What creating a topology produced. */
export interface Created {
  file: string;
  text: string;
  /** Problems `validate` would report in a discovered proposal (the admin must fix them); empty for the starter. */
  problems: string[];
}

/** Writes a new topology file (never over an existing one unless `force`): the starter, or a proposal read from `discover` gateways. */
export async function createTopology(file: string, o: { discover?: string[]; connect?: ConnectOptions; concurrency?: number; force?: boolean }): Promise<Created> {
  let text: string;
  if (o.discover?.length) {
    // The transport (ssh2) is loaded only when gateways are read.
    const { infer, proposalText, readGateways } = await import('../discover/index.js');
    const reports = await readGateways(o.discover, o.connect ?? {}, o.concurrency);
    text = proposalText(infer(reports), schemaRefFor(file), o.discover);
  } else text = starterTopology(schemaRefFor(file));
  let problems: string[] = [];
  try {
    compile(text, file);
  } catch (e) {
    if (!(e instanceof TopologyError)) throw e;
    problems = e.details;
  }
  try {
    await writeFile(file, text, { flag: o.force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new NatchainError('USAGE', `${file} exists already; natchain init never overwrites a file (pass --force to replace it)`);
    throw new NatchainError('FILE_NOT_FOUND', `cannot write ${file}: ${(e as Error).message}`);
  }
  return { file, text, problems };
}
