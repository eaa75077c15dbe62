// Transport against real OpenSSH sshd processes (test/support/sshd.ts): no mocked SSH anywhere.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NatchainError } from '../../src/errors.js';
import type { Gateway, Topology } from '../../src/topology/types.js';
import { connect, connectAll, SshPool } from '../../src/transport/connect.js';
import { shellQuote } from '../../src/transport/quote.js';
import type { ConnectOptions, GatewaySession } from '../../src/transport/types.js';
import { HOSTILE_STRINGS, SshLab, hasSudo, sshdUnavailable, type LabSshd } from '../support/sshd.js';

const pos = { file: 't.yaml', line: 1, col: 1 };
function gw(name: string, ssh: Partial<Gateway['ssh']> = {}): Gateway {
  return { name, backend: 'iptables', ssh: { host: name, ...ssh }, interfaces: [], hopPorts: { from: 40000, to: 40100 }, pos };
}
function topo(...gateways: Gateway[]): Topology {
  return { file: 't.yaml', sites: [], networks: [], gateways, forwards: [], labHosts: [] };
}

/** Awaits a promise that must reject with a NatchainError; returns it. */
async function rejection(p: Promise<unknown>): Promise<NatchainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NatchainError) return e;
    throw new Error(`expected a NatchainError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a rejection');
}

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const v = await p;
  return [v, Date.now() - t0];
}

/** Each string, quoted into one remote command, comes back byte for byte (printf prints its arguments NUL-separated). */
async function assertRoundTrip(s: GatewaySession, strs: string[]): Promise<void> {
  const r = await s.exec(`printf '%s\\0' ${strs.map(shellQuote).join(' ')}`);
  assert.equal(r.code, 0, r.stderr);
  const back = r.stdout.split('\0').slice(0, -1);
  assert.deepEqual(back, strs);
}

const unavailable = sshdUnavailable();

describe('transport over a real sshd (e2e)', function () {
  this.timeout(60_000);
  before(function () {
    if (unavailable) {
      console.log(`      skipped: ${unavailable}`);
      this.skip();
    }
  });

  let lab: SshLab;
  let gw1: LabSshd;
  const opts = (extra: ConnectOptions = {}): ConnectOptions => ({
    sshConfigFile: lab.sshConfigFile,
    homeDir: lab.home,
    agentSocket: null,
    connectTimeoutMs: 15_000,
    ...extra,
  });
  const sessions: GatewaySession[] = [];
  async function open(g: Gateway, extra: ConnectOptions = {}, t: Topology = topo(g)): Promise<GatewaySession> {
    const s = await connect(t, g, opts(extra));
    sessions.push(s);
    return s;
  }

  before(async () => {
    lab = SshLab.create();
    gw1 = await lab.addGateway('gw1');
    lab.trust(gw1);
  });
  beforeEach(() => {
    lab.forgetHostKeys();
    lab.trust(gw1);
  });
  afterEach(async () => {
    await Promise.allSettled(sessions.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await lab?.close();
  });

  describe('exec', () => {
    it('returns stdout, stderr and the exit code, and feeds stdin', async () => {
      const s = await open(gw(('gw1')));
      const r = await s.exec('echo out; echo err >&2; exit 3');
      assert.deepEqual(r, { stdout: 'out\n', stderr: 'err\n', code: 3 });
      assert.deepEqual(await s.exec('id -u'), { stdout: '0\n', stderr: '', code: 0 });
      const big = 'x'.repeat(200_000) + '\n';
      const r2 = await s.exec('wc -c; cat >/dev/null', { stdin: big });
      assert.equal(r2.stdout.trim(), String(big.length));
      assert.equal((await s.exec('cat', { stdin: Buffer.from('bytes') })).stdout, 'bytes');
      // stdin is closed even when none is given: a reader gets EOF instead of hanging.
      assert.equal((await s.exec('cat; echo done')).stdout, 'done\n');
      const sig = await s.exec('kill -TERM $$');
      assert.equal(sig.code, null);
      assert.equal(sig.signal, 'SIGTERM');
    });

    it('runs many commands, sequential and parallel, over ONE connection and counts them', async () => {
      const before = gw1.connections;
      const s = await open(gw('gw1'));
      for (let i = 0; i < 8; i++) assert.equal((await s.exec(`echo ${i}`)).stdout, `${i}\n`);
      // More than sshd's MaxSessions (10) at once: the session queues instead of failing.
      const par = await Promise.all(Array.from({ length: 14 }, (_, i) => s.exec(`echo ${i}`)));
      assert.deepEqual(
        par.map((r) => r.stdout),
        Array.from({ length: 14 }, (_, i) => `${i}\n`),
      );
      assert.equal(s.execCount, 22);
      assert.equal(gw1.connections - before, 1, 'one SSH connection for all commands');
    });

    it('delivers hostile strings literally through the remote shell (root: sh -c)', async () => {
      const s = await open(gw('gw1'));
      const canary = path.join(lab.dir, 'pwned');
      const strs = [...HOSTILE_STRINGS, `$(touch ${canary})`, `;touch ${canary}`, `\`touch ${canary}\``];
      await assertRoundTrip(s, strs);
      assert.ok(!existsSync(canary), 'a hostile string was executed');
    });

    it('times a command out with an SSH error, and the connection stays usable', async () => {
      const s = await open(gw('gw1'));
      const [e, ms] = await timed(rejection(s.exec('sleep 30', { timeoutMs: 500 })));
      assert.equal(e.code, 'SSH');
      assert.match(e.message, /gw1: command timed out after 0\.5 s: sleep 30/);
      assert.ok(ms < 3000, `took ${ms} ms`);
      assert.equal((await s.exec('echo still here')).stdout, 'still here\n');
      // The timed-out command is killed on the gateway too (timeout -s KILL, a grace period after
      // ours); each fixture connection has its own PID namespace, so ps sees only our processes.
      let left = '';
      for (let i = 0; i < 50; i++) {
        left = (await s.exec('ps -e -o comm= | grep -cx sleep || true')).stdout.trim();
        if (left === '0') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(left, '0', 'sleep is still running');
    });
  });

  describe('dead connections', () => {
    it('a killed sshd fails the running and every later exec promptly with an SSH error naming the gateway', async () => {
      const s = await open(gw('gw1'), { keepaliveIntervalMs: 60_000 });
      assert.equal((await s.exec('echo up')).code, 0);
      const pending = rejection(s.exec('sleep 30'));
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(gw1.signalConnections('SIGKILL') >= 1);
      const [e, ms] = await timed(pending);
      assert.equal(e.code, 'SSH');
      assert.match(e.message, /^gw1: connection lost/);
      assert.match(e.message, /while running: sleep 30/);
      assert.ok(ms < 3000, `took ${ms} ms`);
      const [later, ms2] = await timed(rejection(s.exec('echo again')));
      assert.equal(later.code, 'SSH');
      assert.match(later.message, /^gw1: connection lost/);
      assert.ok(ms2 < 100, `took ${ms2} ms`);
      await s.closed; // resolves, never rejects
    });

    it('a frozen peer (SIGSTOP, no FIN) is declared dead by keepalives, not waited on forever', async () => {
      const s = await open(gw('gw1'), { keepaliveIntervalMs: 300, keepaliveCountMax: 2, commandTimeoutMs: 60_000 });
      assert.equal((await s.exec('echo up')).code, 0);
      const pending = rejection(s.exec('sleep 30'));
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(gw1.signalConnections('SIGSTOP') >= 1);
      try {
        const [e, ms] = await timed(pending);
        assert.equal(e.code, 'SSH');
        assert.match(e.message, /^gw1: connection lost \(Keepalive timeout\)/);
        assert.ok(ms < 5000, `took ${ms} ms`);
      } finally {
        gw1.signalConnections('SIGKILL');
      }
    });

    it('a ProxyCommand that cannot reach its socket fails fast with its own stderr', async () => {
      lab.addClientHosts(['Host gw-nowhere', `  ProxyCommand socat - UNIX-CONNECT:${path.join(lab.dir, 'no-such.sock')}`]);
      const [e, ms] = await timed(rejection(open(gw('gw-nowhere'))));
      assert.equal(e.code, 'SSH');
      assert.match(e.message, /^gw-nowhere: cannot connect/);
      assert.match(e.details.join('\n'), /ProxyCommand exited with code 1: .*No such file or directory/);
      assert.ok(ms < 5000, `took ${ms} ms`);
    });
  });

  describe('host keys', () => {
    let gwk: LabSshd;
    const known = () => readFileSync(lab.knownHostsFile, 'utf8');
    before(async () => {
      gwk = await lab.addGateway('gwk');
    });

    it('refuses an unknown host, showing its SHA256 fingerprint and the --accept-new hint', async () => {
      const before = known();
      const e = await rejection(open(gw('gwk')));
      assert.equal(e.code, 'HOST_KEY');
      assert.equal(e.message, `gwk: unknown host key for gwk: ED25519 ${gwk.fingerprint}`);
      assert.match(e.details.join('\n'), /--accept-new/);
      assert.match(e.details.join('\n'), new RegExp(`not found in ${lab.knownHostsFile}`));
      assert.equal(known(), before, 'nothing recorded');
    });

    it('with acceptNew records a plain entry (ssh-keygen -F finds it), then connects without it', async () => {
      const notices: string[] = [];
      const s = await open(gw('gwk'), { acceptNew: true, onNotice: (g, m) => notices.push(`${g}: ${m}`) });
      assert.equal((await s.exec('echo ok')).stdout, 'ok\n');
      assert.match(notices.join('\n'), new RegExp(`gwk: recorded new host key for gwk \\(ED25519 ${gwk.fingerprint.replace(/[+/]/g, '\\$&')}\\) in ${lab.knownHostsFile}:2 \\(plain entry\\)`));
      assert.ok(known().includes(`gwk ${gwk.hostKeyPub}`));
      assert.match(execFileSync('ssh-keygen', ['-F', 'gwk', '-f', lab.knownHostsFile], { encoding: 'utf8' }), /Host gwk found: line 2/);
      await s.close();
      const again = await open(gw('gwk'));
      assert.equal((await again.exec('echo again')).stdout, 'again\n');
    });

    it('with acceptNew and HashKnownHosts yes records a hashed entry that OpenSSH can look up', async () => {
      const cfg = path.join(lab.dir, 'ssh_config.hashed');
      writeFileSync(cfg, 'HashKnownHosts yes\n' + readFileSync(lab.sshConfigFile, 'utf8'));
      const notices: string[] = [];
      const s = await connect(topo(gw('gwk')), gw('gwk'), opts({ sshConfigFile: cfg, acceptNew: true, onNotice: (_g, m) => notices.push(m) }));
      sessions.push(s);
      assert.match(notices.join('\n'), /\(hashed entry\)/);
      assert.ok(!known().includes('gwk'), 'the name is not in clear');
      assert.match(execFileSync('ssh-keygen', ['-F', 'gwk', '-f', lab.knownHostsFile], { encoding: 'utf8' }), /Host gwk found: line 2/);
      const again = await open(gw('gwk'));
      assert.equal((await again.exec('echo ok')).code, 0);
    });

    it('accepts an entry hashed by ssh-keygen -H', async () => {
      lab.trust(gwk, { hashed: true });
      assert.ok(!known().includes('gwk'));
      const s = await open(gw('gwk'));
      assert.equal((await s.exec('echo ok')).code, 0);
    });

    it('refuses a changed key even with acceptNew, naming the file and line of the old key', async () => {
      const gwr = await lab.addGateway('gw-rotated');
      lab.trust(gwk);
      lab.trust(gwr); // line 3
      const oldFp = gwr.fingerprint;
      gwr.rotateHostKey();
      const before = known();
      for (const acceptNew of [false, true]) {
        const e = await rejection(open(gw('gw-rotated'), { acceptNew }));
        assert.equal(e.code, 'HOST_KEY');
        assert.equal(
          e.message,
          `gw-rotated: HOST KEY CHANGED for gw-rotated: it now presents ED25519 ${gwr.fingerprint}, but ${lab.knownHostsFile}:3 has ED25519 ${oldFp}`,
        );
        assert.match(e.details.join('\n'), /not even with --accept-new/);
        assert.match(e.details.join('\n'), /ssh-keygen -R 'gw-rotated'/);
      }
      assert.equal(known(), before, 'known_hosts untouched');
    });

    it('refuses a key marked @revoked', async () => {
      lab.trust(gwk);
      lab.trust(gwk, { name: '*', marker: '@revoked' });
      const e = await rejection(open(gw('gwk'), { acceptNew: true }));
      assert.equal(e.code, 'HOST_KEY');
      assert.match(e.message, /REVOKED/);
      assert.match(e.details.join('\n'), new RegExp(`${lab.knownHostsFile}:3`));
    });
  });

  describe('jump gateways', () => {
    let hub: LabSshd;
    let inner: LabSshd;
    const T = () => topo(gw('hub'), gw('inner-a', { host: '127.0.0.1', port: 2222, jump: 'hub' }), gw('inner-b', { host: '127.0.0.1', port: 2223, jump: 'hub' }));
    before(async () => {
      hub = await lab.addGateway('hub');
      // sshd on 127.0.0.1:2222 and :2223 inside hub's own namespace: unreachable except through hub.
      inner = await lab.addInnerSshd('inner', hub, [2222, 2223]);
    });
    beforeEach(() => {
      lab.forgetHostKeys();
      lab.trust(hub);
      lab.trust(inner, { name: '[127.0.0.1]:2222' });
      lab.trust(inner, { name: '[127.0.0.1]:2223' });
    });

    it('reaches gateways through the topology jump gateway, sharing ONE connection to it', async () => {
      const before = hub.connections;
      const t = T();
      const r = await connectAll(t, ['hub', 'inner-a', 'inner-b'], opts(), { concurrency: 3 });
      try {
        assert.deepEqual([...r.errors.keys()], []);
        const a = await r.sessions.get('inner-a')!.exec('echo $SSH_CONNECTION');
        const b = await r.sessions.get('inner-b')!.exec('echo $SSH_CONNECTION');
        assert.match(a.stdout, / 127\.0\.0\.1 2222\n$/);
        assert.match(b.stdout, / 127\.0\.0\.1 2223\n$/);
        assert.equal((await r.sessions.get('hub')!.exec('echo hub')).stdout, 'hub\n');
        assert.equal(hub.connections - before, 1, 'the hub connection is shared');
        // Closing the hub's own session must not cut the gateways behind it.
        await r.sessions.get('hub')!.close();
        assert.equal((await r.sessions.get('inner-a')!.exec('echo still')).stdout, 'still\n');
      } finally {
        await r.closeAll();
      }
    });

    it('reaches a host through ssh_config ProxyJump', async () => {
      lab.addClientHosts(['Host inner-pj', '  HostName 127.0.0.1', '  Port 2222', '  ProxyJump hub']);
      const s = await open(gw('inner-pj'));
      assert.match((await s.exec('echo $SSH_CONNECTION')).stdout, / 2222\n$/);
    });

    it('checks the jumped-to host key on its own', async () => {
      lab.forgetHostKeys();
      lab.trust(hub);
      const e = await rejection(open(T().gateways[1]!, {}, T()));
      assert.equal(e.code, 'HOST_KEY');
      assert.equal(e.message, `inner-a: unknown host key for [127.0.0.1]:2222: ED25519 ${inner.fingerprint}`);
    });

    it('an unknown jump host fails the gateways behind it with the jump host\'s error', async () => {
      lab.forgetHostKeys();
      const r = await connectAll(T(), ['inner-a', 'inner-b', 'no-such-gw'], opts());
      await r.closeAll();
      assert.equal(r.sessions.size, 0);
      assert.equal(r.errors.get('no-such-gw')?.code, 'NOT_FOUND');
      for (const name of ['inner-a', 'inner-b']) {
        const e = r.errors.get(name)!;
        assert.equal(e.code, 'HOST_KEY');
        assert.match(e.message, new RegExp(`^${name}: cannot reach it through hub: hub: unknown host key for hub`));
      }
    });

    it('losing the jump connection fails the gateway behind it promptly', async () => {
      const t = T();
      const s = await open(t.gateways[1]!, { keepaliveIntervalMs: 60_000 }, t);
      assert.equal((await s.exec('echo up')).code, 0);
      const pending = rejection(s.exec('sleep 30'));
      await new Promise((r) => setTimeout(r, 300));
      hub.signalConnections('SIGKILL');
      const [e, ms] = await timed(pending);
      assert.equal(e.code, 'SSH');
      assert.match(e.message, /^inner-a: connection lost/);
      assert.ok(ms < 3000, `took ${ms} ms`);
    });

    it('with maxConnections, closes an idle connection to make room and reopens it on the next exec (jump host not counted)', async () => {
      const t = T();
      const hubBefore = hub.connections;
      const pool = new SshPool(opts({ maxConnections: 1 }));
      try {
        const a = await pool.connect(t, t.gateways[1]!);
        const a1 = (await a.exec('echo $SSH_CONNECTION')).stdout;
        const b = await pool.connect(t, t.gateways[2]!);
        assert.equal(pool.openConnections, 1);
        // Two execs on each, in turn and in parallel: each reopens its connection when it was closed for the other.
        assert.match((await b.exec('echo $SSH_CONNECTION')).stdout, / 2223\n$/);
        const a2 = (await a.exec('echo $SSH_CONNECTION')).stdout;
        assert.match(a2, / 2222\n$/);
        assert.notEqual(a2, a1, 'a new connection (another source port)');
        const both = await Promise.all([a.exec('echo a'), b.exec('echo b')]);
        assert.deepEqual(both.map((r) => r.stdout), ['a\n', 'b\n']);
        assert.equal(pool.openConnections, 1);
        // Closing to make room is not a lost connection: the sessions never report one.
        const lost = await Promise.race([Promise.race([a.closed, b.closed]).then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
        assert.equal(lost, false);
        assert.equal(hub.connections - hubBefore, 1, 'one connection to the jump host throughout');
      } finally {
        await pool.closeAll();
      }
    });

    // Issue 13.6: opening the channel through the jump host has its own deadline. Both cuts are
    // silent (no RST, no FIN) and injected from outside the process.
    it('a silent cut between the jump host and the target fails within the connect timeout, not the kernel SYN timeout', async () => {
      const t = T();
      // 4 s: enough for the hub's own handshake on a loaded machine, far below a SYN timeout.
      const pool = new SshPool(opts({ connectTimeoutMs: 4000 }));
      // Drop the SYNs hub's sshd sends to inner-b's port, inside hub's own namespace.
      const nft = (script: string) => execFileSync('ip', ['netns', 'exec', hub.netns, 'nft', '-f', '-'], { input: script });
      try {
        await pool.connect(t, t.gateways[0]!);
        nft('table inet natchain_test_cut { chain out { type filter hook output priority 0; tcp dport 2223 drop; }; }\n');
        const [e, ms] = await timed(rejection(pool.connect(t, t.gateways[2]!)));
        assert.equal(e.code, 'SSH');
        assert.match(e.message, /^inner-b: hub did not open a connection to 127\.0\.0\.1:2223 within 4 s$/);
        assert.ok(ms >= 3900 && ms < 7000, `took ${ms} ms`);
        // The jump connection itself is fine: the other gateway behind it still connects.
        const a = await pool.connect(t, t.gateways[1]!);
        assert.equal((await a.exec('echo a')).stdout, 'a\n');
      } finally {
        spawnSync('ip', ['netns', 'exec', hub.netns, 'nft', 'delete', 'table', 'inet', 'natchain_test_cut']);
        await pool.closeAll();
      }
    });

    it('reach (no login): the SSH version line of a gateway behind the jump host over a channel of ONE jump connection; a silent cut or a closed port says why, bounded', async () => {
      const t = T();
      const pool = new SshPool(opts());
      const before = hub.connections;
      const nft = (script: string) => execFileSync('ip', ['netns', 'exec', hub.netns, 'nft', '-f', '-'], { input: script });
      try {
        assert.match(await pool.reach(t, t.gateways[1]!, 4000), /^SSH-2\.0-OpenSSH/);
        nft('table inet natchain_test_cut { chain out { type filter hook output priority 0; tcp dport 2223 drop; }; }\n');
        const [e, ms] = await timed(rejection(pool.reach(t, t.gateways[2]!, 2000)));
        assert.match(e.message, /^inner-b: hub did not open a connection to 127\.0\.0\.1:2223 within 2 s$/);
        assert.ok(ms < 3000, `took ${ms} ms`);
        const closed = topo(gw('hub'), gw('inner-c', { host: '127.0.0.1', port: 2299, jump: 'hub' }));
        const [c] = await timed(rejection(pool.reach(closed, closed.gateways[1]!, 4000)));
        assert.match(c.message, /^inner-c: hub cannot open a connection to 127\.0\.0\.1:2299: /);
        assert.equal(hub.connections - before, 1, 'one login, to the jump host only');
      } finally {
        spawnSync('ip', ['netns', 'exec', hub.netns, 'nft', 'delete', 'table', 'inet', 'natchain_test_cut']);
        await pool.closeAll();
      }
    });

    it('a frozen jump host (SIGSTOP) fails the channel open at the connect timeout, whatever the keepalive', async () => {
      const t = T();
      const pool = new SshPool(opts({ connectTimeoutMs: 4000, keepaliveIntervalMs: 60_000 }));
      try {
        await pool.connect(t, t.gateways[0]!);
        assert.ok(hub.signalConnections('SIGSTOP') >= 1);
        const [e, ms] = await timed(rejection(pool.connect(t, t.gateways[1]!)));
        assert.equal(e.code, 'SSH');
        assert.match(e.message, /^inner-a: hub did not open a connection to 127\.0\.0\.1:2222 within 4 s$/);
        assert.ok(ms >= 3900 && ms < 7000, `took ${ms} ms`);
      } finally {
        hub.signalConnections('SIGKILL');
        await pool.closeAll();
      }
    });
  });

  describe('authentication', () => {
    // A config like the lab's but without its IdentityFile, to test the other sources of keys.
    function configWith(lines: string[]): string {
      const f = path.join(lab.dir, `ssh_config.${Math.random().toString(36).slice(2)}`);
      const base = readFileSync(lab.sshConfigFile, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(IdentityFile|IdentitiesOnly)\b/.test(l))
        .join('\n');
      writeFileSync(f, lines.join('\n') + '\n' + base);
      return f;
    }

    it('uses ssh-agent keys', async () => {
      const sock = path.join(lab.dir, 'agent.sock');
      const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      try {
        for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
        execFileSync('ssh-add', ['-q', lab.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
        const cfg = configWith([]);
        const s = await connect(topo(gw('gw1')), gw('gw1'), opts({ sshConfigFile: cfg, agentSocket: sock }));
        sessions.push(s);
        assert.equal((await s.exec('echo agent')).stdout, 'agent\n');
        // Without the agent and without keys there is nothing to log in with: a clear error.
        const e = await rejection(connect(topo(gw('gw1')), gw('gw1'), opts({ sshConfigFile: cfg })));
        assert.equal(e.code, 'SSH');
        assert.match(e.message, /gw1: no usable credentials to log in as root/);
      } finally {
        agent.kill('SIGTERM');
      }
    });

    it('asks the passphrase of an encrypted key once per key file, and fails clearly without a way to ask', async () => {
      const enc = path.join(lab.dir, 'id_encrypted');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'sesame', '-C', 'enc', '-f', enc], { stdio: 'ignore' });
      lab.authorize(readFileSync(enc + '.pub', 'utf8'));
      const cfg = configWith([`IdentityFile ${enc}`]);
      const e = await rejection(connect(topo(gw('gw1')), gw('gw1'), opts({ sshConfigFile: cfg })));
      assert.equal(e.code, 'SSH');
      assert.match(e.details.join('\n'), /id_encrypted: encrypted, and no passphrase can be asked here/);

      const asked: string[] = [];
      const askPassphrase = async (f: string): Promise<string> => {
        asked.push(f);
        return 'sesame';
      };
      const pool = new SshPool(opts({ sshConfigFile: cfg, askPassphrase }));
      const s1 = await pool.connect(topo(gw('gw1')), gw('gw1'));
      const s2 = await connect(topo(gw('gw1')), gw('gw1'), opts({ sshConfigFile: cfg, askPassphrase }));
      sessions.push(s1, s2);
      assert.equal((await s1.exec('echo a')).stdout, 'a\n');
      assert.equal((await s2.exec('echo b')).stdout, 'b\n');
      assert.deepEqual(asked, [enc]);
      await pool.closeAll();

      const wrong = await rejection(connect(topo(gw('gw1')), gw('gw1'), opts({ sshConfigFile: cfg, askPassphrase: async () => 'nope' })));
      assert.match(wrong.message, /wrong passphrase for key .*id_encrypted/);
    });

    it('reports what it tried when the server refuses every key', async () => {
      const stranger = path.join(lab.dir, 'id_stranger');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger], { stdio: 'ignore' });
      const cfg = configWith([`IdentityFile ${stranger}`]);
      const e = await rejection(connect(topo(gw('gw1')), gw('gw1'), opts({ sshConfigFile: cfg })));
      assert.equal(e.code, 'SSH');
      assert.match(e.message, /^gw1: authentication failed for root@gw1/);
      assert.match(e.details.join('\n'), /id_stranger: offered/);
    });
  });

  describe('non-root login users (sudo -n)', () => {
    let ulab: SshLab;
    let ugw: LabSshd;
    before(async () => {
      ulab = SshLab.create().withUsers([
        { name: 'natchain-op', sudo: true },
        { name: 'natchain-nosudo', sudo: false },
      ]);
      ugw = await ulab.addGateway('ugw');
      ulab.trust(ugw);
    });
    after(async () => {
      await ulab?.close();
    });
    const uopts = (): ConnectOptions => ({ sshConfigFile: ulab.sshConfigFile, homeDir: ulab.home, agentSocket: null });

    it('runs commands as root through sudo -n for a user with the sudoers right', async function () {
      if (!hasSudo()) this.skip();
      const g = gw('ugw', { user: 'natchain-op' });
      const s = await connect(topo(g), g, uopts());
      sessions.push(s);
      assert.equal((await s.exec('echo $SUDO_USER $(id -u)')).stdout, 'natchain-op 0\n');
      assert.equal((await s.exec('cat', { stdin: 'through sudo' })).stdout, 'through sudo');
      await assertRoundTrip(s, HOSTILE_STRINGS);
    });

    it('turns a missing sudo right into a REMOTE error naming the command and the sudoers line', async function () {
      const g = gw('ugw', { user: 'natchain-nosudo' });
      const s = await connect(topo(g), g, uopts());
      sessions.push(s);
      const e = await rejection(s.exec('iptables-save -t nat'));
      assert.equal(e.code, 'REMOTE');
      if (hasSudo()) {
        assert.match(e.message, /^ugw: user 'natchain-nosudo' may not run commands as root without a password \(sudo -n: a password is required\)/);
        assert.ok(e.details.includes('    natchain-nosudo ALL=(root) NOPASSWD: ALL'));
      } else {
        assert.match(e.message, /sudo is not installed/);
      }
      assert.ok(e.details.includes('command: iptables-save -t nat'));
      // The connection itself is fine: a plain failure of sudo is not a transport error.
      assert.equal(spawnSync('true').status, 0);
    });
  });
});
