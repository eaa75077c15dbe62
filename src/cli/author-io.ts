// Reading a topology for an edit and writing the result: what the wizard and `natchain forward`
// share. Nothing is written until the edit is complete and valid; then the topology and the lock
// are each replaced atomically (temp file + rename), keeping the file's mode and owner.
import { randomBytes } from 'node:crypto';
import { chmod, chown, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { Authored, Base } from '../author/index.js';
import { formatLock, lockPathFor } from '../solve/index.js';
import { readLock, readText } from './io.js';

/** A topology file read for editing: its text, lock, and where the lock lives. */
export interface EditTarget extends Base {
  lockFile: string;
  lockExists: boolean;
}

/** Reads a topology's text and lock (not validated yet: `author` does that). */
export async function readForEdit(file: string): Promise<EditTarget> {
  const text = await readText(file);
  const { file: lockFile, lock, exists } = await readLock(file);
  return { text, file, lock, lockFile, lockExists: exists };
}

/** Replaces a file's content atomically, keeping its mode and owner when it exists (and a symlink pointing where it did). */
export async function replaceFile(path: string, content: string): Promise<void> {
  const file = await realpath(path).catch(() => path);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  const st = await stat(file).catch(() => undefined);
  try {
    await writeFile(tmp, content);
    if (st) {
      await chmod(tmp, st.mode & 0o7777);
      // Only root can give a file away; anyone else keeps their own (the same owner anyway).
      await chown(tmp, st.uid, st.gid).catch(() => undefined);
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Writes an edit: the topology in place, and the lock when its ports changed. Returns what was written. */
export async function saveAuthored(target: EditTarget, a: Authored): Promise<string[]> {
  const written: string[] = [];
  const lockText = formatLock(a.lock);
  const lockChanged = JSON.stringify(a.lock) !== JSON.stringify(target.lock);
  if (a.text !== target.text) {
    await replaceFile(target.file, a.text);
    written.push(target.file);
  }
  if (lockChanged && (target.lockExists || Object.keys(a.lock.ports).length)) {
    await replaceFile(target.lockFile ?? lockPathFor(target.file), lockText);
    written.push(target.lockFile);
  }
  return written;
}
