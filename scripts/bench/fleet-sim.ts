// The controller's own cost on a simulated fleet (issue 12): natchain apply (first, then no-op, then no-op --refresh),
// plan and status against N simulated gateways (scripts/bench/sim/: ssh2 servers speaking the
// real protocol, answering from an in-memory model of each gateway), for several N. For each run:
// CPU seconds and peak RSS of the natchain process, longest event-loop stall once connections
// start, wall time, SSH connections and execs the fleet saw.
//
//   npm run build && npx tsx scripts/bench/fleet-sim.ts [N...]   (default 100 300 1000)
//
// Per-gateway figures are marginal: (cost at N - cost at BASE) / (N - BASE), BASE = 10 gateways
// measured in the same run, so the fixed start-up does not flatter the large fleets.
import { startSimLab, type SimLab } from './sim/lab.js';
import { runNatchain, type Cost } from './run-cli.js';

const OPS = ['apply', 'apply (no-op)', 'apply (no-op, --refresh)', 'plan', 'status'] as const;
type Op = (typeof OPS)[number];
const BASE = 10;

/** One command's cost on one fleet. */
export interface OpResult {
  n: number;
  op: Op;
  code: number;
  cost: Cost;
  connections: number;
  execs: number;
}

/** Runs the four commands once on a fresh fleet of `n` simulated gateways. */
export async function measureFleet(n: number, opts: { concurrency?: number } = {}): Promise<OpResult[]> {
  const lab: SimLab = await startSimLab(n);
  try {
    const state = lab.stateDir('bench');
    const remote = ['-F', lab.sshConfig, '--state-dir', state, '--concurrency', String(opts.concurrency ?? 32)];
    const argv: Record<Op, string[]> = {
      apply: ['apply', lab.topologyFile, '--yes', '--confirm-timeout', '3600', ...remote],
      'apply (no-op)': ['apply', lab.topologyFile, '--yes', '--confirm-timeout', '3600', ...remote],
      // The fleet's scope reads nothing for a no-op; --refresh reads every gateway first (what a no-op cost before).
      'apply (no-op, --refresh)': ['apply', lab.topologyFile, '--yes', '--refresh', '--confirm-timeout', '3600', ...remote],
      plan: ['plan', lab.topologyFile, ...remote],
      status: ['status', lab.topologyFile, ...remote],
    };
    const out: OpResult[] = [];
    for (const op of OPS) {
      const before = { ...lab.fleet.stats };
      const r = await runNatchain(argv[op]);
      if (r.code !== 0) throw new Error(`${op} on ${n} simulated gateways exited ${r.code}:\n${r.stderr.slice(-3000)}`);
      if (lab.fleet.stats.unknown.length) throw new Error(`the simulation did not recognise: ${lab.fleet.stats.unknown[0]}`);
      out.push({ n, op, code: r.code, cost: r.cost, connections: lab.fleet.stats.connections - before.connections, execs: lab.fleet.stats.execs - before.execs });
    }
    return out;
  } finally {
    await lab.close();
  }
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const mib = (kib: number) => (kib / 1024).toFixed(0);

/** A Markdown table of raw and marginal (per-gateway) figures. */
export function table(results: OpResult[]): string {
  const base = new Map(results.filter((r) => r.n === BASE).map((r) => [r.op, r]));
  const rows = [
    '| gateways | command | wall | CPU | peak RSS | start-up CPU | CPU / gateway (marginal) | RSS / gateway (marginal) | longest stall | connections | execs |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const b = base.get(r.op);
    const marginal = b && r.n > BASE;
    const cpuPer = marginal ? `${((r.cost.cpuMs - b.cost.cpuMs) / (r.n - BASE)).toFixed(2)} ms` : '';
    const rssPer = marginal ? `${((r.cost.maxRssKiB - b.cost.maxRssKiB) / (r.n - BASE)).toFixed(0)} KiB` : '';
    rows.push(
      `| ${r.n} | ${r.op} | ${s(r.cost.wallMs)} s | ${s(r.cost.cpuMs)} s | ${mib(r.cost.maxRssKiB)} MiB | ${r.cost.startup ? s(r.cost.startup.cpuMs) + ' s' : '-'} | ${cpuPer} | ${rssPer} | ${r.cost.eldMaxMs.toFixed(0)} ms | ${r.connections} | ${r.execs} |`,
    );
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number);
  const list = [BASE, ...(sizes.length ? sizes : [100, 300, 1000])];
  const results: OpResult[] = [];
  for (const n of list) {
    process.stderr.write(`fleet-sim: ${n} gateways...\n`);
    const r = await measureFleet(n);
    results.push(...r);
    for (const x of r) process.stderr.write(`  ${x.op}: ${JSON.stringify({ ...x.cost, connections: x.connections, execs: x.execs })}\n`);
  }
  process.stdout.write(table(results) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
