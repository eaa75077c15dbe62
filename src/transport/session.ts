import type { LimitFunction } from 'p-limit';
import type { Client, ClientChannel } from 'ssh2';
import { NatchainError } from '../errors.js';
import { shellQuote } from './quote.js';
import type { ExecOptions, ExecResult, GatewaySession } from './types.js';

/** OpenSSH's sshd allows 10 sessions per connection (MaxSessions); stay under it and queue the rest. */
export const MAX_PARALLEL_EXECS = 8;

/**
 * Wraps a command for the login user: `sh -c` for root (so the command is POSIX sh whatever
 * root's login shell is), `sudo -n sh -c` for anyone else (`-n`: fail instead of prompting).
 * With a deadline, `timeout -s KILL` ends the command's process group on the gateway itself:
 * sshd refuses signal requests for root sessions ("session signalling requires privilege
 * separation"), so a timed-out command would otherwise run on. Processes started with setsid
 * (the rollout's dead-man timer) are in their own group and survive it.
 */
export function wrapCommand(command: string, user: string, deadlineSeconds?: number, shWords = false): string {
  // A command that is already `sh -c '<script>' <words>` (ExecOptions.shWords) runs as it is: one sh fewer on the gateway.
  let inner = shWords ? command : `sh -c ${shellQuote(command)}`;
  if (deadlineSeconds !== undefined && deadlineSeconds > 0) inner = `timeout -s KILL ${Math.ceil(deadlineSeconds)} ${inner}`;
  return user === 'root' ? inner : `sudo -n ${inner}`;
}

/** `sh -c` and single-quoted words only (shellQuote's output): what ExecOptions.shWords may be. */
const SH_WORDS = /^sh -c '[^']*(?:'\\''[^']*)*'(?: (?:'[^']*(?:'\\''[^']*)*'|[A-Za-z0-9_./:@%+,-]+))*$/;

/** Seconds the gateway waits past our own timeout before killing: we report first, it cleans up. */
export const REMOTE_DEADLINE_GRACE_S = 2;

/** A short, single-line form of a command for error messages (scripts can be long). */
export function summarizeCommand(command: string): string {
  const first = command.trim().split('\n')[0] ?? '';
  const more = command.trim().includes('\n') ? ' …' : '';
  return (first.length > 100 ? first.slice(0, 100) + '…' : first) + more;
}

const SUDO_DENIED =
  /^sudo: (a password is required|a terminal is required to read the password.*|.* is not in the sudoers file.*|sorry, you must have a tty to run sudo)$/m;
const SUDO_NOT_ALLOWED = /^Sorry, user \S+ is not allowed to execute .*$/m;
const TIMEOUT_MISSING = /(^|\n)[^\n]*\btimeout: (command )?not found/;
const SUDO_MISSING = /(^|\n)[^\n]*\bsudo: (command )?not found/;

/** Turns sudo's own refusal (or a missing sudo/timeout program) into a clear error; undefined when the command itself ran. */
export function sudoFailure(gateway: string, user: string, command: string, r: ExecResult): NatchainError | undefined {
  // Neither sudo nor a missing program prints anything on stdout before failing.
  if (r.stdout !== '') return undefined;
  const sudoLine = `${user} ALL=(root) NOPASSWD: ALL`;
  const howTo = [
    `command: ${summarizeCommand(command)}`,
    `allow it on ${gateway} with a sudoers line (visudo -f /etc/sudoers.d/natchain):`,
    `    ${sudoLine}`,
    'natchain runs its steps as `sudo -n timeout -s KILL <s> sh -c <script>`, so a rule narrower than ALL cannot work; or log in as root',
  ];
  if (r.code === 1 && user !== 'root') {
    const m = SUDO_DENIED.exec(r.stderr) ?? SUDO_NOT_ALLOWED.exec(r.stderr);
    // sudo writes its refusal before the command ever runs, so it is the first thing on stderr
    // (maybe after its own warnings, which also start with "sudo:").
    if (m && r.stderr.slice(0, m.index).split('\n').every((l) => l === '' || l.startsWith('sudo: '))) {
      return new NatchainError('REMOTE', `${gateway}: user '${user}' may not run commands as root without a password (sudo -n: ${m[0].replace(/^sudo: /, '')})`, howTo);
    }
  }
  if (r.code === 127 && TIMEOUT_MISSING.test(r.stderr)) {
    return new NatchainError('REMOTE', `${gateway}: timeout(1) is missing on the gateway (coreutils or busybox provides it)`, [
      `command: ${summarizeCommand(command)}`,
      'natchain runs every command under `timeout -s KILL` so that a stuck command cannot outlive its deadline',
    ]);
  }
  if (user === 'root') return undefined;
  if (r.code === 127 && SUDO_MISSING.test(r.stderr)) {
    return new NatchainError('REMOTE', `${gateway}: sudo is not installed, and natchain logs in as '${user}' (not root)`, [
      `command: ${summarizeCommand(command)}`,
      'install sudo on the gateway and add the sudoers line:',
      `    ${sudoLine}`,
      'or log in as root (ssh.user in the topology, or User in ssh_config)',
    ]);
  }
  return undefined;
}

/** The connection under one or more sessions; knows when it died and tells its users. */
export interface ConnectionHandle {
  readonly client: Client;
  /** Set once the connection is gone; every later exec fails with it. */
  readonly dead: NatchainError | undefined;
  /** Closed by its pool to make room (not a failure): the session reopens one on its next exec. */
  readonly evicted: boolean;
  /** Bounds the channels open at once on this connection. */
  readonly limit: LimitFunction;
  onDeath(fn: (err: NatchainError) => void): () => void;
  /** An exec starts (+1) or ends (-1): a busy connection is never closed to make room. */
  busy(delta: 1 | -1): void;
  release(): void;
}

/** Per-session defaults. */
export interface SessionSettings {
  gateway: string;
  user: string;
  hostKey: string;
  commandTimeoutMs: number;
}

/** One user's view of a connection: exec with sudo wrapping, timeouts and prompt failure on death. */
export class SshSession implements GatewaySession {
  readonly gateway: string;
  readonly user: string;
  readonly hostKey: string;
  readonly closed: Promise<void>;
  private count = 0;
  private isClosed = false;
  private resolveClosed!: () => void;
  private readonly inflight = new Set<(err: NatchainError) => void>();
  private offDeath: () => void;
  private reopening: Promise<ConnectionHandle> | undefined;
  private reserved: ConnectionHandle | undefined;

  constructor(
    private conn: ConnectionHandle,
    private readonly settings: SessionSettings,
    private readonly onClose?: () => Promise<void>,
    /** Opens a new connection when the pool closed this one to make room. */
    private readonly reopen?: () => Promise<ConnectionHandle>,
  ) {
    this.gateway = settings.gateway;
    this.user = settings.user;
    this.hostKey = settings.hostKey;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.offDeath = this.listen(conn);
    if (conn.dead && !conn.evicted) this.resolveClosed();
  }

  private listen(conn: ConnectionHandle): () => void {
    return conn.onDeath((err) => {
      for (const reject of [...this.inflight]) reject(err);
      this.resolveClosed();
    });
  }

  get execCount(): number {
    return this.count;
  }

  /** Runs a command (wrapped for the login user); rejects on transport failure, timeout, or sudo's refusal. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.count++;
    const refuse = this.refusal();
    if (refuse) throw refuse;
    let conn = await this.connection();
    // Closed to make room in the moment between (a pool runs on other tasks): reopen again.
    for (let i = 0; conn.evicted && this.reopen && i < 3; i++) conn = await this.connection();
    conn.busy(1);
    // A reopened connection comes reserved (busy) for its first exec: hand the reservation over.
    if (this.reserved === conn) {
      this.reserved = undefined;
      conn.busy(-1);
    }
    try {
      return await conn.limit(() => {
        // The connection may have died while this call waited for a channel slot.
        const r = this.refusal();
        if (r) return Promise.reject(r);
        return this.run(conn, command, opts);
      });
    } finally {
      conn.busy(-1);
    }
  }

  // The session's connection, reopened (once, shared by parallel execs) when the pool closed it to make room.
  private async connection(): Promise<ConnectionHandle> {
    if (!this.conn.evicted || !this.reopen) return this.conn;
    this.reopening ??= this.reopen().then(
      (c) => {
        this.offDeath();
        this.conn = c;
        this.reserved = c;
        this.offDeath = this.listen(c);
        this.reopening = undefined;
        return c;
      },
      (e: unknown) => {
        this.reopening = undefined;
        throw e;
      },
    );
    return this.reopening;
  }

  private refusal(): NatchainError | undefined {
    if (this.isClosed) return new NatchainError('SSH', `${this.gateway}: the session was closed`);
    return this.conn.evicted ? undefined : this.conn.dead;
  }

  private run(conn: ConnectionHandle, command: string, opts: ExecOptions): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.settings.commandTimeoutMs;
    const wrapped = wrapCommand(command, this.user, timeoutMs > 0 ? timeoutMs / 1000 + REMOTE_DEADLINE_GRACE_S : undefined, opts.shWords === true && SH_WORDS.test(command));
    return new Promise<ExecResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: NatchainError | undefined, result?: ExecResult): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        this.inflight.delete(onDeath);
        if (err) reject(err);
        else resolve(result!);
      };
      const onDeath = (err: NatchainError): void => {
        finish(new NatchainError('SSH', `${err.message} (while running: ${summarizeCommand(command)})`, err.details, { cause: err }));
      };
      this.inflight.add(onDeath);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          finish(
            new NatchainError('SSH', `${this.gateway}: command timed out after ${fmtSeconds(timeoutMs)}: ${summarizeCommand(command)}`, [
              'the command was sent SIGKILL and its channel closed; the connection stays usable',
            ]),
          );
          if (channel) {
            killChannel(channel);
            channel.close();
          }
        }, timeoutMs);
      }
      let refused = 0;
      const onChannel = (err: Error | undefined, ch: ClientChannel): void => {
        if (err) {
          // sshd frees a finished session a moment after its channel closed, so a new one can be
          // refused for MaxSessions although fewer are open: retry briefly (within the deadline).
          if (/open failed/.test(err.message) && !conn.dead && !settled && refused < 6) {
            setTimeout(() => (settled ? undefined : open()), 10 * 2 ** refused++);
            return;
          }
          finish(conn.dead ?? new NatchainError('SSH', `${this.gateway}: cannot open a channel: ${err.message}`));
          return;
        }
        channel = ch;
        if (settled) {
          ch.close(); // timed out or the connection died before the channel opened
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        let sawExit = false;
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => errOut.push(d));
        ch.on('exit', (c: number | null, s?: string) => {
          sawExit = true;
          code = typeof c === 'number' ? c : null;
          if (s) signal = s;
        });
        ch.on('error', () => {
          /* reported through close */
        });
        ch.on('close', () => {
          // A channel closed without exit status because the connection went away is a transport failure.
          if (!sawExit && conn.dead) {
            onDeath(conn.dead);
            return;
          }
          const result: ExecResult = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8'), code };
          if (signal) result.signal = signal;
          finish(sudoFailure(this.gateway, this.user, command, result), result);
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      };
      const open = (): void => {
        try {
          conn.client.exec(wrapped, onChannel);
        } catch (e) {
          finish(conn.dead ?? new NatchainError('SSH', `${this.gateway}: ${(e as Error).message}`));
        }
      };
      open();
    });
  }

  /** Ends this session; the connection closes when nothing else (a session, a jumped-through gateway) uses it. */
  async close(): Promise<void> {
    if (this.isClosed) return this.closed;
    this.isClosed = true;
    // Made only when a command is waiting: an error's stack is costly, and a fleet closes thousands of sessions at once.
    if (this.inflight.size) {
      const err = new NatchainError('SSH', `${this.gateway}: the session was closed`);
      for (const reject of [...this.inflight]) reject(err);
    }
    this.offDeath();
    this.conn.release();
    if (this.onClose) await this.onClose();
    this.resolveClosed();
  }
}

/**
 * Sends SIGKILL to a session channel's process group (sshd does killpg). ssh2's public
 * channel.signal() sends nothing once our side of the channel is closed for writing (stdin
 * ended, which every exec does), so the request goes through ssh2's protocol object directly.
 */
function killChannel(ch: ClientChannel): void {
  const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, name: string): void } } };
  try {
    if (c.outgoing && (c.outgoing.state === 'open' || c.outgoing.state === 'eof')) c._client?._protocol?.signal(c.outgoing.id, 'KILL');
  } catch {
    /* the connection is going away anyway */
  }
}

function fmtSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
