// Start-up benchmark (issue 11): `natchain --help`, `--version` and `validate` of an example against a
// bare `node -e 0`. Runs the cases interleaved (so load from other work hits them alike), N times
// each, and prints medians of wall time and of CPU time (user + system, from sh's `times`), with
// each case's ratio to the bare node. Usage: node scripts/bench/startup.mjs [RUNS] (needs `npm run build`).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const runs = Number(process.argv[2] ?? 30);
const cli = 'node dist/cli/main.js';
const cases = [
  ['node -e 0', 'node -e 0'],
  ['natchain --help', `${cli} --help`],
  ['natchain --version', `${cli} --version`],
  ['natchain validate topologies/seed-vpn.yaml', `${cli} validate topologies/seed-vpn.yaml`],
  ['natchain completion bash', `${cli} completion bash`],
];

/** One run: wall milliseconds, and the child's CPU milliseconds as the shell's `times` reports them. */
function once(command) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', `${command} >/dev/null 2>&1; times`], { cwd: root, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  // Second line of `times`: the children's user and system time, e.g. "0m0.052s 0m0.008s".
  const [user, sys] = r.stdout.trim().split('\n')[1].split(/\s+/).map((t) => {
    const [, m, s] = /(\d+)m([\d.]+)s/.exec(t);
    return (Number(m) * 60 + Number(s)) * 1000;
  });
  return { wall, cpu: user + sys };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const samples = cases.map(() => ({ wall: [], cpu: [] }));
for (const [i, [, command]] of cases.entries()) once(command); // warm the file cache
for (let n = 0; n < runs; n++) {
  for (const [i, [, command]] of cases.entries()) {
    const r = once(command);
    samples[i].wall.push(r.wall);
    samples[i].cpu.push(r.cpu);
  }
}
const base = { wall: median(samples[0].wall), cpu: median(samples[0].cpu) };
console.log(`| command | wall (median of ${runs}) | x node -e 0 | CPU (median) | x node -e 0 |`);
console.log('|---|---:|---:|---:|---:|');
for (const [i, [label]] of cases.entries()) {
  const wall = median(samples[i].wall);
  const cpu = median(samples[i].cpu);
  console.log(`| \`${label}\` | ${wall.toFixed(0)} ms | ${(wall / base.wall).toFixed(2)} | ${cpu.toFixed(0)} ms | ${(cpu / base.cpu).toFixed(2)} |`);
}
