import { readdir, readFile, readlink, stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { NatchainError, type UsageError } from '../errors.js';
import { unknownName } from '../suggest.js';
import { checkLabName, labBaseDir, labDirOf, labOfNetns, NS_PREFIX } from './names.js';
import type { Lab } from './types.js';

export const NETNS_DIR = '/run/netns';

/** What `<labdir>/lab.json` holds: the lab once it is up, or (while building) what it will make. */
export type LabFile = { state: 'building'; name: string; dir: string; namespaces: string[]; startedAt: string } | ({ state: 'up' } & Lab);

export async function writeLabFile(dir: string, data: LabFile): Promise<void> {
  const tmp = join(dir, 'lab.json.tmp');
  await writeFile(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, join(dir, 'lab.json'));
}

export async function readLabFile(dir: string): Promise<LabFile | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8')) as LabFile;
  } catch {
    return undefined;
  }
}

/** Reads a lab that is up (for `lab exec`, tests, the demo); a usage error naming the labs there are when there is none by that name. */
export async function openLab(name: string, base = labBaseDir()): Promise<Lab> {
  checkLabName(name);
  const f = await readLabFile(labDirOf(name, base));
  if (!f) throw await unknownLab(name, base);
  if (f.state !== 'up') throw new NatchainError('LAB', `lab "${name}" is not up (it was being built${f.state === 'building' ? ', and may have crashed' : ''})`, [`run: natchain lab down ${name}`]);
  return f;
}

/** The error for a lab name with no trace on this machine: the labs there are, and the closest (`did you mean`). */
export async function unknownLab(name: string, base = labBaseDir()): Promise<UsageError> {
  return unknownName('lab', name, await listLabs(base), base);
}

/** Every network namespace whose name marks it as a lab's. */
export async function labNamespaces(lab?: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(NETNS_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(NS_PREFIX) && labOfNetns(n) !== undefined && (lab === undefined || labOfNetns(n) === lab)).sort();
}

/** Every lab there is a trace of: a directory, or namespaces (after a crash). */
export async function listLabs(base = labBaseDir()): Promise<string[]> {
  const labs = new Set<string>();
  try {
    for (const e of await readdir(base, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) labs.add(e.name);
  } catch {
    /* no base dir: no lab */
  }
  for (const ns of await labNamespaces()) labs.add(labOfNetns(ns)!);
  return [...labs].sort();
}

/** Inode of a namespace file (a bind-mounted nsfs file has the namespace's inode); undefined when absent. */
export async function nsInode(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).ino;
  } catch {
    return undefined;
  }
}

export interface ProcInfo {
  pid: number;
  command: string;
  /** Which of the asked-for namespaces (by file) it is in. */
  ns: string;
}

/**
 * Processes that live in any of the given namespaces (network namespace files, or the lab's
 * mount/UTS namespace files), found by scanning /proc: what `ip netns pids` does, for many
 * namespaces in one pass.
 */
export async function processesIn(nsFiles: string[]): Promise<ProcInfo[]> {
  const byInode = new Map<number, string>();
  for (const f of nsFiles) {
    const ino = await nsInode(f);
    if (ino !== undefined) byInode.set(ino, f);
  }
  if (!byInode.size) return [];
  const out: ProcInfo[] = [];
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  await Promise.all(
    pids.map(async (p) => {
      for (const kind of ['net', 'mnt', 'uts']) {
        let link: string;
        try {
          link = await readlink(`/proc/${p}/ns/${kind}`);
        } catch {
          return; // gone, or a kernel thread
        }
        const m = /\[(\d+)\]/.exec(link);
        const ns = m && byInode.get(Number(m[1]));
        if (ns) {
          let command = '';
          try {
            command = (await readFile(`/proc/${p}/cmdline`, 'utf8')).replace(/\0+$/, '').replace(/\0/g, ' ');
          } catch {
            /* gone meanwhile */
          }
          out.push({ pid: Number(p), command, ns });
          return;
        }
      }
    }),
  );
  return out.sort((a, b) => a.pid - b.pid);
}

/** Whether a process still runs (zombies count as gone). */
export async function alive(pid: number): Promise<boolean> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(s);
  } catch {
    return false;
  }
}
