// Exec 2 (arm the dead-man timer + load + read back) on every changed gateway, then the
// lock-out proof: a NEW connection to each (the commit will go over it).
import { nameTable } from '../names.js';
import { frame } from './remote.js';
import { canonicalOf, ownedDump, revertOf } from './owned.js';
import { PhaseError } from './exec.js';
import { isClosed, reasonOf, Stop, watch, type TxRun } from './tx-run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Arms, loads and reads back every changed gateway; any failure stops the transaction (rolled back). */
export async function applyAll(run: TxRun): Promise<void> {
  await run.pause('apply');
  const o = run.o;
  const deadlines = nameTable<number>(); // keyed by gateway name: `constructor` is just a name
  // Every changed gateway keeps the list of all of them: `natchain confirm` and `recover` read it there.
  const members = run.changed.map((g) => g.gateway.name).join(' ');
  await run.each(run.changed, async (gw) => {
    const name = gw.gateway.name;
    try {
      gw.armed = true;
      gw.applyTried = true;
      const fault = o.faults.remote('apply', name) ? 'apply' : o.faults.remote('disconnect', name) ? 'disconnect' : '-';
      const sec = await run.step(gw, 'apply', () =>
        run.exec(gw, gw.session!, 'apply', [o.confirmTimeoutSec, gw.plan!.enableIpForward ? 1 : 0, fault], (nonce) =>
          frame(nonce, { revert: revertOf(gw.gateway.backend, gw.snapshot ?? ''), members: members + '\n', end: '' }),
        ),
      );
      gw.firesBy = Date.now() + o.confirmTimeoutSec * 1000;
      gw.deadline = Number((sec.get('deadline') ?? '').trim()) || undefined;
      if (gw.deadline) deadlines[name] = gw.deadline;
      const dump = sec.get('readback') ?? '';
      run.mark(gw, 'applied');
      o.journal.append({ type: 'readback', tx: run.tx, time: new Date().toISOString(), gateway: name, dump: ownedDump(gw.gateway.backend, dump) });
      if (canonicalOf(gw.gateway.backend, dump) !== gw.change!.expected) {
        gw.detail = 'read-back differs from what was sent';
        run.fail(gw, 'verify', gw.detail);
      }
    } catch (e) {
      // A clean failure means the script restored the snapshot itself; a lost connection leaves it to the timer.
      if (e instanceof PhaseError && !e.connectionLost) gw.armed = false;
      // Lost: if the timer was armed, it was before now, so it fires within the timeout from now.
      else gw.firesBy = Date.now() + o.confirmTimeoutSec * 1000;
      gw.detail = reasonOf(e);
      run.fail(gw, 'apply', gw.detail);
    }
  });
  o.journal.append({ type: 'armed', tx: run.tx, time: new Date().toISOString(), deadlines });
  o.journal.flush();
  const f = run.failure;
  if (f) throw new Stop(`${f.gateway}: ${f.phase} failed (${f.reason}); rolled back`);
}

/** Opens a new connection to every changed gateway: natchain still gets in through the new rules. */
export async function verifyAll(run: TxRun): Promise<void> {
  await run.pause('verify');
  const o = run.o;
  // With a disconnect fault, give the dying connection its moment, as a real failure would take.
  for (const gw of run.changed) if (o.faults.remote('disconnect', gw.gateway.name)) await Promise.race([gw.session!.closed, sleep(5000)]);
  await run.each(run.changed, async (gw) => {
    try {
      await run.step(gw, 'verify', async () => {
        gw.fresh = watch(await run.openFresh(gw));
      });
      if (await isClosed(gw.session!)) gw.managementLost = true;
      run.mark(gw, 'verified', gw.managementLost ? 'the management connection was lost after the apply; a new one got in' : undefined);
    } catch (e) {
      gw.detail = `a new SSH connection failed after the apply: ${(e as Error).message}`;
      run.fail(gw, 'verify', gw.detail);
    }
  });
  const f = run.failure;
  if (f) throw new Stop(`${f.gateway}: verify failed (${f.reason}); rolled back`);
  if (run.interrupted('commit')) throw new Stop('interrupted before commit; rolled back');
}
