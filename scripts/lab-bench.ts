// Measures `lab up` / `lab down` for the example topologies and a generated N-gateway topology.
//   npx tsx scripts/lab-bench.ts [N=50] [runs=3]        (as root; leaves nothing behind)
// The generated topology: N sites, each behind its own gateway on one internet; every site
// reaches a server in the next site (a two-gateway chain, like seed 001), and every site exposes
// a web server to the internet. Public addresses are in the documentation ranges.
import { pathToFileURL } from 'node:url';
import { readTopology } from '../src/cli/io.js';
import { labDown, labUp, type Lab } from '../src/lab/index.js';
import { parseTopology, type Topology } from '../src/topology/index.js';

/** The YAML of a generated topology with `n` gateways (n <= 250). */
export function generatedTopologyYaml(n: number): string {
  if (n < 2 || n > 250) throw new Error('n must be 2..250');
  const pub = (i: number) => (i < 125 ? `198.51.100.${i + 1}` : `203.0.113.${i - 124}`);
  const lines = ['version: 1', 'sites:'];
  for (let i = 0; i < n; i++) lines.push(`  site-${i}:`, `    subnets: [10.${i}.0.0/24]`);
  lines.push('networks:', '  internet:', '    public: true', 'gateways:');
  for (let i = 0; i < n; i++) {
    lines.push(`  gw-${i}:`, `    backend: ${i % 2 ? 'nftables' : 'iptables'}`, '    interfaces:');
    lines.push(`      eth0: { address: ${pub(i)}/24, network: internet }`, `      eth1: { address: 10.${i}.0.1/24, site: site-${i} }`);
  }
  lines.push('forwards:');
  for (let i = 0; i < n; i++) {
    lines.push(`  ssh-${i}:`, `    from: site-${(i + 1) % n}`, `    to: 10.${i}.0.10:22`, '    proto: tcp');
    lines.push(`  web-${i}:`, '    from: internet', `    to: 10.${i}.0.20:80`, '    proto: tcp', `    expose: ${pub(i)}:8080`);
  }
  return lines.join('\n') + '\n';
}

export function generatedTopology(n: number): Topology {
  return parseTopology(generatedTopologyYaml(n), `generated-${n}.yaml`);
}

async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const v = await f();
  return [v, Number(process.hrtime.bigint() - t0) / 1e9];
}

async function bench(label: string, topology: Topology, runs: number): Promise<void> {
  const ups: number[] = [];
  const downs: number[] = [];
  let lab: Lab | undefined;
  for (let r = 0; r < runs; r++) {
    try {
      [lab] = await time(() => labUp(topology, { name: 'bench' }));
      ups.push(lab.upSeconds);
    } finally {
      const [, d] = await time(() => labDown('bench'));
      downs.push(d);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(
    `${label.padEnd(22)} ${String(lab!.gateways.length).padStart(4)} gw ${String(lab!.hosts.length).padStart(4)} hosts ${String(lab!.namespaces.length).padStart(4)} ns   ` +
      `up ${med(ups).toFixed(2)} s (${ups.map((x) => x.toFixed(2)).join(' ')})   down ${med(downs).toFixed(2)} s (${downs.map((x) => x.toFixed(2)).join(' ')})\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 50);
  const runs = Number(process.argv[3] ?? 3);
  for (const f of ['topologies/seed-portforward.yaml', 'topologies/seed-vpn.yaml', 'topologies/three-hop.yaml', 'topologies/hub-vpn.yaml']) {
    await bench(f.replace(/^topologies\//, ''), await readTopology(f), runs);
  }
  await bench(`generated-${n}`, generatedTopology(n), runs);
}
