// `natchain lab test`: every forward of a lab's topology exercised end to end with real traffic,
// from the lab client that stands for each of its sources to what that source dials, and the
// source address the target saw compared with the one the solve predicts. Traffic stays inside
// the lab's namespaces (client and target are lab hosts).
import type { Chain, Solution } from '../solve/types.js';
import { formatSource, type Proto } from '../topology/types.js';
import { labProbeMany, type ProbeOptions } from './exec.js';
import type { Lab, LabHostInfo } from './types.js';

/** The lab host that stands for a chain's source (the site's client, the network's client), if the lab has one. */
export function clientFor(lab: Lab, chain: Chain): LabHostInfo | undefined {
  const key = `${chain.forward}:${formatSource(chain.source)}`;
  return lab.hosts.find((x) => x.role !== 'target' && x.forwards.includes(key));
}

/** The lab host at a chain's target address, if the lab has one. */
export function targetFor(lab: Lab, chain: Chain): LabHostInfo | undefined {
  return lab.hosts.find((x) => x.address === chain.target.address);
}

/** The source address each hop sees arriving (index k: at hop k), and, last, what the target sees. */
export function sourcesAlong(chain: Chain, client: string): string[] {
  const out = [client];
  for (const h of chain.hops) out.push(h.snat?.address ?? out[out.length - 1]!);
  return out;
}

/** A port of the dial range carried to the same offset of another range (ranges forward unshifted). */
export function portAt(range: { from: number; to: number }, dial: { from: number }, port: number): number {
  return range.from + (port - dial.from);
}

/** One connection (TCP) or exchange (UDP) of `lab test`. */
export interface TrafficResult {
  forward: string;
  source: string;
  proto: Proto;
  client?: string;
  clientAddress?: string;
  /** What the client dialled, `address:port`. */
  dial: string;
  /** The target host and port it must reach. */
  target: string;
  /** The source address the solve says the target sees. */
  expectedPeer?: string;
  ok: boolean;
  /** What the echo service answered: the host that answered and the peer it saw. */
  sawHost?: string;
  sawPeer?: string;
  error?: string;
}

/** What `lab test` found. */
export interface TrafficReport {
  lab: string;
  ok: boolean;
  results: TrafficResult[];
}

/** Sends one probe per forward, source, protocol and end of its port range, from the lab's clients; compares what each target saw with the solve. */
export async function labTraffic(lab: Lab, solution: Solution, opts: { forwards?: string[]; timeoutMs?: number } = {}): Promise<TrafficReport> {
  const chains = solution.chains.filter((c) => !opts.forwards || opts.forwards.includes(c.forward));
  const results: TrafficResult[] = [];
  const byClient = new Map<string, Array<{ r: TrafficResult; probe: ProbeOptions }>>();
  for (const chain of chains) {
    const client = clientFor(lab, chain);
    const target = targetFor(lab, chain);
    const ports = [...new Set([chain.dial.ports.from, chain.dial.ports.to])];
    for (const proto of chain.protos) {
      for (const port of ports) {
        const tport = portAt(chain.target.ports, chain.dial.ports, port);
        const r: TrafficResult = { forward: chain.forward, source: formatSource(chain.source), proto, dial: `${chain.dial.address}:${port}`, target: `${target?.name ?? chain.target.address}:${tport}`, ok: false };
        results.push(r);
        if (!client || !target) {
          r.error = !client ? `the lab has no client for source ${r.source}` : `the lab has no host at ${chain.target.address}`;
          continue;
        }
        r.client = client.name;
        r.clientAddress = client.address;
        r.expectedPeer = sourcesAlong(chain, client.address).at(-1)!;
        const list = byClient.get(client.name) ?? [];
        list.push({ r, probe: { proto, address: chain.dial.address, port, timeoutMs: opts.timeoutMs ?? 3000 } });
        byClient.set(client.name, list);
      }
    }
  }
  await Promise.all(
    [...byClient].map(async ([client, items]) => {
      const answers = await labProbeMany(lab, client, items.map((x) => x.probe));
      items.forEach(({ r }, i) => judge(r, answers[i]!));
    }),
  );
  return { lab: lab.name, ok: results.every((r) => r.ok), results };
}

function judge(r: TrafficResult, a: Awaited<ReturnType<typeof labProbeMany>>[number]): void {
  if (!a.ok) {
    r.error = a.error;
    return;
  }
  r.sawHost = a.fields.host;
  r.sawPeer = a.fields.peer;
  const [host, port] = [r.target.slice(0, r.target.lastIndexOf(':')), r.target.slice(r.target.lastIndexOf(':') + 1)];
  if (a.fields.host === undefined) r.error = `answered, but not by the lab's echo service (${JSON.stringify(a.reply.slice(0, 60))}): a real service there? lab test reads the echo's answer (natchain lab echo start)`;
  else if (a.fields.host !== host || a.fields.port !== port) r.error = `answered by ${a.fields.host ?? '?'} port ${a.fields.port ?? '?'}, not ${host} port ${port}`;
  else if (a.fields.peer !== r.expectedPeer) r.error = `the target saw ${a.fields.peer ?? '?'}, the solve predicts ${r.expectedPeer}`;
  else r.ok = true;
}
