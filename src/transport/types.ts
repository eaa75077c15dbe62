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
}

/** An open, authenticated SSH connection to one gateway, reused for every step of a run. */
export interface GatewaySession {
  readonly gateway: string;
  /** Runs a command (through `sudo -n` when the login user is not root). Rejects only on transport failure. */
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
}

/** Opens sessions to a topology's gateways (through jump gateways where the topology or ssh_config says). */
export type Connector = (topology: Topology, gateway: Gateway, opts: ConnectOptions) => Promise<GatewaySession>;
