import path from 'node:path';
import type { Duplex } from 'node:stream';
import pLimit from 'p-limit';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { NatchainError } from '../errors.js';
import type { Gateway, Topology } from '../topology/types.js';
import { describeAuth, planAuth, candidateIdentityFiles, type AuthPlan } from './auth.js';
import { contextOf, type SshContext } from './context.js';
import { hostKeyPolicy, verifyHostKey } from './hostkey-verify.js';
import { knownHostName, preferredHostKeyAlgorithms } from './knownhosts.js';
import { ProxyCommandSocket } from './proxy.js';
import { openCheckSocket, readSshBanner } from './reach.js';
import { ProxyChecks } from './reach-proxy.js';
import { assertSafeHost, assertSafePort, assertSafeUser } from './quote.js';
import { MAX_PARALLEL_EXECS, SshSession, type ConnectionHandle } from './session.js';
import { expandPath, expandTokens, type ResolvedSshConfig, type TokenValues } from './sshconfig.js';
import type { ConnectOptions, Connector, GatewaySession } from './types.js';

const { Client } = ssh2;

export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 5_000;
export const DEFAULT_KEEPALIVE_COUNT_MAX = 3;

/** How one SSH endpoint is reached, fully resolved from the topology and ssh_config. */
export interface SshTarget {
  /** Pool key: one connection per key per pool. */
  key: string;
  /** The name used in messages: the gateway's name, or the ssh_config alias of a ProxyJump host. */
  label: string;
  alias: string;
  hostname: string;
  port: number;
  user: string;
  /** The known_hosts name (`host` or `[host]:port`, HostKeyAlias honoured). */
  hostKeyName: string;
  config: ResolvedSshConfig;
  via: { kind: 'tcp' } | { kind: 'proxy-command'; command: string } | { kind: 'jump'; through: SshTarget; why: 'topology' | 'ProxyJump' };
}

/** Parses one ProxyJump element: `[user@]host[:port]`, `[user@][v6]:port` or `ssh://[user@]host[:port]`. */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } {
  let s = spec.trim();
  if (s.startsWith('ssh://')) s = s.slice(6).replace(/\/$/, '');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let host = s;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const v4 = /^([^:]+):(\d+)$/.exec(s);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if (v4) {
    host = v4[1]!;
    port = Number(v4[2]);
  }
  if (!host || (port !== undefined && (port < 1 || port > 65535))) throw new NatchainError('SSH', `bad ProxyJump host "${spec}"`);
  const out: { user?: string; host: string; port?: number } = { host };
  if (user) out.user = user;
  if (port !== undefined) out.port = port;
  return out;
}

function finishTarget(
  label: string,
  alias: string,
  cfg: ResolvedSshConfig,
  port: number,
  user: string,
  via: SshTarget['via'],
  keyPrefix: string,
): SshTarget {
  // OpenSSH looks a HostKeyAlias up as written, without the `[host]:port` form.
  const hostKeyName = cfg.hostKeyAlias ?? knownHostName(cfg.hostname, port);
  const viaKey = via.kind === 'jump' ? ` via ${via.through.key}` : via.kind === 'proxy-command' ? ` via ${via.command}` : '';
  return { key: `${keyPrefix}${viaKey}`, label, alias, hostname: cfg.hostname, port, user, hostKeyName, config: cfg, via };
}

/** Resolves a ProxyJump list (`a,b,c`): the last element is the hop, reached through the ones before it. */
function resolveJumpChain(env: SshContext, list: string, depth: number): SshTarget {
  const parts = list.split(',').map((p) => p.trim()).filter(Boolean);
  const last = parts.pop();
  if (!last) throw new NatchainError('SSH', `empty ProxyJump "${list}"`);
  const spec = parseJumpSpec(last);
  const cfg = env.resolve(spec.host);
  const port = spec.port ?? cfg.port ?? 22;
  const user = spec.user ?? cfg.user ?? env.localUser;
  let via: SshTarget['via'];
  if (parts.length > 0) via = { kind: 'jump', through: resolveJumpChain(env, parts.join(','), depth + 1), why: 'ProxyJump' };
  else via = viaFromConfig(env, cfg, port, user, depth + 1);
  return finishTarget(spec.host, spec.host, cfg, port, user, via, `cfg:${user}@${spec.host}:${port}`);
}

function viaFromConfig(env: SshContext, cfg: ResolvedSshConfig, port: number, user: string, depth: number): SshTarget['via'] {
  // ssh_config may chain jumps through each other; a loop would recurse forever.
  if (depth > 8) throw new NatchainError('SSH', `ProxyJump chain for ${cfg.alias} is too long (a loop?)`);
  if (cfg.proxyJump) return { kind: 'jump', through: resolveJumpChain(env, cfg.proxyJump, depth), why: 'ProxyJump' };
  if (cfg.proxyCommand) {
    const t: TokenValues = { host: cfg.hostname, alias: cfg.alias, port, remoteUser: user, localUser: env.localUser, home: env.home };
    return { kind: 'proxy-command', command: expandTokens(cfg.proxyCommand, t) };
  }
  return { kind: 'tcp' };
}

/**
 * Resolves how to reach a gateway: topology values win over ssh_config (like ssh's command line),
 * the topology's jump gateway wins over ProxyJump/ProxyCommand, defaults are port 22 and root.
 */
export function resolveGatewayTarget(topology: Topology, gateway: Gateway, env: SshContext, seen: string[] = []): SshTarget {
  if (seen.includes(gateway.name)) {
    throw new NatchainError('SSH', `jump loop: ${[...seen, gateway.name].join(' -> ')}`);
  }
  // Topology values may end up in a local ProxyCommand (%h %n %r): validate before any use.
  const alias = assertSafeHost(gateway.ssh.host || gateway.name, `ssh host of gateway ${gateway.name}`);
  if (gateway.ssh.user !== undefined) assertSafeUser(gateway.ssh.user, `ssh user of gateway ${gateway.name}`);
  if (gateway.ssh.port !== undefined) assertSafePort(gateway.ssh.port, `ssh port of gateway ${gateway.name}`);
  const cfg = env.resolve(alias);
  const port = gateway.ssh.port ?? cfg.port ?? 22;
  const user = gateway.ssh.user ?? cfg.user ?? 'root';
  let via: SshTarget['via'];
  if (gateway.ssh.jump) {
    const jump = topology.gateways.find((g) => g.name === gateway.ssh.jump);
    if (!jump) throw new NatchainError('NOT_FOUND', `${gateway.name}: jump gateway '${gateway.ssh.jump}' is not in the topology`);
    via = { kind: 'jump', through: resolveGatewayTarget(topology, jump, env, [...seen, gateway.name]), why: 'topology' };
  } else {
    via = viaFromConfig(env, cfg, port, user, 0);
  }
  return finishTarget(gateway.name, alias, cfg, port, user, via, `gw:${gateway.name}`);
}

/** Describes the route for messages: `root@10.0.0.1:22 via gw1`. */
export function describeTarget(t: SshTarget): string {
  const where = `${t.user}@${t.hostname}:${t.port}`;
  if (t.via.kind === 'jump') return `${where} via ${t.via.through.label}`;
  if (t.via.kind === 'proxy-command') return `${where} (ProxyCommand)`;
  return where;
}

// One live SSH connection and the things that depend on it.
class Connection implements ConnectionHandle {
  readonly client = new Client();
  // Per connection, not per session: sessions sharing a connection share sshd's MaxSessions.
  readonly limit = pLimit(MAX_PARALLEL_EXECS);
  dead: NatchainError | undefined;
  /** Closed by the pool to make room (see SshPool): its sessions reconnect on their next exec. */
  evicted = false;
  hostKey = '';
  /** Counts against the pool's maxConnections (connections opened only as jump hosts do not). */
  slot = false;
  /** Execs running or queued on it, and connections jumping through it: it is busy while either is non-zero. */
  inflight = 0;
  children = 0;
  lastUsed = Date.now();
  private refs = 0;
  private readonly deathListeners = new Set<(err: NatchainError) => void>();
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((r) => (this.resolveClosed = r));
  parent: Connection | undefined;
  sock: Duplex | undefined;
  private ending = false;

  constructor(
    readonly target: SshTarget,
    private readonly forget: () => void,
    private readonly idle: () => void,
  ) {}

  acquire(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0) return;
    // Forgotten at once, not when the close arrives: a connect() in between must open a new connection, not get this ending one.
    this.forget();
    this.end();
  }

  /** Marks an exec started (+1) or finished (-1); the pool hears when the connection turns idle. */
  busy(delta: 1 | -1): void {
    this.inflight += delta;
    this.lastUsed = Date.now();
    if (this.inflight === 0) this.idle();
  }

  /** Ends an idle connection to make room for another: its sessions are not told it died. */
  evict(): void {
    this.evicted = true;
    this.deathListeners.clear();
    this.forget(); // at once: a session reconnecting must not be handed this connection again
    this.end(0);
  }

  /** Sends SSH's disconnect and closes the socket after `graceMs` whether or not the server closes its side. */
  end(graceMs = 2000): void {
    if (this.ending) return;
    this.ending = true;
    this.client.end();
    // client.destroy() does nothing once end() ran (the socket is no longer writable): close the
    // socket itself, or a server that never closes its side keeps it open.
    const sock = (this.client as unknown as { _sock?: Duplex })._sock;
    setTimeout(() => sock?.destroy(), graceMs).unref();
  }

  onDeath(fn: (err: NatchainError) => void): () => void {
    this.deathListeners.add(fn);
    return () => this.deathListeners.delete(fn);
  }

  /** Called once the client is ready: from now on any end of the connection is its death. */
  watch(): void {
    let lastError: Error | undefined;
    this.client.on('error', (err) => {
      lastError = err;
    });
    this.client.on('close', () => {
      const why = this.ending
        ? 'the connection was closed'
        : `connection lost${lastError ? ` (${lastError.message})` : ''}${this.sock instanceof ProxyCommandSocket && this.sock.exited ? `; ${this.sock.describeExit()}` : ''}`;
      this.dead = new NatchainError('SSH', `${this.target.label}: ${why}`, [`route: ${describeTarget(this.target)}`]);
      this.sock?.destroy();
      this.forget();
      for (const fn of [...this.deathListeners]) fn(this.dead);
      this.deathListeners.clear();
      if (this.parent) {
        this.parent.children--;
        this.parent.release();
        if (this.parent.children === 0) this.parent.idle();
      }
      this.resolveClosed();
    });
  }
}

/**
 * Connections for one run: one per gateway (and per ProxyJump host), shared by every session and
 * by every gateway that jumps through it. closeAll() ends them all.
 *
 * With `maxConnections`, at most that many gateway connections are open at once (jump hosts come
 * on top: they are shared): opening one more first closes the least recently used idle one, whose
 * sessions reconnect (a new handshake, the same host-key check) on their next exec; when none is
 * idle, the opening waits for one. Memory and sockets then stay bounded however large the fleet.
 */
export class SshPool {
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly live = new Set<Connection>();
  private readonly env: SshContext;
  private readonly warned = new Set<string>();
  /** Jump connections `reach` opened or used: kept open for the next check. */
  private readonly heldForChecks = new Set<Connection>();
  private proxyChecks: ProxyChecks | undefined;

  constructor(readonly opts: ConnectOptions = {}) {
    this.env = contextOf(opts);
  }

  /** Opens (or reuses) the connection to a gateway and returns a session on it. */
  async connect(topology: Topology, gateway: Gateway): Promise<GatewaySession> {
    const target = resolveGatewayTarget(topology, gateway, this.env);
    const open = async (reserve: boolean): Promise<Connection> => {
      const conn = await this.connection(target, true, reserve);
      conn.acquire();
      return conn;
    };
    const conn = await open(false);
    return new SshSession(
      conn,
      {
        gateway: gateway.name,
        user: target.user,
        hostKey: conn.hostKey,
        commandTimeoutMs: this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      },
      undefined,
      () => open(true),
    );
  }

  /**
   * Whether a gateway's sshd answers, without logging in to it: its SSH version line, read within
   * `timeoutMs` over direct TCP, its ProxyCommand, or a channel of its jump host's connection (the jump
   * host is logged into once, shared, and not counted against maxConnections). Rejects with why not;
   * `signal` stops it.
   */
  async reach(topology: Topology, gateway: Gateway, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    const target = resolveGatewayTarget(topology, gateway, this.env);
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    // A ProxyCommand is started by a worker thread (reach-proxy.ts: a process start stalls the thread that makes it).
    if (target.via.kind === 'proxy-command') return (this.proxyChecks ??= new ProxyChecks()).check(target.via.command, timeoutMs, signal);
    if (target.via.kind === 'tcp') return readSshBanner(openCheckSocket({ kind: 'tcp', host: target.hostname, port: target.port }), timeoutMs, signal);
    const through = target.via.through;
    const parent = await within(this.connection(through), timeoutMs, () => new Error(`no connection to its jump host ${through.label} within ${fmtMs(timeoutMs)}`));
    // Held for the checks of the other gateways behind it until closeAll (released, it would end now).
    if (!this.heldForChecks.has(parent)) {
      this.heldForChecks.add(parent);
      parent.acquire();
    }
    return readSshBanner(await forwardOut(parent, target, left()), left(), signal);
  }

  /** Open gateway connections of the run (those counted against maxConnections), in every pool sharing these options. */
  get openConnections(): number {
    return this.env.budget.used;
  }

  // Closes an idle connection to make room (the budget chose it): its slot is free at once.
  private evict(c: Connection): void {
    c.slot = false;
    this.live.delete(c);
    c.evict();
  }

  /** Ends every connection of the pool and waits until they are closed. */
  async closeAll(): Promise<void> {
    await this.proxyChecks?.close();
    this.proxyChecks = undefined;
    const all = [...this.live];
    for (const c of all) c.end();
    await Promise.all(all.map((c) => c.closed));
    // Connections still opening are ended as they come up.
    const pending = await Promise.allSettled([...this.conns.values()]);
    for (const p of pending) if (p.status === 'fulfilled') p.value.end();
    await Promise.all(pending.map((p) => (p.status === 'fulfilled' ? p.value.closed : undefined)));
  }

  private connection(target: SshTarget, slot = false, reserve = false): Promise<Connection> {
    let p = this.conns.get(target.key);
    if (!p) {
      const box: { p?: Promise<Connection> } = {};
      p = this.open(target, box, slot, reserve);
      box.p = p;
      this.conns.set(target.key, p);
      // A failed attempt stays cached: every gateway behind it fails with the same error, once.
      p.catch(() => undefined);
    }
    return p;
  }

  private notice(target: SshTarget, message: string): void {
    this.opts.onNotice?.(target.label, message);
  }

  // `reserve`: the connection starts busy (the opener's exec releases it), so that another opener
  // waiting for room cannot close it before its first exec.
  private async open(target: SshTarget, self: { p?: Promise<Connection> }, slot: boolean, reserve = false): Promise<Connection> {
    const budget = this.env.budget;
    if (slot) await budget.take();
    try {
      const conn = await this.handshake(target, self);
      conn.slot = slot;
      if (reserve) conn.inflight++;
      if (slot) budget.add(conn, () => this.evict(conn));
      return conn;
    } catch (e) {
      if (slot) budget.release();
      throw e;
    }
  }

  // One connection: credentials, the way to the host (direct, ProxyCommand, or a channel of its
  // jump host's connection), the handshake with its host-key check, the login.
  private async handshake(target: SshTarget, self: { p?: Promise<Connection> }): Promise<Connection> {
    const cfg = target.config;
    this.warnOnce(target);
    const tokens: TokenValues = {
      host: target.hostname,
      alias: target.alias,
      port: target.port,
      remoteUser: target.user,
      localUser: this.env.localUser,
      home: this.env.home,
    };
    const policy = hostKeyPolicy(target.hostKeyName, cfg, tokens, this.opts.acceptNew);
    // Credentials first: a passphrase prompt must not run against the handshake timeout.
    const auth = await this.credentials(target, tokens);
    // From here on the clock runs: channel through a jump, handshake and login share one budget.
    const timeoutMs = this.opts.connectTimeoutMs ?? (cfg.connectTimeout ? cfg.connectTimeout * 1000 : DEFAULT_CONNECT_TIMEOUT_MS);
    // Read before any ProxyCommand child or jump channel exists: a throw here must leave nothing running.
    const entriesNow = this.env.knownHosts.lookup(policy.files, target.hostKeyName);
    const way = await this.wayTo(target, timeoutMs);
    const conn = this.newConnection(target, self);
    conn.parent = way.parent;
    conn.sock = way.sock;
    let hostKeyError: NatchainError | undefined;
    const verify = (key: Buffer): boolean => {
      const out = verifyHostKey(target.label, policy, this.env.knownHosts, key, (message) => this.notice(target, message));
      if (out.fingerprint) conn.hostKey = out.fingerprint;
      if (!out.ok) hostKeyError = out.error;
      return out.ok;
    };
    const config: ConnectConfig = {
      username: target.user,
      readyTimeout: Math.max(1, way.deadline - Date.now()),
      keepaliveInterval: this.opts.keepaliveIntervalMs ?? (cfg.serverAliveInterval !== undefined ? cfg.serverAliveInterval * 1000 : DEFAULT_KEEPALIVE_INTERVAL_MS),
      keepaliveCountMax: this.opts.keepaliveCountMax ?? cfg.serverAliveCountMax ?? DEFAULT_KEEPALIVE_COUNT_MAX,
      hostVerifier: verify,
      authHandler: auth.plan.methods,
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(entriesNow, target.hostKeyName) as never },
    };
    if (way.sock) config.sock = way.sock;
    else {
      config.host = target.hostname;
      config.port = target.port;
    }
    try {
      await login(conn.client, config);
    } catch (err) {
      await abandon(conn, way);
      throw this.connectError(target, err as Error, hostKeyError, way.sock, auth.plan, auth.agentSocket, timeoutMs);
    }
    conn.watch();
    this.live.add(conn);
    return conn;
  }

  // ssh_config's warnings about a target, each said once per pool.
  private warnOnce(target: SshTarget): void {
    for (const w of target.config.warnings) {
      if (!this.warned.has(w)) {
        this.warned.add(w);
        this.notice(target, w);
      }
    }
  }

  // The login methods to offer (agent, identity files, passphrases asked now); throws when there are none.
  private async credentials(target: SshTarget, tokens: TokenValues): Promise<{ plan: AuthPlan; agentSocket: string | undefined }> {
    const cfg = target.config;
    const agentSocket = this.agentSocket(cfg, tokens);
    const plan = await planAuth({
      username: target.user,
      agentSocket,
      identityFiles: candidateIdentityFiles(
        cfg.identityFiles.map((f) => expandPath(f, tokens)),
        path.join(this.env.home, '.ssh'),
      ),
      identitiesOnly: cfg.identitiesOnly === true,
      ask: this.opts.askPassphrase,
      cache: this.env.credentials,
    });
    if (plan.methods.length === 0) {
      throw new NatchainError('SSH', `${target.label}: no usable credentials to log in as ${target.user}`, describeAuth(plan, agentSocket));
    }
    return { plan, agentSocket };
  }

  // The byte stream to the target's sshd: a channel of its jump host's connection (opened or shared,
  // and held until this connection ends), a ProxyCommand, or none (ssh2 opens TCP itself). `deadline`:
  // when the handshake must be done (a jump hop's own budget starts once its jump host is up).
  private async wayTo(target: SshTarget, timeoutMs: number): Promise<Way> {
    if (target.via.kind === 'proxy-command') return { sock: new ProxyCommandSocket(target.via.command), deadline: Date.now() + timeoutMs };
    if (target.via.kind !== 'jump') return { deadline: Date.now() + timeoutMs };
    const through = target.via.through;
    let parent: Connection;
    try {
      parent = await this.connection(through);
    } catch (e) {
      const inner = e instanceof NatchainError ? e : new NatchainError('SSH', String(e));
      throw new NatchainError(inner.code, `${target.label}: cannot reach it through ${through.label}: ${inner.message}`, inner.details, { cause: inner });
    }
    parent.acquire();
    parent.children++;
    const deadline = Date.now() + timeoutMs;
    try {
      return { parent, sock: await forwardOut(parent, target, timeoutMs), deadline };
    } catch (e) {
      parent.children--;
      parent.release();
      throw e;
    }
  }

  // A connection the pool forgets when it dies, so a later connect() opens a fresh one.
  private newConnection(target: SshTarget, self: { p?: Promise<Connection> }): Connection {
    const conn: Connection = new Connection(
      target,
      () => {
        this.live.delete(conn);
        if (this.conns.get(target.key) === self.p) this.conns.delete(target.key);
        if (conn.slot) {
          conn.slot = false;
          this.env.budget.remove(conn);
        }
      },
      () => this.env.budget.wake(),
    );
    return conn;
  }

  private agentSocket(cfg: ResolvedSshConfig, tokens: TokenValues): string | undefined {
    if (this.opts.agentSocket !== undefined) return this.opts.agentSocket ?? undefined;
    const ia = cfg.identityAgent;
    if (ia !== undefined) {
      if (ia.toLowerCase() === 'none') return undefined;
      if (ia === 'SSH_AUTH_SOCK') return process.env.SSH_AUTH_SOCK || undefined;
      if (ia.startsWith('$')) return process.env[ia.slice(1)] || undefined;
      return expandPath(ia, tokens);
    }
    return process.env.SSH_AUTH_SOCK || undefined;
  }

  private connectError(
    target: SshTarget,
    err: Error,
    hostKeyError: NatchainError | undefined,
    sock: Duplex | undefined,
    plan: AuthPlan,
    agentSocket: string | undefined,
    timeoutMs: number,
  ): NatchainError {
    if (hostKeyError) return hostKeyError;
    const level = (err as Error & { level?: string }).level;
    const route = `route: ${describeTarget(target)}`;
    if (level === 'client-authentication') {
      return new NatchainError('SSH', `${target.label}: authentication failed for ${target.user}@${target.hostname}`, [route, ...describeAuth(plan, agentSocket)]);
    }
    const details = [route];
    if (sock instanceof ProxyCommandSocket) details.push(`${sock.describeExit()}`, `ProxyCommand: ${sock.command}`);
    if (level === 'client-timeout') {
      return new NatchainError('SSH', `${target.label}: no SSH handshake within ${fmtMs(timeoutMs)}`, details);
    }
    return new NatchainError('SSH', `${target.label}: cannot connect: ${err.message}`, details, { cause: err });
  }
}

/** How a connection reaches its sshd (see SshPool.wayTo). */
interface Way {
  parent?: Connection;
  sock?: Duplex;
  deadline: number;
}

/** Starts the SSH handshake and login; settles when the client is ready, or rejects with the first error or close. */
function login(client: InstanceType<typeof Client>, config: ConnectConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      client.removeAllListeners('ready');
      cleanup();
      reject(err);
    };
    const onError = (err: Error): void => fail(err);
    const onClose = (): void => fail(new Error('connection closed during the handshake'));
    const cleanup = (): void => {
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      // Late errors after a failed handshake must not crash the process.
      client.on('error', () => undefined);
    };
    client.once('ready', () => {
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      resolve();
    });
    client.on('error', onError);
    client.on('close', onClose);
    try {
      client.connect(config);
    } catch (e) {
      fail(e as Error);
    }
  });
}

/** Tears down what a failed handshake left: its stream, its client, its hold on the jump host. */
async function abandon(conn: Connection, way: Way): Promise<void> {
  const sock = way.sock;
  // The ProxyCommand's exit status and stderr explain most failures: wait (briefly) for them.
  if (sock instanceof ProxyCommandSocket && !sock.exited) await Promise.race([sock.exit, new Promise((r) => setTimeout(r, 1000))]);
  sock?.destroy();
  conn.client.destroy();
  if (way.parent) {
    way.parent.children--;
    way.parent.release();
  }
}

/** `p`, or the error `late()` when it takes longer than `ms` (p keeps running). */
function within<T>(p: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(late()), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

function fmtMs(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

/**
 * A TCP channel from the jump host to the target, used as the target connection's socket. It has
 * its own deadline: the jump host's sshd answers only once its TCP connect to the target succeeds
 * or fails, and behind a silent cut that is the kernel's SYN timeout (a minute or two), long past
 * natchain's own timers.
 */
function forwardOut(parent: Connection, target: SshTarget, timeoutMs: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    if (parent.dead) {
      reject(new NatchainError('SSH', `${target.label}: ${parent.dead.message}`));
      return;
    }
    const via = parent.target.label;
    const route = `route: ${describeTarget(target)}`;
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(
        new NatchainError('SSH', `${target.label}: ${via} did not open a connection to ${target.hostname}:${target.port} within ${fmtMs(timeoutMs)}`, [
          route,
          `the link from ${via} to ${target.hostname}:${target.port} may be cut, or ${via} itself stopped answering`,
        ]),
      );
    }, timeoutMs);
    const offDeath = parent.onDeath((err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new NatchainError('SSH', `${target.label}: ${err.message}`, [route]));
    });
    try {
      parent.client.forwardOut('127.0.0.1', 0, target.hostname, target.port, (err, stream) => {
        offDeath();
        clearTimeout(timer);
        if (done) {
          // Answered after our deadline: nobody wants this channel any more.
          if (!err) stream.close();
          return;
        }
        done = true;
        if (err) {
          reject(
            new NatchainError('SSH', `${target.label}: ${via} cannot open a connection to ${target.hostname}:${target.port}: ${err.message}`, [
              route,
              `is ${target.hostname}:${target.port} reachable from ${via}, and does its sshd allow TCP forwarding (AllowTcpForwarding)?`,
            ]),
          );
          return;
        }
        resolve(stream);
      });
    } catch (e) {
      offDeath();
      clearTimeout(timer);
      done = true;
      reject(new NatchainError('SSH', `${target.label}: ${via}: ${(e as Error).message}`));
    }
  });
}

/** Opens a session on a NEW connection (and new jump connections), closed with the session: what "a new connection still gets in" needs. */
export const connect: Connector = async (topology, gateway, opts) => {
  const pool = new SshPool(opts);
  try {
    const session = await pool.connect(topology, gateway);
    return withOwnedPool(session, pool);
  } catch (e) {
    await pool.closeAll();
    throw e;
  }
};

function withOwnedPool(session: GatewaySession, pool: SshPool): GatewaySession {
  const close = session.close.bind(session);
  // Closing the session also ends the jump connections it alone used.
  (session as { close: () => Promise<void> }).close = async () => {
    await close();
    await pool.closeAll();
  };
  return session;
}

/** The outcome of connectAll: a session per gateway that connected, an error per one that did not. */
export interface ConnectAllResult {
  sessions: Map<string, GatewaySession>;
  errors: Map<string, NatchainError>;
  pool: SshPool;
  /** Closes every session and connection of the pool. */
  closeAll(): Promise<void>;
}

/** Connects to the named gateways in parallel (bounded), sharing jump connections; never throws for one gateway's failure. */
export async function connectAll(
  topology: Topology,
  gatewayNames: string[],
  opts: ConnectOptions,
  { concurrency = 8 }: { concurrency?: number } = {},
): Promise<ConnectAllResult> {
  const pool = new SshPool(opts);
  const limit = pLimit(Math.max(1, concurrency));
  const sessions = new Map<string, GatewaySession>();
  const errors = new Map<string, NatchainError>();
  await Promise.all(
    gatewayNames.map((name) =>
      limit(async () => {
        const gw = topology.gateways.find((g) => g.name === name);
        if (!gw) {
          errors.set(name, new NatchainError('NOT_FOUND', `no gateway named '${name}' in ${topology.file}`));
          return;
        }
        try {
          sessions.set(name, await pool.connect(topology, gw));
        } catch (e) {
          errors.set(name, e instanceof NatchainError ? e : new NatchainError('SSH', `${name}: ${(e as Error).message}`, [], { cause: e }));
        }
      }),
    ),
  );
  return {
    sessions,
    errors,
    pool,
    closeAll: async () => {
      await closeAll(sessions.values());
      await pool.closeAll();
    },
  };
}

/** Closes sessions (errors ignored: closing is best effort and must not mask the real failure). */
export async function closeAll(sessions: Iterable<GatewaySession>): Promise<void> {
  await Promise.allSettled([...sessions].map((s) => s.close()));
}
