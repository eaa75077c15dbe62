import { appendFile, chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import { NatchainError } from '../errors.js';
import type { Topology } from '../topology/types.js';
import { labDown, MADE_MOUNTPOINTS } from './down.js';
import { ed25519KeyPair } from './keys.js';
import { checkLabName, defaultLabName, labBaseDir, labDirOf } from './names.js';
import { checkPlan, CONTROL_PORT, planLab } from './plan.js';
import { preflight, which } from './preflight.js';
import { assertRootUnchanged, rootSnapshot } from './safety.js';
import { etcHosts, gatewayFstab, gatewayMountScript, gatewayScript, hostScript, labPaths, sshConfig, sshdConfig, switchScript, type LabPaths } from './scripts.js';
import { labNamespaces, NETNS_DIR, readLabFile, writeLabFile } from './state.js';
import { exists, runOk } from './sys.js';
import type { Lab, LabPlan } from './types.js';

export interface LabUpOptions {
  /** Lab name (default: from the topology file's name, e.g. `seed-vpn`). */
  name?: string;
  /** Directory holding the labs (default `$NATCHAIN_LAB_DIR` or `/run/natchain-lab`). */
  base?: string;
  /** How many namespaces are configured at once. */
  concurrency?: number;
  /** One line per phase, for a progress display. */
  onProgress?: (message: string) => void;
}

/**
 * Directories a gateway's private mounts go over: they must exist on the host, where they stay
 * empty (the lab never writes to them). /run/sshd is sshd's privilege-separation directory.
 */
const MOUNTPOINTS = ['/var/lib/natchain', '/run/natchain', '/run/sshd'];

/**
 * Builds a topology as network namespaces: one per gateway (with sshd), one per host, one
 * switch holding a bridge per site and network. Checks that the host's root namespace is
 * unchanged afterwards; on any failure, removes whatever it made and rethrows.
 */
export async function labUp(topology: Topology, opts: LabUpOptions = {}): Promise<Lab> {
  const started = process.hrtime.bigint();
  const name = checkLabName(opts.name ?? defaultLabName(topology.file));
  const base = opts.base ?? labBaseDir();
  const progress = opts.onProgress ?? (() => {});
  await preflight();
  const plan = planLab(topology, { lab: name });
  checkPlan(plan);
  const dir = labDirOf(name, base);
  const paths = labPaths(dir, plan);
  if ((await readLabFile(dir)) || (await exists(dir)) || (await labNamespaces(name)).length) {
    throw new NatchainError('LAB', `lab "${name}" already exists`, [`take it down first: natchain lab down ${name}`, 'or pick another name: --name <lab>']);
  }

  const before = await rootSnapshot();
  let lab: Lab;
  try {
    lab = await build(plan, paths, opts.concurrency ?? Math.max(8, 4 * availableParallelism()), progress);
  } catch (e) {
    progress('failed; removing what was made');
    await labDown(name, { base, skipSafetyCheck: true }).catch(() => {});
    throw e;
  }
  const after = await rootSnapshot();
  try {
    assertRootUnchanged(before, after, `lab up ${name}`);
  } catch (e) {
    await labDown(name, { base, skipSafetyCheck: true }).catch(() => {});
    throw e;
  }
  lab.upSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  await writeLabFile(dir, { state: 'up', ...lab });
  return lab;
}

async function build(plan: LabPlan, paths: LabPaths, concurrency: number, progress: (m: string) => void): Promise<Lab> {
  const { dir } = paths;
  const namespaces = [plan.switchNs, ...plan.gateways.map((g) => g.netns), ...plan.hosts.map((h) => h.netns)];

  // 1. The lab directory first, with the list of what will be made: `lab down` finds it all even if we crash.
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  // Once more if the last `lab down` of another process removed the base directory meanwhile.
  await mkdir(dir, { mode: 0o700 }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
    await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
    await mkdir(dir, { mode: 0o700 });
  });
  await writeLabFile(dir, { state: 'building', name: plan.lab, dir, namespaces, startedAt: new Date().toISOString() });
  for (const d of ['ns', 'sock', 'log', 'scripts/mounts', ...plan.gateways.flatMap((g) => [`gw/${g.name}/var-lib-natchain`, `gw/${g.name}/run-natchain`, `gw/${g.name}/root`])]) {
    await mkdir(join(dir, d), { recursive: true, mode: 0o700 });
  }
  for (const g of plan.gateways) {
    await mkdir(join(paths.gwDir(g.name), 'tmp'));
    await chmod(join(paths.gwDir(g.name), 'tmp'), 0o1777);
  }
  for (const m of MOUNTPOINTS) {
    if (await exists(m)) continue;
    await mkdir(m, { recursive: true, mode: 0o755 });
    // Remembered so that the last `lab down` removes them again (sshd's own directory stays).
    if (m !== '/run/sshd') await appendFile(join(dirname(dir), MADE_MOUNTPOINTS), m + '\n');
  }
  // Namespace files must sit on a mount that is not shared (or the kernel refuses the bind).
  await runOk('sh', ['-ec', `mount --bind "$1" "$1" && mount --make-private "$1"`, 'sh', paths.nsDir], 'making the namespace-file directory private');

  // 2. Keys and ssh files: a host key per gateway, one client key, known_hosts with the real host keys.
  progress(`keys and ssh_config for ${plan.gateways.length} gateway(s)`);
  const sshd = (await which('sshd'))!;
  const client = ed25519KeyPair(`natchain-lab-${plan.lab}-client`);
  await writeFile(paths.identity, client.privateKey, { mode: 0o600 });
  await writeFile(paths.identity + '.pub', client.publicKey + '\n', { mode: 0o644 });
  await writeFile(paths.authorizedKeys, client.publicKey + '\n', { mode: 0o600 });
  await writeFile(paths.sshdConfig, sshdConfig(paths), { mode: 0o600 });
  const hostKeys = new Map<string, string>();
  await Promise.all(
    plan.gateways.map(async (g) => {
      const k = ed25519KeyPair(`natchain-lab-${plan.lab}-${g.name}`);
      hostKeys.set(g.name, k.publicKey);
      await writeFile(paths.hostKey(g.name), k.privateKey, { mode: 0o600 });
      await writeFile(paths.hostKey(g.name) + '.pub', k.publicKey + '\n', { mode: 0o644 });
      await writeFile(join(paths.gwDir(g.name), 'hosts'), etcHosts(g), { mode: 0o644 });
    }),
  );
  await writeFile(paths.knownHosts, plan.gateways.map((g) => `${[g.name, ...g.sshAliases].join(',')} ${hostKeys.get(g.name)}`).join('\n') + '\n', { mode: 0o644 });
  await writeFile(paths.sshConfig, sshConfig(plan, paths), { mode: 0o644 });
  if (plan.gateways.length) await runOk(sshd, ['-t', '-f', paths.sshdConfig, '-h', paths.hostKey(plan.gateways[0]!.name)], 'checking the lab sshd configuration');

  // 3. Namespaces, all in one `ip -batch`.
  progress(`${namespaces.length} network namespaces`);
  await runOk('ip', ['-batch', '-'], 'creating network namespaces', { input: namespaces.map((n) => `netns add ${n}\n`).join('') });

  // 4. The switch: bridges and every veth pair, created inside lab namespaces only.
  progress(`${plan.segments.length} bridge(s), ${plan.gateways.reduce((n, g) => n + g.interfaces.length, 0) + plan.hosts.length} link(s)`);
  await writeFile(paths.script('_switch'), switchScript(plan), { mode: 0o700 });
  await inNetns(plan.switchNs, ['sh', '-eu', paths.script('_switch')], 'building the lab switch');

  // 5. Every node, in parallel: addresses and routes; gateways get their namespaces and sshd, targets their echo services.
  progress(`${plan.gateways.length} gateway(s) with sshd, ${plan.hosts.length} host(s)`);
  const limit = pLimit(concurrency);
  await Promise.all([
    ...plan.gateways.map((g) =>
      limit(async () => {
        await writeFile(paths.mountScript(g.name), gatewayMountScript(g, paths, sshd), { mode: 0o700 });
        await writeFile(paths.fstab(g.name), gatewayFstab(g, paths), { mode: 0o600 });
        await writeFile(paths.mountNs(g.name), '');
        await writeFile(paths.utsNs(g.name), '');
        await writeFile(paths.script(g.name), gatewayScript(g, paths), { mode: 0o700 });
        await inNetns(g.netns, ['sh', '-eu', paths.script(g.name)], `setting up gateway ${g.name}`);
      }),
    ),
    ...plan.hosts.map((h) =>
      limit(async () => {
        await writeFile(paths.script(h.name), hostScript(h, paths), { mode: 0o700 });
        await inNetns(h.netns, ['sh', '-eu', paths.script(h.name)], `setting up host ${h.name}`);
      }),
    ),
  ]);

  // Every gateway's sshd socket, polled here rather than by a sleep loop in each script.
  await waitForSockets(plan, paths);

  const gwIfaces = (name: string) => plan.gateways.find((g) => g.name === name)!.interfaces;
  return {
    name: plan.lab,
    dir,
    topologyFile: plan.topologyFile,
    sshConfig: paths.sshConfig,
    knownHosts: paths.knownHosts,
    identityFile: paths.identity,
    switchNs: plan.switchNs,
    namespaces,
    gateways: plan.gateways.map((g) => ({
      name: g.name,
      netns: g.netns,
      backend: g.backend,
      mountNs: paths.mountNs(g.name),
      utsNs: paths.utsNs(g.name),
      sshSocket: paths.socket(g.name),
      hostKey: hostKeys.get(g.name)!,
      varLib: join(paths.gwDir(g.name), 'var-lib-natchain'),
      run: join(paths.gwDir(g.name), 'run-natchain'),
      interfaces: gwIfaces(g.name).map((i) => ({ name: i.name, address: i.address, prefix: i.prefix, segment: i.segment })),
    })),
    hosts: plan.hosts.map((h) => ({
      name: h.name,
      netns: h.netns,
      role: h.role,
      address: h.address,
      prefix: h.prefix,
      ...(h.site ? { site: h.site } : {}),
      ...(h.network ? { network: h.network } : {}),
      ...(h.gateway ? { gateway: h.gateway } : {}),
      forwards: h.forwards,
      services: h.services,
    })),
    controlPort: CONTROL_PORT,
    createdAt: new Date().toISOString(),
    upSeconds: 0,
  };
}

/** Runs a command inside a lab network namespace (nsenter: no new mount namespace, unlike `ip netns exec`). */
async function inNetns(ns: string, argv: string[], what: string) {
  // detached: its own session, so the daemons it leaves behind never get the terminal's Ctrl-C.
  return runOk('nsenter', [`--net=${join(NETNS_DIR, ns)}`, '--', ...argv], what, { detached: true });
}

async function waitForSockets(plan: LabPlan, paths: LabPaths): Promise<void> {
  const deadline = Date.now() + 10_000;
  let waiting = plan.gateways.map((g) => g.name);
  while (waiting.length) {
    const up = await Promise.all(waiting.map(async (g) => (await stat(paths.socket(g)).catch(() => undefined))?.isSocket() ?? false));
    waiting = waiting.filter((_, i) => !up[i]);
    if (!waiting.length) return;
    if (Date.now() > deadline) {
      throw new NatchainError('LAB', `sshd did not start on gateway(s) ${waiting.join(', ')}`, waiting.map((g) => `see ${paths.log(g)}`));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

