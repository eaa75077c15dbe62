// Issue 12: how many processes natchain's remote scripts start on a gateway, per phase. Runs real
// transactions against real netfilter in a bare network namespace (root; no SSH: the exec goes
// through `ip netns exec`, so the transport's own wrappers are not counted) with each phase script
// under `strace -f -b execve`: every fork/clone/vfork of the script's shell is one process; a
// program it runs is followed until its execve (the dead-man timer's own `sleep` is left out).
// With --cpu N, each phase runs under `perf stat -e task-clock` instead (the script and every process
// it starts, the timer's start included), N rounds of the rules-removed case and the no-op: the
// median CPU ms of each phase.
// Usage: npx tsx scripts/bench/remote-processes.ts [--cpu N]   (prints a Markdown table)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPhase } from '../../src/rollout/exec.js';
import { readFaults } from '../../src/rollout/faults.js';
import { Journal } from '../../src/rollout/journal.js';
import { changeToIntents } from '../../src/rollout/owned.js';
import { runTransaction, silentProgress } from '../../src/rollout/transaction.js';
import { solve } from '../../src/solve/index.js';
import type { Backend, Topology } from '../../src/topology/types.js';
import type { ExecOptions, ExecResult, GatewaySession } from '../../src/transport/types.js';
import { example } from '../../test/support/topo.js';
import { NetnsGateway } from '../../test/e2e/rollout-support.js';
import { resetCmd } from './fleet-lab.js';
import { median } from './stats.js';

const OP_MARKERS: Array<[string, string]> = [
  ['UNDO=$1', 'abort'],
  ['SECS=$1; FWD=$2; FAULT=$3', 'apply'],
  ['OWNER=$1; BRK=$2', 'prepare'],
  ['if claim commit; then', 'commit'],
  ['sec live', 'inspect'],
];

interface Count {
  op: string;
  processes: number;
  programs: string[];
  /** CPU ms (--cpu). */
  cpuMs: number;
}

/** A session whose every exec runs under strace (or perf stat with `cpu`); `counts` collects one entry per exec. */
function tracedSession(gw: NetnsGateway, name: string, dir: string, counts: Count[], cpu: boolean): GatewaySession {
  let n = 0;
  return {
    gateway: name,
    get execCount() {
      return n;
    },
    closed: new Promise<void>(() => undefined),
    exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      const log = join(dir, `trace-${name}-${n}`);
      const file = join(dir, `script-${name}-${n++}`);
      const op = OP_MARKERS.find(([m]) => command.includes(m))?.[1] ?? '?';
      // `sh -c '<script>' natchain <words>`: the script goes to a file, the traced shell runs it as `sh -c` would.
      const m = /^sh -c '([\s\S]*)' natchain (.*)$/.exec(command)!;
      writeFileSync(file, m[1]!.replace(/'\\''/g, "'"));
      const tracer = cpu ? `perf stat -x, -e task-clock -o ${log}` : `strace -f -b execve -qq -e trace=clone,clone3,fork,vfork,execve -o ${log}`;
      const [cmd, ...args] = gw.argv(`exec ${tracer} sh -c "$(cat ${file})" natchain ${m[2]}`);
      return new Promise((resolve, reject) => {
        const p = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('error', reject);
        p.on('close', (code) => {
          const lines = readFileSync(log, 'utf8').split('\n');
          if (process.env.DEBUG_TRACE) process.stderr.write(`${op} ${code} ${stderr.slice(0, 300)}\n${lines.slice(0, 8).join('\n')}\n`);
          const forks = lines.filter((l) => /^\d+\s+(clone3?|v?fork)\(/.test(l)).length;
          const programs = lines.flatMap((l) => /^\d+\s+execve\("[^"]*\/([^"/]+)"/.exec(l)?.[1] ?? []).slice(1);
          const cpuMs = Number(lines.find((l) => l.includes(',task-clock,'))?.split(',')[0] ?? NaN);
          counts.push({ op, processes: forks, programs, cpuMs });
          resolve({ stdout, stderr, code });
        });
        p.stdin.on('error', () => undefined); // a phase that does not read its stdin (unchanged) may exit first
        p.stdin.end(opts.stdin ?? '');
      });
    },
    async close() {},
  };
}

async function measure(backend: Backend, cpuRounds: number): Promise<Map<string, Count[]>> {
  const t: Topology = { ...example('seed-vpn'), gateways: example('seed-vpn').gateways.map((g) => ({ ...g, backend })) };
  const s = solve(t);
  const dir = mkdtempSync(join(tmpdir(), 'natchain-procs-'));
  const gws = new Map(t.gateways.map((g) => [g.name, new NetnsGateway(`p${g.name.slice(3)}`)]));
  const counts: Count[] = [];
  const out = new Map<string, Count[]>();
  try {
    for (const g of gws.values()) g.sh('echo 1 > /proc/sys/net/ipv4/ip_forward');
    const connector = async (_t: Topology, g: { name: string }) => tracedSession(gws.get(g.name)!, g.name, dir, counts, cpuRounds > 0);
    const run = async (label: string, intents: typeof s.intents) => {
      counts.length = 0;
      await runTransaction({
        kind: 'apply',
        topology: t,
        target: (g) => changeToIntents(g, intents[g.name] ?? []),
        needsForwarding: () => false,
        connector,
        fresh: connector,
        connect: {},
        journal: new Journal(join(dir, 'state')),
        concurrency: 1,
        confirmTimeoutSec: 30,
        enableIpForward: false,
        progress: silentProgress,
        faults: readFaults('', false),
      });
      out.set(label, [...(out.get(label) ?? []), ...counts.filter((c) => c.op !== '?')]);
    };
    // natchain's rules removed by hand since its commit (what every round of fleet-lab.ts does before its
    // first apply): the gateway's record says unchanged, its rules say otherwise: checked, then staged.
    const drift = async () => {
      for (const g of t.gateways) gws.get(g.name)!.sh(resetCmd(g));
      await run('changed gateway (rules removed since its commit)', s.intents);
    };
    await run('changed gateway (first apply)', s.intents);
    await run('unchanged gateway (no-op apply)', s.intents);
    await drift();
    for (let i = 1; i < cpuRounds; i++) {
      await run('unchanged gateway (no-op apply)', s.intents);
      await drift();
    }
    // plan and status read each gateway with inspect (status --counters also reads natchain's DNAT counters).
    for (let i = 0; i < Math.max(1, cpuRounds); i++) {
      for (const [label, args] of [['plan, status (inspect)', [0]], ['status --counters (inspect)', [1]]] as const) {
        counts.length = 0;
        const g = t.gateways[0]!;
        await runPhase(await connector(t, g), backend, null, 'inspect', [...args]);
        out.set(label, [...(out.get(label) ?? []), ...counts]);
      }
    }
  } finally {
    for (const g of gws.values()) g.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}


const ci = process.argv.indexOf('--cpu');
const cpuRounds = ci >= 0 ? Number(process.argv[ci + 1]) : 0;
const rows: string[] = cpuRounds
  ? [`| backend | case | phase | CPU ms (median of ${cpuRounds}) | range |`, '|---|---|---|---:|---|']
  : ['| backend | case | phase | processes started | programs run |', '|---|---|---|---:|---|'];
for (const backend of ['iptables', 'nftables'] as const) {
  const m = await measure(backend, cpuRounds);
  for (const [label, counts] of m) {
    if (cpuRounds) {
      for (const op of [...new Set(counts.map((c) => c.op))]) {
        const ms = counts.filter((c) => c.op === op).map((c) => c.cpuMs);
        rows.push(`| ${backend} | ${label} | ${op} | ${median(ms).toFixed(2)} | ${Math.min(...ms).toFixed(2)} to ${Math.max(...ms).toFixed(2)} |`);
      }
      continue;
    }
    // One gateway's execs (the first gateway of the run: concurrency 1 runs them in order per phase).
    const seen = new Set<string>();
    for (const c of counts) {
      if (seen.has(c.op)) continue;
      seen.add(c.op);
      rows.push(`| ${backend} | ${label} | ${c.op} | ${c.processes} | ${c.programs.join(' ')} |`);
    }
  }
}
process.stdout.write(rows.join('\n') + '\n');
