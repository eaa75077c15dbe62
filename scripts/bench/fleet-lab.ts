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
//                 back and forth), at N and on the 2-gateway lab with the same change
//
// Medians of the rounds; natchain runs with --concurrency N (the floor is fully parallel too). The
// lab's gateways share the controller's CPUs, so the CPU of both sides is counted too, for the
// floor write and the first apply: this process's reaped children (natchain or ssh, and their
// ProxyCommands) and the lab's socket listeners' (every sshd -i and what it ran).
//
//   npm run build && npx tsx scripts/bench/fleet-lab.ts [rounds=5] [N...=10 25 50]   (as root)
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

async function round(b: BenchLab, r: number, costs: Map<string, Cost[]>): Promise<Figures> {
  const cfg = b.lab.sshConfig;
  const all = (f: (g: Gateway) => Promise<unknown>, list = b.gateways) => Promise.all(list.map(f));
  const state = path.join(b.dir, `state-${r}`);
  const nat = async (label: string, args: string[]): Promise<number> => {
    const res = await runNatchain([...args, '-F', cfg, '--state-dir', state, '--concurrency', String(Math.min(256, b.n))]);
    if (res.code !== 0 && !(label === 'plan' && res.code === 1)) throw new Error(`natchain ${args.join(' ')}: exit ${res.code}\n${res.stderr.slice(-2000)}`);
    costs.set(label, [...(costs.get(label) ?? []), res.cost]);
    return res.cost.wallMs;
  };
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
  // The change, there and back: each apply changes one forward on the 2 gateways.
  const changedGws = b.gateways.filter((g) => b.changedGateways.includes(g.name));
  f['change'] = (await nat('change', ['apply', b.files.changed, '--yes'])) / 2;
  f['change'] += (await nat('change', ['apply', b.files.base, '--yes'])) / 2;
  f['floor change'] = await timed(() => all((g) => ssh(cfg, g.name, loadCmd(g), b.texts.changed.get(g.name)), changedGws));
  return f;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Runs `rounds` rounds on an N-gateway lab; returns the medians (ms) and natchain's costs. */
export async function benchLab(n: number, rounds: number): Promise<{ n: number; med: Figures; costs: Map<string, Cost[]>; changed: string[] }> {
  const b = await startBenchLab(n);
  const costs = new Map<string, Cost[]>();
  try {
    const all: Figures[] = [];
    for (let r = 0; r < rounds; r++) {
      const f = await round(b, r, costs);
      process.stderr.write(`  lab ${n} round ${r + 1}: ${Object.entries(f).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ')}\n`);
      all.push(f);
    }
    const med: Figures = {};
    for (const k of Object.keys(all[0]!)) med[k] = median(all.map((f) => f[k]!));
    return { n, med, costs, changed: b.changedGateways };
  } finally {
    await labDown(b.lab.name).catch((e: unknown) => process.stderr.write(`lab down ${b.lab.name}: ${String(e)}\n`));
    rmSync(b.dir, { recursive: true, force: true });
  }
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const sizes = process.argv.slice(3).map(Number);
  const results = [];
  const two = await benchLab(2, rounds);
  for (const n of sizes.length ? sizes : [10, 25, 50]) results.push(await benchLab(n, rounds));
  const out: string[] = [
    `Medians of ${rounds} rounds. Ratios: first apply / floor write; no-op apply, plan, status / floor read; change / the same change on the 2-gateway lab.`,
    '',
    '| gateways | floor write | first apply | ratio | floor read | no-op apply | ratio | no-op --refresh | ratio | plan | ratio | status | ratio | change (2 gw) | vs 2-gw lab | floor change |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of [two, ...results]) {
    const m = r.med;
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    out.push(
      `| ${r.n} | ${sec(m['floor write']!)} | ${sec(m['first apply']!)} | ${x(m['first apply']!, m['floor write']!)} | ${sec(m['floor read']!)} | ${sec(m['no-op apply']!)} | ${x(m['no-op apply']!, m['floor read']!)} | ${sec(m['no-op --refresh']!)} | ${x(m['no-op --refresh']!, m['floor read']!)} | ${sec(m.plan!)} | ${x(m.plan!, m['floor read']!)} | ${sec(m.status!)} | ${x(m.status!, m['floor read']!)} | ${sec(m.change!)} | ${x(m.change!, two.med.change!)} | ${sec(m['floor change']!)} |`,
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
  out.push('', '| gateways | command | natchain CPU | start-up (before the first connection) | share of wall | peak RSS |', '|---:|---|---:|---:|---:|---:|');
  for (const r of [two, ...results]) {
    for (const [label, cs] of r.costs) {
      const cpu = median(cs.map((c) => c.cpuMs));
      const st = median(cs.map((c) => c.startup?.wallMs ?? 0));
      const wall = median(cs.map((c) => c.wallMs));
      out.push(`| ${r.n} | ${label} | ${sec(cpu)} | ${sec(st)} | ${((100 * st) / wall).toFixed(0)}% | ${(median(cs.map((c) => c.maxRssKiB)) / 1024).toFixed(0)} MiB |`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
