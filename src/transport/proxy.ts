import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';
import { ioReason } from '../errors.js';

/**
 * A ProxyCommand's stdin/stdout as one Duplex for ssh2's `sock` option. It is destroyed as soon
 * as the command exits, so ssh2 sees 'close' promptly and fails pending channels instead of
 * waiting on a pipe nobody will ever write to again.
 */
export class ProxyCommandSocket extends Duplex {
  readonly child: ChildProcessWithoutNullStreams;
  /** The last few KB of the command's stderr, for error messages. */
  stderrTail = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  exited = false;
  /** Resolves when the command has exited. */
  readonly exit: Promise<void>;
  private resolveExit!: () => void;

  constructor(readonly command: string) {
    super({ allowHalfOpen: false });
    this.exit = new Promise((r) => (this.resolveExit = r));
    // /bin/sh -c, as ssh runs it; its own process group so we can end it with its children.
    this.child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const child = this.child;
    child.stdout.on('data', (d: Buffer) => {
      if (!this.push(d)) child.stdout.pause();
    });
    child.stdout.on('end', () => this.push(null));
    child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4096);
    });
    child.stdin.on('error', () => {
      /* EPIPE when the command died: reported through 'exit' below */
    });
    child.on('error', (err) => {
      this.stderrTail += `cannot run /bin/sh: ${ioReason(err)}`;
      this.exited = true;
      this.resolveExit();
      this.destroy();
    });
    child.on('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      // 'exit' can come before the last of stderr (the reason) is read: settle once stderr has ended,
      // or after a moment (a process the command left behind may hold stderr open).
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        this.exited = true;
        this.resolveExit();
        // Let the last stdout bytes drain, then close.
        setImmediate(() => this.destroy());
      };
      if (child.stderr.readableEnded) settle();
      else {
        const t = setTimeout(settle, 200);
        child.stderr.once('end', () => (clearTimeout(t), settle()));
      }
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.exited || this.child.stdin.destroyed) {
      cb();
      return;
    }
    this.child.stdin.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (!this.exited && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    cb(err);
  }

  /** A one-line description of how the command ended, for errors. */
  describeExit(): string {
    const how = !this.exited ? 'is still running' : this.exitSignal ? `was killed by ${this.exitSignal}` : `exited with code ${this.exitCode}`;
    const err = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
    return `ProxyCommand ${how}${err ? `: ${err}` : ''}`;
  }
}
