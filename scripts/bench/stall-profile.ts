// Where the event loop stalls (issue 12): runs natchain commands against N simulated gateways
// (scripts/bench/sim) under `--cpu-prof` with stall-ticker.mjs preloaded, then prints the longest
// stalls, each with the functions its CPU samples were in (inclusive, most first). A stall with
// few samples is the machine's doing (the process was waiting for a CPU), not natchain's code.
// measure.mjs is preloaded too: the benchmark's own figure (the longest stall after the first
// connection, by monitorEventLoopDelay) and peak RSS head each command's list, and each stall
// says whether it came before the first connection (start-up, not counted by the benchmark).
// The CPU profiler slows the process: stalls here run longer than in fleet-sim.ts. On a loaded
// machine a stall's length is mostly the wait for a CPU; its samples (one per ms the thread ran)
// are not: "most CPU in one stall after start-up" is the figure to compare A/B under load.
//
//   npm run build && npx tsx scripts/bench/stall-profile.ts [N=300] [apply,noop,refresh,plan,status] [stalls shown=3]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimLab } from './sim/lab.js';
import type { Profile, ProfileNode } from './cpu-prof-types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The CPU profile's sampling interval. */
const SAMPLE_US = 1000;

/** What measure.mjs writes (the parts read here). */
interface Measured {
  maxRssKiB: number;
  eldMaxMs: number;
  startup: { atUs: number } | null;
}

/** Samples of the profile (one per SAMPLE_US the thread ran) within [a, b] (microseconds of the monotonic clock). */
function samplesIn(profile: Profile, a: number, b: number): number {
  let t = profile.startTime;
  let n = 0;
  for (const d of profile.timeDeltas) {
    t += d;
    if (t >= a && t <= b) n++;
  }
  return n;
}

/** The most CPU (in ms: samples x the interval) natchain's own thread ran in one stall ending after `afterUs`. */
export function mostCpuInOneStall(profile: Profile, stalls: Array<[number, number]>, afterUs: number): number {
  // A stall that spans the first connection counts from it (as monitorEventLoopDelay, reset there, does).
  return Math.max(0, ...stalls.filter(([, b]) => b > afterUs).map(([a, b]) => (samplesIn(profile, Math.max(a, afterUs), b) * SAMPLE_US) / 1000));
}

/** The `top` longest stalls of a run, each with the functions its samples were in. */
export function stallReport(profile: Profile, stalls: Array<[number, number]>, top = 3, lines = 12, startupEndUs = Infinity): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => (t += d));
  const out: string[] = [];
  for (const [a, b] of [...stalls].sort((x, y) => y[1] - y[0] - (x[1] - x[0])).slice(0, top)) {
    const agg = new Map<string, number>();
    let n = 0;
    profile.samples.forEach((id, i) => {
      if (times[i]! < a || times[i]! > b) return;
      n++;
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const k = name(byId.get(cur)!);
        if (k.startsWith('(root)') || seen.has(k)) continue;
        seen.add(k);
        agg.set(k, (agg.get(k) ?? 0) + 1);
      }
    });
    const when = b <= startupEndUs ? ' (start-up)' : '';
    out.push(`  stall of ${((b - a) / 1000).toFixed(0)} ms at +${((a - profile.startTime) / 1e6).toFixed(2)} s${when}, ${n} samples:`);
    for (const [k, v] of [...agg].sort((x, y) => y[1] - x[1]).slice(0, lines)) out.push(`    ${String(v).padStart(6)}  ${k}`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 300);
  const ops = (process.argv[3] ?? 'apply,noop,refresh,plan,status').split(',');
  const top = Number(process.argv[4] ?? 3);
  const lab = await startSimLab(n);
  const dir = mkdtempSync(path.join(tmpdir(), 'natchain-stalls-'));
  try {
    const remote = ['-F', lab.sshConfig, '--state-dir', lab.stateDir('stalls'), '--concurrency', '32'];
    const argv: Record<string, string[]> = {
      apply: ['apply', lab.topologyFile, '--yes', '--confirm-timeout', '3600', ...remote],
      noop: ['apply', lab.topologyFile, '--yes', '--confirm-timeout', '3600', ...remote],
      refresh: ['apply', lab.topologyFile, '--yes', '--refresh', '--confirm-timeout', '3600', ...remote],
      plan: ['plan', lab.topologyFile, ...remote],
      status: ['status', lab.topologyFile, ...remote],
    };
    for (const op of ops) {
      if (!argv[op]) throw new Error(`unknown command ${op} (apply, noop, refresh, plan, status)`);
      const run = path.join(dir, op);
      const t0 = performance.now();
      const code = await new Promise<number>((resolve, reject) => {
        const preload = ['stall-ticker.mjs', 'measure.mjs'].flatMap((m) => ['--import', path.join(ROOT, 'scripts/bench', m)]);
        const c = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-interval', String(SAMPLE_US), '--cpu-prof-dir', run, ...preload, path.join(ROOT, 'dist/cli/main.js'), ...argv[op]!], {
          env: { ...process.env, CI: 'true', NO_COLOR: '1', NATCHAIN_STALLS: path.join(dir, `${op}.json`), NATCHAIN_MEASURE: path.join(dir, `${op}.cost.json`) },
          stdio: ['ignore', 'ignore', 'ignore'],
        });
        c.on('error', reject);
        c.on('close', (x) => resolve(x ?? -1));
      });
      const prof = JSON.parse(readFileSync(path.join(run, readdirSync(run)[0]!), 'utf8')) as Profile;
      const stalls = JSON.parse(readFileSync(path.join(dir, `${op}.json`), 'utf8')) as Array<[number, number]>;
      const m = JSON.parse(readFileSync(path.join(dir, `${op}.cost.json`), 'utf8')) as Measured;
      const head = `${op} on ${n} gateways: exit ${code}, ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${(m.maxRssKiB / 1024).toFixed(0)} MiB, longest stall after the first connection ${m.eldMaxMs.toFixed(0)} ms (most CPU in one: ${mostCpuInOneStall(prof, stalls, m.startup?.atUs ?? 0).toFixed(0)} ms), ${stalls.length} stalls over 40 ms`;
      process.stdout.write(`${head}\n${stallReport(prof, stalls, top, 12, m.startup?.atUs ?? Infinity)}\n`);
    }
  } finally {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
