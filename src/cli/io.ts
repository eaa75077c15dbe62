import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { ioReason, NatchainError } from '../errors.js';
import { compile } from '../compile.js';
import { EMPTY_LOCK, formatLockSliced, lockPathFor, parseLock, type PortLock, type Solution } from '../solve/index.js';
import { decodeText } from '../topology/decode.js';
import { parseTopology, type Topology } from '../topology/index.js';

/** Reads a UTF-8 text file, turning "not there" and "not UTF-8" into clear natchain errors. */
export async function readText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new NatchainError('FILE_NOT_FOUND', `cannot read ${file}: ${ioReason(e)}`);
  }
  return decodeText(bytes, file);
}

/** Reads all of stdin (for `-` file arguments). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return decodeText(Buffer.concat(chunks), '-');
}

/** Reads and validates a topology file; the one place the CLI touches topology files. */
export async function readTopology(file: string): Promise<Topology> {
  return parseTopology(await readText(file), file);
}

/** Reads the port lock beside a topology; a missing lock is an empty one. */
export async function readLock(topologyFile: string): Promise<{ file: string; lock: PortLock; exists: boolean }> {
  const file = lockPathFor(topologyFile);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, lock: EMPTY_LOCK, exists: false };
    throw new NatchainError('FILE_NOT_FOUND', `cannot read the port lock ${file}: ${ioReason(e)}`);
  }
  return { file, lock: parseLock(decodeText(bytes, file), file), exists: true };
}

/** Writes the lock atomically (temp file + rename), so a crash never leaves half a lock. */
export async function writeLock(file: string, lock: PortLock): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, await formatLockSliced(lock));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new NatchainError('ENVIRONMENT', `cannot write the port lock ${file}: ${ioReason(e)}`);
  }
}

/** A topology with its lock, solved. */
export interface Project {
  file: string;
  topology: Topology;
  lockFile: string;
  lockExists: boolean;
  /** The lock as read. */
  lock: PortLock;
  solution: Solution;
  /** Whether the solve picked or freed ports, so the lock on disk is out of date. */
  lockChanged: boolean;
}

/** Reads, validates and solves a topology with its lock (offline; writes nothing). */
export async function loadProject(file: string): Promise<Project> {
  const text = await readText(file);
  const { file: lockFile, lock, exists } = await readLock(file);
  const { topology, solution } = compile(text, file, lock);
  const lockChanged = JSON.stringify(solution.lock) !== JSON.stringify(lock);
  return { file, topology, lockFile, lockExists: exists, lock, solution, lockChanged };
}
