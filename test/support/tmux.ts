// Drives an interactive command in a real terminal: a detached tmux session of a given size, keys
// sent with `send-keys`, the screen read with `capture-pane`. Every step waits for what the screen
// must show before sending the next keys, so timing never decides a test.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';

/** A command running in its own tmux session, on a tmux server of its own (no user configuration, nobody else's sessions). */
export class Terminal {
  readonly session = `natchain-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly tmux = (args: string[]) => execFileSync('tmux', ['-L', this.session, '-f', '/dev/null', ...args], { encoding: 'utf8' });

  /** Starts `argv` (no shell quoting needed) in `cwd`; the session stays after it exits and shows `EXIT=<code>`. */
  constructor(argv: string[], opts: { cwd: string; env?: Record<string, string>; width?: number; height?: number }) {
    const env = Object.entries({ NO_COLOR: '1', ...opts.env }).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
    // The shell traps SIGINT so that a command Ctrl-C kills still gets its `EXIT=130` line (an untrapped shell dies with it).
    const cmd = `trap : INT; cd ${quote(opts.cwd)} && env ${env} ${argv.map(quote).join(' ')}; echo "EXIT=$?"; sleep 3600`;
    // A deep history, so a test can read everything the session printed: set before the pane exists (a pane keeps the limit it was made with).
    const size = ['-x', String(opts.width ?? 80), '-y', String(opts.height ?? 24)];
    this.tmux(['start-server', ';', 'set-option', '-g', 'history-limit', '50000', ';', 'new-session', '-d', '-s', this.session, ...size, 'bash', '-c', cmd]);
  }

  /** Sends tmux key names (`Enter`, `Down`, `Space`, `C-c`, `Escape`) or literal text with `text`. */
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.session, ...keys]);
  }

  /** Types text literally. */
  type(text: string): void {
    this.tmux(['send-keys', '-t', this.session, '-l', text]);
  }

  /** The visible screen. */
  screen(): string {
    return this.tmux(['capture-pane', '-p', '-t', this.session]);
  }

  /** Everything printed since the start (scrollback included). */
  history(): string {
    return this.tmux(['capture-pane', '-p', '-S', '-', '-t', this.session]);
  }

  /** Waits until the screen matches; fails with the screen when it does not in time. */
  async waitFor(re: RegExp, timeoutMs = 15_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (re.test(s)) return s;
      if (Date.now() > end) throw new Error(`terminal never showed ${re}; the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for the command to end; its exit code. */
  async exitCode(timeoutMs = 15_000): Promise<number> {
    const s = await this.waitFor(/EXIT=\d+/, timeoutMs);
    return Number(/EXIT=(\d+)/.exec(s)![1]);
  }

  /** Ends the session (and the command, if still running). */
  close(): void {
    spawnSync('tmux', ['-L', this.session, 'kill-server']);
    // tmux leaves its socket behind.
    rmSync(path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, this.session), { force: true });
  }
}

function quote(s: string): string {
  return /^[\w./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
