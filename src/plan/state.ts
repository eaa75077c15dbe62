import { TopologyError, type Diagnostic } from '../errors.js';
import { renderRuleset } from '../render/index.js';
import { EMPTY_LOCK, solve } from '../solve/index.js';
import type { Intent, PortLock, Solution } from '../solve/types.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { RulesetText, State, Unsolved } from './types.js';

/** Turns one gateway's intents into its ruleset text (the real renderer by default; tests may pass another). */
export type Renderer = (gateway: Gateway, intents: Intent[]) => string;

/**
 * Solves every forward that can be solved. `solve` refuses a whole topology when one forward has
 * no chain; a diff must instead show that forward as unreachable and still compare the others,
 * so the forwards named by the solver's diagnostics are set aside and the rest solved again.
 * Problems that are not any one forward's are rethrown.
 */
export function solvePartial(topology: Topology, lock: PortLock = EMPTY_LOCK): { solution: Solution; unsolved: Unsolved[] } {
  const unsolved: Unsolved[] = [];
  let forwards = topology.forwards;
  // Each round sets aside at least one forward, so this ends.
  for (;;) {
    try {
      const solution = solve(forwards === topology.forwards ? topology : { ...topology, forwards }, lock);
      return { solution, unsolved: unsolved.sort((a, b) => (a.forward < b.forward ? -1 : a.forward > b.forward ? 1 : 0)) };
    } catch (e) {
      if (!(e instanceof TopologyError)) throw e;
      const failed = new Map<string, Diagnostic[]>();
      for (const d of e.diagnostics) {
        const f = d.forward === undefined ? undefined : forwards.find((x) => x.name === d.forward);
        if (!f) throw e;
        failed.set(f.name, [...(failed.get(f.name) ?? []), d]);
      }
      if (failed.size === 0) throw e;
      for (const [forward, diagnostics] of failed) unsolved.push({ forward, diagnostics });
      forwards = forwards.filter((f) => !failed.has(f.name));
    }
  }
}

/** Renders every gateway's ruleset in its own backend from a solution. */
export function renderAll(topology: Topology, solution: Solution, render: Renderer = renderRuleset): RulesetText[] {
  return topology.gateways.map((g) => ({ gateway: g.name, backend: g.backend, text: render(g, solution.intents[g.name] ?? []) }));
}

/** Where one side of a diff came from. */
export interface StateSource {
  /** The topology's name for people (`x.yaml`, `HEAD~1:x.yaml`). */
  label: string;
  topology: Topology;
  /** The port lock read beside the topology; absent means none. */
  lock?: PortLock;
  lockLabel?: string | null;
}

/** Everything one side of a diff is: the topology, solved (as far as it solves) and rendered. Pure. */
export function buildState(src: StateSource, render: Renderer = renderRuleset): State {
  const lock = src.lock ?? EMPTY_LOCK;
  const { solution, unsolved } = solvePartial(src.topology, lock);
  return { label: src.label, topology: src.topology, lock, lockLabel: src.lockLabel ?? null, solution, unsolved, rulesets: renderAll(src.topology, solution, render) };
}
