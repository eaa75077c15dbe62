// Fleet rollouts in the lab: 12 gateways with real sshd and netfilter, odd ones on nftables and
// even ones on iptables (every chain crosses both backends). One lab, one state directory, the
// scenarios in order: scope with dead gateways, a failed canary, a failed wave 2, --resume, the
// rollback of the whole rollout, a stale saved plan. A gateway's load is made to fail from
// outside natchain: a wrapper over nft / iptables-restore bind-mounted inside that gateway's own
// mount namespace. Every scenario checks every gateway.
import { expect } from 'chai';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labExec } from '../../src/lab/index.js';
import { cli, GatewayFleet, type CliResult } from './rollout-support.js';

const N = 12;
/** Exec calls of one transaction on a changed gateway (the engine's protocol). */
const TX_EXECS = 3;
const pad = (i: number) => String(i).padStart(2, '0');
const gws = Array.from({ length: N }, (_, i) => `gw-${pad(i + 1)}`);

/** The fleet: gw-NN with site sNN (10.NN.0.0/24) on one VPN; forwards pair gw-(2k-1) -> gw-2k. `extra`: a second forward per pair. */
function fleetYaml(opts: { forwards: boolean; extra?: boolean; port?: (k: number) => number } = { forwards: true }): string {
  const lines = ['version: 1', 'sites:'];
  for (let i = 1; i <= N; i++) lines.push(`  s${pad(i)}: { subnets: [10.${i}.0.0/24] }`);
  lines.push('networks:', '  vpn: { subnet: 10.255.0.0/24 }', 'gateways:');
  for (let i = 1; i <= N; i++) {
    lines.push(
      `  gw-${pad(i)}:`,
      `    backend: ${i % 2 ? 'nftables' : 'iptables'}`,
      '    interfaces:',
      `      wg0: { address: 10.255.0.${i}/24, network: vpn }`,
      `      eth1: { address: 10.${i}.0.1/24, site: s${pad(i)} }`,
    );
  }
  if (!opts.forwards) return lines.join('\n') + '\n';
  lines.push('forwards:');
  for (let k = 1; k <= N / 2; k++) {
    lines.push(`  f${pad(k)}: { from: s${pad(2 * k - 1)}, to: '10.${2 * k}.0.10:${opts.port?.(k) ?? 80}', proto: tcp }`);
    if (opts.extra) lines.push(`  g${pad(k)}: { from: s${pad(2 * k - 1)}, to: '10.${2 * k}.0.11:22', proto: tcp }`);
  }
  return lines.join('\n') + '\n';
}

describe('fleet rollout in the lab: 12 gateways, nftables and iptables', function () {
  this.timeout(300_000);
  const fleet = new GatewayFleet({
    empty: fleetYaml({ forwards: false }),
    v1: fleetYaml({ forwards: true }),
    v1b: fleetYaml({ forwards: true, port: (k) => (k === 1 ? 8080 : 80) }),
    v2: fleetYaml({ forwards: true, extra: true }),
  }).hooks({ tmp: 'fleet', lab: 'fleet' });
  const { env, files } = fleet;
  const sh = (gw: string, script: string) => fleet.sh(gw, script);
  const backendOf = (gw: string) => fleet.backendOf(gw);
  /** Every gateway: owned state as `expected` says (per gateway: a version name), no lock, no armed timer. */
  const expectAll = (expected: Record<string, string>, why: string) => fleet.expectAll(expected, why);
  const all = (version: string, over: Record<string, string> = {}) => Object.fromEntries(gws.map((g) => [g, over[g] ?? version]));
  /** A copy of the lab's ssh_config in which these gateways cannot be reached (their socket does not exist). */
  const sshWithout = (down: string[]): string => {
    let text = readFileSync(fleet.ssh, 'utf8');
    for (const g of down) {
      const block = new RegExp(`(Host ${g}\\b[^]*?UNIX-CONNECT:)(\\S+)`);
      text = text.replace(block, '$1$2.down');
    }
    const file = join(fleet.dir, `ssh-${down.join('-')}`);
    writeFileSync(file, text);
    return file;
  };
  /** Makes every ruleset load (not the check, not a revert) fail on a gateway, from inside its mount namespace. */
  const breakLoads = async (gw: string) => {
    const real = backendOf(gw) === 'nftables' ? '/usr/sbin/nft' : '/usr/sbin/iptables-restore';
    const copy = backendOf(gw) === 'nftables' ? '/tmp/nft.real' : '/tmp/xtables.real';
    // nft -f FILE / iptables-restore --noflush < FILE: refuse when FILE is the staged ruleset (…/new, …/new.load), never a revert.
    const wrapper =
      backendOf(gw) === 'nftables'
        ? `#!/bin/sh\nif [ "$1" = -f ] && case "$2" in */new|*/new.load) true;; *) false;; esac; then echo "load refused (test wrapper)" >&2; exit 1; fi\nexec ${copy} "$@"\n`
        : `#!/bin/sh\ncase "$*" in *--test*) ;; *) case "$(readlink /proc/$$/fd/0)" in */new|*/new.load) echo "load refused (test wrapper)" >&2; exit 1;; esac;; esac\nexec ${copy} iptables-restore "$@"\n`;
    await sh(gw, `cp "$(readlink -f ${real})" ${copy} && cat > /tmp/wrapper.sh <<'EOF'\n${wrapper}EOF\nchmod +x /tmp/wrapper.sh && mount --bind /tmp/wrapper.sh ${real}`);
  };
  /** The pid of the listener that starts gw's sshd for natchain (socat on its unix socket), and that socket. */
  const sshdListener = async (gw: string): Promise<{ pid: number; sock: string }> => {
    const sock = new RegExp(`Host ${gw}\\b[^]*?UNIX-CONNECT:(\\S+)`).exec(readFileSync(fleet.ssh, 'utf8'))![1]!;
    const pid = (await sh(gw, `for p in /proc/[0-9]*; do if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^socat UNIX-LISTEN:${sock},'; then echo \${p#/proc/}; fi; done`)).trim();
    expect(pid, `${gw}: one sshd listener`).to.match(/^\d+$/);
    return { pid: Number(pid), sock };
  };
  /** Kills gw's sshd listener (by its pid); returns how to start it again, as the lab did. */
  const killSshd = async (gw: string): Promise<() => Promise<void>> => {
    const { pid, sock } = await sshdListener(gw);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    process.kill(pid, 'SIGTERM');
    return async () => {
      await labExec(fleet.lab, gw, ['sh', '-c', 'setsid "$@" </dev/null >/dev/null 2>&1 &', 'sh', ...argv]);
      for (let i = 0; i < 50 && (await labExec(fleet.lab, gw, ['test', '-S', sock])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    };
  };
  const fixLoads = async (gw: string) => {
    const real = backendOf(gw) === 'nftables' ? '/usr/sbin/nft' : '/usr/sbin/iptables-restore';
    await sh(gw, `umount ${real}`);
  };

  it('first apply: one wave, every gateway committed; no record here, so the transaction\'s own prepare reads each gateway: 3 execs each', async () => {
    const r = await cli(['apply', files.v1, '-F', fleet.ssh, '--yes', '--json'], env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.json.outcome).to.equal('committed');
    expect(r.json.waves).to.have.length(1);
    expect(r.json.summary).to.equal('1 wave committed, 0 rolled back, 0 not started');
    for (const g of r.json.gateways) expect(g, g.gateway).to.include({ state: 'committed', roundTrips: TX_EXECS });
    await expectAll(all('v1'), 'after the first apply');
  });

  it('dead gateways outside the change (gw-10: sshd hung; gw-11: sshd killed; gw-12: its socket gone) do not block it and are named; the others are not read; a dead gateway inside it changes nothing anywhere', async () => {
    const restart = await killSshd('gw-11');
    const hung = await sshdListener('gw-10');
    try {
      process.kill(hung.pid, 'SIGSTOP');
      let r: CliResult;
      try {
        r = await cli(['apply', files.v1b, '-F', sshWithout(['gw-12']), '--yes', '--json'], env);
      } finally {
        process.kill(hung.pid, 'SIGCONT');
      }
      expect(r.code, r.stderr).to.equal(0);
      expect(r.json.scope.gateways).to.deep.equal(['gw-01', 'gw-02']);
      expect(r.json.refreshed).to.equal(false);
      const out = (g: string) => r.json.outside.find((x: { gateway: string }) => x.gateway === g);
      expect(out('gw-12').status).to.equal('unreachable');
      expect(out('gw-12').detail).to.match(/^unreachable \(not in this change; last known state in sync\): closed before any SSH version line; ProxyCommand exited/);
      // A silent one holds the report at most 300 ms after the change: "no answer yet" (or, had the change
      // taken longer than the check's 4 s bound, unreachable); a refused one is known at once.
      expect(`${out('gw-10').status}: ${out('gw-10').detail}`).to.be.oneOf([
        'unchanged: not in this change; its sshd had not answered yet when the change was done',
        'unreachable: unreachable (not in this change; last known state in sync): no SSH version line within 4.0 s',
      ]);
      expect(out('gw-11').status).to.equal('unreachable');
      expect(out('gw-11').detail).to.match(/^unreachable \(not in this change; last known state in sync\): .*(Connection refused|No such file)/);
      const row = (g: string) => r.json.gateways.find((x: { gateway: string }) => x.gateway === g);
      // In scope: the transaction only (the journal knew them); outside: not read at all (their sshd only answered).
      expect(row('gw-01')).to.include({ state: 'committed', roundTrips: TX_EXECS });
      expect(row('gw-02')).to.include({ state: 'committed', roundTrips: TX_EXECS });
      // Their sshd answered (or, on a loaded machine, had not yet when the change was done: said so).
      for (const g of gws.slice(2, 9)) {
        expect(row(g), g).to.include({ state: 'unchanged', roundTrips: 0 });
        expect(row(g).reach, g).to.be.oneOf(['answered', 'pending']);
      }
      expect(row('gw-05').since, 'the record its state is taken from').to.match(/^\d{4}-\d\d-\d\dT/);
      expect(row('gw-11')).to.include({ state: 'unreachable', roundTrips: 0 });
      expect(row('gw-12')).to.include({ state: 'unreachable', roundTrips: 0 });
      const text = await cli(['apply', files.v1, '-F', sshWithout(['gw-12']), '--yes'], env);
      expect(text.code, text.stderr).to.equal(0);
      expect(text.stdout).to.match(/^gw-11: unreachable \(not in this change.*(Connection refused|No such file)/m);
      expect(text.stdout).to.match(/^gw-12: unreachable \(not in this change/m);
      const named = [...text.stdout.matchAll(/^(?:unchanged \(not in this change, not read: as natchain last recorded them\)|no answer yet from \(not in this change; [^)]*\)): (.*)$/gm)].flatMap((m) => m[1]!.split(', '));
      expect(named.sort()).to.deep.equal(gws.slice(2, 10));
    } finally {
      await restart();
    }
    await expectAll(all('v1'), 'after the changes around a dead gw-11 and gw-12');
    const st = await cli(['status', files.v1, '-F', sshWithout(['gw-12']), '--json'], env);
    expect(st.json.gateways.find((x: { gateway: string }) => x.gateway === 'gw-12').sync).to.equal('unreachable');

    const blocked = await cli(['apply', files.v1b, '-F', sshWithout(['gw-02']), '--yes', '--json'], env);
    expect(blocked.code).to.equal(1);
    expect(blocked.json.outcome).to.equal('aborted');
    expect(blocked.json.waves[0].error).to.match(/gw-02/);
    await expectAll(all('v1'), 'after a change whose gateway gw-02 is down');
  });

  it('--no-check-outside: no connection reaches a gateway outside the change (their sshd logs do not grow; gw-12, its socket gone, is not reported unreachable); the change commits on both backends', async () => {
    // The lab's sshd -i logs every connection, a check's too ("kex_exchange_identification: Connection closed").
    const logSizes = () => new Map(gws.map((g) => [g, statSync(join(fleet.lab.dir, 'log', `${g}.log`)).size]));
    const settle = () => new Promise((r) => setTimeout(r, 500));
    const grown = (a: Map<string, number>, b: Map<string, number>) => gws.filter((g) => b.get(g)! > a.get(g)!);
    const outside = gws.slice(2);
    // Without it (the control: these logs do show a check), then with it, there and back.
    const before = logSizes();
    const checked = await cli(['apply', files.v1b!, '-F', sshWithout(['gw-12']), '--yes', '--json'], env);
    expect(checked.code, checked.stderr).to.equal(0);
    await settle();
    const mid = logSizes();
    expect(grown(before, mid).filter((g) => outside.includes(g)), 'outside gateways checked by default').to.not.be.empty;
    const r = await cli(['apply', files.v1!, '-F', sshWithout(['gw-12']), '--yes', '--json', '--no-check-outside'], env);
    expect(r.code, r.stderr).to.equal(0);
    await settle();
    expect(grown(mid, logSizes()), 'gateways whose sshd saw a connection').to.deep.equal(['gw-01', 'gw-02']);
    expect(r.json.outcome).to.equal('committed');
    expect(r.json.scope.gateways).to.deep.equal(['gw-01', 'gw-02']);
    for (const g of outside) {
      const row = r.json.gateways.find((x: { gateway: string }) => x.gateway === g);
      expect(row, g).to.include({ state: 'unchanged', reach: 'not-checked', roundTrips: 0, detail: 'not in this change; not contacted: as natchain last recorded it' });
      expect(row.since, g).to.match(/^\d{4}-\d\d-\d\dT/);
    }
    await expectAll(all('v1'), 'after a change with --no-check-outside');
    const text = await cli(['apply', files.v1b!, '-F', sshWithout(['gw-12']), '--yes', '--no-check-outside'], env);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^not in this change, not contacted \(--no-check-outside\): in sync by natchain's records? of \d{4}-.*: gw-03, gw-04, .*gw-12$/m);
    expect(text.stdout).to.not.match(/unreachable/);
    const both = await cli(['apply', files.v1!, '-F', fleet.ssh, '--yes', '--no-check-outside', '--refresh'], env);
    expect(both.code).to.equal(64);
    expect(both.stderr).to.match(/--no-check-outside .* --refresh/);
    const back = await cli(['apply', files.v1!, '-F', fleet.ssh, '--yes', '--no-check-outside'], env);
    expect(back.code, back.stderr).to.equal(0);
    await expectAll(all('v1'), 'back to v1');
  });

  let rollout = '';
  it('canary fails (gw-01 refuses the load): only the canary was touched, and it is back as it was', async () => {
    await breakLoads('gw-01');
    try {
      const r = await cli(['apply', files.v2, '-F', fleet.ssh, '--yes', '--json', '--canary', 'gw-01', '--wave-size', '4', '--max-fail', '0'], env);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.json.waves.map((w: { gateways: string[] }) => w.gateways.join(' '))).to.deep.equal(['gw-01 gw-02', 'gw-03 gw-04 gw-05 gw-06', 'gw-07 gw-08 gw-09 gw-10', 'gw-11 gw-12']);
      expect(r.json.waves.map((w: { status: string }) => w.status)).to.deep.equal(['rolled-back', 'not-started', 'not-started', 'not-started']);
      expect(r.json.waves[0]).to.include({ canary: true, stopped: 'the canary failed' });
      expect(r.json.failure).to.include({ gateway: 'gw-01', phase: 'apply' });
      expect(r.json.summary).to.equal('0 waves committed, 1 rolled back, 3 not started');
      const tx = r.json.waves[0].tx;
      for (const g of gws.slice(2)) expect(await sh(g, `ls -d /var/lib/natchain/${tx} 2>/dev/null || true`), `${g} untouched`).to.equal('');
      expect(await sh('gw-02', `cat /var/lib/natchain/${tx}/state`)).to.equal('rolled-back\n');
    } finally {
      await fixLoads('gw-01');
    }
    await expectAll(all('v1'), 'after the failed canary');
  });

  it('wave 2 fails with --max-fail 0: wave 1 committed, wave 2 rolled back, the rest untouched; --resume completes it', async () => {
    await breakLoads('gw-05');
    let r: CliResult;
    try {
      r = await cli(['apply', files.v2, '-F', fleet.ssh, '--yes', '--json', '--canary', '2', '--wave-size', '4', '--max-fail', '0'], env);
    } finally {
      await fixLoads('gw-05');
    }
    expect(r.code, r.stderr).to.equal(1);
    expect(r.json.waves.map((w: { status: string }) => w.status)).to.deep.equal(['committed', 'rolled-back', 'not-started', 'not-started']);
    expect(r.json.summary).to.equal('1 wave committed, 1 rolled back, 2 not started');
    expect(r.json.outcome).to.equal('partial');
    expect(r.json.failure).to.include({ gateway: 'gw-05', phase: 'apply' });
    for (const w of r.json.waves.slice(0, 2)) for (const g of w.report) expect(g.roundTrips, `${g.gateway} round trips`).to.equal(TX_EXECS);
    rollout = r.json.rollout;
    await expectAll(all('v1', { 'gw-01': 'v2', 'gw-02': 'v2' }), 'after wave 2 failed');

    const res = await cli(['apply', files.v2, '-F', fleet.ssh, '--yes', '--json', '--resume', rollout], env);
    expect(res.code, res.stderr).to.equal(0);
    // Planned again from the live state: the committed canary is in sync, the canary is not repeated.
    expect(res.json.waves.map((w: { gateways: string[]; canary: boolean }) => [w.canary, w.gateways.join(' ')])).to.deep.equal([
      [false, 'gw-03 gw-04 gw-05 gw-06'],
      [false, 'gw-07 gw-08 gw-09 gw-10'],
      [false, 'gw-11 gw-12'],
    ]);
    expect(res.json.summary).to.equal('3 waves committed, 0 rolled back, 0 not started');
    await expectAll(all('v2'), 'after --resume');
  });

  it('rollback of the wave rollout restores every committed wave, as one transaction', async () => {
    const rb = await cli(['rollback', files.v2, '-F', fleet.ssh, '--yes', '--json'], env);
    expect(rb.code, rb.stderr).to.equal(0);
    expect(rb.json.outcome).to.equal('committed');
    expect(rb.json.gateways.map((g: { gateway: string }) => g.gateway).sort()).to.deep.equal(gws);
    await expectAll(all('v1'), 'after the rollback of the rollout');
    // Another operator (another state directory, no journal) sees the fleet's transactions in the gateways' own history.
    const other = await cli(['log', files.v2, '-F', fleet.ssh, '--json'], { NATCHAIN_STATE_DIR: join(fleet.dir, 'other-state') });
    expect(other.code, other.stderr).to.equal(0);
    const seen = other.json.transactions as Array<{ tx: string; outcome: string; source: string; gateways: Array<{ gateway: string }> }>;
    const mine = seen.find((t) => t.tx === rb.json.tx)!;
    expect(mine, 'the rollback, from the gateways').to.include({ outcome: 'committed', source: 'gateways' });
    expect(mine.gateways.map((g) => g.gateway).sort()).to.deep.equal(gws);
    expect(seen.filter((t) => t.outcome === 'rolled-back').length, 'the failed waves').to.be.at.least(2);
    const here = await cli(['log', files.v2, '-F', fleet.ssh, '--json'], env);
    const wave = (here.json.transactions as Array<{ tx: string; rollout?: string; source: string }>).find((t) => t.tx === rb.json.tx);
    expect(wave!.source).to.equal('both');
    expect((here.json.transactions as Array<{ rollout?: string }>).filter((t) => t.rollout === rollout).length, 'the waves of the rollout').to.equal(2);
  });

  it('a saved plan applied after a hand change on one gateway is refused, naming it; unchanged, it applies', async () => {
    const out = join(fleet.dir, 'plan.json');
    const p = await cli(['plan', files.v2, '-F', fleet.ssh, '--out', out], env);
    expect(p.code, p.stderr).to.equal(2);
    await sh('gw-07', 'nft add rule ip natchain prerouting tcp dport 2222 dnat to 10.7.0.99:22');
    const r = await cli(['apply', '--plan', out, '-F', fleet.ssh, '--yes', '--json'], env);
    expect(r.code).to.not.equal(0);
    // gw-07 is in the change, so the refusal comes under its lock, before anything is staged anywhere.
    expect(r.json.failure).to.include({ gateway: 'gw-07', phase: 'plan' });
    expect(r.json.failure.reason).to.match(/changed since the plan was made/);
    expect(r.json.error.message).to.match(/gw-07/);
    await sh('gw-07', 'nft -a list chain ip natchain prerouting | awk \'/dport 2222/ { print $NF }\' | xargs -I{} nft delete rule ip natchain prerouting handle {}');
    await expectAll(all('v1'), 'after the refused plan (and the hand change undone)');
    const ok = await cli(['apply', '--plan', out, '-F', fleet.ssh, '--yes', '--json'], env);
    expect(ok.code, ok.stderr).to.equal(0);
    await expectAll(all('v2'), 'after the saved plan applied');
  });

  it('--probe between waves: the probe of wave 1\'s forwards fails (no server behind them in this lab), so wave 1 stays committed and no other wave starts', async () => {
    const r = await cli(['apply', files.v1, '-F', fleet.ssh, '--yes', '--json', '--canary', '2', '--wave-size', '4', '--probe'], env);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.json.waves.map((w: { status: string }) => w.status)).to.deep.equal(['committed', 'not-started', 'not-started', 'not-started']);
    expect(r.json.waves[0].stopped).to.match(/^after wave 1 committed, natchain probe failed: f01 from s01: gw-0[12] \w+: /);
    await expectAll(all('v2', { 'gw-01': 'v1', 'gw-02': 'v1' }), 'after the probe stopped the rollout');
  });
});
