import { homedir, userInfo } from 'node:os';
import { CredentialCache } from './auth.js';
import { KnownHostsStore } from './knownhosts-store.js';
import { loadSshConfig, resolveSshConfig, type ParsedSshConfig, type ResolvedSshConfig } from './sshconfig.js';
import type { ConnectOptions } from './types.js';

/**
 * What one run reads once and every connection of the run shares: ssh_config (with its Includes)
 * parsed once and each host resolved once, known_hosts parsed and indexed, the agent's key list
 * and every identity file decoded once. Re-reading these per connection made a fleet run
 * quadratic (issue 12).
 */
export class SshContext {
  readonly home: string;
  readonly localUser: string;
  readonly configs: ParsedSshConfig[];
  readonly knownHosts = new KnownHostsStore();
  readonly credentials = new CredentialCache();
  private readonly resolved = new Map<string, ResolvedSshConfig>();

  constructor(init: { home: string; localUser: string; configs: ParsedSshConfig[] }) {
    this.home = init.home;
    this.localUser = init.localUser;
    this.configs = init.configs;
  }

  /** Reads the ssh_config files the options name (or OpenSSH's defaults). */
  static fromOptions(opts: ConnectOptions): SshContext {
    const home = opts.homeDir ?? homedir();
    const configs = loadSshConfig(opts.sshConfigFile ? { file: opts.sshConfigFile, home } : { home, ...(opts.homeDir ? { systemFile: null } : {}) });
    return new SshContext({ home, localUser: userInfo().username, configs });
  }

  /** What ssh_config says about one host name, resolved once per run. */
  resolve(alias: string): ResolvedSshConfig {
    let r = this.resolved.get(alias);
    if (!r) {
      r = resolveSshConfig(this.configs, alias, { localUser: this.localUser });
      this.resolved.set(alias, r);
    }
    return r;
  }
}

const contexts = new WeakMap<ConnectOptions, SshContext>();

/**
 * The context of a run: one per ConnectOptions object (a run builds its options once), so the
 * management pool and the fresh connections of the same run share what was read.
 */
export function contextOf(opts: ConnectOptions): SshContext {
  let c = contexts.get(opts);
  if (!c) {
    c = SshContext.fromOptions(opts);
    contexts.set(opts, c);
  }
  return c;
}
