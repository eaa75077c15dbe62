// The option sets several commands share, defined without importing their implementation
// (the runtime half lives in remote.ts, loaded only when a remote command runs).
import { Option, type Command } from 'commander';
import { withChoices } from './choices.js';

/** Options every command that reaches gateways shares. */
export interface RemoteOptions {
  sshConfig?: string;
  acceptNew?: boolean;
  concurrency?: string;
  stateDir?: string;
  json?: boolean;
}

/** Options of apply and rollback. */
export interface TxCliOptions extends RemoteOptions {
  yes?: boolean;
  confirmTimeout?: string;
  enableIpForward?: boolean;
  breakLock?: string;
  confirm?: string;
  lockTimeout?: string;
}

/** Adds -F/--ssh-config, --accept-new, --concurrency, --state-dir and --json to a command. */
export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .option('-F, --ssh-config <file>', 'ssh_config file to read instead of ~/.ssh/config (the lab writes one; also $NATCHAIN_SSH_CONFIG, config files)')
    .option('--accept-new', 'record host keys of gateways never seen before (a changed key is always refused)')
    .option('--concurrency <n>', 'gateways worked on, and connections open, at once (also $NATCHAIN_CONCURRENCY, config files)', '32')
    .option('--state-dir <dir>', 'where the journal lives (default $NATCHAIN_STATE_DIR, config files, $XDG_STATE_HOME/natchain, ~/.local/state/natchain)')
    .option('--json', 'print one JSON document on stdout');
}

/** Adds the transaction options (apply and rollback share them). */
export function addTxOptions(cmd: Command): Command {
  return addRemoteOptions(cmd)
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--confirm-timeout <seconds>', 'dead-man timer: each gateway restores its snapshot unless committed within this time (also $NATCHAIN_CONFIRM_TIMEOUT, config files)', '60')
    .option('--enable-ip-forward', 'turn net.ipv4.ip_forward on where a gateway forwards and it is off (restored on rollback)')
    .option('--break-lock <tx>', 'take over the lock a dead transaction TX left (see natchain status / recover)')
    .addOption(
      withChoices(
        new Option('--confirm <mode>', 'auto: commit once every gateway verified; manual: leave every gateway armed, print the transaction id and its deadline and exit 0 (natchain confirm commits it)').default('auto'),
        ['auto', 'manual'],
      ),
    )
    .option('--lock-timeout <seconds>', "wait up to this long for another transaction's lock (natchain's own locks are given back while waiting)", '0');
}

/**
 * The options given on the command line, as they would be typed again (`-F lab/ssh_config --accept-new`),
 * for hints that tell the user what to run next with the same settings. Leaves out `except`.
 */
export function repeatOptions(cmd: Command, except: string[] = ['json']): string {
  const words: string[] = [];
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (except.includes(key) || cmd.getOptionValueSource(key) !== 'cli') continue;
    const value: unknown = cmd.getOptionValue(key);
    const flag = opt.long ?? opt.short!;
    if (typeof value === 'boolean') words.push(value || opt.negate ? flag : '');
    else for (const v of Array.isArray(value) ? value : [value]) words.push(`${flag} ${shellWord(String(v))}`);
  }
  return words.filter(Boolean).join(' ');
}

/** A word as a POSIX shell reads it back: quoted only when it needs to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
