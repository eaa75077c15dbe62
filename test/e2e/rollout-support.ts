import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecOptions, ExecResult, GatewaySession } from '../../src/transport/types.js';

/** True when this process may build network namespaces (root, `ip` and the netfilter tools present). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('sh', ['-c', 'command -v ip && command -v iptables-restore && command -v nft && command -v unshare'], { stdio: 'ignore' });
  return r.status === 0;
}

/**
 * A bare gateway for testing the remote scripts without SSH: a network namespace of its own (no
 * links, no addresses) with private /var/lib/natchain and /run/natchain (bind mounts in a private
 * mount namespace per command). Commands run as `sh -c <command>`, as sshd would run them.
 */
export class NetnsGateway {
  readonly ns: string;
  readonly dir: string;
  constructor(name: string) {
    this.ns = `natchain-rt-${name}-${process.pid}`;
    this.dir = mkdtempSync(join(tmpdir(), `natchain-rt-${name}-`));
    mkdirSync(join(this.dir, 'lib'));
    mkdirSync(join(this.dir, 'run'));
    mkdirSync('/var/lib/natchain', { recursive: true });
    mkdirSync('/run/natchain', { recursive: true });
    const r = spawnSync('ip', ['netns', 'add', this.ns], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
  }
  /** The argv that runs a command inside this gateway. */
  argv(command: string): string[] {
    const wrap =
      `mount --make-rprivate / && mkdir -p /var/lib/natchain /run/natchain && mount --bind ${this.dir}/lib /var/lib/natchain && mount --bind ${this.dir}/run /run/natchain && exec sh -c "$0"`;
    return ['ip', 'netns', 'exec', this.ns, 'unshare', '-m', 'sh', '-c', wrap, command];
  }
  /** Runs a command synchronously (for test set-up and assertions). */
  sh(command: string): string {
    const [cmd, ...args] = this.argv(command);
    const r = spawnSync(cmd!, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
    return r.stdout;
  }
  /** A GatewaySession-like object that runs each exec in this namespace. */
  session(gateway: string): GatewaySession & { kill(): void } {
    let count = 0;
    let closed = false;
    let resolveClosed!: () => void;
    const closedP = new Promise<void>((r) => (resolveClosed = r));
    const argvOf = (c: string) => this.argv(c);
    return {
      gateway,
      get execCount() {
        return count;
      },
      closed: closedP,
      exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
        if (closed) return Promise.reject(new Error(`${gateway}: connection closed`));
        count++;
        return new Promise((resolve, reject) => {
          const [cmd, ...args] = argvOf(command);
          const p = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d) => (stdout += d));
          p.stderr.on('data', (d) => (stderr += d));
          p.on('error', reject);
          p.on('close', (code, signal) => resolve({ stdout, stderr, code, ...(signal ? { signal } : {}) }));
          p.stdin.end(opts.stdin ?? '');
        });
      },
      async close() {
        closed = true;
        resolveClosed();
      },
      kill() {
        closed = true;
        resolveClosed();
      },
    };
  }
  /** Removes the namespace, kills what runs in it and deletes its files. */
  destroy(): void {
    spawnSync('sh', ['-c', `ip netns pids ${this.ns} | xargs -r kill -9`]);
    spawnSync('ip', ['netns', 'del', this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
    // The bind-mount targets made on the host: removed once nothing (no other test gateway, no lab)
    // can still be using them; rmdir of a mount point would detach it in other mount namespaces.
    // (Each command makes them again before mounting: another run may remove them between our commands.)
    const others = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').some((l) => /^(natchain-rt-|nc-)/.test(l));
    if (!others) for (const d of ['/var/lib/natchain', '/run/natchain']) spawnSync('rmdir', [d]);
  }
}
