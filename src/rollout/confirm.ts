// `natchain confirm`: commits a transaction `apply --confirm manual` left armed, from any machine
// and any state directory. Everything it needs is on the gateways: which transaction is armed,
// its members (the gateways it changed), their deadlines. Every member must still be armed; the
// decision is journaled (when this machine's journal knows the transaction), then every member is
// committed in parallel. A member whose timer won the race cannot commit: the ones that did are
// undone, so all end where they began.
import pLimit from 'p-limit';
import { NatchainError } from '../errors.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector, GatewaySession } from '../transport/types.js';
import { PhaseError, runPhase } from './exec.js';
import type { Journal } from './journal.js';
import { parseArmed, type Sections } from './remote.js';

/** Where one member of the confirmed transaction ended. */
export interface ConfirmedGateway {
  gateway: string;
  state: 'committed' | 'rolled-back' | 'unknown';
  roundTrips: number;
  detail?: string;
}

/** What `confirm` did. */
export interface ConfirmReport {
  tx: string;
  outcome: 'committed' | 'rolled-back' | 'inconsistent';
  /** The earliest deadline the members had (epoch seconds, gateway clock). */
  deadline?: number;
  gateways: ConfirmedGateway[];
}

/** What confirm needs. */
export interface ConfirmOptions {
  topology: Topology;
  /** The transaction to commit; default: the one transaction armed on the topology's gateways. */
  tx?: string;
  connector: Connector;
  connect: ConnectOptions;
  concurrency: number;
  journal?: Journal;
}

interface Seen {
  gateway: Gateway;
  session: GatewaySession;
  armed: Array<{ tx: string; deadline: number }>;
  sec?: Sections;
}

/** Commits an armed transaction everywhere; throws when it cannot (nothing committed then). */
export async function confirmTransaction(o: ConfirmOptions): Promise<ConfirmReport> {
  const limit = pLimit(Math.max(1, o.concurrency));
  const seen: Seen[] = [];
  const unreachable: string[] = [];
  try {
    // One read of every gateway (its armed timers and, when the tx is known, that tx's record).
    await Promise.all(
      o.topology.gateways.map((g) =>
        limit(async () => {
          try {
            const one: Seen = { gateway: g, session: await o.connector(o.topology, g, o.connect), armed: [] };
            seen.push(one);
            one.sec = await runPhase(one.session, g.backend, o.tx ?? null, 'inspect', [0]);
            one.armed = parseArmed(one.sec.get('armed'));
          } catch (e) {
            unreachable.push(`${g.name}: ${e instanceof PhaseError ? e.reason : (e as Error).message}`);
          }
        }),
      ),
    );
    const tx = o.tx ?? pickArmed(seen);
    if (!o.tx) {
      // Read without the tx id: read the transaction's own record (its members) on one armed gateway.
      const one = seen.find((s) => s.armed.some((a) => a.tx === tx))!;
      one.sec = await runPhase(one.session, one.gateway.backend, tx, 'inspect', [0]);
    }
    const members = membersOf(seen, tx);
    const missing = members.names.filter((n) => !seen.some((s) => s.gateway.name === n && s.armed.some((a) => a.tx === tx)));
    if (members.names.length === 0) throw new NatchainError('NOT_FOUND', `transaction ${tx} is not armed on any gateway of ${o.topology.file}; nothing to confirm`);
    if (missing.length || unreachable.length) {
      const why = [...missing.map((n) => `${n}: not armed for ${tx} (its timer fired, or it is unreachable)`), ...unreachable];
      throw new NatchainError('TRANSACTION', `cannot confirm ${tx}: not every gateway of it is armed and reachable; nothing was committed (the armed ones revert at their deadline)`, why);
    }
    o.journal?.write({ type: 'decision', tx, time: new Date().toISOString(), decision: 'commit' });
    const inTx = seen.filter((s) => members.names.includes(s.gateway.name));
    const results = await Promise.all(inTx.map((s) => limit(() => commitOne(s, tx))));
    const refused = results.filter((r) => r.state !== 'committed');
    if (refused.length) {
      // A timer won the race somewhere: undo the members that committed, so all end where they began.
      await Promise.all(inTx.map((s, i) => (results[i]!.state === 'committed' ? limit(() => undoOne(s, tx, results[i]!)) : undefined)));
    }
    const outcome = refused.length === 0 ? 'committed' : results.every((r) => r.state === 'rolled-back' || r.detail?.includes('timer')) ? 'rolled-back' : 'inconsistent';
    o.journal?.write({ type: 'end', tx, time: new Date().toISOString(), outcome, states: Object.fromEntries(results.map((r) => [r.gateway, r.state === 'rolled-back' ? 'rolled-back' : r.state])) });
    const deadlines = inTx.flatMap((s) => s.armed.filter((a) => a.tx === tx).map((a) => a.deadline));
    return { tx, outcome, gateways: results, ...(deadlines.length ? { deadline: Math.min(...deadlines) } : {}) };
  } finally {
    await Promise.all(seen.map((s) => s.session.close().catch(() => undefined)));
  }
}

function pickArmed(seen: Seen[]): string {
  const txs = [...new Set(seen.flatMap((s) => s.armed.map((a) => a.tx)))];
  if (txs.length === 0) throw new NatchainError('NOT_FOUND', 'no transaction is waiting for confirmation on these gateways');
  if (txs.length > 1) throw new NatchainError('USAGE', `several transactions are armed (${txs.join(', ')}): name the one to confirm`);
  return txs[0]!;
}

/** The gateways the transaction changed, as its own records on the gateways say (`members`, written by apply). */
function membersOf(seen: Seen[], tx: string): { names: string[] } {
  for (const s of seen) {
    if (!s.armed.some((a) => a.tx === tx)) continue;
    const members = (s.sec?.get('txmembers') ?? '').trim();
    if (members) return { names: members.split(' ').filter(Boolean) };
  }
  return { names: seen.filter((s) => s.armed.some((a) => a.tx === tx)).map((s) => s.gateway.name) };
}

async function commitOne(s: Seen, tx: string): Promise<ConfirmedGateway> {
  const r: ConfirmedGateway = { gateway: s.gateway.name, state: 'committed', roundTrips: 2 };
  try {
    await runPhase(s.session, s.gateway.backend, tx, 'commit', []);
  } catch (e) {
    r.state = e instanceof PhaseError && !e.connectionLost ? 'rolled-back' : 'unknown';
    r.detail = e instanceof PhaseError ? e.reason : (e as Error).message;
  }
  return r;
}

async function undoOne(s: Seen, tx: string, r: ConfirmedGateway): Promise<void> {
  r.roundTrips++;
  try {
    await runPhase(s.session, s.gateway.backend, tx, 'abort', [1]);
    Object.assign(r, { state: 'rolled-back', detail: 'undone: another gateway of the transaction could not commit' });
  } catch (e) {
    Object.assign(r, { state: 'unknown', detail: `undo failed: ${e instanceof PhaseError ? e.reason : (e as Error).message}` });
  }
}

