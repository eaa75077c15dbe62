import type { Gateway, Topology } from '../topology/types.js';

/** What one remote command returned. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the command died by a signal or the channel closed without one. */
  code: number | null;
  signal?: string;
}

/** Options of one remote command. */
export interface ExecOptions {
  /** Written to the command's stdin, then stdin is closed. */
  stdin?: string | Buffer;
  /** The command fails with an SSH error (never hangs) after this long. Default: the session's. */
  timeoutMs?: number;
  /** The command is already `sh -c '<script>' <words>`, every word single-quoted: it is not wrapped in another `sh -c`. */
  shWords?: boolean;
}

/** An open, authenticated SSH connection to one gateway, reused for every step of a run. */
export interface GatewaySession {
  readonly gateway: string;
  /**
   * Runs a command under `sh -c` (through `sudo -n` when the login user is not root). Rejects only
   * on transport failure or timeout ('SSH') and when sudo itself refuses ('REMOTE'); a command
   * that fails resolves with its exit code.
   */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** How many commands this session has run: the round-trip count the rollout is measured by. */
  readonly execCount: number;
  /** Resolves when the connection ends (closed by us or lost); rejects never. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** How to reach gateways: OpenSSH conventions plus natchain's own switches. */
export interface ConnectOptions {
  /** An ssh_config file (`-F`), read instead of ~/.ssh/config (the lab writes one). */
  sshConfigFile?: string;
  /** Record unknown host keys instead of refusing them (changed keys are always refused). */
  acceptNew?: boolean;
  /** Connect/handshake timeout. */
  connectTimeoutMs?: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
  /** Asks for a key passphrase (once per key) when on a TTY; absent: encrypted keys fail clearly. */
  askPassphrase?: (keyFile: string) => Promise<string>;
  /** Home directory for `~`, ~/.ssh/config, default keys and known_hosts (default: the user's); tests and the lab point it at a temp dir so they never read or write the real ~/.ssh. Setting it also skips /etc/ssh/ssh_config. */
  homeDir?: string;
  /** ssh-agent socket; default SSH_AUTH_SOCK (or ssh_config IdentityAgent); null: no agent. Lets tests use their own agent without touching process.env. */
  agentSocket?: string | null;
  /** SSH keepalive interval (ServerAliveInterval); default ssh_config's, else 5000 ms. A dead peer is detected after interval x countMax. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as dead (ServerAliveCountMax); default ssh_config's, else 3. */
  keepaliveCountMax?: number;
  /** At most this many gateway connections open at once in a pool (idle ones are closed to make room, and reopened when used again); default: no limit. The CLI sets it to --concurrency. */
  maxConnections?: number;
  /** Told about things the user should see but that are not errors: a host key recorded by acceptNew (file, line, hashed or plain), ignored ssh_config lines. Never given secrets. */
  onNotice?: (gateway: string, message: string) => void;
}

/** Opens sessions to a topology's gateways (through jump gateways where the topology or ssh_config says). */
export type Connector = (topology: Topology, gateway: Gateway, opts: ConnectOptions) => Promise<GatewaySession>;
