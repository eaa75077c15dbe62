// The shape of the fleet benchmark (scripts/bench/fleet-sim.ts) at 50 simulated gateways: the
// CLI applies, re-applies (no-op), plans and reads status through real SSH (ssh2 servers
// answering from an in-memory model of each gateway), and the work it does grows with the fleet
// the way it should: one connection per gateway for reads, a bounded number of round trips per
// gateway, every gateway left holding exactly what natchain rendered for it and its foreign
// rules untouched. No timing is asserted here (that is the benchmark's job).
import assert from 'node:assert/strict';
import { runNatchain } from '../../scripts/bench/run-cli.js';
import { FOREIGN_IPTABLES } from '../../scripts/bench/sim/gateway.js';
import { startSimLab, type SimLab } from '../../scripts/bench/sim/lab.js';
import { REACH_MIN_PARALLEL } from '../../src/rollout/outside.js';

const N = 50;

describe(`simulated fleet: ${N} gateways through the CLI (shape of the fleet benchmark)`, function () {
  this.timeout(120_000);
  let lab: SimLab;
  let remote: string[];
  before(async () => {
    lab = await startSimLab(N, 4);
    remote = ['-F', lab.sshConfig, '--state-dir', lab.stateDir('test'), '--concurrency', '8'];
  });
  after(async () => {
    await lab?.close();
  });

  /** Runs a command and returns what the fleet saw during it. */
  async function run(args: string[]): Promise<{ code: number; out: string; connections: number; execs: number }> {
    const before = { ...lab.fleet.stats };
    lab.fleet.stats.maxOpen = lab.fleet.stats.open;
    lab.fleet.stats.maxLoggedIn = lab.fleet.stats.loggedIn;
    const r = await runNatchain(args);
    assert.deepEqual(lab.fleet.stats.unknown, [], 'every remote command was a natchain phase the simulation knows');
    // --concurrency 8 bounds the connections logged in at once, the fresh "still gets in" ones included (plus a few still closing);
    // the reachability checks of gateways outside a change (a version line, no login) have a bound of their own.
    assert.ok(lab.fleet.stats.maxLoggedIn <= 16, `${lab.fleet.stats.maxLoggedIn} connections logged in at once`);
    assert.ok(lab.fleet.stats.maxOpen <= 16 + REACH_MIN_PARALLEL, `${lab.fleet.stats.maxOpen} connections open at once`);
    return { code: r.code, out: r.stdout + r.stderr, connections: lab.fleet.stats.connections - before.connections, execs: lab.fleet.stats.execs - before.execs };
  }

  it('a first apply commits on every gateway, leaving exactly the rendered rules and the foreign ones', async () => {
    const r = await run(['apply', lab.topologyFile, '--yes', '--confirm-timeout', '600', ...remote]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /committed.* transaction /);
    // Per changed gateway a few execs; with 50 gateways and --concurrency 8, a connection is
    // closed between phases to make room and reopened: at most one handshake per exec, plus the
    // connect check and the fresh "still gets in" probe.
    assert.ok(r.execs <= 4 * N, `${r.execs} execs`);
    assert.ok(r.connections <= r.execs + 2 * N, `${r.connections} connections`);
    // Exactly the rendered rules: `plan` below finds every gateway in sync. Here: they are loaded, and foreign rules kept.
    for (const sim of lab.fleet.gateways.values()) {
      const dump = sim.dump();
      assert.match(dump, sim.backend === 'iptables' ? /^:NATCHAIN-PREROUTING /m : /^table ip natchain \{/m, sim.name);
      if (sim.backend === 'iptables') for (const rule of FOREIGN_IPTABLES.filter((l) => l.startsWith('-A '))) assert.ok(dump.includes(rule), `${sim.name} lost ${rule}`);
    }
  });

  it('a second apply changes nothing and costs at most a read and a release per gateway', async () => {
    const r = await run(['apply', lab.topologyFile, '--yes', ...remote]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`in sync.*nothing to apply on ${N} gateway`));
    assert.ok(r.execs <= 2 * N, `${r.execs} execs`);
    assert.ok(r.connections <= r.execs + N, `${r.connections} connections`);
  });

  it('plan and status read every gateway once, over one connection each', async () => {
    for (const cmd of ['plan', 'status']) {
      const r = await run([cmd, lab.topologyFile, ...remote]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /in.sync/);
      assert.equal(r.connections, N, cmd);
      assert.equal(r.execs, N, cmd);
    }
  });
});
