// Where natchain's own CPU goes (issue 12): runs natchain commands on the generated N-gateway
// topology of scripts/lab-bench.ts (the one scripts/bench/fleet-lab.ts measures) against simulated
// gateways (scripts/bench/sim), each under `--cpu-prof`, and prints per command its CPU time and
// the functions that took it (self time, and inclusive time of natchain's own functions), the
// start-up (up to the first connection) apart. `validate` needs no gateway.
//
//   npm run build && npx tsx scripts/bench/cpu-profile.ts [N=50] [validate,apply,change,plan,status] [lines=15]
// (`change`: fleet-lab.ts's change of one forward on 2 gateways, applied and undone in turn.)
// (NATCHAIN_PROFILES=<dir> keeps each profile there, for Chrome's DevTools.)
//
// A/B of builds: with NATCHAIN_AB=<a/dist/cli/main.js>,<b/dist/cli/main.js> it runs each command
// [rounds=7] times on each build, alternated, after one first apply, and prints the CPU of
// natchain's process (median and range, measure.mjs), the start-up's apart:
//   NATCHAIN_AB=/tmp/base/dist/cli/main.js,dist/cli/main.js npx tsx scripts/bench/cpu-profile.ts 50 validate,plan,status 9
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedTopologyYaml } from '../lab-bench.js';
import { startSimLab } from './sim/lab.js';
import type { Profile, ProfileNode } from './cpu-prof-types.js';
import { median } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const frame = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

/** Self and inclusive sample time per function, between `from` and `to` (µs, profile clock). */
export function profileReport(p: Profile, from: number, to: number, lines: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = p.startTime;
  let busy = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i]!;
    t += d;
    if (t < from || t > to) return;
    const n = byId.get(id)!;
    const k = frame(n);
    if (n.callFrame.functionName === '(idle)') return;
    busy += d;
    self.set(k, (self.get(k) ?? 0) + d);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!;
      const f = frame(c);
      if (seen.has(f) || !c.callFrame.url.includes('/dist/')) continue;
      seen.add(f);
      incl.set(f, (incl.get(f) ?? 0) + d);
    }
  });
  const ms = (us: number) => `${(us / 1000).toFixed(1).padStart(7)} ms`;
  const top = (m: Map<string, number>) => [...m].filter(([k]) => !IDLE.has(k.split(' ')[0]!)).sort((a, b) => b[1] - a[1]).slice(0, lines);
  return [
    `  busy ${ms(busy)}`,
    '  self:',
    ...top(self).map(([k, v]) => `  ${ms(v)}  ${k}`),
    "  inclusive (natchain's dist/ only):",
    ...top(incl).map(([k, v]) => `  ${ms(v)}  ${k}`),
  ].join('\n');
}

/** The first time (profile clock) a sample is inside node:net's connect (the first connection), or the end. */
function firstConnect(p: Profile): number {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    for (let cur: number | undefined = p.samples[i]; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.url === 'node:net' && /connect/i.test(f.functionName)) return t;
    }
  }
  return p.endTime;
}

/** The fleet and files a run needs: the generated topology (and its 2-gateway change) on simulated gateways. */
async function startFleet(n: number): Promise<Fleet> {
  const yaml = generatedTopologyYaml(n);
  const lab = await startSimLab(n, 0, 1, yaml);
  // fleet-lab.ts's change: forwards web-0 and web-1 to port 81 (gw-0 and gw-1 change).
  const changed = path.join(lab.dir, 'changed.yaml');
  writeFileSync(changed, yaml.replace(/(\n {2}web-[01]:\n(?: {4}.*\n)*? {4}to: 10\.[01]\.0\.20):80\n/g, '$1:81\n'));
  return { dir: lab.dir, file: lab.topologyFile, changed, remote: [...lab.remoteArgs('cpu'), '--concurrency', String(n)], changes: 0, close: () => lab.close() };
}

interface Fleet {
  dir: string;
  file: string;
  /** The topology with the change on 2 gateways (`change` applies it and the base in turn). */
  changed: string;
  remote: string[];
  changes: number;
  close(): Promise<void>;
}

const argvOf = (op: string, f: Fleet): string[] => {
  const apply = (file: string) => ['apply', file, '--yes', '--confirm-timeout', '3600', ...f.remote];
  const argv: Record<string, () => string[]> = {
    validate: () => ['validate', f.file],
    apply: () => apply(f.file),
    change: () => apply(f.changes++ % 2 === 0 ? f.changed : f.file),
    plan: () => ['plan', f.file, ...f.remote],
    status: () => ['status', f.file, ...f.remote],
  };
  if (!argv[op]) throw new Error(`unknown command ${op} (validate, apply, change, plan, status)`);
  return argv[op]!();
};

/** Runs node with `args`; resolves with the exit code. */
function node(args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const c = spawn(process.execPath, args, { env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
    c.on('error', reject);
    c.on('close', (x) => resolve(x ?? -1));
  });
}

async function profile(n: number, ops: string[], lines: number): Promise<void> {
  const f = await startFleet(n);
  try {
    for (const op of ops) {
      const run = path.join(f.dir, `prof-${op}`);
      const code = await node(['--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', run, path.join(ROOT, 'dist/cli/main.js'), ...argvOf(op, f)]);
      const name = readdirSync(run)[0]!;
      const p = JSON.parse(readFileSync(path.join(run, name), 'utf8')) as Profile;
      if (process.env.NATCHAIN_PROFILES) writeFileSync(path.join(process.env.NATCHAIN_PROFILES, `${op}-${n}.cpuprofile`), JSON.stringify(p));
      rmSync(run, { recursive: true, force: true });
      const at = firstConnect(p);
      process.stdout.write(`${op} on ${n} gateways: exit ${code}, profile ${((p.endTime - p.startTime) / 1e6).toFixed(2)} s\n`);
      process.stdout.write(` start-up (to the first connection, ${((at - p.startTime) / 1e6).toFixed(2)} s):\n${profileReport(p, p.startTime, at, lines)}\n`);
      if (at < p.endTime) process.stdout.write(` after:\n${profileReport(p, at, p.endTime, lines)}\n`);
    }
  } finally {
    await f.close();
  }
}

/** CPU ms of one run of `main` (measure.mjs): the whole process, and its start-up (up to the first connection). */
async function cpuRun(main: string, args: string[], dir: string): Promise<{ cpu: number; startup: number }> {
  const out = path.join(dir, 'cost.json');
  const code = await node(['--import', path.join(ROOT, 'scripts/bench/measure.mjs'), main, ...args], { NATCHAIN_MEASURE: out });
  if (code !== 0 && code !== 2) throw new Error(`${main} ${args.join(' ')}: exit ${code}`);
  const c = JSON.parse(readFileSync(out, 'utf8')) as { cpuMs: number; startup: { cpuMs: number } | null };
  return { cpu: c.cpuMs, startup: c.startup?.cpuMs ?? c.cpuMs };
}

/** A/B: each command `rounds` times on each build (alternated), CPU ms of natchain's process, median and range. */
async function compareBuilds(n: number, ops: string[], mains: string[], rounds: number): Promise<void> {
  const f = await startFleet(n);
  try {
    // Gateways hold the topology's rules first, as after a first apply (plan and status compare them).
    await cpuRun(mains[0]!, argvOf('apply', f), f.dir);
    for (const op of ops) {
      const runs = mains.map(() => ({ cpu: [] as number[], startup: [] as number[] }));
      for (let r = 0; r < rounds; r++) {
        for (const [i, main] of mains.entries()) {
          const c = await cpuRun(main, argvOf(op, f), f.dir);
          runs[i]!.cpu.push(c.cpu);
          runs[i]!.startup.push(c.startup);
        }
      }
      for (const [i, main] of mains.entries()) {
        const { cpu, startup } = runs[i]!;
        const fmt = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
        process.stdout.write(`${op.padEnd(8)} ${String(n).padStart(4)} gw  ${main}: CPU ${fmt(cpu)}, start-up ${fmt(startup)}\n`);
      }
    }
  } finally {
    await f.close();
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 50);
  const ops = (process.argv[3] ?? 'validate,apply,plan,status').split(',');
  const mains = process.env.NATCHAIN_AB?.split(',').filter(Boolean);
  if (mains?.length) await compareBuilds(n, ops, mains, Number(process.argv[4] ?? 7));
  else await profile(n, ops, Number(process.argv[4] ?? 15));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
