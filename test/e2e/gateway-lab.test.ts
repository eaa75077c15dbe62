// The gateways themselves, in the lab (real sshd, real netfilter, both backends): preflight
// refuses a gateway that is not what the topology says before anything changes anywhere; a
// foreign rule that catches a forward before natchain's is reported as shadowing (and apply
// repairs it where it can); counters rise with traffic; probe finds a broken hop; `lab test`
// works on every example topology. One lab per describe, shared by its tests.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labEchoStart, labEchoStop, labExec, type Lab } from '../../src/lab/index.js';
import type { Backend } from '../../src/topology/index.js';
import { natchain } from '../support/cli.js';
import { loadRules, topologyFile as readTopologyFile, useLab, withBackend } from '../support/lab.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The CLI with a private state directory; `json` is the parsed stdout when it is JSON. */
function cli(args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string; json?: Json } {
  const r: { code: number; stdout: string; stderr: string; json?: Json } = natchain(args, { env });
  try {
    r.json = JSON.parse(r.stdout);
  } catch {
    // not JSON
  }
  return r;
}

async function sh(lab: Lab, node: string, script: string): Promise<string> {
  const r = await labExec(lab, node, ['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${node}: ${script}: ${r.stderr}`);
  return r.stdout;
}

/** Every gateway's whole netfilter state, counters left out (what "nothing changed anywhere" compares). */
async function everything(lab: Lab): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const g of lab.gateways) out.set(g.name, (await sh(lab, g.name, 'iptables-save | grep -v "^#"; nft -s list ruleset')).replace(/\[\d+:\d+\]/g, ''));
  return out;
}

for (const backend of ['iptables', 'nftables'] as Backend[]) {
  describe(`gateways in the lab: preflight, shadowing, counters, probe (${backend})`, function () {
    this.timeout(180_000);
    const base = 'test/e2e/fixtures/seed-vpn-doc.yaml';
    const env = { NATCHAIN_STATE_DIR: '' };
    let dir = '';
    let file = '';
    const f = useLab(async () => withBackend(await readTopologyFile(base), backend), `gw-${backend === 'iptables' ? 'ipt' : 'nft'}`);
    const ssh = () => ['-F', f.lab.sshConfig];
    /** A copy of the topology for this backend (and an edit). */
    const write = (name: string, edit: (s: string) => string = (s) => s) => {
      const text = readFileSync(base, 'utf8').replace(/^version: 1\n/m, `version: 1\ndefaults:\n  backend: ${backend}\n`);
      const p = join(dir, name);
      writeFileSync(p, edit(text));
      return p;
    };

    before(async function () {
      if (!f.lab) this.skip();
      dir = mkdtempSync(join(tmpdir(), 'natchain-gw-'));
      env.NATCHAIN_STATE_DIR = join(dir, 'state');
      file = write('seed-vpn.yaml');
      const r = cli(['apply', file, ...ssh(), '--yes'], env);
      expect(r.code, r.stderr + r.stdout).to.equal(0);
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('lab test: every source reaches the target, which sees the address solve predicts; status --counters rises with that traffic', async () => {
      const counts = () => {
        const r = cli(['status', file, ...ssh(), '--counters', '--json'], env);
        expect(r.code, r.stderr + r.stdout).to.equal(0);
        return new Map<string, number>((r.json.gateways as Json[]).flatMap((g) => (g.counters as Json[]).map((x) => [`${g.gateway}/${x.forward}`, x.packets as number])));
      };
      const before = counts();
      expect([...before.keys()].sort()).to.deep.equal(['gw-a/ssh-12', 'gw-b/ssh-12']);
      const t = cli(['lab', 'test', f.lab.name, '--topology', file, '--json'], env);
      expect(t.code, t.stdout + t.stderr).to.equal(0);
      const seen = (t.json.results as Json[]).map((x) => [x.source, x.sawPeer, x.expectedPeer, x.ok]);
      expect(seen).to.deep.equal([
        ['site-b', '203.0.113.171', '203.0.113.171', true],
        ['internet', '203.0.113.200', '203.0.113.200', true],
      ]);
      const after = counts();
      // gw-a's DNAT saw both connections (from gw-b and from the internet client), gw-b's the one from site-b.
      expect(after.get('gw-a/ssh-12')! - before.get('gw-a/ssh-12')!).to.equal(2);
      expect(after.get('gw-b/ssh-12')! - before.get('gw-b/ssh-12')!).to.equal(1);
    });

    it('probe: ok while the target listens; names the last hop and the refused connection when the target service is down', async () => {
      const ok = cli(['probe', file, ...ssh(), '--json'], env);
      expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
      expect((ok.json.forwards as Json[]).map((x) => x.ok)).to.deep.equal([true]);
      await labEchoStop(f.lab, 'server-ssh-12', [{ port: 22, proto: 'tcp' }]);
      try {
        const bad = cli(['probe', file, ...ssh(), '--forward', 'ssh-12', '--json'], env);
        expect(bad.code).to.equal(1);
        const failures = (bad.json.forwards[0].chains as Json[]).map((c) => [c.source, c.failure.gateway, c.failure.check]);
        expect(failures).to.deep.equal([
          ['site-b', 'gw-a', 'connect'],
          ['internet', 'gw-a', 'connect'],
        ]);
        expect(bad.json.forwards[0].chains[0].failure.detail).to.match(/TCP connection to 10\.0\.0\.12:22 from gw-a failed: .*refused/i);
        // Every other check of the chain passed: the hop before is fine.
        expect((bad.json.forwards[0].chains[0].hops[0].steps as Json[]).every((s) => s.ok === true)).to.equal(true);
        const human = cli(['probe', file, ...ssh()], env);
        expect(human.stdout).to.contain('gw-a: connect: TCP connection to 10.0.0.12:22 from gw-a failed');
        // A real service in the echo's place (docs/lab.md): probe is satisfied, lab test says it is not the echo.
        const pid = (await sh(f.lab, 'server-ssh-12', "socat TCP-LISTEN:22,fork,reuseaddr SYSTEM:'echo SSH-2.0-real' </dev/null >/dev/null 2>&1 & echo $!")).trim();
        try {
          for (let i = 0; i < 100 && !(await sh(f.lab, 'server-ssh-12', 'cat /proc/net/tcp')).includes(':0016 00000000:0000 0A'); i++) await new Promise((r) => setTimeout(r, 20));
          expect(cli(['probe', file, ...ssh()], env).code).to.equal(0);
          const t = cli(['lab', 'test', f.lab.name, '--topology', file, '--json'], env);
          expect(t.code).to.equal(1);
          expect(t.json.results[0].error).to.contain("answered, but not by the lab's echo service");
        } finally {
          process.kill(Number(pid), 'SIGTERM');
        }
      } finally {
        await labEchoStart(f.lab, 'server-ssh-12');
      }
      expect(cli(['probe', file, ...ssh()], env).code).to.equal(0);
    });

    it("shadowing: a foreign rule ahead of natchain's is named by status and plan (exit non-zero), and the forward is dead until repaired", async () => {
      const insert =
        backend === 'iptables'
          ? 'iptables -t nat -I PREROUTING 1 -i eth0 -p tcp --dport 22012 -j ACCEPT'
          : `nft -f - <<'EOF'\ntable inet shadow {\n  chain pre { type filter hook prerouting priority -200; policy accept; iifname "eth0" tcp dport 22012 drop; }\n}\nEOF`;
      await sh(f.lab, 'gw-a', insert);
      const st = cli(['status', file, ...ssh(), '--json'], env);
      expect(st.code).to.equal(1);
      const a = (st.json.gateways as Json[]).find((g) => g.gateway === 'gw-a');
      expect(a.sync).to.equal('shadowed');
      expect(a.shadowed[0].forwards).to.deep.equal(['ssh-12']);
      expect(a.shadowed[0].rule).to.equal(backend === 'iptables' ? '-A PREROUTING -i eth0 -p tcp -m tcp --dport 22012 -j ACCEPT' : 'chain pre handle 2: meta iifname "eth0" tcp dport 22012 drop');
      expect((st.json.gateways as Json[]).find((g) => g.gateway === 'gw-b').sync).to.equal('in-sync');
      const plan = cli(['plan', file, ...ssh()], env);
      expect(plan.code).to.equal(backend === 'iptables' ? 2 : 1);
      expect(plan.stdout).to.contain('gw-a (' + backend + '): shadowed');
      const dead = cli(['lab', 'test', f.lab.name, '--topology', file, '--json'], env);
      expect(dead.code).to.equal(1);
      expect((dead.json.results as Json[]).find((x) => x.source === 'internet').ok).to.equal(false);
      if (backend === 'nftables') await sh(f.lab, 'gw-a', 'nft delete table inet shadow');
      else {
        // apply moves natchain's jump back to the top of PREROUTING and says so; the admin's rule stays.
        const ap = cli(['apply', file, ...ssh(), '--yes'], env);
        expect(ap.code, ap.stdout + ap.stderr).to.equal(0);
        expect(ap.stdout).to.contain("gw-a: moved natchain's jump back to the top of PREROUTING (1 rule was ahead of it)");
        const pre = (await sh(f.lab, 'gw-a', 'iptables-save -t nat')).split('\n').filter((l) => l.startsWith('-A PREROUTING'));
        expect(pre[0]).to.equal('-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING');
        expect(pre).to.include('-A PREROUTING -i eth0 -p tcp -m tcp --dport 22012 -j ACCEPT');
      }
      expect(cli(['status', file, ...ssh()], env).code).to.equal(0);
      expect(cli(['lab', 'test', f.lab.name, '--topology', file], env).code).to.equal(0);
      if (backend === 'iptables') {
        // A rule ahead that cannot catch the forward: not shadowing; status names it as a moved jump, apply puts it back.
        await sh(f.lab, 'gw-a', 'iptables -t nat -D PREROUTING -i eth0 -p tcp --dport 22012 -j ACCEPT && iptables -t nat -I PREROUTING 1 -i docker0 -j RETURN');
        const st2 = cli(['status', file, ...ssh(), '--json'], env);
        const a2 = (st2.json.gateways as Json[]).find((g) => g.gateway === 'gw-a');
        expect(a2).to.deep.include({ sync: 'drifted', shadowed: [] });
        expect(a2.detail).to.contain("another rule was put ahead of natchain's jump");
        expect(cli(['apply', file, ...ssh(), '--yes'], env).code).to.equal(0);
        await sh(f.lab, 'gw-a', 'iptables -t nat -D PREROUTING -i docker0 -j RETURN');
        expect(cli(['status', file, ...ssh()], env).code).to.equal(0);
        // A table that runs before nat (raw): untracked, the forward is never DNATed; apply cannot repair that (plan exits 1).
        await sh(f.lab, 'gw-a', 'iptables -t raw -A PREROUTING -p tcp --dport 22012 -j CT --notrack');
        try {
          const st3 = cli(['status', file, ...ssh(), '--json'], env);
          expect((st3.json.gateways as Json[]).find((g) => g.gateway === 'gw-a').shadowed.map((h: Json) => [h.where, h.repairable])).to.deep.equal([['raw PREROUTING', false]]);
          expect(cli(['plan', file, ...ssh()], env).code).to.equal(1);
          expect(cli(['lab', 'test', f.lab.name, '--topology', file], env).code).to.equal(1);
        } finally {
          await sh(f.lab, 'gw-a', 'iptables -t raw -D PREROUTING -p tcp --dport 22012 -j CT --notrack');
        }
        expect(cli(['status', file, ...ssh()], env).code).to.equal(0);
      }
    });

    it('preflight: a renamed interface or a wrong address refuses apply with a precise error, before anything changes anywhere; plan and status say the same', async () => {
      // Every gateway would change: the forward moves to another public port.
      const moved = write('moved.yaml', (s) => s.replace('expose: 198.51.100.180:22012', 'expose: 198.51.100.180:22013'));
      const cases = [
        { break: 'ip link set eth1 down && ip link set eth1 name lan0 && ip link set lan0 up', fix: 'ip link set lan0 down && ip link set lan0 name eth1 && ip link set eth1 up', message: 'gw-b: interface eth1 (10.0.1.2/24 in the topology) does not exist on the gateway; 10.0.1.2 is on lan0 (10.0.1.2/24)' },
        { break: 'ip addr del 10.0.1.2/24 dev eth1 && ip addr add 10.0.9.2/24 dev eth1', fix: 'ip addr del 10.0.9.2/24 dev eth1 && ip addr add 10.0.1.2/24 dev eth1', message: 'gw-b: interface eth1 has 10.0.1.2/24 in the topology but 10.0.9.2/24 on the gateway' },
      ];
      const start = await everything(f.lab);
      for (const c of cases) {
        await sh(f.lab, 'gw-b', c.break);
        try {
          const before = await everything(f.lab);
          const ap = cli(['apply', moved, ...ssh(), '--yes'], env);
          expect(ap.code, ap.stdout + ap.stderr).to.not.equal(0);
          expect(ap.stdout + ap.stderr).to.contain(c.message.replace(/^gw-b: /, ''));
          expect(ap.stdout + ap.stderr).to.contain('nothing was changed');
          expect(await everything(f.lab), 'nothing changed on any gateway').to.deep.equal(before);
          const plan = cli(['plan', moved, ...ssh(), '--json'], env);
          expect(plan.code).to.equal(1);
          expect((plan.json.gateways as Json[]).find((g) => g.gateway === 'gw-b')).to.deep.include({ status: 'mismatch', mismatches: [c.message] });
          const st = cli(['status', file, ...ssh(), '--json'], env);
          expect(st.code).to.equal(1);
          expect((st.json.gateways as Json[]).find((g) => g.gateway === 'gw-b')).to.deep.include({ sync: 'mismatch', mismatches: [c.message] });
        } finally {
          await sh(f.lab, 'gw-b', c.fix);
        }
      }
      expect(cli(['status', file, ...ssh()], env).code).to.equal(0);
      expect(await everything(f.lab), 'every gateway as the first apply left it').to.deep.equal(start);
    });
  });
}

describe('natchain lab test on every example topology', function () {
  this.timeout(120_000);
  // Each example as shipped (its own backends: hub-vpn mixes nftables and iptables), so probe reads the same file.
  const examples: Array<[string, string]> = [
    ['topologies/seed-portforward.yaml', 'ex-port'],
    ['topologies/seed-vpn.yaml', 'ex-vpn'],
    ['topologies/three-hop.yaml', 'ex-hop'],
    ['topologies/hub-vpn.yaml', 'ex-hub'],
  ];
  for (const [file, short] of examples) {
    describe(file, () => {
      const f = useLab(() => readTopologyFile(file), short);
      it('lab test: every forward, from every source, reaches its target, which sees the source address solve predicts; probe passes every hop', async function () {
        if (!f.lab) this.skip();
        const none = cli(['lab', 'test', f.lab.name, '--json'], {});
        expect(none.code, 'without natchain rules nothing gets through').to.equal(1);
        await loadRules(f);
        const r = cli(['lab', 'test', f.lab.name, '--json'], {});
        expect(r.code, r.stdout + r.stderr).to.equal(0);
        const results = r.json.results as Json[];
        expect(results.length).to.be.at.least(f.solution.chains.length);
        for (const x of results) expect(x, JSON.stringify(x)).to.include({ ok: true, sawPeer: x.expectedPeer });
        // probe agrees: every hop of every chain passes every check (jump hosts and hairpin included).
        const p = cli(['probe', file, '-F', f.lab.sshConfig, '--json'], {});
        expect(p.code, p.stdout + p.stderr).to.equal(0);
        expect((p.json.forwards as Json[]).length).to.equal(new Set(f.solution.chains.map((c) => c.forward)).size);
      });
    });
  }
});
