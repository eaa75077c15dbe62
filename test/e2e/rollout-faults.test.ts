// Issue 13: the transaction under faults injected from OUTSIDE natchain (SIGKILL of the natchain
// process, SIGSTOP/SIGKILL of a gateway's sshd, a read-only or full state directory mounted
// inside the gateway's mount namespace), on both backends. Every scenario asserts every
// gateway's end state, the foreign rules byte-identical, the records on each gateway and what
// the user was told. (The `pause:` test switch only says WHEN to strike: it changes nothing.)
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, holdCommit, holdRestore, LabWorld, seedVpnPort, signal, sleep, sshdPids, until, type CliResult } from './rollout-support.js';

/** Every gateway's owned state now (what "nothing changed" is compared with). */
async function ownedNow(w: LabWorld): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(w.topology.gateways.map(async (g) => [g.name, await w.owned(g.name)] as const)));
}

/** recover's report of `tx`: it committed, gw-a as it found it and gw-b rolled forward. */
function rolledForward(rec: CliResult, tx: string) {
  expect(rec.code, rec.stdout + rec.stderr).to.equal(0);
  const t = rec.json.transactions.find((x: { tx: string }) => x.tx === tx);
  expect(t.outcome).to.equal('committed');
  const [a, b] = ['gw-a', 'gw-b'].map((n) => t.gateways.find((g: { gateway: string }) => g.gateway === n));
  expect(a).to.include({ found: 'committed', action: 'none', state: 'committed' });
  expect(b).to.include({ found: 'reverted', action: 'rolled-forward', state: 'committed' });
  return t;
}

const last = (w: LabWorld, gw: string) => w.sh(gw, 'cat /var/lib/natchain/last 2>/dev/null || true').then((s) => s.trim());

for (const backend of ['iptables', 'nftables'] as const) {
  const short = backend === 'iptables' ? 'ipt' : 'nft';

  describe(`rollout faults from outside: seed-vpn (${backend})`, function () {
    this.timeout(180_000);
    const w = new LabWorld(backend, 'seed-vpn', { v1: (s) => s, v2: seedVpnPort(22013), v3: seedVpnPort(22014) });
    w.hooks({ tmp: 'faults', lab: `rf-${short}`, ready: () => w.applyVersion('v1') });
    const { env, files, want } = w;

    /**
     * Applies `file`, and once every gateway is armed: stops gw-b's sshd (its commit hangs), waits
     * until gw-a has committed, then SIGKILLs natchain and gw-b's sshd. Returns the transaction id.
     */
    async function killDuringCommit(file: string, timeoutSec: number): Promise<{ tx: string; r: CliResult }> {
      let tx = '';
      let stopped: number[] = [];
      let struck: Promise<void> | undefined;
      const run = cli(['apply', file, '-F', w.ssh, '--yes', '--confirm-timeout', String(timeoutSec)], { ...env, NATCHAIN_TEST_FAULT: 'pause:commit:1500' }, (chunk, pid) => {
        const m = /paused before commit \(tx (\S+)\)/.exec(chunk);
        if (!m) return;
        tx = m[1]!;
        struck = (async () => {
          stopped = await sshdPids(w, 'gw-b');
          signal(stopped, 'SIGSTOP');
          const committed = await until(w, 'gw-a', `grep -qx committed /var/lib/natchain/${tx}/state 2>/dev/null`, 10_000);
          process.kill(pid, 'SIGKILL');
          signal(stopped, 'SIGKILL');
          expect(committed, 'gw-a committed before natchain was killed').to.equal(true);
        })();
      });
      const r = await run;
      await struck;
      expect(r.code, 'natchain was SIGKILLed').to.equal(null);
      return { tx, r };
    }

    it('13.3 + 13.9: SIGKILL during the commit: gw-a committed, gw-b reverts; plan/status/apply name the unfinished transaction; recover rolls gw-b FORWARD; the journal holds deadlines, the decision and what recover found, and no foreign rule', async () => {
      const before = await last(w, 'gw-a');
      const { tx } = await killDuringCommit(files.v2, 6);
      expect(await w.owned('gw-a'), 'gw-a committed v2').to.equal(want.v2['gw-a']);
      expect(await last(w, 'gw-a')).to.equal(tx);
      const st = await cli(['status', files.v2, '-F', w.ssh, '--json'], env);
      expect(st.stderr).to.include(`transaction ${tx}`).and.include('natchain recover');
      const plan = await cli(['plan', files.v2, '-F', w.ssh], env);
      expect(plan.stderr).to.include(`transaction ${tx}`);
      // gw-b's timer fires: it goes back to v1, its commit record unchanged.
      expect(await until(w, 'gw-b', `grep -qx reverted /var/lib/natchain/${tx}/state 2>/dev/null`, 15_000), 'gw-b reverted by its timer').to.equal(true);
      await sleep(300);
      expect(await w.owned('gw-b')).to.equal(want.v1['gw-b']);
      expect(await last(w, 'gw-b')).to.equal(before);
      const t = rolledForward(await cli(['recover', '--json'], env), tx);
      expect(t.rollForward).to.match(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
      await w.expectAll(want.v2, 'after recover rolled gw-b forward');
      expect(await last(w, 'gw-b'), "gw-b's commit record names the roll-forward").to.equal(t.rollForward);
      expect(await w.sh('gw-b', 'cut -f1,4,5 /var/lib/natchain/history | tail -n 2')).to.equal(`${tx}\tapply\treverted\n${t.rollForward}\troll-forward\tcommitted\n`);
      const journal = readFileSync(join(env.NATCHAIN_STATE_DIR, 'journal.jsonl'), 'utf8');
      const records = journal.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.tx === tx);
      expect(records.map((x) => x.type)).to.include.members(['begin', 'plan', 'armed', 'decision', 'recovered']);
      expect(Object.keys(records.find((x) => x.type === 'armed').deadlines).sort()).to.deep.equal(['gw-a', 'gw-b']);
      expect(records.find((x) => x.type === 'recovered').found).to.deep.equal({ 'gw-a': 'committed', 'gw-b': 'reverted' });
      expect(journal, 'no foreign rule in the journal').to.not.match(/DOCKER|MASQUERADE|ADMIN-FWD|table inet admin/);
      const again = await cli(['recover', '--json'], env);
      expect(again.json.transactions).to.deep.equal([]);
    });

    it('13.1: a transaction superseded by a later apply is never recovered: recover says "superseded" and touches nothing', async () => {
      const back = await cli(['apply', files.v1, '-F', w.ssh, '--yes'], env);
      expect(back.code, back.stderr).to.equal(0);
      const { tx } = await killDuringCommit(files.v2, 5);
      expect(await until(w, 'gw-b', `grep -qx reverted /var/lib/natchain/${tx}/state 2>/dev/null`, 15_000)).to.equal(true);
      const v3 = await cli(['apply', files.v3, '-F', w.ssh, '--yes', '--json'], env);
      expect(v3.code, v3.stderr).to.equal(0);
      await w.expectAll(want.v3, 'v3 committed everywhere');
      const rec = await cli(['recover', '--json'], env);
      expect(rec.code, rec.stdout + rec.stderr).to.equal(0);
      const t = rec.json.transactions.find((x: { tx: string }) => x.tx === tx);
      expect(t.outcome).to.equal('superseded');
      for (const g of t.gateways) expect(g, g.gateway).to.include({ action: 'none', state: 'superseded' });
      expect(t.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a').detail).to.include(v3.json.tx);
      await w.expectAll(want.v3, 'recover changed nothing');
      for (const g of ['gw-a', 'gw-b']) expect(await last(w, g), `${g} commit record`).to.equal(v3.json.tx);
      const st = await cli(['status', files.v3, '-F', w.ssh, '--json'], env);
      expect(st.code, st.stdout + st.stderr).to.equal(0);
      expect(st.stderr).to.not.include(tx);
    });

    it('13.2: the timer fires on gw-b while its commit hangs: gw-a is undone and its commit record names the earlier commit again (status in sync)', async () => {
      const before = await last(w, 'gw-a');
      let stopped: number[] = [];
      let struck: Promise<void> | undefined;
      const r = await cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json', '--confirm-timeout', '5'], { ...env, NATCHAIN_TEST_FAULT: 'pause:commit:500' }, (chunk) => {
        const m = /paused before commit \(tx (\S+)\)/.exec(chunk);
        if (!m) return;
        struck = (async () => {
          stopped = await sshdPids(w, 'gw-b');
          signal(stopped, 'SIGSTOP');
          await until(w, 'gw-b', `grep -qx reverted /var/lib/natchain/${m[1]}/state 2>/dev/null`, 15_000);
          signal(stopped, 'SIGKILL');
        })();
      });
      await struck;
      expect(r.code, r.stderr).to.equal(1);
      expect(r.json.outcome).to.equal('rolled-back');
      expect(r.json.failure).to.include({ gateway: 'gw-b', phase: 'commit' });
      expect(r.json.failure.reason).to.match(/dead-man timer already fired/);
      const a = r.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a');
      expect(a.state).to.equal('rolled-back');
      await w.expectAll(want.v3, 'all back to v3');
      expect(await last(w, 'gw-a'), "gw-a's commit record names the commit before again").to.equal(before);
      expect(await w.sh('gw-a', `cat /var/lib/natchain/${r.json.tx}/state`)).to.equal('rolled-back\n');
      const st = await cli(['status', files.v3, '-F', w.ssh, '--json'], env);
      expect(st.code, st.stdout + st.stderr).to.equal(0);
      for (const g of st.json.gateways) expect(g, g.gateway).to.include({ sync: 'in-sync', lastTx: before });
    });

    it('13.8: the management connection to gw-a is killed after the apply: the change commits over the new connection and the report says so', async () => {
      let struck: Promise<void> | undefined;
      const r = await cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json'], { ...env, NATCHAIN_TEST_FAULT: 'pause:verify:1500' }, (chunk) => {
        if (chunk.includes('paused before verify')) struck = sshdPids(w, 'gw-a').then((p) => signal(p, 'SIGKILL'));
      });
      await struck;
      expect(r.code, r.stderr).to.equal(0);
      expect(r.json.outcome).to.equal('committed');
      const a = r.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a');
      expect(a).to.include({ state: 'committed', roundTrips: 3 });
      expect(a.detail).to.match(/committed over a new connection \(the management connection was lost after the apply\)/);
      await w.expectAll(want.v2, 'v2 committed');
      for (const g of ['gw-a', 'gw-b']) expect(await last(w, g)).to.equal(r.json.tx);
    });

    it('13.4: a read-only /run/natchain is an error taking the lock, not a lock "held by ?"; nothing changes', async () => {
      const start = await ownedNow(w);
      await w.sh('gw-a', 'mount -o remount,bind,ro /run/natchain');
      try {
        const r = await cli(['apply', files.v3, '-F', w.ssh, '--yes', '--json'], env);
        expect(r.code).to.equal(1);
        expect(r.json.error.code).to.equal('REMOTE');
        expect(r.json.error.message).to.match(/gw-a: prepare failed: cannot take natchain's lock \/run\/natchain\/lock \(.*Read-only file system\); nothing was changed/);
        expect(r.stderr).to.not.match(/locked by|break-lock/);
      } finally {
        await w.sh('gw-a', 'mount -o remount,bind,rw /run/natchain');
      }
      await w.expectAll(start, 'nothing changed');
    });

    it('13.5: a full /var/lib/natchain is reported as "no space left" before anything changes; no empty ruleset is staged', async () => {
      const start = await ownedNow(w);
      await w.sh('gw-b', 'mount -t tmpfs -o size=16k tmpfs /var/lib/natchain && head -c 16384 /dev/zero > /var/lib/natchain/fill 2>/dev/null; true');
      try {
        const r = await cli(['apply', files.v3, '-F', w.ssh, '--yes', '--json'], env);
        expect(r.code).to.equal(1);
        expect(r.json.error.message).to.match(/gw-b: prepare failed: no space left on \/var\/lib\/natchain \(\d+ KiB free\); nothing was changed/);
        expect(r.json.outcome).to.equal('aborted');
        expect(await w.sh('gw-b', 'find /var/lib/natchain -name "new*" -size 0')).to.equal('');
      } finally {
        await w.sh('gw-b', 'umount /var/lib/natchain');
      }
      await w.expectAll(start, 'nothing changed');
    });

    it('9: --confirm manual leaves every gateway armed and exits 0; natchain confirm from another state dir commits it', async () => {
      const start = await ownedNow(w);
      const target = start['gw-a'] === want.v1['gw-a'] ? 'v3' : 'v1';
      const r = await cli(['apply', files[target], '-F', w.ssh, '--yes', '--json', '--confirm', 'manual', '--confirm-timeout', '60'], env);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.json.outcome).to.equal('armed');
      expect(r.json.deadline).to.be.a('number');
      for (const g of r.json.gateways) expect(g, g.gateway).to.include({ state: 'armed', roundTrips: 2 });
      for (const g of w.topology.gateways) {
        expect(await w.owned(g.name), `${g.name} applied`).to.equal(want[target][g.name]);
        expect(await w.sh(g.name, 'ls /var/lib/natchain/*/armed | wc -l'), `${g.name} armed`).to.equal('1\n');
      }
      const other = { NATCHAIN_STATE_DIR: join(w.dir, 'state-of-another-operator') };
      const c = await cli(['confirm', files[target], '-F', w.ssh, '--json'], other);
      expect(c.code, c.stdout + c.stderr).to.equal(0);
      expect(c.json).to.include({ tx: r.json.tx, outcome: 'committed' });
      for (const g of c.json.gateways) expect(g, g.gateway).to.include({ state: 'committed' });
      await w.expectAll(want[target], 'confirmed');
      for (const g of ['gw-a', 'gw-b']) expect(await last(w, g)).to.equal(r.json.tx);
    });

    it('9: --confirm manual left alone reverts at the deadline; --lock-timeout waits for its lock and then succeeds', async () => {
      const start = await ownedNow(w);
      const target = start['gw-a'] === want.v2['gw-a'] ? 'v3' : 'v2';
      const r = await cli(['apply', files[target], '-F', w.ssh, '--yes', '--confirm', 'manual', '--confirm-timeout', '25'], env);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/armed: transaction \S+ is applied and verified, not committed\. Commit it before \d{4}-\d\d-\d\dT[\d:.]+Z with:/).and.include('natchain confirm');
      const refused = await cli(['apply', files.v1, '-F', w.ssh, '--yes', '--json'], env);
      expect(refused.code).to.equal(1);
      expect(refused.json.error.code).to.equal('LOCKED');
      const t0 = Date.now();
      const waited = await cli(['apply', files.v1, '-F', w.ssh, '--yes', '--json', '--lock-timeout', '60'], env);
      expect(waited.code, waited.stderr).to.equal(0);
      expect(waited.stderr, waited.stderr).to.match(/is locked by transaction .*waiting \(--lock-timeout\)/);
      expect(Date.now() - t0).to.be.above(1000);
      await w.expectAll(want.v1, 'the waiting apply committed after the manual one reverted');
      const rec = await cli(['recover', '--json'], env);
      expect(rec.code, rec.stdout + rec.stderr).to.equal(0);
    });

    /** A version of the topology that changes every gateway from what it holds now. */
    const another = async (...order: Array<'v1' | 'v2' | 'v3'>) => {
      const now = await ownedNow(w);
      return order.find((v) => ['gw-a', 'gw-b'].every((g) => want[v][g] !== now[g]))!;
    };
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

    /** Applies `file` with gw-b's commit exec held (a wrapper over timeout(1) there), SIGKILLs natchain once gw-a committed; the transaction id. */
    async function killWithCommitHeld(file: string, runEnv: Record<string, string>): Promise<string> {
      const hold = await holdCommit(w, 'gw-b');
      try {
        const run = cli(['apply', file, '-F', w.ssh, '--yes', '--confirm-timeout', '10'], runEnv);
        const tx = await hold.held(30_000);
        expect(await until(w, 'gw-a', `grep -qx committed /var/lib/natchain/${tx}/state 2>/dev/null`, 10_000), 'gw-a committed').to.equal(true);
        process.kill(run.pid, 'SIGKILL');
        expect((await run).code, 'natchain was SIGKILLed').to.equal(null);
        return tx;
      } finally {
        await hold.drop();
        await hold.remove();
      }
    }

    it('13.3 from another machine: natchain SIGKILLed while gw-b\'s commit exec is held (a wrapper over timeout(1) on gw-b): status and plan with a fresh state dir name the transaction, what each gateway holds and recover; recover from there rolls gw-b forward', async () => {
      const target = await another('v2', 'v3');
      const tx = await killWithCommitHeld(files[target], env);
      const other = { NATCHAIN_STATE_DIR: join(w.dir, `state-of-another-machine-${target}`) };
      const head = `natchain: transaction ${tx} \\(apply by root@\\S+:\\d+\\) committed on some of its gateways only \\(natchain stopped during its commit\\): gw-a committed; `;
      const tail = `\\. natchain recover ${esc(files[target])} finishes it \\(brings gw-b to what the others committed\\)\n`;
      const st = await cli(['status', files[target], '-F', w.ssh, '--json'], other);
      expect(st.code, st.stderr).to.equal(1);
      expect(st.stderr).to.match(new RegExp(`^${head}gw-b still armed \\(its dead-man timer restores the old state at \\d{4}-[^)]+\\)${tail}$`));
      expect(st.json.split).to.have.length(1);
      expect(st.json.split[0]).to.deep.include({ tx, kind: 'apply', states: { 'gw-a': 'committed', 'gw-b': 'armed' } });
      expect(await until(w, 'gw-b', `grep -qx reverted /var/lib/natchain/${tx}/state 2>/dev/null`, 20_000), 'gw-b reverted by its timer').to.equal(true);
      const plan = await cli(['plan', files[target], '-F', w.ssh], other);
      expect(plan.stderr, plan.stderr).to.match(new RegExp(`^${head}gw-b reverted by its dead-man timer${tail}`));
      const quiet = await cli(['recover', '--json'], other);
      expect(quiet.json.transactions, 'without a topology, an empty journal knows nothing').to.deep.equal([]);
      const t = rolledForward(await cli(['recover', files[target], '-F', w.ssh, '--json'], other), tx);
      await w.expectAll(want[target], 'recovered from another machine: all new');
      expect(await last(w, 'gw-b')).to.equal(t.rollForward);
      const after = await cli(['status', files[target], '-F', w.ssh, '--json'], other);
      expect(after.code, after.stderr).to.equal(0);
      expect(after.json.split).to.deep.equal([]);
      expect(after.stderr).to.not.include(tx);
      // This machine's journal still had it unfinished: its recover finds it finished by another and touches nothing.
      const mine = await cli(['recover', '--json'], env);
      expect(mine.code, mine.stdout + mine.stderr).to.equal(0);
      expect(mine.json.transactions.find((x: { tx: string }) => x.tx === tx)).to.include({ outcome: 'superseded' });
      await w.expectAll(want[target], 'nothing touched');
    });

    it('13.3 from another machine, apply: after natchain was SIGKILLed during the commit and gw-b\'s timer reverted it, an apply from a fresh state dir names the transaction, then commits all new', async () => {
      const target = await another('v2', 'v3');
      // A state dir of its own: this machine's records are stale after the other machine's recover (its apply would re-plan).
      const killer = { NATCHAIN_STATE_DIR: join(w.dir, `state-killed-${target}`) };
      const tx = await killWithCommitHeld(files[target], killer);
      expect(await until(w, 'gw-b', `grep -qx reverted /var/lib/natchain/${tx}/state 2>/dev/null`, 20_000), 'gw-b reverted by its timer').to.equal(true);
      const third = { NATCHAIN_STATE_DIR: join(w.dir, `state-of-a-third-machine-${target}`) };
      const r = await cli(['apply', files[target], '-F', w.ssh, '--yes'], third);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.include(
        `natchain: transaction ${tx} committed on some of its gateways only (natchain stopped during its commit): gw-a committed; gw-b reverted by its dead-man timer. This apply replaces it on them once it commits`,
      );
      await w.expectAll(want[target], 'applied from a third machine: all new');
      const st = await cli(['status', files[target], '-F', w.ssh, '--json'], third);
      expect(st.code, st.stderr).to.equal(0);
      expect(st.json.split).to.deep.equal([]);
      // The killed apply's journal still had it unfinished: its recover finds it superseded and touches nothing.
      const mine = await cli(['recover', '--json'], killer);
      expect(mine.code, mine.stdout + mine.stderr).to.equal(0);
      expect(mine.json.transactions.find((x: { tx: string }) => x.tx === tx)).to.include({ outcome: 'superseded' });
      await w.expectAll(want[target], 'nothing touched');
    });

    it('13 (prepare killed): SIGKILL while gw-a\'s check is held (a wrapper over the restore binary): the lock names the dead transaction; --break-lock from another machine takes over and the history says it was aborted; the next prune removes its directory, and one no history line names', async () => {
      const target = await another('v1', 'v2', 'v3');
      const hold = await holdRestore(w, 'gw-a', 'check');
      let tx = '';
      try {
        // (A state directory of its own: no record of these gateways, so both take part in the change and are prepared.)
        const run = cli(['apply', files[target], '-F', w.ssh, '--yes'], { NATCHAIN_STATE_DIR: join(w.dir, 'state-of-the-killed-apply') });
        tx = await hold.held(30_000);
        process.kill(run.pid, 'SIGKILL');
        expect((await run).code, 'natchain was SIGKILLed').to.equal(null);
      } finally {
        await hold.remove();
      }
      for (const g of ['gw-a', 'gw-b']) expect(await until(w, g, `[ "$(head -n 1 /run/natchain/lock/owner)" = ${tx} ]`, 5000), `${g} locked by ${tx}`).to.equal(true);
      const other = { NATCHAIN_STATE_DIR: join(w.dir, 'state-after-a-dead-prepare') };
      const refused = await cli(['apply', files[target], '-F', w.ssh, '--yes', '--json'], other);
      expect(refused.code).to.equal(1);
      expect(refused.json.error.code).to.equal('LOCKED');
      expect(refused.json.error.message).to.match(new RegExp(`^gw-[ab] is locked by transaction ${tx} of root@\\S+:\\d+, taken \\d+s ago \\(if that natchain is dead: natchain recover, or --break-lock ${tx}\\); nothing was changed$`));
      const took = await cli(['apply', files[target], '-F', w.ssh, '--yes', '--json', '--break-lock', tx], other);
      expect(took.code, took.stderr).to.equal(0);
      await w.expectAll(want[target], 'applied after breaking the dead lock');
      for (const g of ['gw-a', 'gw-b']) {
        expect(await w.sh(g, `grep "^${tx}	" /var/lib/natchain/history | cut -f1,4,5`), `${g}: the history names the dead transaction`).to.equal(`${tx}\tapply\taborted\n`);
        expect(await w.sh(g, `cat /var/lib/natchain/${tx}/state`)).to.equal('aborted\n');
      }
      // gw-a then sees 100 more transactions (their lines written from outside: this test does not run 100 applies)
      // and holds a directory no line names (a prepare cut short by a reboot: no lock, no line).
      const orphan = '20250101T000000Z-0a0b0c';
      await w.sh('gw-a', `mkdir /var/lib/natchain/${orphan} && echo staged > /var/lib/natchain/${orphan}/state; i=1; while [ $i -le 100 ]; do printf '20250101T%06dZ-abcdef\\t1735689600\\t-\\tapply\\taborted\\t-\\n' $i; i=$((i + 1)); done >> /var/lib/natchain/history`);
      const back = await cli(['apply', files.v1 === files[target] ? files.v2 : files.v1, '-F', w.ssh, '--yes', '--json'], other);
      expect(back.code, back.stderr).to.equal(0);
      expect(back.json.outcome).to.equal('committed');
      expect(await w.sh('gw-a', 'wc -l < /var/lib/natchain/history')).to.equal('50\n');
      const dirs = (await w.sh('gw-a', 'cd /var/lib/natchain && for d in */; do echo ${d%/}; done')).split('\n').filter(Boolean);
      expect(dirs, 'the dead transaction\'s directory was pruned').to.not.include(tx);
      expect(dirs, 'the unnamed directory was pruned').to.not.include(orphan);
      const named = new Set((await w.sh('gw-a', 'cut -f1 /var/lib/natchain/history; cat /var/lib/natchain/last; cat /var/lib/natchain/$(cat /var/lib/natchain/last)/prev')).split('\n'));
      for (const d of dirs) expect(named.has(d), `${d} is named by the history or the commit record`).to.equal(true);
      expect(await last(w, 'gw-a')).to.equal(back.json.tx);
    });
  });
}
