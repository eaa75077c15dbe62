// The last state natchain knows of each gateway without asking it: what the journal says the last
// finished transaction left there. The scope of a change is worked out from this, then confirmed
// live (a gateway whose lock-time snapshot differs is re-read and the change re-planned).
import type { Topology } from '../topology/types.js';
import { outcomeOf, type Journal } from './journal.js';
import { canonicalOf } from './owned.js';

/** One gateway's last known canonical owned state and the transaction that left it. */
export interface Known {
  canonical: string;
  tx: string;
}

/** Per gateway of the topology: the canonical state the last finished transaction left (absent: unknown). */
export function lastKnownStates(journal: Journal, topology: Topology): Map<string, Known> {
  const backends = new Map(topology.gateways.map((g) => [g.name, g.backend]));
  const out = new Map<string, Known>();
  for (const h of journal.transactions()) {
    if (!h.plan) continue;
    const outcome = outcomeOf(h);
    for (const [name, p] of Object.entries(h.plan.gateways)) {
      if (!backends.has(name)) continue;
      // Unfinished, inconsistent, or another backend: nothing is known until the gateway is read.
      if (outcome === undefined || outcome === 'inconsistent' || p.backend !== backends.get(name)) {
        out.delete(name);
        continue;
      }
      const read = h.readback[name];
      if (outcome === 'committed' && p.changed && read === undefined) {
        out.delete(name);
        continue;
      }
      const canonical = canonicalOf(p.backend, outcome === 'committed' && p.changed ? read! : p.snapshot);
      out.set(name, { canonical, tx: h.tx });
    }
  }
  return out;
}
