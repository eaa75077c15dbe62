// `natchain recover`: finds transactions a crash interrupted (a journal with no end) and brings every
// gateway of each to one consistent state: committed if every changed gateway had verified and
// is still armed, else rolled back (the dead-man timers may already have done it).
import pLimit from 'p-limit';
import { NatchainError } from '../errors.js';
import type { Gateway, Topology } from '../topology/types.js';
import type { ConnectOptions, Connector } from '../transport/types.js';
import { PhaseError, runPhase } from './exec.js';
import { ownerIdentity } from './ids.js';
import { Journal, outcomeOf, type GatewayPhase, type Outcome, type TxHistory } from './journal.js';

/** What recover did for one gateway. */
export interface RecoveredGateway {
  gateway: string;
  /** The gateway's record of the transaction before recovery (armed, applied, reverted, committed...). */
  found: string;
  action: 'none' | 'committed' | 'rolled-back' | 'released' | 'unreachable';
  state: GatewayPhase;
  detail?: string;
}

/** What recover did for one transaction. */
export interface RecoveredTx {
  tx: string;
  kind: string;
  started: string;
  outcome: Outcome;
  gateways: RecoveredGateway[];
}

/** The transactions of the journal that never ended (or ended inconsistent) and were not recovered since. */
export function unfinished(journal: Journal): TxHistory[] {
  return journal.transactions().filter((h) => outcomeOf(h) === undefined);
}

/** True when the natchain that runs a transaction is still alive on this host (recover must not race it). */
export function stillRunning(h: TxHistory): boolean {
  const m = /^(.+)@(.+):(\d+)$/.exec(h.begin?.owner ?? '');
  if (!m || m[2] !== ownerIdentity().host) return false;
  const pid = Number(m[3]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What recover needs. */
export interface RecoverOptions {
  journal: Journal;
  /** Reads the topology a transaction used. */
  topologyOf: (h: TxHistory) => Promise<Topology>;
  /** The transport settings of one transaction (asked once per transaction, not per gateway). */
  connect: (h: TxHistory) => ConnectOptions;
  /** Opens one transaction's connections (a pool: jump hosts shared); `close` ends them all. */
  sessions: (opts: ConnectOptions) => { connector: Connector; close(): Promise<void> };
  concurrency: number;
  /** Only this transaction. */
  only?: string;
}

/** Brings every interrupted transaction to a consistent state. */
export async function recover(o: RecoverOptions): Promise<RecoveredTx[]> {
  const out: RecoveredTx[] = [];
  // A transaction whose natchain is still running on this host is not interrupted: leave it alone.
  const list = unfinished(o.journal).filter((h) => (!o.only || h.tx === o.only) && !stillRunning(h));
  if (o.only && list.length === 0) {
    const known = o.journal.transactions().some((h) => h.tx === o.only);
    throw new NatchainError('NOT_FOUND', known ? `transaction ${o.only} is not interrupted; nothing to recover` : `no transaction ${o.only} in ${o.journal.file}`);
  }
  for (const h of list) out.push(await recoverOne(h, o));
  return out;
}

async function recoverOne(h: TxHistory, o: RecoverOptions): Promise<RecoveredTx> {
  const topology = await o.topologyOf(h);
  const opts = o.connect(h);
  const pool = o.sessions(opts);
  const names = h.begin!.gateways;
  const limit = pLimit(Math.max(1, o.concurrency));
  const sessions = new Map<string, Awaited<ReturnType<Connector>>>();
  const found = new Map<string, string>();
  const errors = new Map<string, string>();
  const gatewayOf = (n: string): Gateway | undefined => topology.gateways.find((g) => g.name === n);
  try {
    // Look first, everywhere: the decision needs every gateway's record of the transaction.
    await Promise.all(
      names.map((n) =>
        limit(async () => {
          const g = gatewayOf(n);
          if (!g) return void errors.set(n, `gateway ${n} is no longer in ${topology.file}`);
          try {
            const s = await pool.connector(topology, g, opts);
            sessions.set(n, s);
            const sec = await runPhase(s, g.backend, h.tx, 'inspect', []);
            found.set(n, sec.has('txstate') ? sec.get('txstate')!.trim() : 'none');
          } catch (e) {
            errors.set(n, e instanceof PhaseError ? e.reason : (e as Error).message);
          }
        }),
      ),
    );
    const changed = names.filter((n) => h.plan?.gateways[n]?.changed ?? true);
    const verifiedAll = h.plan !== undefined && changed.every((n) => (h.phases[n] ?? []).includes('verified'));
    const canCommit =
      errors.size === 0 && verifiedAll && changed.every((n) => ['applied', 'committed'].includes(found.get(n) ?? '')) && changed.some((n) => found.get(n) === 'applied');
    const allCommitted = errors.size === 0 && changed.length > 0 && changed.every((n) => found.get(n) === 'committed');
    const results: RecoveredGateway[] = [];
    await Promise.all(
      names.map((n) =>
        limit(async () => {
          const f = found.get(n) ?? 'unknown';
          const g = gatewayOf(n);
          const s = sessions.get(n);
          if (!g || !s || errors.has(n)) {
            results.push({ gateway: n, found: f, action: 'unreachable', state: 'unknown', detail: errors.get(n) ?? 'not reached' });
            return;
          }
          try {
            const isChanged = changed.includes(n);
            if (isChanged && (allCommitted || (canCommit && f === 'committed'))) {
              results.push({ gateway: n, found: f, action: 'none', state: 'committed' });
            } else if (isChanged && canCommit) {
              await runPhase(s, g.backend, h.tx, 'commit', []);
              results.push({ gateway: n, found: f, action: 'committed', state: 'committed', detail: 'every gateway had verified: finished the commit' });
            } else {
              // Roll back: undo even a gateway that committed, so all end where they began.
              const sec = await runPhase(s, g.backend, h.tx, 'abort', [1]);
              const st = (sec.get('state') ?? '').trim();
              const state: GatewayPhase = st === 'reverted' ? 'reverted-by-timer' : st === 'rolled-back' ? 'rolled-back' : st === 'revert-failed' ? 'failed' : 'released';
              const action = f === st || st === 'reverted' || st === 'aborted' || st === 'none' ? 'none' : st === 'rolled-back' ? 'rolled-back' : 'released';
              const detail =
                st === 'reverted'
                  ? 'its dead-man timer had restored the snapshot'
                  : st === 'rolled-back'
                    ? 'restored the snapshot'
                    : st === 'none'
                      ? 'the transaction never reached this gateway'
                      : 'nothing had been changed; lock released';
              results.push({ gateway: n, found: f, action, state, detail });
            }
          } catch (e) {
            results.push({ gateway: n, found: f, action: 'unreachable', state: 'unknown', detail: e instanceof PhaseError ? e.reason : (e as Error).message });
          }
        }),
      ),
    );
    results.sort((a, b) => names.indexOf(a.gateway) - names.indexOf(b.gateway));
    const consistent = results.every((r) => r.state !== 'unknown' && r.state !== 'failed');
    const outcome: Outcome = !consistent ? 'inconsistent' : results.some((r) => r.state === 'committed') ? 'committed' : 'rolled-back';
    const rec: RecoveredTx = { tx: h.tx, kind: h.begin!.kind, started: h.begin!.time, outcome, gateways: results };
    if (consistent) {
      o.journal.append({
        type: 'recovered',
        tx: h.tx,
        time: new Date().toISOString(),
        outcome,
        states: Object.fromEntries(results.map((r) => [r.gateway, r.state])),
        actions: results.map((r) => `${r.gateway}: ${r.action}${r.detail ? ` (${r.detail})` : ''}`),
      });
    }
    return rec;
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.close().catch(() => undefined)));
    await pool.close().catch(() => undefined);
  }
}
