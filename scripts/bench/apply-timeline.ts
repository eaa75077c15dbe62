// Where a first apply spends its time (issue 12): an N-gateway lab of scripts/lab-bench.ts, the
// floor write beside it, then natchain's first apply with its progress lines timestamped as they
// arrive: per phase, when the first gateway started it and when the last one finished, so the
// barriers and the gaps between them show. With --cpu-prof, a CPU profile of each apply is left in
// the given directory (open it in Chrome's DevTools). With --alt DIR, another build (DIR/dist/cli/main.js,
// e.g. a copy of main's) applies in every round too, in alternating order, on the same lab: an A/B
// of the same rounds, summed up as medians at the end (wall, CPU here and on the gateways).
//
//   npm run build && npx tsx scripts/bench/apply-timeline.ts [N=50] [rounds=3] [--cpu-prof DIR] [--alt DIR]   (as root)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../src/compile.js';
import { labDown, labUp } from '../../src/lab/index.js';
import { changeToIntents } from '../../src/rollout/owned.js';
import type { Gateway } from '../../src/topology/types.js';
import { generatedTopologyYaml } from '../lab-bench.js';
import { cpuOf, loadCmd, resetCmd, ssh } from './fleet-lab.js';
import { resolveTemplate } from './sim/resolve.js';
import { median } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MEASURE = path.join(ROOT, 'scripts/bench/measure.mjs');
/** Runs natchain with its stderr lines timestamped (ms since spawn). */
function natchain(main: string, args: string[], profDir?: string): Promise<{ code: number; lines: Array<[number, string]>; wallMs: number; cost: { cpuMs: number; startup: { wallMs: number; cpuMs: number } | null } }> {
  const t0 = performance.now();
  const cost = path.join(mkdtempSync(path.join(tmpdir(), 'natchain-cost-')), 'cost.json');
  const node = [...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), '--import', MEASURE];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...node, main, ...args], { env: { ...process.env, NO_COLOR: '1', CI: 'true', NATCHAIN_MEASURE: cost }, stdio: ['ignore', 'ignore', 'pipe'] });
    const lines: Array<[number, string]> = [];
    let buf = '';
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) lines.push([performance.now() - t0, l]);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const c = JSON.parse(readFileSync(cost, 'utf8'));
      rmSync(path.dirname(cost), { recursive: true, force: true });
      resolve({ code: code ?? -1, lines, wallMs: performance.now() - t0, cost: c });
    });
  });
}

/** Per phase: gateways, first line, last line (ms). */
function timeline(lines: Array<[number, string]>): string {
  const phases = new Map<string, { n: number; first: number; last: number; maxOwn: number }>();
  for (const [t, l] of lines) {
    const m = /^\S+: (\S+) ok \(([\d.]+)s\)/.exec(l);
    if (!m) continue;
    const own = Number(m[2]) * 1000;
    const p = phases.get(m[1]!) ?? { n: 0, first: Infinity, last: 0, maxOwn: 0 };
    phases.set(m[1]!, { n: p.n + 1, first: Math.min(p.first, t - own), last: Math.max(p.last, t), maxOwn: Math.max(p.maxOwn, own) });
  }
  return [...phases].map(([k, p]) => `  ${k.padEnd(8)} ${String(p.n).padStart(3)} gw  ${(p.first / 1000).toFixed(2)}s .. ${(p.last / 1000).toFixed(2)}s  (slowest gateway ${(p.maxOwn / 1000).toFixed(2)}s)`).join('\n');
}


/** One build's apply in one round: wall, CPU here (natchain + ProxyCommands) and on the gateways, ms. */
interface Sample {
  wall: number;
  ratio: number;
  here: number;
  gateways: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? path.resolve(args.splice(i, 2)[1]!) : undefined;
  };
  const profDir = option('--cpu-prof');
  const alt = option('--alt');
  const builds = [{ label: 'this tree', main: path.join(ROOT, 'dist/cli/main.js') }, ...(alt ? [{ label: `--alt ${alt}`, main: path.join(alt, 'dist/cli/main.js') }] : [])];
  const n = Number(args[0] ?? 50);
  const rounds = Number(args[1] ?? 3);
  const dir = mkdtempSync(path.join(tmpdir(), 'natchain-timeline-'));
  const file = path.join(dir, 'base.yaml');
  const yaml = generatedTopologyYaml(n);
  writeFileSync(file, yaml);
  const { topology, solution } = compile(yaml, file);
  const text = (g: Gateway) => resolveTemplate(g.backend, changeToIntents(g, solution.intents[g.name] ?? []).text, '');
  const lab = await labUp(topology, { name: `tl${n}-${randomBytes(2).toString('hex')}` });
  const samples = new Map<string, Sample[]>(builds.map((b) => [b.label, []]));
  try {
    const cfg = lab.sshConfig;
    const all = (f: (g: Gateway) => Promise<unknown>) => Promise.all(topology.gateways.map(f));
    const cpu = (c: { local: number; gateways: number }) => `CPU ${(c.local / 1000).toFixed(2)}s here + ${(c.gateways / 1000).toFixed(2)}s on the gateways`;
    for (let r = 0; r < rounds; r++) {
      await all((g) => ssh(cfg, g.name, resetCmd(g)));
      const t0 = performance.now();
      const fc = await cpuOf(lab.dir, () => all((g) => ssh(cfg, g.name, loadCmd(g), text(g))));
      const floor = performance.now() - t0;
      process.stdout.write(`round ${r + 1}: floor write ${(floor / 1000).toFixed(2)}s (${cpu(fc)})\n`);
      for (const b of r % 2 ? [...builds].reverse() : builds) {
        await all((g) => ssh(cfg, g.name, resetCmd(g)));
        // The reset's sshd processes reaped before the count starts (their CPU is not the apply's).
        await new Promise((res) => setTimeout(res, 300));
        const state = path.join(dir, `state-${r}-${builds.indexOf(b)}`);
        const nc = await cpuOf(lab.dir, () => natchain(b.main, ['apply', file, '--yes', '-F', cfg, '--state-dir', state, '--concurrency', String(n)], profDir));
        const res = nc.v;
        if (res.code !== 0) throw new Error(`apply (${b.label}): exit ${res.code}\n${res.lines.map((l) => l[1]).join('\n')}`);
        samples.get(b.label)!.push({ wall: res.wallMs, ratio: res.wallMs / floor, here: nc.local, gateways: nc.gateways });
        const st = res.cost.startup;
        const who = builds.length > 1 ? ` [${b.label}]` : '';
        process.stdout.write(
          `  first apply${who} ${(res.wallMs / 1000).toFixed(2)}s (${(res.wallMs / floor).toFixed(2)}x; ${cpu(nc)}, of which natchain ${(res.cost.cpuMs / 1000).toFixed(2)}s, start-up ${st ? `${(st.wallMs / 1000).toFixed(2)}s wall ${(st.cpuMs / 1000).toFixed(2)}s CPU` : '?'})\n${timeline(res.lines)}\n`,
        );
      }
    }
    process.stdout.write(`\nmedians of ${rounds} rounds at ${n} gateways (per-round ratio to that round's floor write):\n`);
    for (const [label, xs] of samples) {
      const m = (k: keyof Sample) => median(xs.map((x) => x[k]));
      process.stdout.write(`  ${label}: first apply ${(m('wall') / 1000).toFixed(2)}s, ${m('ratio').toFixed(2)}x; CPU ${(m('here') / 1000).toFixed(2)}s here + ${(m('gateways') / 1000).toFixed(2)}s on the gateways (${(m('gateways') / n).toFixed(1)} ms a gateway)\n`);
    }
    if (builds.length > 1) {
      // Paired by round (both builds ran in it): the load of the moment cancels out.
      const [a, b] = builds.map((x) => samples.get(x.label)!);
      const d = (k: keyof Sample) => median(a!.map((x, i) => x[k] - b![i]![k]));
      process.stdout.write(
        `  per round, this tree minus --alt (median): wall ${(d('wall') / 1000).toFixed(2)}s, ratio ${d('ratio').toFixed(2)}x, CPU here ${(d('here') / 1000).toFixed(2)}s, on the gateways ${(d('gateways') / 1000).toFixed(2)}s (${(d('gateways') / n).toFixed(1)} ms a gateway)\n`,
      );
    }
  } finally {
    await labDown(lab.name).catch((e: unknown) => process.stderr.write(`lab down: ${String(e)}\n`));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
