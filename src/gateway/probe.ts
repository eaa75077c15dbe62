// `natchain probe`: for each forward, on each gateway of its chain, what can be checked without
// sending traffic anywhere but to the forward's own target: the gateway is what the topology says,
// natchain's rules for the forward are there and reached, forwarding is on, the route to the next
// hop leaves by the interface the chain says, and (last gateway, TCP) the target accepts a
// connection from the gateway itself. Two execs per gateway (inspect + the checks), no lock.
import pLimit from 'p-limit';
import { newNonce } from '../rollout/ids.js';
import { findingsOf, inspectGateways, type LiveGateway } from '../rollout/live.js';
import { canonicalOf, changeToIntents, forwardsIn } from '../rollout/owned.js';
import { parseSections } from '../rollout/remote.js';
import type { Chain, Hop, Solution } from '../solve/types.js';
import { formatSource, type Gateway, type Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, GatewaySession } from '../transport/types.js';
import { formatShadow } from './shadow.js';
import { parseProbe, probeCommand, type ProbeAnswer, type ProbeCheck } from './probe-script.js';

/** One check on one hop: ok, failed, or not done (null, with why). */
export interface ProbeStep {
  check: 'reach' | 'gateway' | 'rules' | 'shadowing' | 'forwarding' | 'route' | 'connect';
  ok: boolean | null;
  detail: string;
}

/** One gateway of one chain. */
export interface HopProbe {
  gateway: string;
  ok: boolean;
  steps: ProbeStep[];
}

/** One source's chain of a forward. */
export interface ChainProbe {
  source: string;
  ok: boolean;
  hops: HopProbe[];
  /** The first failing check. */
  failure?: { gateway: string; check: ProbeStep['check']; detail: string };
}

/** What `probe` found for one forward. */
export interface ForwardProbe {
  forward: string;
  ok: boolean;
  chains: ChainProbe[];
}

/** What `probe` found. */
export interface ProbeReport {
  topology: string;
  ok: boolean;
  forwards: ForwardProbe[];
}

/** Options of probeForwards. */
export interface ProbeOptions {
  /** Only these forwards (default: every one). */
  forwards?: string[];
  concurrency?: number;
}

/** Probes the forwards' chains on the live gateways (read-only; see the file comment). */
export async function probeForwards(topology: Topology, solution: Solution, connector: Connector, connect: ConnectOptions, opts: ProbeOptions = {}): Promise<ProbeReport> {
  const chains = solution.chains.filter((c) => !opts.forwards || opts.forwards.includes(c.forward));
  const names = new Set(chains.flatMap((c) => c.hops.map((h) => h.gateway)));
  const gateways = topology.gateways.filter((g) => names.has(g.name));
  const sessions = new Map<string, GatewaySession>();
  const answers = new Map<string, ProbeAnswer[] | Error>();
  try {
    const live = await inspectGateways(topology, gateways, connector, connect, { ...(opts.concurrency ? { concurrency: opts.concurrency } : {}), keep: (g, s) => sessions.set(g.name, s) });
    const limit = pLimit(Math.max(1, opts.concurrency ?? 8));
    await Promise.all(
      gateways.map((g) =>
        limit(async () => {
          const s = sessions.get(g.name);
          if (!s || live.get(g.name) instanceof Error) return;
          answers.set(g.name, await runChecks(s, checksFor(g.name, chains)).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
        }),
      ),
    );
    const forwards = [...new Set(chains.map((c) => c.forward))].map((forward): ForwardProbe => {
      const mine = chains.filter((c) => c.forward === forward).map((c) => judgeChain(topology, solution, c, live, answers));
      return { forward, ok: mine.every((c) => c.ok), chains: mine };
    });
    return { topology: topology.file, ok: forwards.every((f) => f.ok), forwards };
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.close().catch(() => undefined)));
  }
}

/** Every check a gateway must run for the chains: the route to each hop's next address, and a TCP connect where it is the last hop. */
export function checksFor(gateway: string, chains: readonly Chain[]): ProbeCheck[] {
  const out = new Map<string, ProbeCheck>();
  for (const c of chains) {
    c.hops.forEach((h, n) => {
      if (h.gateway !== gateway) return;
      out.set(`route:${h.dnat.address}`, { kind: 'route', address: h.dnat.address });
      if (n === c.hops.length - 1 && c.protos.includes('tcp')) out.set(`tcp:${h.dnat.address}:${h.dnat.ports.from}`, { kind: 'tcp', address: h.dnat.address, port: h.dnat.ports.from });
    });
  }
  return [...out.values()];
}

async function runChecks(session: GatewaySession, checks: ProbeCheck[]): Promise<ProbeAnswer[]> {
  const nonce = newNonce();
  const r = await session.exec(probeCommand(nonce, checks), { timeoutMs: 30_000 });
  const sec = parseSections(r.stdout, nonce);
  if (!sec.complete) throw new Error(`the checks did not finish (exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''})`);
  return parseProbe(sec.get('probe') ?? '');
}

function judgeChain(topology: Topology, solution: Solution, chain: Chain, live: Map<string, LiveGateway | Error>, answers: Map<string, ProbeAnswer[] | Error>): ChainProbe {
  const hops = chain.hops.map((hop, n) => {
    const g = topology.gateways.find((x) => x.name === hop.gateway)!;
    const steps = judgeHop(g, solution, chain, hop, n === chain.hops.length - 1, live.get(g.name)!, answers.get(g.name));
    return { gateway: g.name, ok: steps.every((s) => s.ok !== false), steps };
  });
  const out: ChainProbe = { source: formatSource(chain.source), ok: hops.every((h) => h.ok), hops };
  for (const h of hops) {
    const bad = h.steps.find((s) => s.ok === false);
    if (bad) {
      out.failure = { gateway: h.gateway, check: bad.check, detail: bad.detail };
      break;
    }
  }
  return out;
}

function judgeHop(g: Gateway, solution: Solution, chain: Chain, hop: Hop, last: boolean, l: LiveGateway | Error, answers: ProbeAnswer[] | Error | undefined): ProbeStep[] {
  if (l instanceof Error) return [{ check: 'reach', ok: false, detail: l.message }];
  const intents = solution.intents[g.name] ?? [];
  const found = findingsOf(g, intents, l);
  const steps: ProbeStep[] = [];
  steps.push(found.mismatches.length ? { check: 'gateway', ok: false, detail: found.mismatches.join('; ') } : { check: 'gateway', ok: true, detail: 'interfaces and addresses as in the topology' });
  steps.push(rulesStep(g, intents, l, chain.forward));
  const shadows = found.shadowed.filter((s) => s.forwards.includes(chain.forward));
  steps.push(shadows.length ? { check: 'shadowing', ok: false, detail: shadows.map(formatShadow).join('; ') } : { check: 'shadowing', ok: true, detail: "no foreign rule catches it before natchain's" });
  steps.push(l.ipForward === '1' ? { check: 'forwarding', ok: true, detail: 'net.ipv4.ip_forward=1' } : { check: 'forwarding', ok: false, detail: `net.ipv4.ip_forward is ${l.ipForward || 'unreadable'}` });
  if (answers instanceof Error || answers === undefined) {
    steps.push({ check: 'route', ok: false, detail: answers ? answers.message : 'the checks did not run' });
    return steps;
  }
  const route = answers.find((a): a is Extract<ProbeAnswer, { kind: 'route' }> => a.kind === 'route' && a.address === hop.dnat.address);
  if (!route || route.dev === undefined) steps.push({ check: 'route', ok: false, detail: `no route to ${hop.dnat.address}: ${route?.error ?? 'no answer'}` });
  else if (route.dev !== hop.outIface) steps.push({ check: 'route', ok: false, detail: `the route to ${hop.dnat.address} leaves by ${route.dev}, not ${hop.outIface} as the chain says (${route.line})` });
  else steps.push({ check: 'route', ok: true, detail: `${hop.dnat.address} via ${route.dev}` });
  if (last) steps.push(connectStep(chain, hop, answers));
  return steps;
}

/** natchain's rules for the forward on the gateway, as the topology wants them. */
function rulesStep(g: Gateway, intents: Solution['intents'][string], l: LiveGateway, forward: string): ProbeStep {
  const want = forwardsIn(changeToIntents(g, intents).expected).get(forward) ?? [];
  const have = forwardsIn(canonicalOf(g.backend, l.live)).get(forward) ?? [];
  if (!have.length) return { check: 'rules', ok: false, detail: `natchain's rules for ${forward} are not on ${g.name} (natchain apply puts them there)` };
  if (have.join('\n') !== want.join('\n')) return { check: 'rules', ok: false, detail: `natchain's rules for ${forward} on ${g.name} differ from the topology (natchain plan shows how)` };
  return { check: 'rules', ok: true, detail: `${have.length} rule(s) for ${forward}` };
}

function connectStep(chain: Chain, hop: Hop, answers: ProbeAnswer[]): ProbeStep {
  if (!chain.protos.includes('tcp')) return { check: 'connect', ok: null, detail: 'udp only: not probed (a datagram proves nothing without a service-specific request)' };
  const a = answers.find((x): x is Extract<ProbeAnswer, { kind: 'tcp' }> => x.kind === 'tcp' && x.address === hop.dnat.address && x.port === hop.dnat.ports.from);
  const target = `${hop.dnat.address}:${hop.dnat.ports.from}`;
  if (!a) return { check: 'connect', ok: false, detail: `no answer for ${target}` };
  if (a.ok === null) return { check: 'connect', ok: null, detail: a.detail };
  return a.ok ? { check: 'connect', ok: true, detail: `TCP connection to ${target} from ${hop.gateway} accepted` } : { check: 'connect', ok: false, detail: `TCP connection to ${target} from ${hop.gateway} failed: ${a.detail}` };
}
