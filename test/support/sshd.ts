// A real OpenSSH server for transport tests, reachable without IP from the root namespace.
//
// Each gateway gets its own network namespace (natchain-t-<random>-<n>) and a unix socket served
// by this process: every connection to the socket spawns `sshd -i` inside the namespace, in a
// private mount and PID namespace. The PID namespace is the cleanup guarantee: when its first
// process (sshd) dies, the kernel kills everything the session started, and `unshare
// --kill-child` kills that first process when we kill unshare. The mount namespace gives sshd a
// private /run (for /run/sshd) and, for the sudo tests, private copies of /etc/passwd, shadow,
// group and sudoers with throwaway users: nothing on the host is changed.
//
// Traffic safety: no TCP listener in the root namespace; an "inner" sshd listens on 127.0.0.1
// inside a gateway's own namespace only (for jump tests). Clients use ssh_config ProxyCommand
// `socat - UNIX-CONNECT:<sock>`.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';

/** Strings an attacker (or a careless topology author) could put in a name or comment. */
export const HOSTILE_STRINGS = [
  '$(reboot)',
  '`reboot`',
  ';rm -rf /',
  '&& rm -rf / #',
  '| nc attacker 1',
  "it's",
  '"double"',
  "'; reboot; echo '",
  'a\nreboot',
  'a\rb',
  'tab\there',
  '${IFS}reboot',
  '$HOME',
  '~root',
  '*',
  '-rf',
  '../../etc/passwd',
  'a=b',
  'gw1 gw2',
  'ünïcödé',
  'gw\u200b1', // zero-width space
  '\u202egw1', // right-to-left override
  '\\',
  '!',
  '',
];

/** Why the fixture cannot run here, or undefined when it can (tests skip with the reason). */
export function sshdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const [bin, pkg] of [
    [SSHD, 'openssh-server'],
    ['/usr/bin/ssh-keygen', 'openssh-client'],
    ['socat', 'socat'],
    ['ip', 'iproute2'],
    ['unshare', 'util-linux'],
  ] as const) {
    const found = bin.startsWith('/') ? existsSync(bin) : spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
    if (!found) return `${bin} is missing (apt-get install ${pkg})`;
  }
  return undefined;
}

/** Whether sudo is installed (the non-root tests need the real one). */
export function hasSudo(): boolean {
  return existsSync('/usr/bin/sudo') && existsSync('/etc/sudoers');
}

/** A throwaway login user that exists only inside the fixture's mount namespaces. */
export interface LabUser {
  name: string;
  /** Give it `NOPASSWD: ALL` in the private sudoers. */
  sudo: boolean;
}

export interface SshdOptions {
  /** Extra sshd_config lines. */
  extraConfig?: string[];
}

/** One sshd: a gateway behind a unix socket, or an inner daemon on loopback inside a gateway's namespace. */
export interface LabSshd {
  name: string;
  netns: string;
  dir: string;
  /** The `ssh-ed25519 AAAA...` public host key. */
  hostKeyPub: string;
  /** `SHA256:...` as ssh-keygen -l prints it. */
  fingerprint: string;
  /** The unix socket (gateways only). */
  socketPath?: string;
  /** 127.0.0.1:port inside `netns` (inner daemons only). */
  port?: number;
  /** Connections accepted on the socket so far. */
  readonly connections: number;
  /** Sends a signal to every live sshd -i of this gateway (and its children); returns how many. */
  signalConnections(signal: NodeJS.Signals): number;
  /** Replaces the host key (the "reinstalled gateway" or "man in the middle" case). */
  rotateHostKey(): void;
  /** stderr of the sshd processes (debugging). */
  log(): string;
}

export class SshLab {
  readonly dir: string;
  /** An empty home for ConnectOptions.homeDir: tests never read the real ~/.ssh. */
  readonly home: string;
  readonly sshConfigFile: string;
  readonly knownHostsFile: string;
  readonly clientKey: string;
  readonly clientPub: string;
  private readonly id = randomBytes(3).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly servers: net.Server[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly sockets = new Set<net.Socket>();
  private readonly gateways: LabSshd[] = [];
  private users: LabUser[] = [];
  private extraClientConfig: string[] = [];
  private extraHosts: string[] = [];
  private closed = false;

  private constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'natchain-t-'));
    // Non-root users read authorized_keys as themselves: the path must be searchable.
    chmodSync(this.dir, 0o755);
    this.home = path.join(this.dir, 'home');
    mkdirSync(this.home);
    this.sshConfigFile = path.join(this.dir, 'ssh_config');
    this.knownHostsFile = path.join(this.dir, 'known_hosts');
    this.clientKey = path.join(this.dir, 'id_ed25519');
    keygen(this.clientKey, 'natchain-test-client');
    this.clientPub = readFileSync(this.clientKey + '.pub', 'utf8').trim();
    writeFileSync(path.join(this.dir, 'authorized_keys'), this.clientPub + '\n', { mode: 0o644 });
    writeFileSync(this.knownHostsFile, '');
  }

  /** Makes a lab (empty known_hosts, a client key authorized on every sshd of the lab). */
  static create(): SshLab {
    const lab = new SshLab();
    openLabs.add(lab);
    installExitCleanup();
    return lab;
  }

  /** Declares throwaway users (call before adding gateways); they exist only inside the sshd namespaces. */
  withUsers(users: LabUser[]): this {
    this.users = users;
    const etc = path.join(this.dir, 'etc');
    mkdirSync(etc, { recursive: true });
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const group = readFileSync('/etc/group', 'utf8');
    const shadow = existsSync('/etc/shadow') ? readFileSync('/etc/shadow', 'utf8') : '';
    const used = new Set(passwd.split('\n').map((l) => Number(l.split(':')[2])));
    let uid = 61000;
    let p = passwd.endsWith('\n') ? passwd : passwd + '\n';
    let g = group.endsWith('\n') ? group : group + '\n';
    let s = shadow && !shadow.endsWith('\n') ? shadow + '\n' : shadow;
    let sudoers = 'Defaults env_reset\nDefaults !lecture\nroot ALL=(ALL:ALL) ALL\n';
    for (const u of users) {
      while (used.has(uid)) uid++;
      used.add(uid);
      const home = path.join(this.dir, `home-${u.name}`);
      mkdirSync(home);
      chownSync(home, uid, uid);
      p += `${u.name}:x:${uid}:${uid}:natchain test:${home}:/bin/sh\n`;
      g += `${u.name}:x:${uid}:\n`;
      // '*' (no password) rather than '!' (locked): sshd refuses key logins to locked accounts.
      s += `${u.name}:*:19000:0:99999:7:::\n`;
      if (u.sudo) sudoers += `${u.name} ALL=(root) NOPASSWD: ALL\n`;
    }
    writeFileSync(path.join(etc, 'passwd'), p, { mode: 0o644 });
    writeFileSync(path.join(etc, 'group'), g, { mode: 0o644 });
    writeFileSync(path.join(etc, 'shadow'), s, { mode: 0o640 });
    writeFileSync(path.join(etc, 'sudoers'), sudoers, { mode: 0o440 });
    return this;
  }

  /** Adds Host blocks (before `Host *`) to the client ssh_config, e.g. a ProxyJump alias. */
  addClientHosts(lines: string[]): void {
    this.extraHosts.push(...lines, '');
    this.writeClientConfig();
  }

  /** Authorizes one more client public key on every sshd of the lab. */
  authorize(pubLine: string): void {
    const f = path.join(this.dir, 'authorized_keys');
    writeFileSync(f, readFileSync(f, 'utf8') + pubLine.trim() + '\n');
  }

  /** Adds lines to the `Host *` block of the client ssh_config (then rewrites it). */
  clientConfig(lines: string[]): void {
    this.extraClientConfig = lines;
    this.writeClientConfig();
  }

  private newNetns(): string {
    const ns = `natchain-t-${this.id}-${this.namespaces.length}`;
    execFileSync('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  private sshdConfig(dir: string, listen: string[], extra: string[] = []): string {
    const cfg = path.join(dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        // sshd_config is first-value-wins too: extra lines go first so they can override.
        ...extra,
        `HostKey ${path.join(dir, 'ssh_host_ed25519_key')}`,
        `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
        'UsePAM no',
        'StrictModes no',
        'PidFile none',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'AllowTcpForwarding yes',
        'PrintMotd no',
        'PrintLastLog no',
        'UseDNS no',
        'LogLevel ERROR',
        ...listen.map((l) => `ListenAddress ${l}`),
        '',
      ].join('\n'),
    );
    return cfg;
  }

  // The shell run as PID 1 of the private namespaces before exec'ing sshd.
  private setupScript(sshdArgs: string): string {
    const etc = path.join(this.dir, 'etc');
    const binds = this.users.length
      ? ['passwd', 'group', 'shadow', ...(existsSync('/etc/sudoers') ? ['sudoers'] : [])].map(
          (f) => `mount --bind ${path.join(etc, f)} /etc/${f}`,
        )
      : [];
    // A private, empty /root (as the lab's gateways have): root's shell start-up files on the host
    // (e.g. a pyenv rehash behind a lock) must not run, slowly and in contention, in every exec.
    return ['mount -t tmpfs -o mode=755 tmpfs /run', 'mkdir -m 755 /run/sshd', 'mount -t tmpfs -o mode=700 tmpfs /root', ...binds, `exec ${SSHD} ${sshdArgs}`].join(' && ');
  }

  private nsCommand(ns: string, sshdArgs: string): string[] {
    return [
      'netns', 'exec', ns,
      'unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private',
      'sh', '-c', this.setupScript(sshdArgs),
    ];
  }

  /** A gateway: its own namespace, sshd -i per connection behind a unix socket, an ssh_config Host entry. */
  async addGateway(name: string, opts: SshdOptions = {}): Promise<LabSshd> {
    const ns = this.newNetns();
    const dir = path.join(this.dir, name);
    mkdirSync(dir);
    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    keygen(hostKey, name);
    const cfg = this.sshdConfig(dir, [], opts.extraConfig);
    const socketPath = path.join(dir, 'sock');
    const live = new Set<ChildProcess>();
    let connections = 0;
    let log = '';
    const server = net.createServer((sock) => {
      connections++;
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      const child = spawn('ip', this.nsCommand(ns, `-i -e -f ${cfg}`), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      live.add(child);
      this.children.add(child);
      sock.pipe(child.stdin);
      child.stdout.pipe(sock);
      child.stdin.on('error', () => undefined);
      sock.on('error', () => undefined);
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      child.on('exit', () => {
        live.delete(child);
        this.children.delete(child);
        sock.destroy();
      });
      sock.on('close', () => killGroup(child, 'SIGKILL'));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    this.servers.push(server);
    const gw: LabSshd = {
      name,
      netns: ns,
      dir,
      socketPath,
      hostKeyPub: '',
      fingerprint: '',
      get connections() {
        return connections;
      },
      signalConnections: (signal) => {
        let n = 0;
        for (const c of live) if (killGroup(c, signal)) n++;
        return n;
      },
      rotateHostKey: () => {
        rmSync(hostKey, { force: true });
        rmSync(hostKey + '.pub', { force: true });
        keygen(hostKey, name);
        refreshKey(gw, hostKey);
      },
      log: () => log,
    };
    refreshKey(gw, hostKey);
    this.gateways.push(gw);
    this.writeClientConfig();
    return gw;
  }

  /** An sshd daemon on 127.0.0.1:port inside `outer`'s namespace: reachable only through `outer`. */
  async addInnerSshd(name: string, outer: LabSshd, ports: number[]): Promise<LabSshd> {
    const dir = path.join(this.dir, name);
    mkdirSync(dir);
    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    keygen(hostKey, name);
    const cfg = this.sshdConfig(dir, ports.map((p) => `127.0.0.1:${p}`));
    const child = spawn('ip', this.nsCommand(outer.netns, `-D -e -f ${cfg}`), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.children.add(child);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inner sshd ${name} did not start: ${log}`)), 10_000);
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`inner sshd ${name} exited with ${code}: ${log}`));
      });
      // LogLevel ERROR hides "Server listening": poll the listening sockets inside the namespace.
      const probe = (): void => {
        const ss = spawnSync('ip', ['netns', 'exec', outer.netns, 'ss', '-Hltn', `sport = :${ports[0]}`], { encoding: 'utf8' });
        if (ss.stdout.includes(`127.0.0.1:${ports[0]}`)) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.on('exit', () => this.children.delete(child));
          resolve();
        } else setTimeout(probe, 50);
      };
      probe();
    });
    const inner: LabSshd = {
      name,
      netns: outer.netns,
      dir,
      port: ports[0]!,
      hostKeyPub: '',
      fingerprint: '',
      connections: 0,
      signalConnections: () => 0,
      rotateHostKey: () => {
        throw new Error('not supported for inner sshd');
      },
      log: () => log,
    };
    refreshKey(inner, hostKey);
    return inner;
  }

  /** The client ssh_config: one Host block per gateway (ProxyCommand to its socket), then shared defaults. */
  private writeClientConfig(): void {
    const lines: string[] = [];
    for (const gw of this.gateways) {
      lines.push(`Host ${gw.name}`, `  HostName ${gw.name}`, `  ProxyCommand socat - UNIX-CONNECT:${gw.socketPath}`, '');
    }
    lines.push(...this.extraHosts);
    lines.push(
      'Host *',
      ...this.extraClientConfig.map((l) => `  ${l}`),
      '  User root',
      `  IdentityFile ${this.clientKey}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${this.knownHostsFile}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '',
    );
    writeFileSync(this.sshConfigFile, lines.join('\n'));
  }

  /** Writes a known_hosts line for an sshd under `name` (default: its ssh name), plain or hashed with ssh-keygen -H. */
  trust(sshd: LabSshd, opts: { name?: string; hashed?: boolean; marker?: string } = {}): void {
    const name = opts.name ?? (sshd.port ? `[127.0.0.1]:${sshd.port}` : sshd.name);
    const line = `${opts.marker ? opts.marker + ' ' : ''}${name} ${sshd.hostKeyPub}\n`;
    writeFileSync(this.knownHostsFile, readFileSync(this.knownHostsFile, 'utf8') + line);
    if (opts.hashed) {
      // Real OpenSSH does the hashing, so the test checks our reader against it.
      execFileSync('ssh-keygen', ['-H', '-f', this.knownHostsFile], { stdio: 'ignore' });
      rmSync(this.knownHostsFile + '.old', { force: true });
    }
  }

  /** Empties known_hosts. */
  forgetHostKeys(): void {
    writeFileSync(this.knownHostsFile, '');
  }

  /** Stops every process, removes sockets, namespaces and files; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    openLabs.delete(this);
    // server.close() waits for open connections: end them first (killing sshd closes its socket).
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const c of this.children) killGroup(c, 'SIGKILL');
    for (const sock of this.sockets) sock.destroy();
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 2000))]);
    this.removeNamespacesAndFiles();
  }

  /** The synchronous part of close(), also run on process exit so an interrupted test run leaks nothing. */
  closeSync(): void {
    this.closed = true;
    for (const c of this.children) killGroup(c, 'SIGKILL');
    this.removeNamespacesAndFiles();
  }

  private removeNamespacesAndFiles(): void {
    for (const ns of this.namespaces.splice(0)) {
      // Anything still in the namespace is ours; SIGKILL also ends stopped processes.
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const openLabs = new Set<SshLab>();
let exitCleanupInstalled = false;
// Labs left open when the process ends (a crash, ^C, mocha bailing out) are torn down anyway.
function installExitCleanup(): void {
  if (exitCleanupInstalled) return;
  exitCleanupInstalled = true;
  const cleanup = (): void => {
    for (const lab of [...openLabs]) lab.closeSync();
    openLabs.clear();
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig);
    });
  }
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
}

function refreshKey(s: LabSshd, hostKey: string): void {
  const pub = readFileSync(hostKey + '.pub', 'utf8').trim().split(/\s+/);
  s.hostKeyPub = `${pub[0]} ${pub[1]}`;
  // ssh-keygen -l: "256 SHA256:xxx comment (ED25519)"
  s.fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', hostKey + '.pub'], { encoding: 'utf8' }).split(' ')[1]!;
}

function killGroup(c: ChildProcess, signal: NodeJS.Signals): boolean {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return false;
  try {
    process.kill(-c.pid, signal);
    return true;
  } catch {
    return false;
  }
}
