import { spawn, type StdioOptions } from 'node:child_process';
import { access } from 'node:fs/promises';
import { ioReason, NatchainError } from '../errors.js';

/** What a command returned. */
export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when it died by a signal (then `signal` says which). */
  code: number | null;
  signal?: string;
}

export interface RunOptions {
  /** Written to stdin, then stdin is closed (default: stdin is empty). */
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long; it then returns code null, signal SIGKILL. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Inherit the terminal instead of capturing (interactive `lab exec`); stdout/stderr come back empty. */
  inherit?: boolean;
  /** Run it in a new session (daemons it starts then never get the terminal's signals). */
  detached?: boolean;
}

/** The admin directories hold ip, sshd, iptables...: make sure a non-login PATH has them. */
export function sbinPath(path = process.env.PATH ?? ''): string {
  const parts = path.split(':').filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (!parts.includes(d)) parts.push(d);
  return parts.join(':');
}

/** Runs a program (no shell) and collects its output; rejects only when it cannot be started. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = opts.inherit ? 'inherit' : ['pipe', 'pipe', 'pipe'];
    const child = spawn(cmd, args, { stdio, cwd: opts.cwd ?? '/', env: opts.env ?? { ...process.env, PATH: sbinPath() }, detached: !!opts.detached });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new NatchainError('ENVIRONMENT', `program not found: ${cmd}`, [`PATH=${sbinPath()}`]));
      else reject(new NatchainError('LAB', `cannot run ${cmd}: ${ioReason(e)}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        ...(signal ? { signal } : {}),
      });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the command may exit before reading everything
      child.stdin.end(opts.input ?? '');
    }
  });
}

/** Runs a program and throws a LAB error (with its stderr) unless it exits 0. */
export async function runOk(cmd: string, args: string[], what: string, opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const lines = (r.stderr || r.stdout).trim().split('\n').filter(Boolean).slice(-20);
    throw new NatchainError('LAB', `${what} failed (${r.code === null ? `killed by ${r.signal}` : `exit ${r.code}`})`, lines);
  }
  return r;
}

/** Quotes a string for a POSIX shell, always in single quotes (lab scripts stay uniform to read and to test). */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Whether a path exists (any type). */
export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
