// The transaction in the lab: real sshd per gateway (through unix sockets), real netfilter, both
// backends. Every scenario asserts the end state of EVERY gateway: natchain's owned state, the
// foreign rules byte-identical, no lock left, no timer armed.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labProbe } from '../../src/lab/index.js';
import { ed25519KeyPair } from '../../src/lab/keys.js';
import { canonicalOf } from '../../src/rollout/owned.js';
import { natchain } from '../support/cli.js';
import { cli, cutManagement, holdRestore, journaled, LabWorld, seedVpnPort, sleep, until, type CliResult } from './rollout-support.js';

for (const backend of ['iptables', 'nftables'] as const) {
  const short = backend === 'iptables' ? 'ipt' : 'nft';

  describe(`rollout in the lab: seed-vpn (${backend})`, function () {
    this.timeout(120_000);
    // v2: the same forward on another public port: every gateway must change.
    const w = new LabWorld(backend, 'seed-vpn', { v1: (s) => s, v2: seedVpnPort(22013) });
    w.hooks({ tmp: 'rollout', lab: `rt-vpn-${short}` });
    const { env, files, want } = w;

    it('1. applies seed-vpn in 3 round trips per gateway; TCP reaches 10.0.0.12:22 through both gateways; again is a no-op; plan is in sync', async () => {
      await w.expectAll(w.empty(), 'before');
      const plan0 = await cli(['plan', files.v1, '-F', w.ssh], env);
      expect(plan0.code, plan0.stderr).to.equal(2);
      const plan0j = await cli(['plan', files.v1, '-F', w.ssh, '--json'], env);
      expect(plan0j.code, plan0j.stderr).to.equal(2);
      expect(plan0j.json).to.include({ inSync: false, exitCode: 2 });
      for (const g of plan0j.json.gateways) {
        // Every rule of the canonical state is new (iptables `-A` lines, nft `rule` lines).
        const rules = want.v1[g.gateway]!.split('\n').filter((l) => (backend === 'iptables' ? l.startsWith('-A ') : l.startsWith('  rule '))).length;
        expect(rules, g.gateway).to.be.above(0);
        expect(g, g.gateway).to.include({ status: 'changes', rulesAdded: rules, rulesRemoved: 0 });
        expect(g.forwards).to.deep.equal({ added: ['ssh-12'], removed: [], changed: [] });
      }
      const t0 = Date.now();
      const r = await cli(['apply', files.v1, '-F', w.ssh, '--yes', '--json'], env);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.json.outcome).to.equal('committed');
      for (const g of r.json.gateways) {
        expect(g.state).to.equal('committed');
        expect(g.roundTrips, `${g.gateway} round trips`).to.equal(3);
      }
      console.log(`      apply took ${Date.now() - t0} ms (CLI start included), transaction ${r.json.elapsedMs} ms`);
      await w.expectAll(want.v1, 'after apply');
      const probe = await labProbe(w.lab, 'client-b', { proto: 'tcp', address: '10.0.0.12', port: 22 });
      expect(probe.ok, JSON.stringify(probe)).to.equal(true);
      if (probe.ok) {
        expect(probe.fields.host).to.equal('server-ssh-12');
        expect(probe.fields.peer, 'the server sees gw-b, as in the seed').to.equal('143.89.135.171');
      }
      const again = await cli(['apply', files.v1, '-F', w.ssh, '--yes', '--json'], env);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.json.outcome).to.equal('noop');
      // In sync by natchain's records (the apply's own read-back): no gateway is read or logged into.
      for (const g of again.json.gateways) expect(g, g.gateway).to.include({ state: 'unchanged', roundTrips: 0 });
      const plan = await cli(['plan', files.v1, '-F', w.ssh, '--json'], env);
      expect(plan.code, plan.stderr).to.equal(0);
      expect(plan.json.inSync).to.equal(true);
      const status = await cli(['status', files.v1, '-F', w.ssh, '--json'], env);
      expect(status.code, status.stdout + status.stderr).to.equal(0);
      for (const g of status.json.gateways) expect(g.sync).to.equal('in-sync');
      await w.expectAll(want.v1, 'after the no-op');
    });

    it('2. a check that fails on one gateway changes nothing anywhere', async () => {
      const r = await cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json', '--test-fault', 'check:gw-a'], env);
      expect(r.code).to.equal(1);
      expect(r.json.failure).to.include({ gateway: 'gw-a', phase: 'check' });
      await w.expectAll(want.v1, 'after a failed check');
    });

    it('3. an apply that fails on one gateway (the kernel refuses the load) rolls back the other', async () => {
      const last = await w.sh('gw-a', 'cat /var/lib/natchain/last');
      expect(await w.sh('gw-b', 'cat /var/lib/natchain/last')).to.equal(last);
      const r = await cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json', '--test-fault', 'apply:gw-b'], env);
      expect(r.code).to.equal(1);
      expect(r.json.failure).to.include({ gateway: 'gw-b', phase: 'apply' });
      expect(r.json.outcome).to.equal('rolled-back');
      for (const g of r.json.gateways) expect(g, g.gateway).to.include({ changed: true, state: 'rolled-back' });
      // gw-a really held the new rules before it was rolled back; gw-b refused them and restored itself.
      const h = journaled(env, r.json.tx);
      expect(h.phases['gw-a']).to.deep.equal(['staged', 'applied', 'rolled-back']);
      expect(h.phases['gw-b']).to.deep.equal(['staged', 'rolled-back']);
      expect(canonicalOf(backend, h.readback['gw-a'] ?? ''), 'gw-a read back the new rules').to.equal(want.v2['gw-a']);
      expect(h.readback['gw-b']).to.equal(undefined);
      expect(canonicalOf(backend, await w.sh('gw-a', `cat /var/lib/natchain/${r.json.tx}/applied`)), "gw-a's own record of the load").to.equal(want.v2['gw-a']);
      expect(await w.sh('gw-b', `ls /var/lib/natchain/${r.json.tx}/applied 2>/dev/null || true`)).to.equal('');
      for (const g of w.topology.gateways) {
        expect(await w.sh(g.name, `cat /var/lib/natchain/${r.json.tx}/state`), `${g.name} tx state`).to.equal('rolled-back\n');
        expect(await w.sh(g.name, 'cat /var/lib/natchain/last'), `${g.name} last commit unchanged`).to.equal(last);
      }
      await w.expectAll(want.v1, 'after a failed apply');
    });

    it('4. the management connection to gw-a dies after apply: unreachable, its timer restores it and gw-b is rolled back; reachable again, the commit goes over a new connection', async () => {
      // From outside: gw-b's load is held until gw-a is armed and its link cut (sshd killed, socket gone).
      const hold = await holdRestore(w, 'gw-b', 'load');
      let repair = () => {};
      let r: CliResult;
      try {
        const run = cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json', '--confirm-timeout', '10'], env);
        const tx = await hold.held(30_000);
        expect(await until(w, 'gw-a', `grep -qx applied /var/lib/natchain/${tx}/state 2>/dev/null`, 30_000)).to.equal(true);
        await sleep(500);
        repair = await cutManagement(w, 'gw-a');
        await hold.release();
        r = await run;
      } finally {
        await hold.remove();
        repair();
      }
      expect(r.code).to.equal(1);
      const a = r.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a');
      const b = r.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-b');
      expect(r.json.failure.gateway).to.equal('gw-a');
      expect(a.detail).to.match(/dead-man timer restores the snapshot/);
      expect(b.state).to.equal('rolled-back');
      expect(await w.owned('gw-a'), 'gw-a still holds the new rules until its timer fires').to.equal(want.v2['gw-a']);
      await w.waitAll(want.v1, 15_000);
      await w.expectAll(want.v1, 'after the timer fired');
      // With the management connection lost but new ones possible, the commit goes over the new
      // connection (it is the lock-out proof): the change commits, and the report says so.
      const r2 = await cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json', '--test-fault', 'disconnect:gw-a'], env);
      expect(r2.code, r2.stderr).to.equal(0);
      expect(r2.json.outcome).to.equal('committed');
      for (const g of r2.json.gateways) expect(g.state).to.equal('committed');
      expect(r2.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a').detail).to.match(/management connection was lost after the apply/);
      await w.expectAll(want.v2, 'after a disconnect: committed over a new connection');
      await w.applyVersion('v1', 'after applying seed-vpn again');
    });

    it('5. natchain SIGKILLed between apply and commit: every timer reverts within the timeout; recover reports consistent', async () => {
      let tx = '';
      const run = cli(['apply', files.v2, '-F', w.ssh, '--yes', '--confirm-timeout', '4'], { ...env, NATCHAIN_TEST_FAULT: 'pause:commit:60000' }, (chunk, pid) => {
        const m = /paused before commit \(tx (\S+)\)/.exec(chunk);
        if (m) {
          tx = m[1]!;
          process.kill(pid, 'SIGKILL');
        }
      });
      const r = await run;
      expect(r.code, r.stderr).to.equal(null);
      expect(tx).to.not.equal('');
      for (const g of w.topology.gateways) expect(await w.owned(g.name), `${g.name} applied, armed`).to.equal(want.v2[g.name]);
      const t0 = Date.now();
      await w.waitAll(want.v1, 10_000);
      expect(Date.now() - t0).to.be.below(8000);
      await sleep(300);
      await w.expectAll(want.v1, 'after the timers fired');
      const rec = await cli(['recover', '--json'], env);
      expect(rec.code, rec.stdout + rec.stderr).to.equal(0);
      expect(rec.json.consistent).to.equal(true);
      const t = rec.json.transactions.find((x: { tx: string }) => x.tx === tx);
      expect(t.outcome).to.equal('rolled-back');
      for (const g of t.gateways) expect(g.state).to.equal('reverted-by-timer');
      const again = await cli(['recover', '--json'], env);
      expect(again.json.transactions).to.deep.equal([]);
      await w.expectAll(want.v1, 'after recover');
    });

    it('5b. natchain SIGKILLed before commit, recover run before the timers fire: every gateway had verified, so recover commits', async () => {
      let tx = '';
      const r = await cli(['apply', files.v2, '-F', w.ssh, '--yes', '--confirm-timeout', '30'], { ...env, NATCHAIN_TEST_FAULT: 'pause:commit:60000' }, (chunk, pid) => {
        const m = /paused before commit \(tx (\S+)\)/.exec(chunk);
        if (m) {
          tx = m[1]!;
          process.kill(pid, 'SIGKILL');
        }
      });
      expect(r.code).to.equal(null);
      const st = await cli(['status', files.v2, '-F', w.ssh, '--json'], env);
      for (const g of st.json.gateways) {
        expect(g.lock?.tx, `${g.gateway} still locked by the dead apply`).to.equal(tx);
        expect(g.armed.map((a: { tx: string }) => a.tx)).to.deep.equal([tx]);
        // Not yet the last commit, but not a change by hand either: the armed transaction is named.
        expect(g.sync).to.equal('drifted');
        expect(g.detail).to.include(`transaction ${tx} applied here and is not committed yet`).and.not.include('by hand');
      }
      const rec = await cli(['recover', '--json'], env);
      expect(rec.code, rec.stdout + rec.stderr).to.equal(0);
      const t = rec.json.transactions.find((x: { tx: string }) => x.tx === tx);
      expect(t.outcome).to.equal('committed');
      for (const g of t.gateways) expect(g.action).to.equal('committed');
      await w.expectAll(want.v2, 'after recover committed');
      await w.applyVersion('v1', 'after applying seed-vpn again');
    });

    it('6. two applies at once: the second is refused with the first one\'s identity; rollback restores the state before', async () => {
      let tx = '';
      let firstPid = 0;
      let second: Promise<CliResult> | undefined;
      const first = cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json'], { ...env, NATCHAIN_TEST_FAULT: 'pause:commit:4000' }, (chunk, pid) => {
        const m = /paused before commit \(tx (\S+)\)/.exec(chunk);
        if (m && !firstPid) {
          tx = m[1]!;
          firstPid = pid;
          // The first is held (stopped) until the second has met its lock, however slow the machine:
          // a timed pause alone let a loaded machine commit the first before the second got there.
          process.kill(pid, 'SIGSTOP');
          second = cli(['apply', files.v2, '-F', w.ssh, '--yes', '--json'], env);
          void second.finally(() => process.kill(pid, 'SIGCONT'));
        }
      });
      const r1 = await first;
      expect(r1.code, r1.stderr).to.equal(0);
      expect(second).to.not.equal(undefined);
      const r2 = await second!;
      expect(r2.code).to.equal(1);
      expect(r2.json.error.code).to.equal('LOCKED');
      expect(r2.stderr).to.include(tx).and.include(`:${firstPid}`);
      await w.expectAll(want.v2, 'after the first apply committed');
      const rb = await cli(['rollback', files.v1, '-F', w.ssh, '--yes', '--json'], env);
      expect(rb.code, rb.stderr).to.equal(0);
      expect(rb.json.outcome).to.equal('committed');
      await w.expectAll(want.v1, 'after rollback');
      // --to the transaction: back to what it left.
      const to = await cli(['rollback', files.v1, '-F', w.ssh, '--yes', '--json', '--to', tx], env);
      expect(to.code, to.stderr).to.equal(0);
      await w.expectAll(want.v2, 'after rollback --to');
      await w.applyVersion('v1', 'after applying seed-vpn again');
    });

    it('7. a changed host key is refused and an unknown host without --accept-new too; nothing changes', async () => {
      const known = w.lab.knownHosts;
      const original = readFileSync(known, 'utf8');
      try {
        const other = ed25519KeyPair('impostor').publicKey.split(' ').slice(0, 2).join(' ');
        writeFileSync(known, original.replace(/^gw-b .*$/m, `gw-b ${other}`));
        const r = await cli(['apply', files.v2, '-F', w.ssh, '--yes'], env);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.match(/gw-b/).and.match(/host key/i);
        await w.expectAll(want.v1, 'after a changed host key');
        writeFileSync(known, original.replace(/^gw-b .*\n/m, ''));
        const u = await cli(['apply', files.v2, '-F', w.ssh, '--yes'], env);
        expect(u.code).to.equal(1);
        expect(u.stderr).to.match(/gw-b/).and.match(/SHA256:/);
        await w.expectAll(want.v1, 'after an unknown host key');
        const p = await cli(['plan', files.v2, '-F', w.ssh, '--accept-new'], env);
        expect(p.code, p.stderr).to.equal(2);
        expect(readFileSync(known, 'utf8')).to.match(/gw-b/);
      } finally {
        writeFileSync(known, original);
      }
    });

    it('9. natchain rules changed by hand on gw-b: status says drifted for gw-b only (exit 1, --json too), plan shows the rule; the next apply puts it back (gw-a not read); unseen drift needs apply --refresh', async () => {
      const before = await cli(['status', files.v1, '-F', w.ssh, '--json'], env);
      expect(before.code, before.stdout + before.stderr).to.equal(0);
      for (const g of before.json.gateways) expect(g.sync, g.gateway).to.equal('in-sync');
      const lastTx = (gw: string, json: { gateways: Array<{ gateway: string; lastTx?: string }> }) => json.gateways.find((g) => g.gateway === gw)!.lastTx;
      const lastA = lastTx('gw-a', before.json);
      const lastB = lastTx('gw-b', before.json);
      // What an admin might do on the gateway: a rule of their own inside natchain's chain / table.
      await w.sh(
        'gw-b',
        backend === 'iptables'
          ? 'iptables -t nat -A NATCHAIN-PREROUTING -p tcp --dport 2222 -j DNAT --to-destination 10.0.1.99:22'
          : 'nft add rule ip natchain prerouting tcp dport 2222 dnat to 10.0.1.99:22',
      );
      expect(await w.owned('gw-b'), 'the hand-made rule is in natchain\'s state').to.not.equal(want.v1['gw-b']);
      expect(await w.owned('gw-a')).to.equal(want.v1['gw-a']);

      const text = await cli(['status', files.v1, '-F', w.ssh], env);
      expect(text.code, text.stderr).to.equal(1);
      expect(text.stdout).to.match(/^gw-b\s+\S+\s+drifted\s.*changed by hand/m).and.match(/^gw-a\s+\S+\s+in-sync\s/m);
      const st = await cli(['status', files.v1, '-F', w.ssh, '--json'], env);
      expect(st.code, st.stderr).to.equal(1);
      const a = st.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a');
      const b = st.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-b');
      expect(a).to.include({ sync: 'in-sync', lastTx: lastA });
      expect(b).to.include({ sync: 'drifted', lastTx: lastB });
      expect(b.detail).to.equal(`natchain's rules were changed by hand since ${lastB}`);
      expect(b.lock, 'no lock').to.equal(undefined);
      expect(b.armed).to.deep.equal([]);

      const plan = await cli(['plan', files.v1, '-F', w.ssh, '--json'], env);
      expect(plan.code, plan.stderr).to.equal(2);
      expect(plan.json.inSync).to.equal(false);
      const pa = plan.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a');
      const pb = plan.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-b');
      expect(pa.status).to.equal('in-sync');
      expect(pb).to.include({ status: 'changes', rulesAdded: 0, rulesRemoved: 1 });
      expect(pb.forwards).to.deep.equal({ added: [], removed: [], changed: [] });
      expect(pb.diff).to.match(/^-.*2222/m);

      const r = await cli(['apply', files.v1, '-F', w.ssh, '--yes', '--json'], env);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.json.outcome).to.equal('committed');
      const ra = r.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a');
      const rb = r.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-b');
      // status and plan recorded the hand-made rule (the known-state cache): gw-b is in the change by
      // itself (the transaction's 3 execs), gw-a is outside it and not read at all.
      expect(ra).to.include({ changed: false, state: 'unchanged', roundTrips: 0 });
      expect(ra.reach, 'its sshd was only checked (answered, or not yet on a loaded machine)').to.be.oneOf(['answered', 'pending']);
      expect(rb).to.include({ changed: true, state: 'committed', roundTrips: 3 });
      await w.expectAll(want.v1, 'after apply removed the hand-made rule');
      const after = await cli(['status', files.v1, '-F', w.ssh, '--json'], env);
      expect(after.code, after.stdout + after.stderr).to.equal(0);
      for (const g of after.json.gateways) expect(g.sync, g.gateway).to.equal('in-sync');
      expect(lastTx('gw-b', after.json), 'gw-b: the apply is its last commit').to.equal(r.json.tx);
      expect(lastTx('gw-a', after.json), 'gw-a was not changed').to.equal(lastA);

      // The same hand edit, seen by no plan or status: apply goes by natchain's records (in sync) and
      // reads nothing; --refresh reads every gateway first, finds it and puts it back.
      await w.sh('gw-b', backend === 'iptables' ? 'iptables -t nat -A NATCHAIN-PREROUTING -p tcp --dport 2222 -j DNAT --to-destination 10.0.1.99:22' : 'nft add rule ip natchain prerouting tcp dport 2222 dnat to 10.0.1.99:22');
      const blind = await cli(['apply', files.v1, '-F', w.ssh, '--yes'], env);
      expect(blind.code, blind.stderr).to.equal(0);
      expect(blind.stdout).to.match(/^in sync: nothing to apply on 2 gateway\(s\), by natchain's last record of each \(none was read/m);
      expect(await w.owned('gw-b'), 'unseen drift stays').to.not.equal(want.v1['gw-b']);
      const fresh = await cli(['apply', files.v1, '-F', w.ssh, '--yes', '--json', '--refresh'], env);
      expect(fresh.code, fresh.stderr).to.equal(0);
      expect(fresh.json).to.include({ outcome: 'committed', refreshed: true });
      // Read once outside the change (1), which showed the rule and brought gw-b in: then the transaction (3).
      expect(fresh.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-a')).to.include({ state: 'unchanged', roundTrips: 1 });
      expect(fresh.json.gateways.find((g: { gateway: string }) => g.gateway === 'gw-b')).to.include({ state: 'committed', roundTrips: 4 });
      await w.expectAll(want.v1, 'after apply --refresh removed the hand-made rule');
    });

    it('10. apply and rollback without a terminal and without --yes refuse with exit 64 before connecting: nothing changes', async () => {
      const journalFile = join(env.NATCHAIN_STATE_DIR, 'journal.jsonl');
      const journalBefore = readFileSync(journalFile, 'utf8');
      const gwBefore = new Map<string, string>();
      for (const g of w.topology.gateways) gwBefore.set(g.name, await w.sh(g.name, 'ls /var/lib/natchain; cat /var/lib/natchain/last'));
      const runs = [
        ['apply', files.v2, '-F', w.ssh],
        ['apply', files.v2, '-F', w.ssh, '--json'],
        ['rollback', files.v1, '-F', w.ssh],
        // An ssh_config that reaches no gateway at all: the same refusal, so no connection was tried.
        ['apply', files.v2, '-F', join(w.dir, 'no-such-ssh-config')],
      ];
      for (const args of runs) {
        // The compiled CLI with stdin a pipe: no terminal to ask on.
        const r = natchain(args, { env });
        const kind = args[0]!;
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(64);
        const message = `refusing to ${kind} without confirmation: there is no terminal to ask on; pass --yes`;
        expect(r.stderr).to.equal(`natchain: ${message}\n`);
        // --json: the error document (docs/cli.md conventions); no report, since no transaction began.
        if (args.includes('--json')) expect(JSON.parse(r.stdout)).to.deep.equal({ error: { code: 'USAGE', message, details: [] } });
        else expect(r.stdout).to.equal('');
      }
      expect(readFileSync(journalFile, 'utf8'), 'no transaction was journaled').to.equal(journalBefore);
      for (const g of w.topology.gateways) {
        expect(await w.sh(g.name, 'ls /var/lib/natchain; cat /var/lib/natchain/last'), `${g.name}: no transaction reached it`).to.equal(gwBefore.get(g.name));
      }
      await w.expectAll(want.v1, 'after the refusals');
    });
  });

  describe(`rollout in the lab: three-hop, gw-dc behind gw-edge (${backend})`, function () {
    this.timeout(120_000);
    // earlier: the version before, with no forward db (office -> gw-office -> gw-edge -> gw-dc). dns
    // and metrics keep every gateway's state non-empty; adding db changes all three.
    const dropDb = (s: string) => s.replace(/^  db:\n    from: office\n    to: 10\.3\.0\.50:5432\n    proto: tcp\n/m, '');
    const w = new LabWorld(backend, 'three-hop', { current: (s) => s, earlier: dropDb });
    w.hooks({ tmp: 'rollout', lab: `rt-hop-${short}` });
    const { env, files, want } = w;

    it('3. the apply fails on the second of three gateways: all three end in their old (committed, non-empty) state; the other two had applied', async () => {
      const old = want.earlier;
      const next = want.current;
      const empty = w.empty();
      for (const g of w.topology.gateways) {
        expect(old[g.name], `${g.name}: the old state is not empty`).to.not.equal(empty[g.name]);
        expect(next[g.name], `${g.name}: adding db changes it`).to.not.equal(old[g.name]);
      }
      const first = await cli(['apply', files.earlier, '-F', w.ssh, '--yes', '--json'], env);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.json.outcome).to.equal('committed');
      for (const g of first.json.gateways) expect(g.state, g.gateway).to.equal('committed');
      await w.expectAll(old, 'after the earlier version committed');

      const r = await cli(['apply', files.current, '-F', w.ssh, '--yes', '--json', '--test-fault', 'apply:gw-edge'], env);
      expect(r.code).to.equal(1);
      expect(r.json.failure).to.include({ gateway: 'gw-edge', phase: 'apply' });
      expect(r.json.outcome).to.equal('rolled-back');
      expect(r.json.gateways.map((g: { gateway: string }) => g.gateway)).to.deep.equal(['gw-office', 'gw-edge', 'gw-dc']);
      for (const g of r.json.gateways) expect(g, g.gateway).to.include({ changed: true, state: 'rolled-back' });
      // gw-office and gw-dc loaded the new rules (journal and their own records say so), then were rolled back;
      // gw-edge's kernel refused the load and it restored itself.
      const tx: string = r.json.tx;
      const h = journaled(env, tx);
      for (const gw of ['gw-office', 'gw-dc']) {
        expect(h.phases[gw], `${gw} phases`).to.deep.equal(['staged', 'applied', 'rolled-back']);
        expect(canonicalOf(backend, h.readback[gw] ?? ''), `${gw} read back the new rules`).to.equal(next[gw]);
        expect(canonicalOf(backend, await w.sh(gw, `cat /var/lib/natchain/${tx}/applied`)), `${gw}'s own record of the load`).to.equal(next[gw]);
      }
      expect(h.phases['gw-edge']).to.deep.equal(['staged', 'rolled-back']);
      expect(h.readback['gw-edge']).to.equal(undefined);
      expect(await w.sh('gw-edge', `ls /var/lib/natchain/${tx}/applied 2>/dev/null || true`)).to.equal('');
      for (const g of w.topology.gateways) {
        expect(await w.sh(g.name, `cat /var/lib/natchain/${tx}/state`), `${g.name} tx state`).to.equal('rolled-back\n');
        expect(await w.sh(g.name, 'cat /var/lib/natchain/last'), `${g.name}: the earlier commit is still the last`).to.equal(`${first.json.tx}\n`);
      }
      await w.expectAll(old, 'after a failed apply');
      const st = await cli(['status', files.earlier, '-F', w.ssh, '--json'], env);
      expect(st.code, st.stdout + st.stderr).to.equal(0);
      for (const g of st.json.gateways) expect(g, g.gateway).to.include({ sync: 'in-sync', lastTx: first.json.tx });
    });

    it('8. a gateway reached only through another (jump) is applied like the rest; traffic crosses all three', async () => {
      const r = await cli(['apply', files.current, '-F', w.ssh, '--yes', '--json'], env);
      expect(r.code, r.stderr).to.equal(0);
      for (const g of r.json.gateways) {
        expect(g.state).to.equal('committed');
        expect(g.roundTrips).to.equal(3);
      }
      await w.expectAll(want.current, 'after apply');
      const client = w.lab.hosts.find((h) => h.role === 'client' && h.site === 'office');
      expect(client, 'an office client in the lab').to.not.equal(undefined);
      const probe = await labProbe(w.lab, client!.name, { proto: 'tcp', address: '10.3.0.50', port: 5432 });
      expect(probe.ok, JSON.stringify(probe)).to.equal(true);
      const plan = await cli(['plan', files.current, '-F', w.ssh], env);
      expect(plan.code, plan.stdout + plan.stderr).to.equal(0);
    });
  });
}
