// Reachability checks through ProxyCommands, run in a worker thread. Starting a process forks
// natchain's whole address space, and Node does it synchronously on the calling thread: measured
// about 10 ms per ProxyCommand on a loaded machine, so checking the 48 gateways outside a 2-of-50
// change from the main thread stalled the change's own event loop for half a second. In a worker,
// only the worker waits. The worker's code is plain JavaScript evaluated as is (no module to find
// next to the bundle, the compiled library or the TypeScript sources), doing what ProxyCommandSocket
// and readSshBanner do for one connection: /bin/sh -c COMMAND in its own process group, the first
// line starting `SSH-` on its stdout, the group ended once answered or given up.
import { Worker } from 'node:worker_threads';

const WORKER_JS = String.raw`
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const running = new Map();
const end = (child) => { try { process.kill(-child.pid, 'SIGTERM'); } catch {} };
parentPort.on('message', (m) => {
  if (m.stop) { for (const finish of [...running.values()]) finish({ error: 'check stopped' }); return; }
  if (m.cancel !== undefined) { const finish = running.get(m.cancel); if (finish) finish({ error: 'check stopped' }); return; }
  let child;
  try { child = spawn('/bin/sh', ['-c', m.command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true }); }
  catch (e) { parentPort.postMessage({ id: m.id, error: 'cannot run /bin/sh: ' + e.message }); return; }
  let out = '', err = '', done = false, exit = '';
  const finish = (r) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    running.delete(m.id);
    end(child);
    parentPort.postMessage(Object.assign({ id: m.id }, r));
  };
  running.set(m.id, finish);
  const timer = setTimeout(() => finish({ error: 'no SSH version line within ' + (m.timeoutMs / 1000).toFixed(1) + ' s' }), m.timeoutMs);
  child.stdout.on('data', (d) => {
    out += d.toString('latin1');
    for (const line of out.split('\n').slice(0, -1)) if (line.startsWith('SSH-')) return finish({ banner: line.replace(/\r$/, '') });
    if (out.length > 8192) finish({ error: 'it answers, but not with an SSH version line' });
  });
  child.stderr.on('data', (d) => { err = (err + d.toString('utf8')).slice(-4096); });
  child.stdin.on('error', () => {});
  child.on('error', (e) => finish({ error: 'cannot run /bin/sh: ' + e.message }));
  child.on('exit', (code, signal) => { exit = signal ? 'was killed by ' + signal : 'exited with code ' + code; });
  child.on('close', () => {
    const tail = err.trim().split('\n').slice(-3).join(' | ');
    finish({ error: 'closed before any SSH version line; ProxyCommand ' + (exit || 'closed its output') + (tail ? ': ' + tail : '') });
  });
});
`;

interface Answer {
  id: number;
  banner?: string;
  error?: string;
}

/** ProxyCommand checks in one worker thread, started on the first check; `close` ends it and every command still running. */
export class ProxyChecks {
  private worker: Worker | undefined;
  private next = 0;
  private readonly waiting = new Map<number, (a: Answer) => void>();

  /** The SSH version line `command` prints within `timeoutMs`; rejects with why not (or 'check stopped' on the signal). */
  check(command: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    if (signal?.aborted) return Promise.reject(new Error('check stopped'));
    const w = this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const stop = () => {
        this.waiting.delete(id);
        w.postMessage({ cancel: id });
        reject(new Error('check stopped'));
      };
      signal?.addEventListener('abort', stop, { once: true });
      this.waiting.set(id, (a) => {
        signal?.removeEventListener('abort', stop);
        if (a.banner !== undefined) resolve(a.banner);
        else reject(new Error(a.error ?? 'no answer'));
      });
      w.postMessage({ id, command, timeoutMs });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_JS, { eval: true });
    // Nobody waiting: the worker must not keep natchain alive.
    w.unref();
    w.on('message', (a: Answer) => {
      const done = this.waiting.get(a.id);
      this.waiting.delete(a.id);
      done?.(a);
    });
    w.on('error', (e) => this.failAll(`the check worker failed: ${e.message}`));
    this.worker = w;
    return w;
  }

  private failAll(why: string): void {
    for (const [id, done] of this.waiting) done({ id, error: why });
    this.waiting.clear();
  }

  /** Ends every command still running and the worker. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    this.failAll('check stopped');
    w.postMessage({ stop: true });
    // The stop message is handled before the worker goes.
    await new Promise((r) => setTimeout(r, 20));
    await w.terminate();
  }
}
