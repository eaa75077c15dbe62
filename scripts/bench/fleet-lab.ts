// natchain beside the SSH floor in the lab (issue 12): real sshd and netfilter in namespaces, the
// generated N-gateway topology of scripts/lab-bench.ts (every site reaches a server in the next
// site through two gateways, and exposes a web server to the internet: 2 forwards per gateway,
// half iptables, half nftables). In every round, alternately:
//
//   floor write   one `ssh <gw> iptables-restore --noflush` / `nft -f -` per gateway, all in parallel,
//                 loading the very text natchain would load (same OpenSSH key exchange as ssh2)
//   first apply   natchain apply on gateways without natchain's rules
//   no-op apply   natchain apply again (reads nothing: the fleet's scope), and with --refresh (reads every gateway)
//   floor read    one `ssh <gw> iptables-save` / `nft list table` per gateway, all in parallel
//   plan, status  natchain plan / status
//   change        natchain apply of a topology that changes one forward on 2 gateways (toggled
//                 back and forth), at N and on the 2-gateway lab with the same change: as it runs
//                 by default (the gateways outside the change checked without a login) and with
//                 --no-check-outside (no contact with them), in alternating order, with the CPU of
//                 both sides; `--variant` adds runs with other settings (environment variables)
//
// Medians of the rounds; natchain runs with --concurrency N (the floor is fully parallel too). The
// lab's gateways share the controller's CPUs, so the CPU of both sides is counted too, for the
// floor write, the first apply and the change: this process's reaped children (natchain or ssh,
// and their ProxyCommands) and the lab's socket listeners' (every sshd -i and what it ran).
//
//   npm run build && npx tsx scripts/bench/fleet-lab.ts [rounds=5] [N...=10 25 50]   (as root)
//   ... fleet-lab.ts --only change 7 50            only the change (one unmeasured first apply per lab)
//   ... fleet-lab.ts --only change --variant 'late:NAME=VALUE,NAME2=VALUE' 7 50
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compile } from '../../src/compile.js';
import { labDown, labUp, type Lab } from '../../src/lab/index.js';
import { changeToIntents } from '../../src/rollout/owned.js';
import type { Gateway } from '../../src/topology/types.js';
import { generatedTopologyYaml } from '../lab-bench.js';
import { runNatchain, type Cost } from './run-cli.js';
import { resolveTemplate } from './sim/resolve.js';
import { median } from './stats.js';

const RUN = randomBytes(2).toString('hex');
const KEX = 'curve25519-sha256,curve25519-sha256@libssh.org';

/** Runs `ssh -F cfg gw command` with `input` on stdin; resolves with its exit code. */
export function ssh(cfg: string, gw: string, command: string, input = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    // The key exchange ssh2 negotiates (OpenSSH would otherwise pick the costlier sntrup761x25519).
    const c = spawn('ssh', ['-F', cfg, '-o', 'BatchMode=yes', '-o', `KexAlgorithms=${KEX}`, gw, command], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(0) : reject(new Error(`ssh ${gw} ${command}: exit ${code}: ${err.trim()}`))));
    c.stdin.end(input);
  });
}

/** CPU ms of the processes a pid has reaped (its children, and theirs): /proc/<pid>/stat cutime + cstime. */
function reapedCpuMs(pid: number | 'self'): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) * 10; // fields 16 and 17 of proc(5), at 100 ticks a second
}

/** The lab's per-gateway socket listeners (socat ... fork): they reap every sshd -i and what it ran. */
function listeners(labDir: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('socat\0UNIX-LISTEN:') && cmd.includes(labDir + '/')) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** CPU ms of this process's children and of the lab's gateways while `f` runs. */
export async function cpuOf<T>(labDir: string, f: () => Promise<T>): Promise<{ v: T; local: number; gateways: number }> {
  const ls = listeners(labDir);
  const sum = () => ls.reduce((a, p) => a + reapedCpuMs(p), 0);
  const l0 = reapedCpuMs('self');
  const g0 = sum();
  const v = await f();
  await new Promise((r) => setTimeout(r, 200)); // the listeners reap the last sshd
  return { v, local: reapedCpuMs('self') - l0, gateways: sum() - g0 };
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

export const loadCmd = (g: Gateway) => (g.backend === 'iptables' ? 'iptables-restore --noflush' : 'nft -f -');
const readCmd = (g: Gateway) => (g.backend === 'iptables' ? 'iptables-save -t nat && iptables-save -t filter' : 'nft list table ip natchain');
// Unmeasured: back to a gateway without natchain's rules (nftables: no table; iptables: no chains, no jumps).
const RESET_IPTABLES = `for c in PREROUTING:nat POSTROUTING:nat FORWARD:filter; do
  b=\${c%%:*}; t=\${c#*:}
  while iptables -t $t -D $b -m comment --comment natchain -j NATCHAIN-$b 2>/dev/null; do :; done
  iptables -t $t -F NATCHAIN-$b 2>/dev/null; iptables -t $t -X NATCHAIN-$b 2>/dev/null
done; true`;
export const resetCmd = (g: Gateway) => (g.backend === 'iptables' ? RESET_IPTABLES : 'nft delete table ip natchain 2>/dev/null; true');

/** A lab of the generated topology, its two topology files (base and the 2-gateway change), and what to load. */
interface BenchLab {
  n: number;
  lab: Lab;
  files: { base: string; changed: string };
  gateways: Gateway[];
  /** natchain's load text per gateway from an empty state, for the base and the changed topology. */
  texts: { base: Map<string, string>; changed: Map<string, string> };
  changedGateways: string[];
  dir: string;
}

/** The generated topology with forwards web-0 and web-1 pointing at port 81 instead of 80: gw-0 and gw-1 change. */
function changedYaml(base: string): string {
  return base.replace(/(\n {2}web-[01]:\n(?: {4}.*\n)*? {4}to: 10\.[01]\.0\.20):80\n/g, '$1:81\n');
}

function loadTexts(yaml: string, file: string): { gateways: Gateway[]; texts: Map<string, string> } {
  const { topology, solution } = compile(yaml, file);
  const intents = solution.intents;
  // natchain's iptables text is a template resolved on the gateway against its state: resolved
  // here against a gateway without natchain's rules, which is what the floor loads onto.
  const text = (g: Gateway) => resolveTemplate(g.backend, changeToIntents(g, intents[g.name] ?? []).text, '');
  return { gateways: topology.gateways, texts: new Map(topology.gateways.map((g) => [g.name, text(g)])) };
}

async function startBenchLab(n: number): Promise<BenchLab> {
  const dir = mkdtempSync(path.join(tmpdir(), 'natchain-labbench-'));
  const yaml = generatedTopologyYaml(n);
  const changed = changedYaml(yaml);
  if (changed === yaml) throw new Error('the change did not apply to the generated topology');
  const files = { base: path.join(dir, 'base.yaml'), changed: path.join(dir, 'changed.yaml') };
  writeFileSync(files.base, yaml);
  writeFileSync(files.changed, changed);
  const base = loadTexts(yaml, files.base);
  const after = loadTexts(changed, files.changed);
  const changedGateways = base.gateways.filter((g) => base.texts.get(g.name) !== after.texts.get(g.name)).map((g) => g.name);
  const lab = await labUp(compile(yaml, files.base).topology, { name: `pb${n}-${RUN}` });
  return { n, lab, files, gateways: base.gateways, texts: { base: base.texts, changed: after.texts }, changedGateways, dir };
}

/** One measured figure of one round. */
type Figures = Record<string, number>;

/** Which figures a run measures: all of them, or only the change (with and without the checks). */
type Phases = 'all' | 'change';

/** One way of running the change: extra arguments and environment for natchain. */
interface Variant {
  label: string;
  args: string[];
  env: Record<string, string>;
}

/** The change as it runs by default, and with no contact with the gateways outside it. */
const BASE_VARIANTS: Variant[] = [
  { label: 'change', args: [], env: {} },
  { label: 'change --no-check-outside', args: ['--no-check-outside'], env: {} },
];

/** `label:NAME=VALUE,NAME2=VALUE` (a --variant argument). */
function parseVariant(spec: string): Variant {
  const [label, vars = ''] = spec.split(/:(.*)/s) as [string, string?];
  const env: Record<string, string> = {};
  for (const kv of vars.split(',').filter(Boolean)) {
    const [k, v] = kv.split(/=(.*)/s) as [string, string?];
    env[k] = v ?? '';
  }
  return { label: `change ${label}`, args: [], env };
}

/** How many gateways a report lists under `no answer yet from` (checks that had not ended when the change was done). */
export function pendingIn(report: string): number {
  const m = /^no answer yet from \([^)]*\): (.*)$/m.exec(report);
  if (!m) return 0;
  const more = / and (\d+) more$/.exec(m[1]!);
  return m[1]!.replace(/ and \d+ more$/, '').split(', ').length + (more ? Number(more[1]) : 0);
}

/** Runs natchain on a bench lab with its state dir and concurrency; records its cost (and pending checks) under `label`; resolves with its wall time. */
function natchainOn(b: BenchLab, state: string, costs: Map<string, Cost[]>, pending = new Map<string, number[]>()) {
  return async (label: string, args: string[], env: Record<string, string> = {}): Promise<number> => {
    const res = await runNatchain([...args, '-F', b.lab.sshConfig, '--state-dir', state, '--concurrency', String(Math.min(256, b.n))], env);
    if (res.code !== 0 && !(label === 'plan' && res.code === 1)) throw new Error(`natchain ${args.join(' ')}: exit ${res.code}\n${res.stderr.slice(-2000)}`);
    costs.set(label, [...(costs.get(label) ?? []), res.cost]);
    pending.set(label, [...(pending.get(label) ?? []), pendingIn(res.stdout)]);
    return res.cost.wallMs;
  };
}

/** The change, there and back (each apply changes one forward on the 2 gateways), once per variant in an order that turns with the round. */
async function changeRound(b: BenchLab, r: number, nat: ReturnType<typeof natchainOn>, variants: Variant[]): Promise<Figures> {
  const f: Figures = {};
  const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
  for (const v of order) {
    const c = await cpuOf(b.lab.dir, async () => (await nat(v.label, ['apply', b.files.changed, '--yes', ...v.args], v.env)) + (await nat(v.label, ['apply', b.files.base, '--yes', ...v.args], v.env)));
    f[v.label] = c.v / 2;
    f[`${v.label} CPU here`] = c.local / 2;
    f[`${v.label} CPU gateways`] = c.gateways / 2;
  }
  return f;
}

async function round(b: BenchLab, r: number, costs: Map<string, Cost[]>, pending: Map<string, number[]>, variants: Variant[]): Promise<Figures> {
  const cfg = b.lab.sshConfig;
  const all = (f: (g: Gateway) => Promise<unknown>, list = b.gateways) => Promise.all(list.map(f));
  const nat = natchainOn(b, path.join(b.dir, `state-${r}`), costs, pending);
  const f: Figures = {};
  await all((g) => ssh(cfg, g.name, resetCmd(g)));
  const fw = await cpuOf(b.lab.dir, () => timed(() => all((g) => ssh(cfg, g.name, loadCmd(g), b.texts.base.get(g.name)))));
  f['floor write'] = fw.v;
  f['floor write CPU here'] = fw.local;
  f['floor write CPU gateways'] = fw.gateways;
  await all((g) => ssh(cfg, g.name, resetCmd(g)));
  const fa = await cpuOf(b.lab.dir, () => nat('first apply', ['apply', b.files.base, '--yes']));
  f['first apply'] = fa.v;
  f['first apply CPU here'] = fa.local;
  f['first apply CPU gateways'] = fa.gateways;
  f['no-op apply'] = await nat('no-op apply', ['apply', b.files.base, '--yes']);
  f['no-op --refresh'] = await nat('no-op --refresh', ['apply', b.files.base, '--yes', '--refresh']);
  f['floor read'] = await timed(() => all((g) => ssh(cfg, g.name, readCmd(g))));
  f.plan = await nat('plan', ['plan', b.files.base]);
  f.status = await nat('status', ['status', b.files.base]);
  Object.assign(f, await changeRound(b, r, nat, variants));
  const changedGws = b.gateways.filter((g) => b.changedGateways.includes(g.name));
  f['floor change'] = await timed(() => all((g) => ssh(cfg, g.name, loadCmd(g), b.texts.changed.get(g.name)), changedGws));
  return f;
}


/** Medians (ms) of every figure, and each figure's rounds. */
interface LabResult {
  n: number;
  med: Figures;
  rounds: Figures[];
  costs: Map<string, Cost[]>;
  /** Per label, per run: gateways reported `no answer yet`. */
  pending: Map<string, number[]>;
  changed: string[];
}

/** Runs `rounds` rounds on an N-gateway lab; returns the medians (ms) and natchain's costs. */
export async function benchLab(n: number, rounds: number, phases: Phases = 'all', variants: Variant[] = BASE_VARIANTS): Promise<LabResult> {
  const b = await startBenchLab(n);
  const costs = new Map<string, Cost[]>();
  const pending = new Map<string, number[]>();
  try {
    const all: Figures[] = [];
    // Only the change: one first apply (not measured) gives every round the same records to start from.
    const state = path.join(b.dir, 'state');
    if (phases === 'change') await natchainOn(b, state, new Map())('setup', ['apply', b.files.base, '--yes']);
    for (let r = 0; r < rounds; r++) {
      const f = phases === 'change' ? await changeRound(b, r, natchainOn(b, state, costs, pending), variants) : await round(b, r, costs, pending, variants);
      process.stderr.write(`  lab ${n} round ${r + 1}: ${Object.entries(f).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ')}\n`);
      all.push(f);
    }
    const med: Figures = {};
    for (const k of Object.keys(all[0]!)) med[k] = median(all.map((f) => f[k]!));
    return { n, med, rounds: all, costs, pending, changed: b.changedGateways };
  } finally {
    await labDown(b.lab.name).catch((e: unknown) => process.stderr.write(`lab down ${b.lab.name}: ${String(e)}\n`));
    rmSync(b.dir, { recursive: true, force: true });
  }
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** The change per variant: wall (median, range of the rounds), against the 2-gateway lab's default change, and the CPU of both sides. */
function changeTable(two: LabResult, results: LabResult[], variants: Variant[]): string[] {
  const out = [
    'The change of one forward on 2 gateways, there and back (per apply). "vs 2-gw lab": the median against the 2-gateway lab\'s default change; per round: each round\'s against the 2-gateway lab\'s median. CPU (medians): here = natchain and its ProxyCommands; gateways = every sshd -i and what it ran.',
    '',
    '| gateways | run | wall | rounds | vs 2-gw lab | per round (median, range) | CPU here | natchain itself | CPU gateways | CPU total | "no answer yet" per run (median, max) |',
    '|---:|---|---:|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  const base = two.med.change!;
  for (const r of [two, ...results]) {
    for (const v of variants) {
      const walls = r.rounds.map((f) => f[v.label]!);
      const per = walls.map((w) => w / base).sort((a, b) => a - b);
      const own = median((r.costs.get(v.label) ?? []).map((c) => c.cpuMs));
      const here = r.med[`${v.label} CPU here`]!;
      const gws = r.med[`${v.label} CPU gateways`]!;
      const pend = r.pending.get(v.label) ?? [];
      out.push(
        `| ${r.n} | ${v.label} | ${sec(r.med[v.label]!)} | ${walls.map((w) => (w / 1000).toFixed(2)).join(' ')} | ${ratio(r.med[v.label]!, base)} | ${median(per).toFixed(2)}x (${per[0]!.toFixed(2)} to ${per[per.length - 1]!.toFixed(2)}x) | ${sec(here)} | ${sec(own)} | ${sec(gws)} | ${sec(here + gws)} | ${median(pend)}, ${Math.max(0, ...pend)} |`,
      );
    }
  }
  return out;
}

/** Every figure of a full run (the floor, first apply, no-op, plan, status, the change), the CPU tables. */
function fullTables(two: LabResult, results: LabResult[], rounds: number): string[] {
  const out: string[] = [
    `Medians of ${rounds} rounds. Ratios: first apply / floor write; no-op apply, plan, status / floor read; change / the same change on the 2-gateway lab.`,
    '',
    '| gateways | floor write | first apply | ratio | floor read | no-op apply | ratio | no-op --refresh | ratio | plan | ratio | status | ratio | change (2 gw) | vs 2-gw lab | floor change |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of [two, ...results]) {
    const m = r.med;
    out.push(
      `| ${r.n} | ${sec(m['floor write']!)} | ${sec(m['first apply']!)} | ${ratio(m['first apply']!, m['floor write']!)} | ${sec(m['floor read']!)} | ${sec(m['no-op apply']!)} | ${ratio(m['no-op apply']!, m['floor read']!)} | ${sec(m['no-op --refresh']!)} | ${ratio(m['no-op --refresh']!, m['floor read']!)} | ${sec(m.plan!)} | ${ratio(m.plan!, m['floor read']!)} | ${sec(m.status!)} | ${ratio(m.status!, m['floor read']!)} | ${sec(m.change!)} | ${ratio(m.change!, two.med.change!)} | ${sec(m['floor change']!)} |`,
    );
  }
  out.push('', 'CPU (medians), the lab\'s gateways share these CPUs: here = natchain or ssh and their ProxyCommands; gateways = every sshd -i and what it ran.', '');
  out.push('| gateways | floor write: here | gateways | total | first apply: here | gateways | total | CPU ratio |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of [two, ...results]) {
    const m = r.med;
    const fwT = m['floor write CPU here']! + m['floor write CPU gateways']!;
    const faT = m['first apply CPU here']! + m['first apply CPU gateways']!;
    out.push(`| ${r.n} | ${sec(m['floor write CPU here']!)} | ${sec(m['floor write CPU gateways']!)} | ${sec(fwT)} | ${sec(m['first apply CPU here']!)} | ${sec(m['first apply CPU gateways']!)} | ${sec(faT)} | ${(faT / fwT).toFixed(2)}x |`);
  }
  return out;
}

/** natchain's own cost per command: CPU, start-up, peak memory. */
function costTable(labs: LabResult[]): string[] {
  const out = ['| gateways | command | natchain CPU | start-up (before the first connection) | share of wall | peak RSS |', '|---:|---|---:|---:|---:|---:|'];
  for (const r of labs) {
    for (const [label, cs] of r.costs) {
      const cpu = median(cs.map((c) => c.cpuMs));
      const st = median(cs.map((c) => c.startup?.wallMs ?? 0));
      const wall = median(cs.map((c) => c.wallMs));
      out.push(`| ${r.n} | ${label} | ${sec(cpu)} | ${sec(st)} | ${((100 * st) / wall).toFixed(0)}% | ${(median(cs.map((c) => c.maxRssKiB)) / 1024).toFixed(0)} MiB |`);
    }
  }
  return out;
}

/** `[--only change] [--variant label:NAME=VALUE,...]... [rounds] [N...]` */
function parseArgs(argv: string[]): { phases: Phases; variants: Variant[]; rounds: number; sizes: number[] } {
  let phases: Phases = 'all';
  const variants = [...BASE_VARIANTS];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') {
      const v = argv[++i];
      if (v !== 'change' && v !== 'all') throw new Error(`--only takes change or all, not ${v}`);
      phases = v;
    } else if (a === '--variant') variants.push(parseVariant(argv[++i] ?? ''));
    else rest.push(a);
  }
  const sizes = rest.slice(1).map(Number);
  return { phases, variants, rounds: Number(rest[0] ?? 5), sizes: sizes.length ? sizes : [10, 25, 50] };
}

async function main(): Promise<void> {
  const { phases, variants, rounds, sizes } = parseArgs(process.argv.slice(2));
  const results: LabResult[] = [];
  const two = await benchLab(2, rounds, phases, variants);
  for (const n of sizes) results.push(await benchLab(n, rounds, phases, variants));
  const out = phases === 'all' ? [...fullTables(two, results, rounds), ''] : [];
  out.push(...changeTable(two, results, variants), '', ...costTable([two, ...results]));
  process.stdout.write(out.join('\n') + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
