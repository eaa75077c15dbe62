// The transaction options every engine test shares, so that a test states only what it is about.
import { readFaults } from '../../src/rollout/faults.js';
import { Journal } from '../../src/rollout/journal.js';
import { silentProgress, type TransactionOptions } from '../../src/rollout/transaction.js';

/** What a test transaction must be given: its topology, what each gateway should hold, and how to reach the gateways. */
type Essentials = Pick<TransactionOptions, 'topology' | 'target' | 'needsForwarding' | 'connector'>;

/**
 * An apply with its journal in `stateDir`, no test fault, no progress shown, 4 gateways at a time, a
 * 30 s dead-man timer, ip_forward left alone and the commit over the same connector; `o` overrides any of it.
 */
export function testTxOptions(stateDir: string, o: Essentials & Partial<TransactionOptions>): TransactionOptions {
  return {
    kind: 'apply',
    fresh: o.connector,
    connect: {},
    journal: new Journal(stateDir),
    concurrency: 4,
    confirmTimeoutSec: 30,
    enableIpForward: false,
    progress: silentProgress,
    faults: readFaults(''),
    ...o,
  };
}
