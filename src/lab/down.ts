import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkLabName, labBaseDir, labDirOf } from './names.js';
import { assertRootUnchanged, rootSnapshot } from './safety.js';
import { alive, labNamespaces, listLabs, NETNS_DIR, processesIn, readLabFile } from './state.js';
import { run } from './sys.js';
import type { LabDownReport } from './types.js';

export interface LabDownOptions {
  base?: string;
  onProgress?: (message: string) => void;
  /** Used by `lab up` when it cleans up after itself (it checks the root namespace on its own). */
  skipSafetyCheck?: boolean;
}

/**
 * Removes a lab (or, without a name, every lab): its processes (sshd and what it started,
 * timers, echo services, socat), namespace files, namespaces (with their links and bridges),
 * sockets and directory. Works from whatever is left, so it is safe after a crash and twice.
 */
export async function labDown(name?: string, opts: LabDownOptions = {}): Promise<LabDownReport[]> {
  const base = opts.base ?? labBaseDir();
  const progress = opts.onProgress ?? (() => {});
  const labs = name === undefined ? await listLabs(base) : [checkLabName(name)];
  const before = opts.skipSafetyCheck ? undefined : await rootSnapshot();
  const reports: LabDownReport[] = [];
  for (const lab of labs) {
    progress(`taking down lab ${lab}`);
    reports.push(await downOne(lab, base));
  }
  await removeBaseIfEmpty(base);
  if (before) assertRootUnchanged(before, await rootSnapshot(), name ? `lab down ${name}` : 'lab down');
  return reports;
}

async function downOne(lab: string, base: string): Promise<LabDownReport> {
  const dir = labDirOf(lab, base);
  const file = await readLabFile(dir);
  const namespaces = [...new Set([...(file?.namespaces ?? []), ...(await labNamespaces(lab))])].sort();
  const nsDir = join(dir, 'ns');
  let nsFiles: string[] = [];
  try {
    nsFiles = (await readdir(nsDir)).map((f) => join(nsDir, f));
  } catch {
    /* none */
  }

  // 1. Every process in one of the lab's namespaces (network, or a gateway's mount/UTS namespace).
  const killed = await killAll([...namespaces.map((n) => join(NETNS_DIR, n)), ...nsFiles]);

  // 2. Namespace files and the private mount holding them (deepest first).
  const mounts = (await mountPointsUnder(dir)).sort((a, b) => b.length - a.length);
  if (mounts.length) await run('umount', ['-l', ...mounts]);

  // 3. The network namespaces; their veths and bridges go with them.
  const existing = new Set(await labNamespaces(lab));
  const del = namespaces.filter((n) => existing.has(n));
  if (del.length) await run('ip', ['-force', '-batch', '-'], { input: del.map((n) => `netns del ${n}\n`).join('') });

  // 4. Keys, sockets, logs, ssh_config.
  let removedDir = false;
  try {
    await rm(dir, { recursive: true, force: true });
    removedDir = true;
  } catch {
    /* reported below by status */
  }
  return { lab, namespaces: del, killed, unmounted: mounts.length, removedDir };
}

/** SIGTERM, then SIGKILL whatever is still there after a second; again until none is left (forks race the scan). */
async function killAll(nsFiles: string[]): Promise<number> {
  const seen = new Set<number>();
  for (let round = 0; round < 5; round++) {
    const procs = (await processesIn(nsFiles)).filter((p) => p.pid !== process.pid);
    if (!procs.length) break;
    for (const p of procs) {
      seen.add(p.pid);
      signal(p.pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
    }
    for (let i = 0; i < 50; i++) {
      const left = await Promise.all(procs.map((p) => alive(p.pid)));
      if (!left.some(Boolean)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const p of procs) if (await alive(p.pid)) signal(p.pid, 'SIGKILL');
  }
  return seen.size;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Mount points at or under a directory, from /proc/self/mountinfo (octal escapes decoded). */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out;
}

/** File in the base directory listing the mount points `lab up` had to create on the host. */
export const MADE_MOUNTPOINTS = '.mountpoints';

/** Removes the base directory, and the (empty) mount points the lab created, once the last lab is gone. */
async function removeBaseIfEmpty(base: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(base);
  } catch {
    return;
  }
  if (entries.some((e) => e !== MADE_MOUNTPOINTS)) return;
  // Removing a directory detaches whatever other mount namespaces mounted on it: only when no lab
  // at all (in any base directory) is left.
  if (entries.includes(MADE_MOUNTPOINTS) && (await labNamespaces()).length === 0) {
    const made = (await readFile(join(base, MADE_MOUNTPOINTS), 'utf8')).split('\n').filter(Boolean);
    for (const m of made) await rmdir(m).catch(() => {}); // only if still empty
    await rm(join(base, MADE_MOUNTPOINTS), { force: true });
  }
  await rmdir(base).catch(() => {});
}
