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
    // Entities with errors were left out of the model, so a forward may fail only because of them.
    const hint = diagnostics.length ? ' (possibly a consequence of an error above)' : '';
    diagnostics.push(...e.diagnostics.map((d) => ({ ...d, message: d.message + hint })));
  }
  if (diagnostics.length || !solution) throw new TopologyError(sortDiagnostics(diagnostics));
  return { topology, solution };
}
