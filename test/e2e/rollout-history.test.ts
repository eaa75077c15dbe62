// History that belongs to the fleet: rollback decided from the gateways' own records, by an
// operator whose machine never saw the transactions (a second state directory, empty journal).
// One lab of 4 gateways (gw-1, gw-3 nftables; gw-2, gw-4 iptables) with real sshd and netfilter;
// the scenarios run in order. f1 runs gw-1 -> gw-2, f2 gw-3 -> gw-4; v2 changes f1's port, v3 f2's too.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HISTORY_KEEP } from '../../src/rollout/remote-scripts.js';
import { cli, GatewayFleet, type CliResult } from './rollout-support.js';

const gws = ['gw-1', 'gw-2', 'gw-3', 'gw-4'];

/** The fleet: gw-N with site sN (10.N.0.0/24) on one VPN. */
function fleetYaml(forwards: string[]): string {
  const lines = ['version: 1', 'sites:'];
  for (let i = 1; i <= 4; i++) lines.push(`  s${i}: { subnets: [10.${i}.0.0/24] }`);
  lines.push('networks:', '  vpn: { subnet: 10.255.0.0/24 }', 'gateways:');
  for (let i = 1; i <= 4; i++) {
    lines.push(`  gw-${i}:`, `    backend: ${i % 2 ? 'nftables' : 'iptables'}`, '    interfaces:', `      wg0: { address: 10.255.0.${i}/24, network: vpn }`, `      eth1: { address: 10.${i}.0.1/24, site: s${i} }`);
  }
  if (forwards.length) lines.push('forwards:', ...forwards.map((f) => `  ${f}`));
  return lines.join('\n') + '\n';
}

describe('fleet history in the lab: rollback from the gateways\' records (4 gateways, both backends)', function () {
  this.timeout(300_000);
  const f1 = (port: number) => `f1: { from: s1, to: '10.2.0.10:${port}', proto: tcp }`;
  const f2 = (port: number) => `f2: { from: s3, to: '10.4.0.10:${port}', proto: tcp }`;
  /** Two operators: A made the transactions, B (another state directory, empty journal) did not. */
  const B = { NATCHAIN_STATE_DIR: '' };
  const fleet = new GatewayFleet({
    empty: fleetYaml([]),
    v1: fleetYaml([f1(80), f2(80)]),
    v2: fleetYaml([f1(8080), f2(80)]),
    v3: fleetYaml([f1(8080), f2(8081)]),
  }).hooks({ tmp: 'history', lab: 'hist', ready: async () => {
      B.NATCHAIN_STATE_DIR = join(fleet.dir, 'state-b');
    },
  });
  const { env: A, files } = fleet;
  const tx: Record<string, string> = {};
  const sh = (gw: string, script: string) => fleet.sh(gw, script);
  const expectAll = (expected: Record<string, string>, why: string) => fleet.expectAll(expected, why);
  const all = (v: string, over: Record<string, string> = {}) => Object.fromEntries(gws.map((g) => [g, over[g] ?? v]));
  const ok = (r: CliResult) => expect(r.code, r.stdout + r.stderr).to.equal(0);
  const row = (r: CliResult, g: string) => r.json.gateways.find((x: { gateway: string }) => x.gateway === g);

  it('A applies three times; B, whose journal is empty, undoes the last transaction from the gateways\' records', async () => {
    for (const v of ['v1', 'v2', 'v3'] as const) {
      const r = await cli(['apply', files[v], '-F', fleet.ssh, '--yes', '--json'], A);
      ok(r);
      tx[v] = r.json.tx;
      tx[`${v}-rollout`] = r.json.rollout;
    }
    await expectAll(all('v3'), 'after three applies');
    const rb = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json'], B);
    ok(rb);
    expect(rb.json).to.include({ kind: 'rollback', outcome: 'committed', summary: '1 wave committed, 0 rolled back, 0 not started' });
    // Every apply is a rollout (here of one wave); the gateways recorded its id with the transaction.
    expect(rb.json.rollback).to.deep.equal({ mode: 'undo', tx: tx.v3, undo: [tx.v3], rollout: tx['v3-rollout'] });
    expect(rb.json.notes.join('\n')).to.include(`transaction ${tx.v3} is not in this machine's journal`);
    // The gateways v3 changed: a read of the records, a second one of its directory, the transaction's 3 execs. The others: the read.
    expect(gws.map((g) => `${g} ${row(rb, g).state} ${row(rb, g).roundTrips}`)).to.deep.equal(['gw-1 unchanged 1', 'gw-2 unchanged 1', 'gw-3 committed 5', 'gw-4 committed 5']);
    await expectAll(all('v2'), 'after B undid the third apply');
  });

  it('B rolls back --to each of A\'s transactions: a gateway the transaction did not change goes to its state right after it', async () => {
    const to3 = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json', '--to', tx.v3!], B);
    ok(to3);
    expect(to3.json.rollback).to.deep.equal({ mode: 'to', tx: tx.v3, undo: [] });
    await expectAll(all('v3'), `after --to the third apply`);
    // v2 changed gw-1 and gw-2 only: gw-3 and gw-4 go to the snapshot of the next transaction there (v3's), a second read.
    const to2 = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json', '--to', tx.v2!], B);
    ok(to2);
    expect(gws.map((g) => `${g} ${row(to2, g).state} ${row(to2, g).roundTrips}`)).to.deep.equal(['gw-1 unchanged 1', 'gw-2 unchanged 1', 'gw-3 committed 5', 'gw-4 committed 5']);
    await expectAll(all('v2'), `after --to the second apply`);
    const to1 = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json', '--to', tx.v1!], B);
    ok(to1);
    await expectAll(all('v1'), `after --to the first apply`);
    tx.toOne = to1.json.tx;
    const again = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json', '--to', tx.v1!], B);
    ok(again);
    expect(again.json.outcome).to.equal('noop');
    for (const g of gws) expect(row(again, g), g).to.include({ state: 'unchanged', roundTrips: 1 });
  });

  it('A\'s journal says its own apply was the last commit; the gateways say B\'s rollback was: A undoes that one', async () => {
    const rb = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json'], A);
    ok(rb);
    expect(rb.json.rollback).to.include({ mode: 'undo', tx: tx.toOne });
    expect(rb.json.notes.join('\n')).to.include(`transaction ${tx.toOne} is not in this machine's journal`);
    await expectAll(all('v2'), 'after A undid B\'s rollback');
  });

  it('a transaction pruned from one gateway\'s history: the rollback names the gateway and the retention, and changes nothing', async () => {
    // 2 x HISTORY_KEEP finished transactions on gw-2 (made up: aborted ones), then a real commit there prunes.
    const now = Math.floor(Date.now() / 1000);
    await sh('gw-2', `i=100; while [ $i -lt ${100 + 2 * HISTORY_KEEP} ]; do printf '20260101T000000Z-f00%s\\t${now}\\t-\\tapply\\taborted\\t-\\n' $i; i=$((i + 1)); done >> /var/lib/natchain/history`);
    ok(await cli(['apply', files.v1, '-F', fleet.ssh, '--yes'], A));
    expect(await sh('gw-2', `grep -c . /var/lib/natchain/history`)).to.equal(`${HISTORY_KEEP}\n`);
    expect(await sh('gw-2', `cat /var/lib/natchain/pruned`)).to.match(/^20260101T000000Z-f00\d+\t/);
    expect(await sh('gw-2', `ls -d /var/lib/natchain/${tx.v1} 2>/dev/null || true`), "the pruned transaction's directory").to.equal('');
    const r = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json', '--to', tx.v1!], B);
    expect(r.code, r.stderr).to.not.equal(0);
    expect(r.stderr).to.include(`gw-2: ${tx.v1} changed it, but its history no longer holds ${tx.v1}`).and.include(`keeps at least its last ${HISTORY_KEEP} transactions`);
    await expectAll(all('v1'), 'after the refused rollback');
  });

  it('--pause 2 waits 2 s between waves; B (no rollouts.jsonl) rolls back the whole wave rollout as one transaction, from the gateways\' records', async () => {
    const r = await cli(['apply', files.v3, '-F', fleet.ssh, '--yes', '--json', '--wave-size', '2', '--pause', '2'], A);
    ok(r);
    expect(r.json.waves.map((w: { gateways: string[]; status: string }) => `${w.gateways.join(' ')}: ${w.status}`)).to.deep.equal(['gw-1 gw-2: committed', 'gw-3 gw-4: committed']);
    const log = readFileSync(join(A.NATCHAIN_STATE_DIR, 'rollouts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((x) => x.rollout === r.json.rollout && x.type === 'wave');
    // Wave records are written when a wave ends: between them, the checks, the pause and the second wave.
    const gap = Date.parse(log[1].time) - Date.parse(log[0].time) - r.json.waves[1].elapsedMs;
    expect(gap, 'ms between the waves').to.be.at.least(2000).and.below(2000 + 8000);
    await expectAll(all('v3'), 'after the wave rollout');
    const rb = await cli(['rollback', files.v3, '-F', fleet.ssh, '--yes', '--json'], B);
    ok(rb);
    expect(rb.json.rollback).to.deep.equal({ mode: 'undo', tx: r.json.waves[0].tx, undo: r.json.waves.map((w: { tx: string }) => w.tx), rollout: r.json.rollout });
    expect(rb.json.waves).to.have.length(1);
    await expectAll(all('v1'), 'after the rollback of the rollout');
  });
});
