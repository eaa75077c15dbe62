import { readdir } from 'node:fs/promises';
import { exists } from './sys.js';
import { join } from 'node:path';
import { checkLabName, labBaseDir, labDirOf } from './names.js';
import { labNamespaces, listLabs, NETNS_DIR, processesIn, readLabFile } from './state.js';
import type { LabStatus } from './types.js';

/** Every lab (or one), with its namespaces and the processes in them; read-only, needs no root for the listing. */
export async function labStatus(name?: string, opts: { base?: string } = {}): Promise<LabStatus[]> {
  const base = opts.base ?? labBaseDir();
  const labs = name === undefined ? await listLabs(base) : [checkLabName(name)];
  const out: LabStatus[] = [];
  for (const lab of labs) {
    const dir = labDirOf(lab, base);
    const file = await readLabFile(dir);
    const existing = await labNamespaces(lab);
    const planned = file?.namespaces ?? [];
    const all = [...new Set([...planned, ...existing])].sort();
    let nsFiles: string[] = [];
    try {
      nsFiles = (await readdir(join(dir, 'ns'))).map((f) => join(dir, 'ns', f));
    } catch {
      /* none */
    }
    const procs = await processesIn([...all.map((n) => join(NETNS_DIR, n)), ...nsFiles]);
    const gwOfFile = new Map<string, string>();
    if (file?.state === 'up') for (const g of file.gateways) for (const f of [g.mountNs, g.utsNs]) gwOfFile.set(f, g.netns);
    const nsOf = (f: string) => (f.startsWith(NETNS_DIR + '/') ? f.slice(NETNS_DIR.length + 1) : (gwOfFile.get(f) ?? f));
    if (!file && !all.length && !procs.length && !(await exists(dir))) continue; // no trace of it at all
    const state: LabStatus['state'] = !file ? 'orphaned' : file.state === 'up' && all.every((n) => existing.includes(n)) ? 'up' : 'partial';
    out.push({
      name: lab,
      state,
      ...(file ? { dir } : {}),
      ...(file?.state === 'up' ? { topologyFile: file.topologyFile, sshConfig: file.sshConfig } : {}),
      namespaces: [
        ...all.map((n) => ({
          name: n,
          exists: existing.includes(n),
          processes: procs.filter((p) => nsOf(p.ns) === n).map((p) => ({ pid: p.pid, command: p.command })),
        })),
        // Processes only in a gateway's mount namespace (left the network namespace): still the lab's.
        ...[...new Set(procs.map((p) => nsOf(p.ns)).filter((n) => !all.includes(n)))].map((n) => ({
          name: n,
          exists: true,
          processes: procs.filter((p) => nsOf(p.ns) === n).map((p) => ({ pid: p.pid, command: p.command })),
        })),
      ],
    });
  }
  return out;
}

