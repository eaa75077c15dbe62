// Test helpers for the lab (natchain lab): bring a lab up for a topology once per describe, take it
// down in after() whether the tests passed or not, load rendered rulesets, send probes, read
// conntrack. Used by test/e2e/lab-*.test.ts; reusable by any test that needs real gateways.
//
// Traffic safety: everything runs inside the lab's namespaces (src/lab never touches the root
// namespace); probes go from one lab node to another. Nothing here opens a socket on the host.
import { randomBytes } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readTopology } from '../../src/cli/io.js';
import {
  labBaseDir,
  labDirOf,
  labDown,
  labExec,
  labNamespaces,
  labProbe,
  labProbeMany,
  labStatus,
  labUp,
  preflight,
  type Lab,
  type LabHostInfo,
  type ProbeResult,
  type RunResult,
  clientFor as labClientFor,
  targetFor as labTargetFor,
  sourcesAlong,
  portAt,
} from '../../src/lab/index.js';
import { renderRuleset, type RenderOptions } from '../../src/render/index.js';
import { solve, type Chain, type Hop, type Solution } from '../../src/solve/index.js';
import type { Backend, Proto, Topology } from '../../src/topology/index.js';
import { formatSource } from '../../src/topology/index.js';

/** Why lab tests cannot run here (they skip with it), or undefined when they can. */
export async function labUnavailable(): Promise<string | undefined> {
  try {
    await preflight();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A token for this test process, in every lab name it makes: parallel runs never share a lab. */
export const RUN = randomBytes(2).toString('hex');

/** Lab names this process made (for the leftover check). */
const made = new Set<string>();

/** A lab name for a test: `<short>-<run token>` (lab names are at most 20 characters). */
export function testLabName(short: string): string {
  const name = `${short}-${RUN}`;
  if (name.length > 20) throw new Error(`lab name too long: ${name}`);
  return name;
}

/** The topology with every gateway driven by one backend. */
export function withBackend(t: Topology, backend: Backend): Topology {
  return { ...t, gateways: t.gateways.map((g) => ({ ...g, backend })) };
}

/** A lab that is up, with the topology and solution it was built from. */
export interface LabFixture {
  lab: Lab;
  topology: Topology;
  solution: Solution;
}

/**
 * Mocha: brings a lab up in before() and takes it down in after(), failed or not. The returned
 * object is filled in by before(); the describe skips when the lab cannot run here.
 */
export function useLab(load: () => Topology | Promise<Topology>, short: string): LabFixture {
  const f = {} as LabFixture;
  const name = testLabName(short);
  before(async function () {
    this.timeout(60_000);
    const why = await labUnavailable();
    if (why) this.skip();
    f.topology = await load();
    f.solution = solve(f.topology);
    made.add(name);
    await labDown(name).catch(() => undefined); // a previous run's, if it crashed
    f.lab = await labUp(f.topology, { name });
  });
  after(async function () {
    this.timeout(60_000);
    if (made.has(name)) await labDown(name);
  });
  return f;
}

/** Reads a topology file (fixtures and topologies/). */
export function topologyFile(file: string): Promise<Topology> {
  return readTopology(file);
}

/** Runs a command in a lab node; throws with its stderr unless it exits 0. Returns stdout. */
export async function labRun(lab: Lab, node: string, argv: string[], input?: string): Promise<string> {
  const r: RunResult = await labExec(lab, node, argv, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`[${lab.name}/${node}] ${argv.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Loads each gateway's rendered ruleset into it directly (iptables-restore --noflush / nft -f). */
export async function loadRules(f: LabFixture, opts: RenderOptions = {}): Promise<void> {
  await Promise.all(
    f.topology.gateways.map(async (g) => {
      const text = renderRuleset(g, f.solution.intents[g.name] ?? [], opts);
      const argv = g.backend === 'iptables' ? ['iptables-restore', '--noflush'] : ['nft', '-f', '-'];
      await labRun(f.lab, g.name, argv, text);
    }),
  );
}

/** The lab host that stands for a chain's source (the site's client, the network's client). */
export function clientFor(lab: Lab, chain: Chain): LabHostInfo {
  const h = labClientFor(lab, chain);
  if (!h) throw new Error(`lab ${lab.name} has no client for ${chain.forward}:${formatSource(chain.source)}`);
  return h;
}

/** The lab host at a chain's target address. */
export function targetFor(lab: Lab, chain: Chain): LabHostInfo {
  const h = labTargetFor(lab, chain);
  if (!h) throw new Error(`lab ${lab.name} has no host at ${chain.target.address}`);
  return h;
}

export { sourcesAlong, portAt };

let nextPort = 20000 + (process.pid % 200) * 100;
/** A source port no other probe of this process used (so conntrack entries can be told apart). */
export function sourcePort(): number {
  nextPort = nextPort >= 60999 ? 20000 : nextPort + 1;
  return nextPort;
}

/** One probe along a chain: from its client to what it dials. */
export function probeChain(lab: Lab, chain: Chain, proto: Proto, port: number, sport: number, timeoutMs = 3000): Promise<ProbeResult> {
  return labProbe(lab, clientFor(lab, chain).name, { proto, address: chain.dial.address, port, sourcePort: sport, timeoutMs });
}

/** Many probes along chains at once (one process per client); results in order. */
export async function probeChains(
  lab: Lab,
  items: Array<{ chain: Chain; proto: Proto; port: number; sport: number }>,
  timeoutMs = 3000,
): Promise<ProbeResult[]> {
  const byClient = new Map<string, number[]>();
  items.forEach((x, i) => {
    const c = clientFor(lab, x.chain).name;
    byClient.set(c, [...(byClient.get(c) ?? []), i]);
  });
  const out = new Array<ProbeResult>(items.length);
  await Promise.all(
    [...byClient].map(async ([client, idx]) => {
      const rs = await labProbeMany(
        lab,
        client,
        idx.map((i) => ({ proto: items[i]!.proto, address: items[i]!.chain.dial.address, port: items[i]!.port, sourcePort: items[i]!.sport, timeoutMs })),
      );
      idx.forEach((i, k) => (out[i] = rs[k]!));
    }),
  );
  return out;
}

/** One conntrack entry: the original and reply tuples. */
export interface CtEntry {
  proto: string;
  orig: { src: string; dst: string; sport: number; dport: number };
  reply: { src: string; dst: string; sport: number; dport: number };
  line: string;
}

/** Parses `conntrack -L` output. */
export function parseConntrack(text: string): CtEntry[] {
  const out: CtEntry[] = [];
  for (const line of text.split('\n')) {
    const proto = line.split(/\s+/)[0];
    if (proto !== 'tcp' && proto !== 'udp') continue;
    const kv = [...line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const);
    if (kv.length < 8) continue;
    const tuple = (part: ReadonlyArray<readonly [string, string]>) => {
      const o = Object.fromEntries(part);
      return { src: o.src!, dst: o.dst!, sport: Number(o.sport), dport: Number(o.dport) };
    };
    out.push({ proto, orig: tuple(kv.slice(0, 4)), reply: tuple(kv.slice(4, 8)), line: line.trim() });
  }
  return out;
}

/** conntrack -L on a gateway. */
export async function conntrack(lab: Lab, gateway: string): Promise<CtEntry[]> {
  return parseConntrack(await labRun(lab, gateway, ['conntrack', '-L']));
}

/** What conntrack on a hop's gateway must show for one probe (sport is kept through every hop). */
export function expectedTuple(hop: Hop, seenSrc: string, dport: number, dnatPort: number, sport: number): Pick<CtEntry, 'orig' | 'reply'> {
  return {
    orig: { src: seenSrc, dst: hop.dst.address, sport, dport },
    reply: { src: hop.dnat.address, dst: hop.snat?.address ?? seenSrc, sport: dnatPort, dport: sport },
  };
}

/**
 * A flow that crosses one gateway's FORWARD chain by plain routing, no NAT: from the hop before
 * the last gateway of a chain (or the network client of a one-hop chain) straight to the target's
 * control port, through a host route added for it. It works with FORWARD ACCEPT and must be
 * dropped by a DROP policy, whatever natchain loaded: it is "other traffic".
 */
export interface ControlFlow {
  from: string;
  gateway: string;
  target: LabHostInfo;
  /** Address the target sees (no NAT anywhere). */
  seen: string;
  route: string[];
}

export function controlFlow(f: LabFixture): ControlFlow {
  for (const chain of f.solution.chains) {
    const last = chain.hops[chain.hops.length - 1]!;
    const target = targetFor(f.lab, chain);
    const route = (dev: string) => ['ip', 'route', 'replace', `${target.address}/32`, 'via', last.dst.address, 'dev', dev, 'onlink'];
    if (chain.hops.length >= 2) {
      const prev = chain.hops[chain.hops.length - 2]!;
      return { from: prev.gateway, gateway: last.gateway, target, seen: prev.snat!.address, route: route(prev.outIface) };
    }
    if (chain.source.kind === 'network') {
      const client = clientFor(f.lab, chain);
      return { from: client.name, gateway: last.gateway, target, seen: client.address, route: route('eth0') };
    }
  }
  throw new Error('no chain gives a control flow');
}

/** What a run left behind of the labs it made: namespaces, processes, directories, sockets (empty: nothing). */
export async function labLeftovers(names: Iterable<string> = made): Promise<string[]> {
  const out: string[] = [];
  for (const name of names) {
    for (const ns of await labNamespaces(name)) out.push(`namespace ${ns}`);
    for (const s of await labStatus(name)) for (const ns of s.namespaces) for (const p of ns.processes) out.push(`process ${p.pid} (${p.command}) in ${ns.name}`);
    const dir = labDirOf(name);
    if (await exists(dir)) out.push(`directory ${dir}`);
  }
  // Sockets of these labs would only be in their directories; the base directory must not hold any of ours.
  try {
    for (const e of await readdir(labBaseDir())) if ([...names].includes(e)) out.push(`lab entry ${join(labBaseDir(), e)}`);
  } catch {
    /* no base directory: nothing left */
  }
  return [...new Set(out)];
}

/** The labs this process brought up (with useLab or upTestLab). */
export function labsMade(): string[] {
  return [...made];
}

/** Brings a lab up outside useLab (remembered for the leftover check); take it down with labDown. */
export async function upTestLab(t: Topology, short: string): Promise<Lab> {
  const name = testLabName(short);
  made.add(name);
  await labDown(name).catch(() => undefined);
  return labUp(t, { name });
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
