// Issue 13.10 and 13.6 with the management links cut from OUTSIDE natchain, on three-hop (gw-dc is
// reached through gw-edge), both backends. The moment to strike is made by a wrapper over the
// restore binary on gw-office (bind-mounted inside its own mount namespace): it holds gw-office's
// load until the test has cut the links of the other gateways, which are armed by then. No test
// switch of natchain's is used.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cutManagement, cutSilently, holdRestore, LabWorld, sleep, until } from './rollout-support.js';

/** A forward from the office to the data centre: a change on all three gateways. */
const addWeb = (s: string) => s.replace(/^forwards:\n/m, 'forwards:\n  web:\n    from: office\n    to: 10.3.0.80:80\n    proto: tcp\n');

/** The time in "(by 2026-…Z)" at the end of a message, as epoch ms. */
function byTime(message: string): number {
  const m = /\(by (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\)$/.exec(message);
  expect(m, message).to.not.equal(null);
  return Date.parse(m![1]!);
}

for (const backend of ['iptables', 'nftables'] as const) {
  const short = backend === 'iptables' ? 'ipt' : 'nft';

  describe(`rollout faults from outside: management links cut after arming, three-hop (${backend})`, function () {
    this.timeout(120_000);
    const w = new LabWorld(backend, 'three-hop', { v1: (s) => s, v2: addWeb });
    w.hooks({
      tmp: 'cut',
      lab: `rc-${short}`,
      ready: async () => {
        // A short connect deadline (an operator's own ssh_config); keepalives as natchain's defaults
        // (5 s x 3): an open connection behind a silent cut is declared dead only after ~15 s.
        w.ssh = join(w.dir, 'ssh_config');
        writeFileSync(w.ssh, `Host *\n  ConnectTimeout 3\n\n${readFileSync(w.lab.sshConfig, 'utf8')}`);
        for (const g of ['gw-office', 'gw-edge', 'gw-dc']) expect(w.want.v2[g], `v2 changes ${g}`).to.not.equal(w.want.v1[g]);
        await w.applyVersion('v1');
      },
    });
    const { env, files, want } = w;

    /**
     * Applies v2 with gw-office's load held; once gw-edge and gw-dc are armed, `cut` strikes and
     * the load goes on. Returns natchain's answer, the transaction and when natchain had ended.
     */
    async function applyAndCut(timeoutSec: number, cut: () => Promise<unknown>) {
      const hold = await holdRestore(w, 'gw-office', 'load');
      try {
        const run = cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json', '--confirm-timeout', String(timeoutSec)], env);
        const tx = await hold.held(30_000);
        for (const g of ['gw-edge', 'gw-dc']) {
          expect(await until(w, g, `grep -qx applied /var/lib/natchain/${tx}/state 2>/dev/null`, 30_000), `${g} armed and applied`).to.equal(true);
        }
        // (Its answer, with the deadline, is on its way to natchain: let it arrive.)
        await sleep(500);
        await cut();
        await hold.release();
        const r = await run;
        return { r, tx, ended: Date.now() };
      } finally {
        await hold.remove();
      }
    }

    /** The gateway's own record: its timer claimed the transaction (when: epoch ms) and reverted it. */
    async function timerFired(gw: string, tx: string): Promise<number> {
      expect(await until(w, gw, `grep -qx reverted /var/lib/natchain/${tx}/state 2>/dev/null`, 20_000), `${gw} reverted by its timer`).to.equal(true);
      expect(await w.sh(gw, `cat /var/lib/natchain/${tx}/claim`), `${gw}: the timer decided`).to.equal('timer\n');
      return Number((await w.sh(gw, `date -r /var/lib/natchain/${tx}/claim +%s%N`)).trim()) / 1e6;
    }

    it('13.10: the jump host gw-edge is cut (its sshd killed, its socket gone) after gw-edge and gw-dc are armed: both are named, in the plural, with a time ahead; gw-office is rolled back; both timers revert by then', async () => {
      let repair = () => {};
      try {
        const { r, tx, ended } = await applyAndCut(8, async () => (repair = await cutManagement(w, 'gw-edge')));
        expect(r.code, r.stdout + r.stderr).to.equal(1);
        const message: string = r.json.error.message;
        console.log(`      ${message}`);
        expect(message).to.match(/^gw-(edge|dc): verify failed \(a new SSH connection failed after the apply: [^;]*\); rolled back gw-office; gw-edge, gw-dc could not be reached and restore themselves when their dead-man timers fire \(by [^)]+\)$/);
        const by = byTime(message);
        expect(by, 'the time given is still ahead when natchain ends').to.be.above(ended);
        expect(r.json.outcome).to.equal('rolled-back');
        const state = (g: string) => r.json.gateways.find((x: { gateway: string }) => x.gateway === g);
        expect(state('gw-office')).to.include({ state: 'rolled-back' });
        for (const g of ['gw-edge', 'gw-dc']) {
          expect(state(g).state, g).to.equal('unknown');
          expect(state(g).detail, g).to.match(/^unreachable \(.*\); its dead-man timer restores the snapshot by \d{4}-/);
        }
        for (const g of ['gw-edge', 'gw-dc']) expect(await timerFired(g, tx), `${g}'s timer fired by the time given`).to.be.at.most(by);
      } finally {
        repair();
      }
      await w.expectAll(want.v1, 'all as before');
    });

    it('13.6: a silent cut of gw-dc behind its jump host (its SSH packets dropped inside its namespace), its rollback hanging on the open connection: natchain gives up before gw-dc\'s timer and ends before the time it gives, which is still ahead; gw-dc alone, in the singular; it reverted by then', async () => {
      let repair = async () => {};
      try {
        // 10 s: the rollback over gw-dc's open connection would hang past it (keepalives: ~15 s).
        const { r, tx, ended } = await applyAndCut(10, async () => (repair = await cutSilently(w, 'gw-dc')));
        expect(r.code, r.stdout + r.stderr).to.equal(1);
        const message: string = r.json.error.message;
        console.log(`      ${message}`);
        expect(message).to.match(/^gw-dc: verify failed \(a new SSH connection failed after the apply: gw-dc: gw-edge did not open a connection to gw-dc:22 within 3 s\); rolled back gw-office, gw-edge; gw-dc could not be reached and restores itself when its dead-man timer fires \(by [^)]+\)$/);
        const by = byTime(message);
        expect(by, 'the time given is still ahead when natchain ends').to.be.above(ended);
        const state = (g: string) => r.json.gateways.find((x: { gateway: string }) => x.gateway === g);
        for (const g of ['gw-office', 'gw-edge']) expect(state(g), g).to.include({ state: 'rolled-back' });
        expect(state('gw-dc').state).to.equal('unknown');
        expect(state('gw-dc').detail).to.match(/^unreachable \(no answer before its dead-man timer fires\); its dead-man timer restores the snapshot by \d{4}-/);
        expect(await w.owned('gw-dc'), 'gw-dc still holds v2 until its timer fires').to.equal(want.v2['gw-dc']);
        await sleep(Math.max(0, by - Date.now()));
        expect(await timerFired('gw-dc', tx), "gw-dc's timer fired by the time given").to.be.at.most(by);
      } finally {
        await repair();
      }
      await w.expectAll(want.v1, 'all as before');
    });
  });
}
