import { readFile } from 'node:fs/promises';
import { NatchainError } from '../errors.js';
import { parseTopology, type Topology } from '../topology/index.js';

/** Reads and validates a topology file; the one place the CLI touches topology files. */
export async function readTopology(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NatchainError('FILE_NOT_FOUND', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : String(e)}`);
  }
  return parseTopology(text, file);
}
