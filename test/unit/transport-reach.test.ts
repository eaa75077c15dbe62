// The reachability check of gateways outside a change, against real sockets and processes on
// 127.0.0.1: an SSH version line is an answer; refused, closed, silent or a failing ProxyCommand
// is not, with the reason; ReachChecks bounds and stops them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { ReachChecks } from '../../src/rollout/outside.js';
import { openCheckSocket, readSshBanner } from '../../src/transport/reach.js';
import { ProxyChecks } from '../../src/transport/reach-proxy.js';

/** A TCP server on 127.0.0.1 that does `serve` with each connection; resolves with its port. */
async function server(serve: (s: Socket) => void): Promise<{ port: number; srv: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const srv = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    serve(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as { port: number }).port, srv, sockets };
}

describe('transport: is an sshd there (no login)', () => {
  const servers: Array<{ srv: Server; sockets: Socket[] }> = [];
  const up = async (serve: (s: Socket) => void) => {
    const s = await server(serve);
    servers.push(s);
    return s.port;
  };
  after(() => {
    for (const s of servers) {
      for (const x of s.sockets) x.destroy();
      s.srv.close();
    }
  });
  const tcp = (port: number) => openCheckSocket({ kind: 'tcp', host: '127.0.0.1', port });

  it('an SSH version line (after other lines, as RFC 4253 allows) is an answer', async () => {
    const port = await up((s) => s.write('a greeting\r\nSSH-2.0-OpenSSH_9.2p1 Debian\r\n'));
    expect(await readSshBanner(tcp(port), 2000)).to.equal('SSH-2.0-OpenSSH_9.2p1 Debian');
  });

  it('refused, closed at once, silent, or not SSH: rejected with the reason', async () => {
    const closed = await up((s) => s.end());
    const silent = await up(() => undefined);
    const http = await up((s) => s.write('x'.repeat(9000)));
    const gone = await up(() => undefined);
    await new Promise<void>((r) => servers.pop()!.srv.close(() => r()));
    const why = (p: Promise<string>) => p.then(() => 'answered', (e: Error) => e.message);
    expect(await why(readSshBanner(tcp(gone), 2000))).to.match(/refused/i);
    expect(await why(readSshBanner(tcp(closed), 2000))).to.equal('closed before any SSH version line');
    expect(await why(readSshBanner(tcp(silent), 300))).to.equal('no SSH version line within 0.3 s');
    expect(await why(readSshBanner(tcp(http), 2000))).to.equal('it answers, but not with an SSH version line');
  });

  it('through a ProxyCommand: its output is the answer; its exit status and stderr say why not', async () => {
    const ok = openCheckSocket({ kind: 'proxy-command', command: "printf 'SSH-2.0-Proxy\\r\\n'; sleep 30" });
    const t0 = Date.now();
    expect(await readSshBanner(ok, 3000)).to.equal('SSH-2.0-Proxy');
    const bad = openCheckSocket({ kind: 'proxy-command', command: 'echo "2026/01/01 socat E connect(5): Connection refused" >&2; exit 1' });
    const err = await readSshBanner(bad, 3000).then(() => '', (e: Error) => e.message);
    expect(err).to.match(/^closed before any SSH version line; ProxyCommand exited with code 1: .*Connection refused$/);
    expect(Date.now() - t0, 'the answered command was ended, not waited for').to.be.lessThan(3000);
  });

  it('ProxyChecks (in a worker thread): the version line, the command\'s exit and stderr, the bound, a stop; close ends every command', async () => {
    const p = new ProxyChecks();
    const why = (x: Promise<string>) => x.then((b) => b, (e: Error) => e.message);
    const marker = `natchain-reach-test-${process.pid}`;
    const [ok, bad, silent] = await Promise.all([
      why(p.check(`printf 'hello\\r\\nSSH-2.0-Proxy\\r\\n'; exec sleep 30 # ${marker}`, 3000)),
      why(p.check('echo "socat E connect(5): Connection refused" >&2; exit 1', 3000)),
      why(p.check(`exec sleep 30 # ${marker}`, 400)),
    ]);
    expect(ok).to.equal('SSH-2.0-Proxy');
    expect(bad).to.equal('closed before any SSH version line; ProxyCommand exited with code 1: socat E connect(5): Connection refused');
    expect(silent).to.equal('no SSH version line within 0.4 s');
    const ac = new AbortController();
    const stopped = why(p.check(`exec sleep 30 # ${marker}`, 60_000, ac.signal));
    setTimeout(() => ac.abort(), 100);
    expect(await stopped).to.equal('check stopped');
    const left = why(p.check(`exec sleep 30 # ${marker}`, 60_000));
    await new Promise((r) => setTimeout(r, 200));
    await p.close();
    expect(await left).to.equal('check stopped');
    await new Promise((r) => setTimeout(r, 200));
    // Every command's process group was ended (sh exec'd sleep, whose command line carries the marker).
    const alive = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.trim();
    expect(alive, 'no command left running').to.equal('');
  });

  it('ReachChecks: answers and failures by gateway, each bounded; the report waits only so long for the rest; stop() ends them', async () => {
    const ok = await up((s) => s.write('SSH-2.0-x\r\n'));
    const silent = await up(() => undefined);
    const refused = await up(() => undefined);
    await new Promise<void>((r) => servers.pop()!.srv.close(() => r()));
    const ports: Record<string, number> = { a: ok, b: silent, c: refused };
    const checks = new ReachChecks((g, ms, signal) => readSshBanner(tcp(ports[g]!), ms, signal), 1, 400);
    checks.start(['a', 'b', 'c']);
    const all = await checks.answers(['a', 'b', 'c'], 5000);
    expect([...all.failed.keys()].sort()).to.deep.equal(['b', 'c']);
    expect(all.failed.get('b')).to.equal('no SSH version line within 0.4 s');
    expect(all.failed.get('c')).to.equal(`connection refused (127.0.0.1:${refused})`);
    expect(all.pending).to.deep.equal([]);
    const slow = new ReachChecks((g, ms, signal) => readSshBanner(tcp(ports[g]!), ms, signal), 64, 60_000);
    slow.start(['a', 'b']);
    const t0 = Date.now();
    const early = await slow.answers(['a', 'b'], 300);
    expect(Date.now() - t0).to.be.lessThan(1500);
    expect(early).to.deep.equal({ failed: new Map(), pending: ['b'] });
    slow.stop();
    expect(await slow.answers(['b'], 2000)).to.deep.equal({ failed: new Map([['b', 'check stopped']]), pending: [] });
  });
});
