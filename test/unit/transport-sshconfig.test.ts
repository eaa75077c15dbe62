import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  expandPath,
  loadSshConfig,
  matchPattern,
  matchPatternList,
  parseSshConfig,
  resolveSshConfig,
  splitArgs,
  type ParsedSshConfig,
} from '../../src/transport/sshconfig.js';
import { parseJumpSpec } from '../../src/transport/connect.js';

const ctx = { localUser: 'alice' };
const resolve = (text: string, host: string) => resolveSshConfig([parseSshConfig(text, 'cfg')], host, ctx);

describe('transport: ssh_config', () => {
  describe('patterns', () => {
    it('matches * and ? like OpenSSH, case-insensitively', () => {
      assert.ok(matchPattern('gw1.example.org', '*.example.org'));
      assert.ok(matchPattern('gw1', 'gw?'));
      assert.ok(!matchPattern('gw10', 'gw?'));
      assert.ok(matchPattern('GW1', 'gw1'));
      assert.ok(!matchPattern('gw1x', 'gw1'));
      assert.ok(matchPattern('a.b', 'a.b'));
      assert.ok(!matchPattern('axb', 'a.b'), 'a dot is literal');
      assert.ok(matchPattern('x(1)', 'x(1)'), 'regex syntax is literal');
    });

    it('needs a positive match and no negated one', () => {
      assert.ok(matchPatternList('gw1', ['gw*', '!gw2']));
      assert.ok(!matchPatternList('gw2', ['gw*', '!gw2']));
      assert.ok(!matchPatternList('gw1', ['!gw2']), 'a lone negation never matches');
    });
  });

  it('splits arguments with quotes and escapes', () => {
    assert.deepEqual(splitArgs('a "b c" \'d e\' f\\ g'), ['a', 'b c', 'd e', 'f g']);
    assert.deepEqual(splitArgs('"" x'), ['', 'x']);
    assert.deepEqual(splitArgs('a # comment'), ['a']);
    assert.throws(() => splitArgs('"open'));
  });

  it('takes the first value obtained, accumulates IdentityFile', () => {
    const r = resolve(
      `
Host gw1
  HostName 10.0.0.1
  User admin
  IdentityFile ~/.ssh/a
Host gw*
  HostName ignored
  Port 2222
  User ignored
  IdentityFile ~/.ssh/b
Host *
  Port 22
  IdentityFile ~/.ssh/c
`,
      'gw1',
    );
    assert.equal(r.hostname, '10.0.0.1');
    assert.equal(r.user, 'admin');
    assert.equal(r.port, 2222);
    assert.deepEqual(r.identityFiles, ['~/.ssh/a', '~/.ssh/b', '~/.ssh/c']);
  });

  it('supports several patterns per Host line and negation', () => {
    const text = `
Host a b !c*
  User ab
Host *
  User default
`;
    assert.equal(resolve(text, 'b').user, 'ab');
    assert.equal(resolve(text, 'c').user, 'default');
    assert.equal(resolve(text, 'x').user, 'default');
  });

  it('keeps file order across plain-name blocks (indexed) and wildcard, negated and Match blocks (checked one by one)', () => {
    const text = `
User early-unset-by-nothing
Host gw-1
  Port 2201
Host gw-*
  Port 2222
  HostKeyAlias star
Host gw-2 GW-1 gw-2
  HostKeyAlias plain
  IdentityFile two
Host !gw-3 gw-*
  IdentityFile notthree
Match originalhost gw-3
  HostKeyAlias matched
  IdentityFile matched
${Array.from({ length: 300 }, (_, i) => `Host fleet-${i}\n  Port ${1000 + i}\n`).join('')}
Host *
  Port 22
  IdentityFile last
`;
    const one = resolve(text, 'gw-1');
    assert.deepEqual([one.port, one.hostKeyAlias, one.identityFiles], [2201, 'star', ['two', 'notthree', 'last']]);
    const two = resolve(text, 'gw-2');
    assert.deepEqual([two.port, two.hostKeyAlias, two.identityFiles], [2222, 'star', ['two', 'notthree', 'last']]);
    const three = resolve(text, 'gw-3');
    assert.deepEqual([three.port, three.hostKeyAlias, three.identityFiles], [2222, 'star', ['matched', 'last']]);
    assert.equal(resolve(text, 'fleet-250').port, 1250);
    assert.equal(resolve(text, 'FLEET-7').port, 1007);
    const other = resolve(text, 'elsewhere');
    assert.deepEqual([other.port, other.hostKeyAlias, other.identityFiles, other.user], [22, undefined, ['last'], 'early-unset-by-nothing']);
  });

  it('applies options before any Host line to every host, and Keyword=value forms', () => {
    const r = resolve('Port=2200\nUser = bob\nHost gw1\n  Port 22\n', 'gw1');
    assert.equal(r.port, 2200);
    assert.equal(r.user, 'bob');
  });

  it('expands %h in HostName, and keeps ProxyCommand as the raw rest of the line', () => {
    const r = resolve('Host *\n  HostName %h.lab.example\n  ProxyCommand socat - "UNIX-CONNECT:/run/%h.sock"  # not a comment for ssh\n', 'gw1');
    assert.equal(r.hostname, 'gw1.lab.example');
    assert.equal(r.proxyCommand, 'socat - "UNIX-CONNECT:/run/%h.sock"  # not a comment for ssh');
  });

  it('lets the first of ProxyJump/ProxyCommand win, and "none" unset them', () => {
    assert.equal(resolve('Host *\n ProxyJump j1\n ProxyCommand nc %h %p\n', 'x').proxyCommand, undefined);
    assert.equal(resolve('Host *\n ProxyJump j1\n ProxyCommand nc %h %p\n', 'x').proxyJump, 'j1');
    assert.equal(resolve('Host *\n ProxyCommand nc %h %p\n ProxyJump j1\n', 'x').proxyJump, undefined);
    assert.equal(resolve('Host x\n ProxyJump none\nHost *\n ProxyJump j1\n', 'x').proxyJump, undefined);
  });

  it('reads known-hosts and host-key options', () => {
    const r = resolve('UserKnownHostsFile ~/kh1 "/tmp/kh 2"\nStrictHostKeyChecking accept-new\nHashKnownHosts yes\nHostKeyAlias gwalias\nGlobalKnownHostsFile none\n', 'x');
    assert.deepEqual(r.userKnownHostsFiles, ['~/kh1', '/tmp/kh 2']);
    assert.equal(r.strictHostKeyChecking, 'accept-new');
    assert.equal(r.hashKnownHosts, true);
    assert.equal(r.hostKeyAlias, 'gwalias');
    assert.deepEqual(r.globalKnownHostsFiles, []);
    assert.equal(resolve('StrictHostKeyChecking no', 'x').strictHostKeyChecking, 'no');
  });

  it('evaluates Match all/host/originalhost/user and ignores unsupported criteria with a warning', () => {
    const text = `
Host gw1
  HostName real.example
Match host real.example
  Port 2001
Match originalhost gw2
  Port 2002
Match exec "touch /tmp/pwned"
  Port 6666
Match all
  User fallback
`;
    const r1 = resolve(text, 'gw1');
    assert.equal(r1.port, 2001);
    assert.equal(r1.user, 'fallback');
    assert.equal(resolve(text, 'gw2').port, 2002);
    assert.equal(resolve(text, 'gw3').port, undefined);
    assert.match(r1.warnings.join('\n'), /Match exec is not supported/);
  });

  it('expands ~ and %d %u %h %r %p %% in paths, and refuses unknown tokens', () => {
    const t = { host: 'h', alias: 'a', port: 22, remoteUser: 'r', localUser: 'alice', home: '/home/alice' };
    assert.equal(expandPath('~/.ssh/id_%h_%r_%p', t), '/home/alice/.ssh/id_h_r_22');
    assert.equal(expandPath('%d/x/%u/100%%', t), '/home/alice/x/alice/100%');
    assert.throws(() => expandPath('%z', t), /unsupported token %z/);
  });

  it('parses ProxyJump specs', () => {
    assert.deepEqual(parseJumpSpec('bastion'), { host: 'bastion' });
    assert.deepEqual(parseJumpSpec('ops@bastion:2200'), { user: 'ops', host: 'bastion', port: 2200 });
    assert.deepEqual(parseJumpSpec('ssh://ops@[2001:db8::1]:22'), { user: 'ops', host: '2001:db8::1', port: 22 });
    assert.throws(() => parseJumpSpec('x:99999'));
  });

  describe('files', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'natchain-cfg-'));
      mkdirSync(path.join(dir, '.ssh', 'conf.d'), { recursive: true });
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('follows Include (relative to ~/.ssh, globs, conditional inside Host) and reads the -F file only', () => {
      writeFileSync(path.join(dir, '.ssh', 'conf.d', '10-a.conf'), 'Host gw1\n  Port 1001\n');
      writeFileSync(path.join(dir, '.ssh', 'conf.d', '20-b.conf'), 'Host gw1\n  Port 1002\n  User fromb\n');
      writeFileSync(path.join(dir, '.ssh', 'only-gw2.conf'), 'User fromgw2include\n');
      const main = path.join(dir, 'main.conf');
      writeFileSync(main, 'Include conf.d/*.conf\nHost gw2\n  Include only-gw2.conf\nHost *\n  User last\n');
      const cfgs = loadSshConfig({ file: main, home: dir });
      assert.equal(cfgs.length, 1);
      const r1 = resolveSshConfig(cfgs, 'gw1', ctx);
      assert.equal(r1.port, 1001);
      assert.equal(r1.user, 'fromb');
      assert.equal(resolveSshConfig(cfgs, 'gw2', ctx).user, 'fromgw2include');
      assert.equal(resolveSshConfig(cfgs, 'gw3', ctx).user, 'last');
    });

    it('reads ~/.ssh/config then the system file when no -F is given', () => {
      const sys = path.join(dir, 'system_config');
      writeFileSync(path.join(dir, '.ssh', 'config'), 'Host gw1\n  User fromuser\n');
      writeFileSync(sys, 'Host *\n  User fromsystem\n  Port 2022\n');
      const cfgs = loadSshConfig({ home: dir, systemFile: sys });
      const r = resolveSshConfig(cfgs, 'gw1', ctx);
      assert.equal(r.user, 'fromuser');
      assert.equal(r.port, 2022);
      assert.deepEqual(loadSshConfig({ home: path.join(dir, 'nohome'), systemFile: null }), []);
    });

    // Differential test: OpenSSH's own resolver (`ssh -G`, which prints the result and connects
    // nowhere) must agree with ours on the options natchain uses.
    it('agrees with `ssh -G` on HostName, User, Port, IdentityFile, ProxyCommand, ProxyJump', function () {
      if (spawnSync('ssh', ['-V']).status !== 0) this.skip();
      const file = path.join(dir, 'differential.conf');
      const text = `
Host gw-a
  HostName 10.1.0.1
  Port 2201
Host gw-b gw-c !gw-c
  HostName %h.example.test
  ProxyJump ops@bastion:2200
Host gw-c
  User carol
  ProxyCommand socat - UNIX-CONNECT:/tmp/%h-%p-%r.sock
Host gw-*
  User shared
  IdentityFile ~/.ssh/k_%r
  IdentityFile /keys/second
Host *
  Port 22
`;
      writeFileSync(file, text);
      const parsed: ParsedSshConfig[] = [parseSshConfig(text, file)];
      for (const host of ['gw-a', 'gw-b', 'gw-c', 'other']) {
        const g = spawnSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', env: { ...process.env, HOME: dir } });
        assert.equal(g.status, 0, g.stderr);
        const openssh = new Map<string, string[]>();
        for (const l of g.stdout.split('\n')) {
          const i = l.indexOf(' ');
          if (i < 0) continue;
          const k = l.slice(0, i);
          openssh.set(k, [...(openssh.get(k) ?? []), l.slice(i + 1)]);
        }
        const ours = resolveSshConfig(parsed, host, ctx);
        const port = ours.port ?? 22;
        const user = ours.user ?? 'root';
        assert.equal(ours.hostname, openssh.get('hostname')![0], `${host} hostname`);
        assert.equal(String(port), openssh.get('port')![0], `${host} port`);
        if (ours.user) assert.equal(ours.user, openssh.get('user')![0], `${host} user`);
        const tokens = { host: ours.hostname, alias: host, port, remoteUser: user, localUser: 'alice', home: dir };
        if (ours.identityFiles.length) {
          assert.deepEqual(
            ours.identityFiles.map((f) => expandPath(f, tokens)),
            // ssh -G prints IdentityFile with ~ kept; expand it the same way for comparison.
            (openssh.get('identityfile') ?? []).map((f) => expandPath(f, tokens)),
            `${host} identityfile`,
          );
        }
        assert.equal(ours.proxyJump, openssh.get('proxyjump')?.[0], `${host} proxyjump`);
        if (ours.proxyCommand) {
          // ssh -G prints ProxyCommand before token expansion.
          assert.equal(ours.proxyCommand, openssh.get('proxycommand')?.[0], `${host} proxycommand`);
        } else {
          assert.equal(openssh.get('proxycommand'), undefined, `${host} proxycommand`);
        }
      }
    });
  });
});
