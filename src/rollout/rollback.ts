// `natchain rollback`: which owned state each gateway goes back to, from the journal.
import { NatchainError } from '../errors.js';
import type { Backend, Topology } from '../topology/types.js';
import { outcomeOf, type Journal, type TxHistory } from './journal.js';

/** Per gateway, the dump (as natchain read it) whose owned state a rollback restores. */
export interface RollbackTarget {
  /** The transaction whose result (--to) or whose starting point (default) is restored. */
  tx: string;
  mode: 'undo' | 'to';
  dumps: Map<string, { backend: Backend; dump: string }>;
}

/**
 * Default: undo the last committed transaction that changed a gateway of this topology (each gateway it changed goes back
 * to that transaction's snapshot). `--to TX`: every gateway of TX goes to the state TX left it in.
 */
export function rollbackTarget(journal: Journal, topology: Topology, to?: string): RollbackTarget {
  // The last committed transaction that changed any gateway of this topology (whatever file it came from).
  const names = new Set(topology.gateways.map((g) => g.name));
  const committed = journal
    .transactions()
    .filter((h) => outcomeOf(h) === 'committed' && h.plan && Object.entries(h.plan.gateways).some(([n, p]) => p.changed && names.has(n)));
  let h: TxHistory | undefined;
  if (to) {
    h = journal.transactions().find((x) => x.tx === to);
    if (!h) throw new NatchainError('NOT_FOUND', `no transaction ${to} in ${journal.file}`);
    if (outcomeOf(h) !== 'committed' || !h.plan) throw new NatchainError('NOT_FOUND', `transaction ${to} did not commit (${outcomeOf(h) ?? 'unfinished'}); only a committed state can be restored`);
  } else {
    h = committed[committed.length - 1];
    if (!h) throw new NatchainError('NOT_FOUND', `no committed transaction of ${topology.file} in ${journal.file}; nothing to roll back`);
  }
  const dumps = new Map<string, { backend: Backend; dump: string }>();
  for (const [name, p] of Object.entries(h.plan!.gateways)) {
    if (!topology.gateways.some((g) => g.name === name)) continue;
    if (to) {
      // The state TX left: what it read back where it changed something, its snapshot elsewhere.
      const dump = p.changed ? h.readback[name] : p.snapshot;
      if (dump !== undefined) dumps.set(name, { backend: p.backend, dump });
    } else if (p.changed) dumps.set(name, { backend: p.backend, dump: p.snapshot });
  }
  for (const [name, d] of dumps) {
    const g = topology.gateways.find((x) => x.name === name)!;
    if (g.backend !== d.backend) {
      throw new NatchainError('USAGE', `${name} used ${d.backend} in ${h.tx} but ${g.backend} now; a rollback cannot cross backends`);
    }
  }
  return { tx: h.tx, mode: to ? 'to' : 'undo', dumps };
}
