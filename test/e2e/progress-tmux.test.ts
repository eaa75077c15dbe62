// What the operator sees on a real terminal (tmux, 80x24) during `natchain apply` on a fleet of
// 200 simulated gateways (scripts/bench/sim: real SSH on 127.0.0.1, gateways in memory): the
// compact progress block (the current wave, counts per phase, the failures by name) redrawn in
// place without ever scrolling its head away; Ctrl-C once (its notice survives the redraws, the
// transaction rolls back) and twice (natchain leaves at once, the dead-man timers restore every
// gateway); `--pause prompt` between waves; and plain lines, no escape sequence, without a terminal.
// Faults come from the simulated gateways themselves (a phase refused, a phase answered slowly).
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { runNatchain } from '../../scripts/bench/run-cli.js';
import { startSimLab, type SimLab } from '../../scripts/bench/sim/lab.js';
import { Terminal } from '../support/tmux.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const N = 200;
const gw = (i: number) => `gw${String(i).padStart(4, '0')}`;
const site = (i: number) => `s${String(i).padStart(4, '0')}`;
/** A forward from site 2i to a host in site 2i+1: its chain crosses exactly gw(2i) and gw(2i+1). */
const pair = (name: string, i: number, port: number) => `  ${name}: { from: ${site(2 * i)}, to: "10.0.${2 * i + 1}.50:${port}" }`;
/** The fleet block's head line: `wave 2 of 5 (canary): 50 gateway(s), 1.2s`. */
const HEAD = /^wave (\d+) of (\d+)(?: \(canary\))?: (\d+) gateway\(s\), \d+\.\ds$/;
/** A phase line of the block: `  apply      …    3  ✓   47  ✗    0`. */
const PHASE = /^ {2}(\w+) +… +(\d+) +✓ +(\d+) +✗ +(\d+)$/;
/** The forwards the first test commits: one per pair of gateways, all 200 gateways in use. */
const P = Array.from({ length: N / 2 }, (_, i) => pair(`p${i}`, i, 8000));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`progress on a real terminal: apply on ${N} simulated gateways in tmux at 80x24`, function () {
  this.timeout(180_000);
  let lab: SimLab;
  let base: string;
  let state: string;
  const terms: Terminal[] = [];
  before(async () => {
    lab = await startSimLab(N, 0);
    base = readFileSync(lab.topologyFile, 'utf8');
    state = lab.stateDir('tty');
  });
  after(async () => {
    for (const t of terms) t.close();
    await lab?.close();
  });

  /** The topology with these forwards (the generated one has none). */
  const topology = (forwards: string[]) => writeFileSync(lab.topologyFile, base + forwards.join('\n') + '\n');
  const sim = (i: number) => lab.fleet.gateways.get(gw(i))!;
  const holds = (i: number, forward: string) => new RegExp(`natchain:${forward}\\b`).test(sim(i).dump());
  /** `natchain apply` in a fresh 80x24 tmux session, in colour as an operator's terminal would be. */
  const apply = (...args: string[]) => {
    const t = new Terminal([process.execPath, MAIN, 'apply', lab.topologyFile, '-F', lab.sshConfig, '--state-dir', state, ...args], { cwd: lab.dir, env: { NO_COLOR: '', TERM: 'xterm-256color' } });
    terms.push(t);
    return t;
  };
  /** Every screen captured until the command ends, and its exit code. */
  async function watch(t: Terminal, o: { keysWhenDrawn?: string[]; timeoutMs?: number } = {}): Promise<{ screens: string[]; code: number }> {
    const screens: string[] = [];
    const end = Date.now() + (o.timeoutMs ?? 90_000);
    let keys = o.keysWhenDrawn;
    for (;;) {
      const s = t.screen();
      screens.push(s);
      if (keys && s.split('\n').some((r) => PHASE.test(r))) {
        t.keys(...keys);
        keys = undefined;
      }
      const m = /EXIT=(\d+)/.exec(s);
      if (m) return { screens, code: Number(m[1]) };
      if (Date.now() > end) throw new Error(`apply did not end; the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 120));
    }
  }

  it('200 gateways in 5 waves, one refusing its load: one compact block, redrawn in place, the wave, counts per phase, the failure by name, then the report', async () => {
    // 100 forwards, each on its own pair of gateways: 100 chain-closed groups, packed into waves.
    topology(P);
    sim(20).refuse.set('apply', 'iptables-restore: line 3 failed (simulated)');
    // No host key known yet: --accept-new records each one with a notice (through the renderer: above the block if it is drawn).
    const knownHosts = readFileSync(lab.sshConfig, 'utf8').match(/UserKnownHostsFile (\S+)/)![1]!;
    writeFileSync(knownHosts, '');
    const t = apply('--yes', '--accept-new', '--canary', '2', '--wave-size', '50', '--max-fail', '50%', '--concurrency', '16');
    // An impatient operator presses Enter and types while it runs: the block must not move (nothing is echoed).
    const { screens, code } = await watch(t, { keysWhenDrawn: ['Enter', 'Enter', 'x', 'Enter'] });
    sim(20).refuse.clear();
    const last = screens[screens.length - 1]!;
    expect(code, last).to.equal(1);

    const waves = new Set<string>();
    const phases = new Set<string>();
    let failureShown = false;
    let noticeShown = false;
    for (const s of screens) {
      const rows = s.replace(/\n$/, '').split('\n');
      expect(rows.length, s).to.be.at.most(24);
      for (const r of rows) expect([...r].length, r).to.be.at.most(80);
      const heads = rows.flatMap((r, i) => (HEAD.test(r) ? [i] : []));
      const phaseRows = rows.flatMap((r, i) => (PHASE.test(r) ? [i] : []));
      if (rows.some((r) => /^natchain: gw\d{4}: recorded new host key for gw\d{4} /.test(r))) noticeShown = true;
      if (!phaseRows.length) continue;
      // The block is whole on the screen: exactly one head (no copy left behind by a redraw that
      // drifted), the counts right under it, the phase lines below, nothing of it scrolled away.
      expect(heads, s).to.have.length(1);
      const h = heads[0]!;
      expect(rows[h + 1], s).to.match(/^ {2}\d+ waiting, \d+ running, \d+ ok, \d+ failed$/);
      expect(phaseRows[0], s).to.equal(h + 2);
      const [, wave, of, size] = HEAD.exec(rows[h]!)!;
      expect(of).to.equal('5');
      waves.add(`${wave}:${size}`);
      for (const i of phaseRows) {
        const [, phase, running, ok, failed] = PHASE.exec(rows[i]!)!;
        phases.add(phase!);
        expect(Number(running) + Number(ok) + Number(failed), rows[i]).to.be.at.most(Number(size));
      }
      if (rows.some((r) => /^ {2}✗ gw0020 apply: iptables-restore: line 3 failed \(simulated\)/.test(r))) failureShown = true;

    }
    // The current wave: the canary (2 gateways), then waves of 50, 50, 50 and 48.
    expect([...waves]).to.include.members(['1:2', '3:50', '5:48']);
    expect([...phases]).to.include.members(['prepare', 'apply', 'commit']);
    expect(failureShown, 'a screen shows the failure by name').to.equal(true);
    expect(noticeShown, 'a screen shows a host key notice').to.equal(true);
    expect(readFileSync(knownHosts, 'utf8').split('\n').filter(Boolean)).to.have.length(N);
    // The final screen: the report, ending with the count of waves.
    expect(last).to.match(/4 waves committed, 1 rolled back, 0 not started \(rollout/);
    // And the fleet: wave 2 (gw0002..gw0051) rolled back everywhere, every other wave committed.
    for (const i of [2, 20, 21, 51]) expect(holds(i, `p${i >> 1}`), gw(i)).to.equal(false);
    for (const i of [0, 1, 52, 151, 199]) expect(holds(i, `p${i >> 1}`), gw(i)).to.equal(true);
  });

  it('without a terminal: plain lines, no escape sequence even with colour allowed', async () => {
    const r = await runNatchain(['apply', lab.topologyFile, '--yes', '-F', lab.sshConfig, '--state-dir', state, '--wave-size', '26'], { NO_COLOR: '', TERM: 'xterm-256color' });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout + r.stderr).to.not.include('\x1b');
    // Only wave 2's gateways were left to change: 26 and 24 (groups are pairs); a line per wave, then per finished phase.
    expect(r.stderr).to.match(/^wave 1 of 2: gw0002, gw0003, .*gw0027$/m);
    expect(r.stderr).to.match(/^gw0020: apply ok \(\d+\.\d\ds\)$/m);
    expect(r.stdout).to.match(/2 waves committed, 0 rolled back, 0 not started/);
    for (const i of [2, 20, 21, 51]) expect(holds(i, `p${i >> 1}`), gw(i)).to.equal(true);
  });

  const S = [pair('s0', 20, 8300), pair('s1', 21, 8300)];
  /** What the fleet holds after the prompt tests (t1 was never applied). */
  const kept = [...P, ...S, pair('t0', 22, 8400), pair('u0', 30, 8500)];
  it('the plan question, then --pause prompt after wave 1; yes runs wave 2, each block drawn below the answer before it', async () => {
    topology([...P, ...S]);
    const t = apply('--wave-size', '2', '--pause', 'prompt');
    await t.waitFor(/apply these changes on 4 gateway\(s\) in 2 waves\?/, 60_000);
    t.type('y');
    t.keys('Enter');
    const asked = await t.waitFor(/start wave 2 of 2 \(2 gateway\(s\)\)\?/, 60_000);
    const rows = asked.split('\n');
    expect(rows.findIndex((r) => /^wave 1 of 2: 2 gateway\(s\)/.test(r)), asked).to.be.below(rows.findIndex((r) => /start wave 2 of 2/.test(r)));
    expect(holds(40, 's0') && holds(41, 's0'), 'wave 1 committed before the question').to.equal(true);
    expect(holds(42, 's1'), 'wave 2 waits for the answer').to.equal(false);
    t.keys('Enter');
    expect(await t.exitCode(30_000), t.screen()).to.equal(0);
    const s = t.history();
    expect(s.search(/apply these changes on 4 gateway\(s\) in 2 waves\? yes/)).to.be.below(s.search(/^wave 1 of 2: 2 gateway\(s\)/m));
    expect(s.indexOf('start wave 2 of 2')).to.be.below(s.search(/^wave 2 of 2: 2 gateway\(s\)/m));
    expect(s).to.match(/2 waves committed, 0 rolled back, 0 not started/);
    expect(holds(42, 's1') && holds(43, 's1')).to.equal(true);
  });

  it('--pause prompt: no stops the rollout: wave 2 not started, the summary line, exit 1', async () => {
    topology([...P, ...S, pair('t0', 22, 8400), pair('t1', 23, 8400)]);
    const t = apply('--yes', '--wave-size', '2', '--pause', 'prompt');
    await t.waitFor(/start wave 2 of 2 \(2 gateway\(s\)\)\?/, 60_000);
    t.type('n');
    t.keys('Enter');
    expect(await t.exitCode(30_000), t.screen()).to.equal(1);
    const s = t.screen();
    expect(s).to.match(/^wave 2 of 2: not started gw0046, gw0047$/m);
    expect(s).to.match(/stopped: stopped before wave 2/);
    expect(s).to.match(/1 wave committed, 0 rolled back, 1 not started \(rollout/);
    expect(holds(44, 't0')).to.equal(true);
    expect(holds(46, 't1')).to.equal(false);
  });

  it('--pause prompt without a terminal: refused before anything is connected (64)', async () => {
    const before = lab.fleet.stats.connections;
    const r = await runNatchain(['apply', lab.topologyFile, '--yes', '-F', lab.sshConfig, '--state-dir', state, '--wave-size', '2', '--pause', 'prompt']);
    expect(r.code, r.stderr).to.equal(64);
    expect(r.stderr).to.match(/--pause prompt needs a terminal to ask on; pass --pause <seconds> instead/);
    expect(lab.fleet.stats.connections).to.equal(before);
  });

  it('a background job (`natchain apply … &` from a shell with job control) runs to the end: the keyboard is left alone', async () => {
    topology(kept);
    const cmd = [process.execPath, MAIN, 'apply', lab.topologyFile, '--yes', '-F', lab.sshConfig, '--state-dir', state].map((a) => `'${a}'`).join(' ');
    // Taking the terminal's keyboard from the background would get natchain stopped (SIGTTOU) until someone types `fg`.
    const t = new Terminal(['bash', '-c', `set -m; ${cmd} & wait $!`], { cwd: lab.dir, env: { NO_COLOR: '' } });
    terms.push(t);
    expect(await t.exitCode(60_000), t.screen()).to.equal(0);
    expect(holds(60, 'u0') && holds(61, 'u0')).to.equal(true);
  });

  it('Ctrl-C once while a gateway is slow to apply: the notice stays on screen through the redraws, every gateway rolls back, exit 1', async () => {
    // 10 new forwards on gw0000..gw0019; gw0004 takes 4 s to answer its apply, so Ctrl-C lands mid-transaction.
    topology([...kept, ...Array.from({ length: 10 }, (_, i) => pair(`q${i}`, i, 8100))]);
    sim(4).delay.set('apply', 4000);
    const t = apply('--yes');
    try {
      await t.waitFor(/^ {2}apply +… +1 +✓ +19 /m, 60_000);
      t.keys('C-c');
      await t.waitFor(/natchain: interrupted; rolling back/);
      // Six redraws later (every 250 ms), the notice is still there, once, above the block.
      await sleep(1500);
      const s = t.screen();
      expect(s).to.not.match(/EXIT=/);
      const rows = s.split('\n');
      const notice = rows.findIndex((r) => r.startsWith('natchain: interrupted; rolling back at the next step, no new wave starts'));
      const head = rows.findIndex((r) => HEAD.test(r));
      expect(notice, s).to.be.at.least(0);
      expect(s.match(/natchain: interrupted/g), s).to.have.length(1);
      expect(head, s).to.be.above(notice);
      expect(rows[head], s).to.match(/^wave 1 of 1: 20 gateway\(s\)/);
      const code = await t.exitCode(30_000);
      expect(code, t.screen()).to.equal(1);
      // As documented: rolled back at the next step; the report says so.
      expect(t.screen()).to.match(/0 waves committed, 1 rolled back, 0 not started/);
    } finally {
      sim(4).delay.clear();
      // Never leave it running into the next test (its locks would be in the way).
      await t.exitCode(30_000).catch(() => undefined);
    }
    for (let i = 0; i < 20; i++) {
      expect(holds(i, `q${i >> 1}`), gw(i)).to.equal(false);
      expect(holds(i, `p${i >> 1}`), gw(i)).to.equal(true);
      expect(sim(i).lockHolder, gw(i)).to.equal(undefined);
    }
  });

  it('Ctrl-C twice: natchain leaves at once (exit 130) and the dead-man timers restore every gateway', async () => {
    topology([...kept, ...Array.from({ length: 10 }, (_, i) => pair(`r${i}`, 10 + i, 8200))]);
    sim(24).delay.set('apply', 2500);
    const t = apply('--yes', '--confirm-timeout', '3');
    try {
      await t.waitFor(/^ {2}apply +… +1 +✓ +19 /m, 60_000);
      t.keys('C-c');
      await t.waitFor(/natchain: interrupted; rolling back/);
      t.keys('C-c');
      expect(await t.exitCode(5_000)).to.equal(130);
      // Every gateway was armed (gw0024 once its slow apply lands): each timer restores its snapshot and frees the lock.
      const end = Date.now() + 20_000;
      const armed = () => Array.from({ length: 20 }, (_, k) => 20 + k).filter((i) => holds(i, `r${(i - 20) >> 1}`) || sim(i).lockHolder !== undefined);
      while (armed().length && Date.now() < end) await sleep(250);
      expect(armed().map(gw)).to.deep.equal([]);
    } finally {
      sim(24).delay.clear();
      await t.exitCode(30_000).catch(() => undefined);
    }
    for (let i = 20; i < 40; i++) expect(holds(i, `p${i >> 1}`), gw(i)).to.equal(true);
  });
});
