// The simulated gateway (scripts/bench/sim, what the 1,000-gateway benchmark runs against) held
// against the real remote scripts, call for call: the same phases with the same arguments on a bare
// network namespace running src/rollout/remote-scripts.ts and on the model. After every step each
// side's own records must say the same: history lines (every ending writes one: commit, a failed
// check, an abort, a broken lock, a failed load, the timer, an undo), the line prune set apart, the
// lock, armed timers, the transaction's state, claim, previous commit and members, and which
// transaction directories prune kept. Times are the gateway's clock: compared as "a time".
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SimGateway } from '../../scripts/bench/sim/gateway.js';
import { simSession } from '../../scripts/bench/sim/session.js';
import { PhaseError, runPhase } from '../../src/rollout/exec.js';
import { changeToIntents, revertOf, stateHash } from '../../src/rollout/owned.js';
import { frame, type RemoteOp, type Sections } from '../../src/rollout/remote.js';
import { HISTORY_KEEP } from '../../src/rollout/remote-scripts.js';
import { solve } from '../../src/solve/index.js';
import type { Gateway } from '../../src/topology/types.js';
import type { GatewaySession } from '../../src/transport/types.js';
import { example } from '../support/topo.js';
import { canUseNetns, NetnsGateway, sleep } from './rollout-support.js';

const OWNER = 'sim@conformance:1';
const ROLLOUT = '20260101T000000Z-0000aa';
/** Transaction ids in order (the scripts only need the form; ids sort by time). */
const txId = (i: number) => `20260101T${String(i).padStart(6, '0')}Z-00000a`;
/** A time of the gateway's clock (epoch seconds) in a record: equal on both sides only to the second. */
const times = (s: string | undefined) => (s ?? '').replace(/(^|[\s])\d{9,11}(?=$|[\s])/g, '$1<time>');

type Side = 'real' | 'sim';
/** How a phase ended, and its sections (for what a later call needs, e.g. the snapshot). */
interface Ended {
  end: 'ok' | 'error' | 'held';
  sec?: Sections;
}

for (const backend of ['iptables', 'nftables'] as const) {
  describe(`simulated gateway vs the real remote scripts, call for call (${backend})`, function () {
    this.timeout(180_000);
    let real: NetnsGateway | undefined;
    let sessions: Record<Side, GatewaySession>;
    let sim: SimGateway;
    let gateway: Gateway;
    let v1: { text: string; expected: string };
    let v0: { text: string; expected: string };
    let n = 0;

    before(function () {
      if (!canUseNetns()) this.skip();
      const t = example('seed-vpn');
      gateway = { ...t.gateways.find((g) => g.name === 'gw-a')!, backend };
      v1 = changeToIntents(gateway, solve(t).intents['gw-a'] ?? []);
      v0 = changeToIntents(gateway, []);
      real = new NetnsGateway(`sc${backend.slice(0, 3)}`);
      sim = new SimGateway('gw-a', backend);
      sessions = { real: real.session('gw-a'), sim: simSession(sim) };
    });
    after(() => real?.destroy());

    /** Runs one phase on both sides: the script must end as `want` says, and the simulation as the script. */
    async function both(tx: string, op: RemoteOp, args: Array<string | number>, want: Ended['end'], stdin?: (side: Side, nonce: string) => string): Promise<Record<Side, Ended>> {
      const run = async (side: Side): Promise<Ended> => {
        try {
          return { end: 'ok', sec: await runPhase(sessions[side], backend, tx, op, args, stdin && ((nonce) => stdin(side, nonce))) };
        } catch (e) {
          if (!(e instanceof PhaseError)) throw e;
          return { end: e.holder ? 'held' : 'error' };
        }
      };
      const r = { real: await run('real'), sim: await run('sim') };
      expect(r.real.end, `${op} of ${tx}: the script`).to.equal(want);
      expect(r.sim.end, `${op} of ${tx}: the simulation ends as the script does`).to.equal(r.real.end);
      return r;
    }
    const prepare = (tx: string, o: { want?: typeof v1; brk?: string; fault?: string; end?: Ended['end'] } = {}) => {
      const want = o.want ?? v1;
      const meta = ['kind=apply', `owner=${OWNER}`, 'topology=0123456789abcdef', 'members=gw-a', `rollout=${ROLLOUT}`].join('\n');
      const end = o.end ?? (o.fault === 'check' ? 'error' : 'ok');
      return both(tx, 'prepare', [OWNER, o.brk ?? '-', stateHash(want.expected), 0, 0, o.fault ?? '-'], end, (_side, nonce) => frame(nonce, { meta, new: want.text, end: '' }));
    };
    const apply = (tx: string, prepared: Record<Side, Ended>, o: { secs?: number; fault?: string } = {}) =>
      both(tx, 'apply', [o.secs ?? 60, 0, o.fault ?? '-'], o.fault === 'apply' ? 'error' : 'ok', (side, nonce) => frame(nonce, { revert: revertOf(backend, prepared[side].sec?.get('snapshot') ?? ''), members: 'gw-a gw-b\n', end: '' }));
    /** Both sides' records of the gateway, and of one transaction, say the same. */
    async function sameRecords(tx: string, why: string): Promise<void> {
      const view = async (side: Side) => {
        const sec = await runPhase(sessions[side], backend, tx, 'inspect', []);
        const got: Record<string, string> = {};
        for (const k of ['last', 'lock', 'armed', 'history', 'pruned', 'txstate', 'txclaim', 'txprev', 'txdeadline', 'txmembers']) got[k] = times(sec.get(k));
        return got;
      };
      expect(await view('sim'), `${why}: the simulated gateway's records`).to.deep.equal(await view('real'));
      const dirs = readdirSync(join(real!.dir, 'lib')).filter((d) => /^\d{8}T\d{6}Z-/.test(d)).sort();
      expect(sim.transactionIds, `${why}: the transaction directories kept`).to.deep.equal(dirs);
    }

    it('a commit, a failed check, an abort, a broken lock, a failed load, an undo: the same history line for each ending', async () => {
      let tx = txId(++n);
      const p1 = await prepare(tx);
      await apply(tx, p1);
      await both(tx, 'commit', [], 'ok');
      await sameRecords(tx, 'committed');

      tx = txId(++n);
      await prepare(tx, { want: v0, fault: 'check' });
      await sameRecords(tx, 'check failed');

      tx = txId(++n);
      await prepare(tx, { want: v0 });
      await both(tx, 'abort', [0], 'ok');
      await sameRecords(tx, 'staged, then aborted');

      const dead = txId(++n);
      await prepare(dead, { want: v0 });
      tx = txId(++n);
      await prepare(tx, { want: v0, end: 'held' });
      const p2 = await prepare(tx, { want: v0, brk: dead });
      await sameRecords(dead, 'the lock of a dead prepare broken');
      await apply(tx, p2, { fault: 'apply' });
      await sameRecords(tx, 'the load refused (the script restored the snapshot, and keeps the lock for the abort)');
      await both(tx, 'abort', [0], 'ok');
      await sameRecords(tx, 'the refused load aborted');

      tx = txId(++n);
      const p3 = await prepare(tx, { want: v0 });
      await apply(tx, p3);
      await both(tx, 'commit', [], 'ok');
      await both(tx, 'abort', [1], 'ok');
      await sameRecords(tx, 'committed, then undone');
      await both(tx, 'abort', [1], 'ok');
      await sameRecords(tx, 'undone again: nothing to do');
    });

    it('the dead-man timer: the revert, its line, the lock released; the late commit is refused on both', async () => {
      const tx = txId(++n);
      const p = await prepare(tx, { want: v0 });
      await apply(tx, p, { secs: 1 });
      await sameRecords(tx, 'armed');
      // Until both timers are done (the real one is a process: a loaded machine may be late): it unlocks last.
      const done = () => existsSync(join(real!.dir, 'lib', tx, 'fired')) && !existsSync(join(real!.dir, 'run', 'lock')) && !sim.lockHolder;
      for (let i = 0; i < 150 && !done(); i++) await sleep(100);
      await sameRecords(tx, 'reverted by the timer');
      await both(tx, 'commit', [], 'error');
      await sameRecords(tx, 'the late commit refused');
    });

    // Prune does not depend on the backend (history lines and directories): once is enough (100 execs).
    if (backend === 'iptables') {
      it(`prune: past ${2 * HISTORY_KEEP} lines the commit keeps ${HISTORY_KEEP}, sets the newest dropped line apart and removes the directories no kept line names`, async () => {
        // (v1 is what the gateway holds since the undo: a prepare of it would be "unchanged", with no line.)
        for (let i = 0; i < 2 * HISTORY_KEEP; i++) await prepare(txId(++n), { want: v0, fault: 'check' });
        await sameRecords(txId(n), `${2 * HISTORY_KEEP} failed checks more`);
        const tx = txId(++n);
        const p = await prepare(tx, { want: v0 });
        await apply(tx, p);
        await both(tx, 'commit', [], 'ok');
        await sameRecords(tx, 'the commit that prunes');
      });
    }
  });
}
