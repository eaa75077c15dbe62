import { TopologyError } from './errors.js';
import { EMPTY_LOCK, solve } from './solve/index.js';
import type { PortLock, Solution } from './solve/types.js';
import { checkTopology, sortDiagnostics } from './topology/index.js';
import type { Topology } from './topology/types.js';

/**
 * Topology text in, solved topology out: what `natchain validate` checks. Meaning errors and
 * solve errors (unreachable targets, port clashes) are reported together, in file order.
 */
export function compile(text: string, file: string, lock: PortLock = EMPTY_LOCK): { topology: Topology; solution: Solution } {
  const { topology, diagnostics } = checkTopology(text, file);
  let solution: Solution | undefined;
  try {
    solution = solve(topology, lock);
  } catch (e) {
    if (!(e instanceof TopologyError)) throw e;
    diagnostics.push(...e.diagnostics);
  }
  if (diagnostics.length || !solution) throw new TopologyError(sortDiagnostics(diagnostics));
  return { topology, solution };
}
