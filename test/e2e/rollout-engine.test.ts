// The transaction engine against real netfilter in bare network namespaces (no SSH, no links):
// fast proof of the remote scripts, the timer and the all-or-nothing logic, both backends.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iptablesForeign, nftablesForeign } from '../../src/render/index.js';
import { readFaults } from '../../src/rollout/faults.js';
import { changeToIntents } from '../../src/rollout/owned.js';
import { runTransaction, TransactionError, type TransactionOptions } from '../../src/rollout/transaction.js';
import { solve } from '../../src/solve/index.js';
import type { Backend, Topology } from '../../src/topology/types.js';
import type { Connector } from '../../src/transport/types.js';
import { example } from '../support/topo.js';
import { testTxOptions } from '../support/tx.js';
import { canUseNetns, NetnsGateway } from './rollout-support.js';

const FOREIGN_IPT = [
  'iptables -t nat -N DOCKER',
  'iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
  'iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
  'iptables -N ADMIN-IN',
  'iptables -A ADMIN-IN -p tcp --dport 22 -j ACCEPT',
  'iptables -A INPUT -j ADMIN-IN',
  'iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP',
];
const FOREIGN_NFT = `nft -f - <<'EOF'
table inet admin {
  chain input { type filter hook input priority 0; policy accept; tcp dport 22 accept; }
}
EOF`;

function withBackend(t: Topology, backend: Backend): Topology {
  return { ...t, gateways: t.gateways.map((g) => ({ ...g, backend })) };
}

for (const backend of ['iptables', 'nftables'] as const) {
  describe(`rollout engine in bare namespaces (${backend})`, function () {
    this.timeout(60_000);
    const gws = new Map<string, NetnsGateway>();
    let dir = '';
    let topology: Topology;

    before(function () {
      if (!canUseNetns()) this.skip();
      topology = withBackend(example('three-hop'), backend);
      dir = mkdtempSync(join(tmpdir(), 'natchain-rt-state-'));
      for (const g of topology.gateways) {
        const gw = new NetnsGateway(g.name.slice(3));
        gws.set(g.name, gw);
        for (const cmd of FOREIGN_IPT) gw.sh(cmd);
        gw.sh(FOREIGN_NFT);
      }
    });
    after(() => {
      for (const g of gws.values()) g.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    // iptables-nft shows natchain's iptables chains in `nft list ruleset` too: with that backend the
    // nft side compared is the admin's own table.
    const foreign = () =>
      [...gws.entries()]
        .map(([n, g]) => {
          const nft = backend === 'nftables' ? nftablesForeign(g.sh('nft list ruleset')) : g.sh('nft list table inet admin');
          return `${n}\n${iptablesForeign(g.sh('iptables-save'))}\n${nft}`;
        })
        .join('\n');
    const owned = (name: string) =>
      backend === 'iptables' ? gws.get(name)!.sh('iptables-save | grep -c NATCHAIN || true').trim() : gws.get(name)!.sh('nft list tables').includes('natchain') ? 'table' : 'none';
    const connector: Connector = async (_t, g) => gws.get(g.name)!.session(g.name);
    const opts = (fault = '', extra: Partial<TransactionOptions> = {}): TransactionOptions => {
      const solution = solve(topology);
      return testTxOptions(dir, {
        topology,
        target: (g) => changeToIntents(g, solution.intents[g.name] ?? []),
        needsForwarding: (g) => (solution.intents[g.name] ?? []).length > 0,
        connector,
        enableIpForward: true,
        faults: readFaults(fault, true), // the explicit opt-in (NATCHAIN_TEST_FAULTS_ENABLE for the CLI)
        ...extra,
      });
    };

    it('refuses when ip_forward is off and --enable-ip-forward is not given: nothing changed', async () => {
      const before = foreign();
      const err = await runTransaction(opts('', { enableIpForward: false })).catch((e) => e);
      expect(err).to.be.instanceOf(TransactionError);
      expect(err.message).to.match(/ip_forward/);
      expect(foreign()).to.equal(before);
      for (const g of gws.keys()) expect(owned(g)).to.be.oneOf(['0', 'none']);
    });

    it('a check that fails on one gateway changes nothing anywhere', async () => {
      const before = foreign();
      const err = await runTransaction(opts('check:gw-edge')).catch((e) => e);
      expect(err).to.be.instanceOf(TransactionError);
      expect(err.report.failure).to.include({ gateway: 'gw-edge', phase: 'check' });
      expect(foreign()).to.equal(before);
      for (const g of gws.keys()) expect(owned(g)).to.be.oneOf(['0', 'none']);
      for (const g of gws.values()) expect(g.sh('cat /proc/sys/net/ipv4/ip_forward').trim()).to.equal('0');
    });

    it('an apply that fails on the second of three gateways leaves all three as they were', async () => {
      const before = foreign();
      const err = await runTransaction(opts('apply:gw-edge')).catch((e) => e);
      expect(err).to.be.instanceOf(TransactionError);
      expect(err.report.failure).to.include({ gateway: 'gw-edge', phase: 'apply' });
      // The gateway restored its own snapshot at once and says so (its history line written on the way).
      expect(err.report.failure.reason).to.match(/ \(restored the snapshot\)$/);
      expect(err.report.outcome).to.equal('rolled-back');
      expect(foreign()).to.equal(before);
      for (const g of gws.keys()) expect(owned(g)).to.be.oneOf(['0', 'none']);
      for (const g of gws.values()) expect(g.sh('cat /proc/sys/net/ipv4/ip_forward').trim()).to.equal('0');
      for (const g of gws.values()) expect(g.sh('ls /run/natchain')).to.equal('');
    });

    it('applies on every gateway in 3 round trips each, then a second apply is a no-op in 1 each', async () => {
      const before = foreign();
      const r = await runTransaction(opts());
      expect(r.outcome).to.equal('committed');
      for (const g of r.gateways) {
        expect(g.state, g.gateway).to.equal('committed');
        expect(g.roundTrips, g.gateway).to.equal(3);
      }
      expect(foreign()).to.equal(before);
      for (const g of gws.keys()) expect(owned(g)).to.not.be.oneOf(['0', 'none']);
      const again = await runTransaction(opts());
      expect(again.outcome).to.equal('noop');
      for (const g of again.gateways) expect(g, g.gateway).to.include({ roundTrips: 1, state: 'unchanged' });
      for (const g of gws.values()) expect(g.sh('ls /run/natchain')).to.equal('');
    });

    it('a held lock refuses the second transaction with the holder identity', async () => {
      const edge = gws.get('gw-edge')!;
      edge.sh(`mkdir -p /run/natchain/lock && printf '20260101T000000Z-abcdef\\nalice@ops:4242\\n%s\\n' $(date +%s) > /run/natchain/lock/owner`);
      try {
        const err = await runTransaction(opts()).catch((e) => e);
        expect(err).to.be.instanceOf(TransactionError);
        expect(err.code).to.equal('LOCKED');
        expect(err.message).to.include('20260101T000000Z-abcdef').and.include('alice@ops:4242');
        for (const n of ['gw-office', 'gw-dc']) expect(gws.get(n)!.sh('ls /run/natchain')).to.equal('');
      } finally {
        edge.sh('rm -rf /run/natchain/lock');
      }
    });

    it('breaks a dead transaction\'s lock only when asked with its exact id', async () => {
      const edge = gws.get('gw-edge')!;
      edge.sh(`mkdir -p /run/natchain/lock && printf '20260101T000000Z-dead00\\nbob@gone:7\\n%s\\n' $(date +%s) > /run/natchain/lock/owner`);
      try {
        const wrong = await runTransaction(opts('', { breakLock: '20260101T000000Z-0ther0' })).catch((e) => e);
        expect(wrong.code).to.equal('LOCKED');
        const r = await runTransaction(opts('', { breakLock: '20260101T000000Z-dead00' }));
        expect(r.outcome).to.be.oneOf(['noop', 'committed']);
        expect(r.gateways.find((g) => g.gateway === 'gw-edge')!.state).to.be.oneOf(['released', 'unchanged', 'committed']);
        for (const g of gws.values()) expect(g.sh('ls /run/natchain')).to.equal('');
      } finally {
        edge.sh('rm -rf /run/natchain/lock');
      }
    });

    it('the dead-man timer restores the snapshot when no commit comes', async () => {
      const before = foreign();
      const ownedBefore = [...gws.keys()].map(owned);
      // Remove every forward, then "crash" before commit: the pause lets the test stop waiting.
      const empty = { ...topology, forwards: [] };
      const o = opts('', { topology: empty, confirmTimeoutSec: 2, target: (g) => changeToIntents(g, []) });
      const ctl = new AbortController();
      o.signal = ctl.signal;
      // Run to the apply, then abort at the commit boundary by closing every session (the "controller" is gone).
      o.faults = { active: true, remote: () => false, pause: (p) => (p === 'commit' ? 1 : 0) };
      const sessions: Array<{ kill(): void }> = [];
      o.connector = async (_t, g) => {
        const s = gws.get(g.name)!.session(g.name);
        sessions.push(s);
        return s;
      };
      o.fresh = async () => {
        throw new Error('no new connection: the controller is gone');
      };
      o.progress = {
        start() {},
        finish(_g, phase) {
          if (phase === 'verify') for (const s of sessions) s.kill();
        },
        note() {},
      };
      const err = await runTransaction(o).catch((e) => e);
      expect(err).to.be.instanceOf(TransactionError);
      // While armed, natchain's chains are gone; after the timer, they are back.
      await new Promise((r) => setTimeout(r, 3500));
      expect([...gws.keys()].map(owned)).to.deep.equal(ownedBefore);
      expect(foreign()).to.equal(before);
      for (const g of gws.values()) expect(g.sh('ls /run/natchain')).to.equal('');
      for (const g of gws.values()) expect(g.sh('cat /var/lib/natchain/*/state | sort | uniq -c')).to.include('reverted');
    });
  });
}
