import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sudoFailure, summarizeCommand, wrapCommand } from '../../src/transport/session.js';
import { resolveGatewayTarget, describeTarget } from '../../src/transport/connect.js';
import { SshContext } from '../../src/transport/context.js';
import { parseSshConfig } from '../../src/transport/sshconfig.js';
import type { Gateway, Topology } from '../../src/topology/types.js';

const pos = { file: 't.yaml', line: 1, col: 1 };
function gw(name: string, ssh: Gateway['ssh']): Gateway {
  return { name, backend: 'iptables', ssh, interfaces: [], hopPorts: { from: 40000, to: 40100 }, pos };
}
function topo(...gateways: Gateway[]): Topology {
  return { file: 't.yaml', sites: [], networks: [], gateways, forwards: [], labHosts: [] };
}

describe('transport: command wrapping and sudo errors', () => {
  it('wraps commands in sh -c for root and sudo -n sh -c for others, keeping them intact', () => {
    const cmd = `echo "$(id -u)" 'q' && printf '%s\\n' "a b"`;
    assert.equal(wrapCommand('true', 'root'), 'sh -c true');
    assert.equal(wrapCommand('true', 'ops'), 'sudo -n sh -c true');
    assert.equal(wrapCommand('true', 'root', 2.5), 'timeout -s KILL 3 sh -c true');
    assert.equal(wrapCommand('true', 'ops', 10), 'sudo -n timeout -s KILL 10 sh -c true');
    // A command that is already `sh -c '<script>' <words>` is not wrapped in a second sh.
    assert.equal(wrapCommand("sh -c 'echo $1' natchain 'a b'", 'ops', 10, true), "sudo -n timeout -s KILL 10 sh -c 'echo $1' natchain 'a b'");
    // The wrapped command, run by a real shell without sudo, does exactly what the original does.
    const direct = spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' }).stdout;
    const wrapped = spawnSync('/bin/sh', ['-c', wrapCommand(cmd, 'root')], { encoding: 'utf8' }).stdout;
    assert.equal(wrapped, direct);
    assert.equal(spawnSync('/bin/sh', ['-c', wrapCommand(cmd, 'root', 5)], { encoding: 'utf8' }).stdout, direct);
    // The deadline kills the whole process group, children included, and fast.
    const t0 = Date.now();
    const killed = spawnSync('/bin/sh', ['-c', wrapCommand('sleep 20 & sleep 20; echo never', 'root', 1)], { encoding: 'utf8' });
    assert.equal(killed.status, 137);
    assert.ok(Date.now() - t0 < 5000);
    assert.match(wrapCommand(cmd, 'ops'), /^sudo -n sh -c '/);
  });

  it('maps sudo refusals to a REMOTE error naming the command and the sudoers line', () => {
    const e = sudoFailure('gw1', 'ops', 'iptables-save -t nat', { stdout: '', stderr: 'sudo: a password is required\n', code: 1 });
    assert.ok(e);
    assert.equal(e.code, 'REMOTE');
    assert.match(e.message, /gw1: user 'ops' may not run commands as root without a password/);
    assert.ok(e.details.some((d) => d.includes('iptables-save -t nat')));
    assert.ok(e.details.some((d) => d.includes('ops ALL=(root) NOPASSWD: ALL')));
    // sudo's own warnings may come first
    assert.ok(sudoFailure('gw1', 'ops', 'x', { stdout: '', stderr: 'sudo: unable to resolve host gw1\nsudo: a password is required\n', code: 1 }));
    assert.ok(sudoFailure('gw1', 'ops', 'x', { stdout: '', stderr: 'Sorry, user ops is not allowed to execute \'/bin/sh -c x\' as root on gw1.\n', code: 1 }));
    const missing = sudoFailure('gw1', 'ops', 'x', { stdout: '', stderr: 'sh: 1: sudo: not found\n', code: 127 });
    assert.match(missing!.message, /sudo is not installed/);
    const noTimeout = sudoFailure('gw1', 'root', 'x', { stdout: '', stderr: 'bash: line 1: timeout: command not found\n', code: 127 });
    assert.match(noTimeout!.message, /timeout\(1\) is missing/);
    assert.equal(sudoFailure('gw1', 'root', 'x', { stdout: '', stderr: 'sh: 1: frobnicate: not found\n', code: 127 }), undefined);
  });

  it('does not mistake the command\'s own failure for sudo\'s', () => {
    assert.equal(sudoFailure('gw1', 'root', 'x', { stdout: '', stderr: 'sudo: a password is required\n', code: 1 }), undefined);
    assert.equal(sudoFailure('gw1', 'ops', 'x', { stdout: '', stderr: 'iptables: No chain\n', code: 1 }), undefined);
    assert.equal(sudoFailure('gw1', 'ops', 'x', { stdout: 'out', stderr: 'sudo: a password is required\n', code: 1 }), undefined);
    assert.equal(sudoFailure('gw1', 'ops', 'x', { stdout: '', stderr: 'oops\nsudo: a password is required\n', code: 1 }), undefined);
  });

  it('summarizes long scripts to one line', () => {
    assert.equal(summarizeCommand('a\nb'), 'a …');
    assert.equal(summarizeCommand('x'.repeat(150)).length, 101);
  });
});

describe('transport: resolving how to reach a gateway', () => {
  const env = (text: string) => new SshContext({ home: '/home/alice', localUser: 'alice', configs: [parseSshConfig(text, 'cfg')] });

  it('lets topology values win over ssh_config, with defaults port 22 and root', () => {
    const e = env('Host gw1\n  HostName 10.0.0.1\n  Port 2222\n  User cfguser\n');
    const t1 = resolveGatewayTarget(topo(), gw('gw1', { host: 'gw1' }), e);
    assert.deepEqual([t1.hostname, t1.port, t1.user, t1.hostKeyName], ['10.0.0.1', 2222, 'cfguser', '[10.0.0.1]:2222']);
    const t2 = resolveGatewayTarget(topo(), gw('gw1', { host: 'gw1', port: 22, user: 'ops' }), e);
    assert.deepEqual([t2.port, t2.user, t2.hostKeyName], [22, 'ops', '10.0.0.1']);
    const t3 = resolveGatewayTarget(topo(), gw('gw9', { host: 'gw9' }), e);
    assert.deepEqual([t3.hostname, t3.port, t3.user, t3.via.kind], ['gw9', 22, 'root', 'tcp']);
  });

  it('routes through the topology jump gateway, ahead of ProxyCommand in ssh_config', () => {
    const e = env('Host gw2\n  HostName 127.0.0.1\n  Port 2222\n  ProxyCommand should-not-run\nHost gw1\n  ProxyCommand socat - UNIX-CONNECT:/s/%h\n');
    const g1 = gw('gw1', { host: 'gw1' });
    const g2 = gw('gw2', { host: 'gw2', jump: 'gw1' });
    const t = resolveGatewayTarget(topo(g1, g2), g2, e);
    assert.equal(t.via.kind, 'jump');
    assert.ok(t.via.kind === 'jump' && t.via.through.via.kind === 'proxy-command' && t.via.through.via.command === 'socat - UNIX-CONNECT:/s/gw1');
    assert.equal(describeTarget(t), 'root@127.0.0.1:2222 via gw1');
    assert.equal(t.hostKeyName, '[127.0.0.1]:2222');
  });

  it('refuses hostile topology hosts and users before they can reach a local ProxyCommand', () => {
    const e = env('Host *\n  ProxyCommand socat - UNIX-CONNECT:/run/%h.sock\n');
    assert.throws(() => resolveGatewayTarget(topo(), gw('gw1', { host: '$(touch /tmp/pwned)' }), e), /unsafe ssh host of gateway gw1/);
    assert.throws(() => resolveGatewayTarget(topo(), gw('gw1', { host: 'gw1', user: 'x;id' }), e), /unsafe ssh user of gateway gw1/);
    assert.throws(() => resolveGatewayTarget(topo(), gw('gw1', { host: 'gw1', port: 0 }), e), /unsafe ssh port/);
  });

  it('follows ProxyJump chains and HostKeyAlias, and refuses jump loops', () => {
    const e = env('Host gw1\n  ProxyJump a,ops@b:2200\n  HostKeyAlias gw1-key\n');
    const t = resolveGatewayTarget(topo(), gw('gw1', { host: 'gw1' }), e);
    assert.equal(t.hostKeyName, 'gw1-key');
    assert.ok(t.via.kind === 'jump');
    const b = t.via.kind === 'jump' ? t.via.through : undefined;
    assert.deepEqual([b?.label, b?.user, b?.port], ['b', 'ops', 2200]);
    assert.ok(b?.via.kind === 'jump' && b.via.through.label === 'a' && b.via.through.user === 'alice');
    const g1 = gw('gw1', { host: 'gw1', jump: 'gw2' });
    const g2 = gw('gw2', { host: 'gw2', jump: 'gw1' });
    assert.throws(() => resolveGatewayTarget(topo(g1, g2), g1, e), /jump loop: gw1 -> gw2 -> gw1/);
    assert.throws(() => resolveGatewayTarget(topo(g1), g1, e), /jump gateway 'gw2' is not in the topology/);
  });
});
