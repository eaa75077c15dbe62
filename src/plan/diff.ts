import { formatDiagnostic } from '../errors.js';
import { lockKey } from '../solve/allocate.js';
import type { Allocation } from '../solve/types.js';
import { formatPorts } from '../topology/types.js';
import { diffChains } from './chains.js';
import { cmp, diffModel } from './model.js';
import { diffRulesets, type RulesetDiffOptions } from './rulesets.js';
import type { ChainChange, Diff, DiffSummary, Flag, GatewayImpact, ModelChange, State } from './types.js';

/**
 * Everything that differs between two states, from the model down to the rules on each gateway.
 * Pure: two solved and rendered states in, one `Diff` out.
 */
export function diffStates(a: State, b: State, opts: Pick<RulesetDiffOptions, 'context'> = {}): Diff {
  const model = diffModel(a.topology, b.topology);
  const edited = new Set(model.filter((m) => m.kind === 'forward').map((m) => m.name));
  const chains = diffChains(a.solution.chains, b.solution.chains, edited);
  const gateways = diffRulesets(a.rulesets, b.rulesets, { ...opts, oldLabel: 'old', newLabel: 'new' });
  const flags = flagsOf(a, b, chains);
  const unsolvedChanged = JSON.stringify(a.unsolved.map((u) => u.forward)) !== JSON.stringify(b.unsolved.map((u) => u.forward));
  const identical = model.length === 0 && chains.length === 0 && flags.length === 0 && !unsolvedChanged && gateways.every((g) => g.change === 'untouched');
  return {
    old: { label: a.label, lock: a.lockLabel },
    new: { label: b.label, lock: b.lockLabel },
    identical,
    summary: summarize(identical, model, chains, flags, gateways, a, b),
    flags,
    model,
    chains,
    unsolved: { old: a.unsolved, new: b.unsolved },
    gateways,
    unlocked: b.solution.allocations.filter((x) => x.origin === 'new').map(({ forward, gateway, address, ports }) => ({ forward, gateway, address, ports })),
  };
}

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

function summarize(identical: boolean, model: ModelChange[], chains: ChainChange[], flags: Flag[], gateways: GatewayImpact[], a: State, b: State): DiffSummary {
  const forwards = new Set<string>([
    ...model.filter((m) => m.kind === 'forward').map((m) => m.name),
    ...chains.map((c) => c.forward),
    ...flags.flatMap((f) => (f.forward ? [f.forward] : [])),
  ]);
  // A forward that stops (or starts) solving changed even when no chain of it is listed.
  const was = new Set(a.unsolved.map((u) => u.forward));
  const is = new Set(b.unsolved.map((u) => u.forward));
  for (const f of [...was, ...is]) if (was.has(f) !== is.has(f)) forwards.add(f);
  const touched = new Set(gateways.filter((g) => g.change !== 'untouched').map((g) => g.gateway));
  const rulesAdded = gateways.reduce((s, g) => s + g.rulesAdded, 0);
  const rulesRemoved = gateways.reduce((s, g) => s + g.rulesRemoved, 0);
  let text = identical
    ? 'no difference'
    : `${plural(forwards.size, 'forward')} changed, ${plural(touched.size, 'gateway')} touched, ${plural(rulesAdded, 'rule')} added, ${rulesRemoved} removed`;
  if (flags.length) text += `; ${plural(flags.length, 'warning')}`;
  return { forwardsChanged: forwards.size, gatewaysTouched: touched.size, rulesAdded, rulesRemoved, flags: flags.length, text };
}

const ep = (x: { address: string; ports: { from: number; to: number } }) => `${x.address}:${formatPorts(x.ports)}`;

/** The changes a reviewer must not miss: ports clients use that move, forwards that stop working, backends that change. */
function flagsOf(a: State, b: State, chains: ChainChange[]): Flag[] {
  const flags: Flag[] = [];
  const oldForwards = new Set(a.topology.forwards.map((f) => f.name));

  // Hop ports: the same forward needs a port on the same gateway address on both sides, but not the same port.
  const key = (x: Allocation) => `${x.forward}\0${x.gateway}\0${x.address}`;
  const before = new Map(a.solution.allocations.map((x) => [key(x), x]));
  for (const n of b.solution.allocations) {
    const o = before.get(key(n));
    if (!o || (o.ports.from === n.ports.from && o.ports.to === n.ports.to)) continue;
    flags.push({
      kind: 'hop-port-moved',
      forward: n.forward,
      gateway: n.gateway,
      message: `forward ${n.forward}: port ${ep(o)} on gateway ${n.gateway} moves to ${formatPorts(n.ports)} (${whyMoved(o, n, b)}): breaks clients that use it`,
      old: { address: o.address, ports: o.ports, origin: o.origin },
      new: { address: n.address, ports: n.ports, origin: n.origin },
    });
  }

  // What a client dials moved to another address (a port-only move is a hop-port-moved above).
  for (const c of chains) {
    if (c.change !== 'changed' || c.old!.dial.address === c.new!.dial.address) continue;
    flags.push({
      kind: 'dial-changed',
      forward: c.forward,
      message: `forward ${c.forward} from ${c.source}: clients must dial ${ep(c.new!.dial)} instead of ${ep(c.old!.dial)}: breaks clients that use the old address`,
    });
  }

  // Forwards that solved before and no longer do (or new forwards that never will).
  const wasUnsolved = new Set(a.unsolved.map((u) => u.forward));
  for (const u of b.unsolved) {
    if (wasUnsolved.has(u.forward)) continue;
    const why = u.diagnostics.map((d) => formatDiagnostic(d)).join('; ');
    const what = oldForwards.has(u.forward) ? 'becomes unreachable' : '(new) is unreachable';
    flags.push({ kind: 'unreachable', forward: u.forward, message: `forward ${u.forward} ${what}: ${why}` });
  }

  // A backend switch rewrites every rule of the gateway in another format.
  const oldGw = new Map(a.topology.gateways.map((g) => [g.name, g]));
  for (const g of b.topology.gateways) {
    const o = oldGw.get(g.name);
    if (!o || o.backend === g.backend) continue;
    flags.push({
      kind: 'backend-changed',
      gateway: g.name,
      message: `gateway ${g.name} changes backend ${o.backend} -> ${g.backend}: all its natchain rules are rewritten, and its ${o.backend} rules must be removed`,
    });
  }
  // Site-to-site chains that start crossing a public network (the solver's warnings the old side did not have).
  // Compared without the path in parentheses: a chain already warned about that only moved is not news.
  const gist = (m: string) => m.split(' (')[0]!;
  const warnedBefore = new Set(a.solution.warnings.map((w) => gist(w.message)));
  for (const w of b.solution.warnings) {
    if (warnedBefore.has(gist(w.message))) continue;
    flags.push({ kind: 'public-network', ...(w.forward !== undefined ? { forward: w.forward } : {}), message: w.message });
  }
  const order = ['unreachable', 'public-network', 'hop-port-moved', 'dial-changed', 'backend-changed'];
  return flags.sort((x, y) => order.indexOf(x.kind) - order.indexOf(y.kind) || cmp(x.forward ?? x.gateway ?? '', y.forward ?? y.gateway ?? '') || cmp(x.message, y.message));
}

/** Why a port moved, in the words of the topology and lock. */
function whyMoved(o: Allocation, n: Allocation, b: State): string {
  if (n.origin === 'pin' || o.origin === 'pin') return o.origin === n.origin ? 'pin changed' : n.origin === 'pin' ? 'now pinned' : 'no longer pinned';
  if (n.origin === 'expose' || o.origin === 'expose') return o.origin === n.origin ? 'exposed port changed' : n.origin === 'expose' ? 'now exposed explicitly' : 'no longer exposed explicitly';
  if (n.origin === 'target' || o.origin === 'target') return "target's port changed";
  if (n.origin === 'new') {
    const locked = b.lock.ports[n.forward]?.[lockKey(n.gateway, n.address)];
    return locked === undefined ? 'not in the port lock' : `locked port ${locked} is taken or outside hopPorts`;
  }
  return 'the port lock says so';
}
