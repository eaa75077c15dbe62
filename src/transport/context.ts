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
  /** Open gateway connections, across the run's pools (the management pool and each fresh connection's). */
  readonly budget: ConnectionBudget;
  private readonly resolved = new Map<string, ResolvedSshConfig>();

  constructor(init: { home: string; localUser: string; configs: ParsedSshConfig[]; maxConnections?: number }) {
    this.home = init.home;
    this.localUser = init.localUser;
    this.configs = init.configs;
    this.budget = new ConnectionBudget(init.maxConnections ?? Infinity);
  }

  /** Reads the ssh_config files the options name (or OpenSSH's defaults). */
  static fromOptions(opts: ConnectOptions): SshContext {
    const home = opts.homeDir ?? homedir();
    const configs = loadSshConfig(opts.sshConfigFile ? { file: opts.sshConfigFile, home } : { home, ...(opts.homeDir ? { systemFile: null } : {}) });
    return new SshContext({ home, localUser: userInfo().username, configs, ...(opts.maxConnections ? { maxConnections: opts.maxConnections } : {}) });
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

/** What the budget needs to know of a connection to pick one to close. */
interface Slot {
  inflight: number;
  children: number;
  evicted: boolean;
  lastUsed: number;
}

/**
 * The run's budget of open gateway connections (ConnectOptions.maxConnections). Opening one more
 * than allowed first closes the least recently used idle one (no exec running, nobody jumping
 * through it), whichever pool of the run it belongs to; when none is idle, it waits for one.
 */
export class ConnectionBudget {
  used = 0;
  private readonly open = new Map<Slot, () => void>();
  private waiters: Array<() => void> = [];

  constructor(readonly max: number) {}

  /** Waits for a free slot (closing an idle connection for it when needed) and takes it. */
  async take(): Promise<void> {
    while (this.used >= this.max) {
      const victim = this.idle();
      if (victim) {
        const evict = this.open.get(victim)!;
        this.remove(victim);
        evict();
      } else await new Promise<void>((r) => this.waiters.push(r));
    }
    this.used++;
  }

  /** A connection that took a slot is up; `evict` closes it to make room. */
  add(c: Slot, evict: () => void): void {
    this.open.set(c, evict);
    this.wake(); // it is idle until used: a waiter may close it
  }

  /** A taken slot whose connection failed to open. */
  release(): void {
    this.used--;
    this.wake();
  }

  /** A connection that held a slot is gone (closed, lost, or evicted). */
  remove(c: Slot): void {
    if (!this.open.delete(c)) return;
    this.used--;
    this.wake();
  }

  /** Something may have turned idle: waiters look again. */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  private idle(): Slot | undefined {
    let best: Slot | undefined;
    for (const c of this.open.keys()) {
      if (c.inflight > 0 || c.children > 0 || c.evicted) continue;
      if (!best || c.lastUsed < best.lastUsed) best = c;
    }
    return best;
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
