import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labExec, labUp, type Lab } from '../../src/lab/index.js';
import { iptablesForeign, nftablesForeign } from '../../src/render/index.js';
import { Journal, type TxHistory } from '../../src/rollout/journal.js';
import { canonicalOf, changeToIntents } from '../../src/rollout/owned.js';
import { solve } from '../../src/solve/index.js';
import { parseTopology, type Backend, type Topology } from '../../src/topology/index.js';
import type { ExecOptions, ExecResult, GatewaySession } from '../../src/transport/types.js';
import { testLabName } from '../support/lab.js';

/** True when this process may build network namespaces (root, `ip` and the netfilter tools present). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('sh', ['-c', 'command -v ip && command -v iptables-restore && command -v nft && command -v unshare'], { stdio: 'ignore' });
  return r.status === 0;
}

/**
 * A bare gateway for testing the remote scripts without SSH: a network namespace of its own (no
 * links, no addresses) with private /var/lib/natchain and /run/natchain (bind mounts in a private
 * mount namespace per command). Commands run as `sh -c <command>`, as sshd would run them.
 */
export class NetnsGateway {
  readonly ns: string;
  readonly dir: string;
  constructor(name: string) {
    this.ns = `natchain-rt-${name}-${process.pid}`;
    this.dir = mkdtempSync(join(tmpdir(), `natchain-rt-${name}-`));
    mkdirSync(join(this.dir, 'lib'));
    mkdirSync(join(this.dir, 'run'));
    mkdirSync('/var/lib/natchain', { recursive: true });
    mkdirSync('/run/natchain', { recursive: true });
    const r = spawnSync('ip', ['netns', 'add', this.ns], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
  }
  /** The argv that runs a command inside this gateway. */
  argv(command: string): string[] {
    const wrap =
      `mount --make-rprivate / && mkdir -p /var/lib/natchain /run/natchain && mount --bind ${this.dir}/lib /var/lib/natchain && mount --bind ${this.dir}/run /run/natchain && exec sh -c "$0"`;
    return ['ip', 'netns', 'exec', this.ns, 'unshare', '-m', 'sh', '-c', wrap, command];
  }
  /** Runs a command synchronously (for test set-up and assertions). */
  sh(command: string): string {
    const [cmd, ...args] = this.argv(command);
    const r = spawnSync(cmd!, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
    return r.stdout;
  }
  /** A GatewaySession-like object that runs each exec in this namespace. */
  session(gateway: string): GatewaySession & { kill(): void } {
    let count = 0;
    let closed = false;
    let resolveClosed!: () => void;
    const closedP = new Promise<void>((r) => (resolveClosed = r));
    const argvOf = (c: string) => this.argv(c);
    return {
      gateway,
      get execCount() {
        return count;
      },
      closed: closedP,
      exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
        if (closed) return Promise.reject(new Error(`${gateway}: connection closed`));
        count++;
        return new Promise((resolve, reject) => {
          const [cmd, ...args] = argvOf(command);
          const p = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d) => (stdout += d));
          p.stderr.on('data', (d) => (stderr += d));
          p.on('error', reject);
          p.on('close', (code, signal) => resolve({ stdout, stderr, code, ...(signal ? { signal } : {}) }));
          // A script that ends before reading all its stdin (a refusal) closes the pipe: as over SSH, not an error.
          p.stdin.on('error', () => undefined);
          p.stdin.end(opts.stdin ?? '');
        });
      },
      async close() {
        closed = true;
        resolveClosed();
      },
      kill() {
        closed = true;
        resolveClosed();
      },
    };
  }
  /** Removes the namespace, kills what runs in it and deletes its files. */
  destroy(): void {
    spawnSync('sh', ['-c', `ip netns pids ${this.ns} | xargs -r kill -9`]);
    spawnSync('ip', ['netns', 'del', this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
    // The bind-mount targets made on the host: removed once nothing (no other test gateway, no lab)
    // can still be using them; rmdir of a mount point would detach it in other mount namespaces.
    // (Each command makes them again before mounting: another run may remove them between our commands.)
    const others = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').some((l) => /^(natchain-rt-|nc-)/.test(l));
    if (!others) for (const d of ['/var/lib/natchain', '/run/natchain']) spawnSync('rmdir', [d]);
  }
}

// ---- the lab world of the rollout lab tests (rollout-lab, rollout-faults) --------------------

const MAIN = join(process.cwd(), 'src/cli/main.ts');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One transaction as the local journal of a test's state directory tells it. */
export function journaled(env: { NATCHAIN_STATE_DIR: string }, tx: string): TxHistory {
  const h = new Journal(env.NATCHAIN_STATE_DIR).transactions().find((x) => x.tx === tx);
  if (!h) throw new Error(`transaction ${tx} is not in the journal`);
  return h;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Runs the natchain CLI (a child process, like a user would). */
export function cli(args: string[], env: Record<string, string>, onStderr?: (chunk: string, pid: number) => void): Promise<CliResult> & { pid: number } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    onStderr?.(String(d), child.pid!);
  });
  const p = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      const r: CliResult = { code, stdout, stderr };
      try {
        r.json = JSON.parse(stdout);
      } catch {
        // not JSON
      }
      resolve(r);
    }),
  ) as Promise<CliResult> & { pid: number };
  p.pid = child.pid!;
  return p;
}

/** Rules natchain never made, on every gateway: a custom chain, MASQUERADE, a Docker-like chain, an nft table of another name. */
export const FOREIGN = `
iptables -t nat -N DOCKER
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
iptables -t nat -A DOCKER -i docker0 -j RETURN
iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
iptables -N ADMIN-FWD
iptables -A ADMIN-FWD -m conntrack --ctstate INVALID -j DROP
iptables -A FORWARD -j ADMIN-FWD
nft -f - <<'EOF'
table inet admin {
  set trusted { type ipv4_addr; elements = { 192.0.2.1 } }
  chain input { type filter hook input priority 0; policy accept; ip saddr @trusted tcp dport 2222 accept; }
}
EOF
`;

/** Writes a copy of an example topology using one backend on every gateway. */
function topologyFile(dir: string, example: string, backend: Backend, edit: (s: string) => string = (s) => s): string {
  let text = readFileSync(`topologies/${example}.yaml`, 'utf8').replace(/^defaults:\n  backend: \w+\n/m, '');
  text = text.replace(/^version: 1\n/m, `version: 1\ndefaults:\n  backend: ${backend}\n`);
  const file = join(dir, `${example}-${Math.random().toString(36).slice(2, 8)}.yaml`);
  writeFileSync(file, edit(text));
  return file;
}

/** An edit of seed-vpn: its forward exposed on another public port (a change on every gateway). */
export const seedVpnPort = (port: number) => (text: string) => text.replace('expose: 143.89.197.180:22012', `expose: 143.89.197.180:${port}`);

/** Lists the dead-man timer processes running in this network namespace (`tim[e]r`: this script must not match itself). */
const TIMERS =
  'me=$(readlink /proc/self/ns/net); for f in $(grep -lsaE "if claim tim[e]r; then" /proc/[0-9]*/cmdline); do d=${f%/cmdline}; ' +
  '[ "$(readlink $d/ns/net 2>/dev/null)" = "$me" ] && echo ${d#/proc/}; done; true';

/** The canonical owned state a topology file asks of each of its gateways. */
function desiredOf(file: string): Record<string, string> {
  const t = parseTopology(readFileSync(file, 'utf8'), file);
  const s = solve(t);
  return Object.fromEntries(t.gateways.map((g) => [g.name, changeToIntents(g, s.intents[g.name] ?? []).expected]));
}

/**
 * The lab of one describe block and what its tests share: versions of a topology (files in a temp
 * dir of the block's own, and the owned state each asks of every gateway), the CLI's environment
 * (a state dir in that temp dir), the lab and the ssh_config natchain is given. Made at describe
 * time with no side effect (a describe body runs even when none of its tests will); `hooks()`
 * makes the rest in before() and removes it in after().
 */
export abstract class LabSuite<V extends string> {
  lab!: Lab;
  /** The topology the lab is built from: the first version. */
  topology!: Topology;
  dir = '';
  readonly env = { NATCHAIN_STATE_DIR: '' };
  /** The ssh_config natchain is given: the lab's, unless `ready` writes another. */
  ssh = '';
  readonly files = {} as Record<V, string>;
  /** Per version, per gateway: the canonical owned state it asks for. */
  readonly want = {} as Record<V, Record<string, string>>;

  /** Writes every version's file into `dir` and returns them, the lab's own first. */
  protected abstract write(dir: string): Record<V, string>;

  /**
   * Registers the describe block's hooks. before() (skipped where no namespaces can be made): a
   * temp dir `natchain-<tmp>-*`, the versions, the lab up under a fresh test name `<lab>-<run>`
   * (a leftover of that name taken down first), then `ready` (e.g. a first apply). after(): the
   * lab down, the temp dir removed, whether the tests passed or not.
   */
  hooks(o: { tmp: string; lab: string; ready?: () => Promise<void> }): this {
    const suite = this;
    let labName = '';
    before(async function () {
      if (!canUseNetns()) this.skip();
      suite.dir = mkdtempSync(join(tmpdir(), `natchain-${o.tmp}-`));
      suite.env.NATCHAIN_STATE_DIR = join(suite.dir, 'state');
      for (const [v, file] of Object.entries(suite.write(suite.dir)) as [V, string][]) {
        suite.files[v] = file;
        suite.want[v] = desiredOf(file);
        suite.topology ??= parseTopology(readFileSync(file, 'utf8'), file);
      }
      labName = testLabName(o.lab);
      await labDown(labName).catch(() => undefined);
      await suite.up(labName);
      suite.ssh = suite.lab.sshConfig;
      await o.ready?.();
    });
    after(async function () {
      this.timeout(60_000);
      if (labName) await labDown(labName).catch(() => undefined);
      if (suite.dir) rmSync(suite.dir, { recursive: true, force: true });
    });
    return this;
  }
  async up(name: string): Promise<void> {
    this.lab = await labUp(this.topology, { name });
  }
  async sh(gw: string, script: string): Promise<string> {
    const r = await labExec(this.lab, gw, ['sh', '-c', script]);
    if (r.code !== 0) throw new Error(`${gw}: ${script}: ${r.stderr}`);
    return r.stdout;
  }
  backendOf(gw: string): Backend {
    return this.topology.gateways.find((g) => g.name === gw)!.backend;
  }
  async dump(gw: string): Promise<string> {
    return this.sh(gw, this.backendOf(gw) === 'iptables' ? 'iptables-save -t nat; iptables-save -t filter' : 'if nft list tables ip | grep -qx "table ip natchain"; then nft list table ip natchain; fi');
  }
  async owned(gw: string): Promise<string> {
    return canonicalOf(this.backendOf(gw), await this.dump(gw));
  }
  /** No lock and no armed timer left on a gateway. */
  async expectIdle(gw: string, why: string): Promise<void> {
    expect(await this.sh(gw, 'ls /run/natchain'), `${why}: ${gw} lock`).to.equal('');
    expect(await this.sh(gw, 'ls /var/lib/natchain/*/armed 2>/dev/null || true'), `${why}: ${gw} timer`).to.equal('');
  }
}

/**
 * One lab of an example topology (one backend on every gateway, foreign rules installed on each)
 * and what every assertion about it needs. `versions`: each an edit of the example.
 */
export class LabWorld<V extends string = string> extends LabSuite<V> {
  baseline = new Map<string, string>();
  constructor(
    readonly backend: Backend,
    readonly example: string,
    readonly versions: Record<V, (text: string) => string>,
  ) {
    super();
  }
  protected write(dir: string): Record<V, string> {
    const files = {} as Record<V, string>;
    for (const [v, edit] of Object.entries(this.versions) as [V, (text: string) => string][]) files[v] = topologyFile(dir, this.example, this.backend, edit);
    return files;
  }
  async foreign(gw: string): Promise<string> {
    const ipt = iptablesForeign(await this.sh(gw, 'iptables-save'));
    // -s: stateless (no counters, which traffic through iptables-nft's chains moves).
    const nft = this.backend === 'nftables' ? nftablesForeign(await this.sh(gw, 'nft -s list ruleset')) : await this.sh(gw, 'nft -s list table inet admin');
    return `${ipt}\n${nft}`;
  }
  empty(): Record<string, string> {
    return Object.fromEntries(this.topology.gateways.map((g) => [g.name, canonicalOf(this.backend, '')]));
  }
  override async up(name: string): Promise<void> {
    await super.up(name);
    for (const g of this.topology.gateways) {
      await this.sh(g.name, FOREIGN);
      this.baseline.set(g.name, await this.foreign(g.name));
    }
  }
  /** Applies a version from the suite's state dir (it must succeed) and checks that every gateway then holds it. */
  async applyVersion(v: V, why = `${v} applied`): Promise<void> {
    const r = await cli(['apply', this.files[v], '-F', this.ssh, '--yes', '--json'], this.env);
    expect(r.code, r.stderr).to.equal(0);
    await this.expectAll(this.want[v], why);
  }
  /** Every gateway: owned state as expected, foreign rules untouched, no lock, no armed timer. */
  async expectAll(expected: Record<string, string>, why: string): Promise<void> {
    for (const g of this.topology.gateways) {
      expect(await this.owned(g.name), `${why}: ${g.name} owned state`).to.equal(expected[g.name]);
      expect(await this.foreign(g.name), `${why}: ${g.name} foreign rules`).to.equal(this.baseline.get(g.name));
      await this.expectIdle(g.name, why);
      expect(await this.sh(g.name, TIMERS), `${why}: ${g.name} timer processes left running`).to.equal('');
    }
  }
  /** Polls until every gateway holds `expected` (the dead-man timers at work). */
  async waitAll(expected: Record<string, string>, ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      let ok = true;
      for (const g of this.topology.gateways) if ((await this.owned(g.name)) !== expected[g.name]) ok = false;
      if (ok || Date.now() > until) return;
      await sleep(500);
    }
  }
}

// ---- faults injected from outside natchain (rollout-faults*) ---------------------------------

/** The pids of the sshd processes serving a lab gateway (in its network namespace). */
export async function sshdPids(w: LabWorld, gw: string): Promise<number[]> {
  const out = await w.sh(
    gw,
    'me=$(readlink /proc/self/ns/net); for d in /proc/[0-9]*; do read -r c < $d/comm 2>/dev/null || continue; case $c in sshd*) [ "$(readlink $d/ns/net 2>/dev/null)" = "$me" ] && echo ${d#/proc/};; esac; done; true',
  );
  return out.split('\n').filter(Boolean).map(Number);
}

/** Sends a signal to every pid of the list (gone ones are skipped). */
export function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone already
    }
  }
}

/** Polls a shell test on a gateway until it holds. */
export async function until(w: LabWorld, gw: string, test: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await w.sh(gw, `if ${test}; then echo yes; fi`)).trim() === 'yes') return true;
    await sleep(100);
  }
  return false;
}

/** A call of the gateway's restore binary held by `holdRestore` until released. */
export interface Hold {
  /** Waits until the held call has started; resolves with the transaction id whose ruleset it is given. */
  held(ms: number): Promise<string>;
  /** Lets the held call go on (it runs the real binary). */
  release(): Promise<void>;
  /** Releases it and removes the wrapper. */
  remove(): Promise<void>;
}

/**
 * Holds the next `load` (or `check`) of a staged ruleset on one gateway until released: a wrapper
 * over the restore binary (`iptables-restore` / `nft`) in /usr/local/sbin, which sshd's PATH
 * searches first, bind-mounted inside the gateway's own mount namespace only. One call is held;
 * every other call (reverts, reads, later loads) runs the real binary at once.
 */
export async function holdRestore(w: LabWorld, gw: string, what: 'load' | 'check'): Promise<Hold> {
  const ipt = w.backend === 'iptables';
  const bin = ipt ? 'iptables-restore' : 'nft';
  // iptables-restore reads the ruleset on stdin, nft -f takes it as the last argument.
  const file = ipt ? 'f=$(readlink /proc/$$/fd/0)' : 'eval "f=\\${$#}"';
  return holdWith(
    w,
    gw,
    bin,
    what,
    `k=load; case " $* " in *' --test '*|*' -c '*) k=check ;; esac
${file}
case $f in */new.load) if [ -e /tmp/hold/$k ] && rm /tmp/hold/$k 2>/dev/null; then
  printf '%s\\n' "$f" > /tmp/hold/at
  HOLD
fi ;; esac
exec /usr/sbin/${bin} "$@"
`,
  );
}

/**
 * Holds the next commit exec on one gateway before any of it runs: a wrapper over timeout(1), which
 * every exec starts through (`timeout -s KILL <s> sh -c <script> …`). Released, the commit runs;
 * dropped, it never does (as if the connection had died with natchain).
 */
export async function holdCommit(w: LabWorld, gw: string): Promise<Hold & { drop(): Promise<void> }> {
  const hold = await holdWith(
    w,
    gw,
    'timeout',
    'commit',
    `case "$*" in *'if claim commit; then'*) if [ -e /tmp/hold/commit ] && rm /tmp/hold/commit 2>/dev/null; then
  printf '%s\\n' "$*" > /tmp/hold/at
  HOLD
  if [ -e /tmp/hold/drop ]; then exit 1; fi
fi ;; esac
exec /usr/bin/timeout "$@"
`,
  );
  return { ...hold, drop: () => w.sh(gw, ': > /tmp/hold/drop').then(() => undefined) };
}

/** Installs a one-shot holding wrapper (`HOLD` in `body` waits for /tmp/hold/go or /tmp/hold/drop) over `bin`, armed for `what`. */
async function holdWith(w: LabWorld, gw: string, bin: string, what: string, body: string): Promise<Hold> {
  const wait = 'i=0; while [ ! -e /tmp/hold/go ] && [ ! -e /tmp/hold/drop ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done';
  const wrapper = `#!/bin/sh\n# natchain test: holds one ${what}\n${body.replace('HOLD', wait)}`;
  await w.sh(
    gw,
    `mkdir -p /tmp/hold /tmp/hold-bin && rm -f /tmp/hold/* && cat > /tmp/hold-bin/${bin} <<'EOF'\n${wrapper}EOF\nchmod 755 /tmp/hold-bin/${bin} && : > /tmp/hold/${what} && { ! mountpoint -q /usr/local/sbin || umount -l /usr/local/sbin; } && mount --bind /tmp/hold-bin /usr/local/sbin`,
  );
  const release = () => w.sh(gw, ': > /tmp/hold/go').then(() => undefined);
  return {
    async held(ms) {
      expect(await until(w, gw, '[ -s /tmp/hold/at ]', ms), `${gw}: the ${what} was held`).to.equal(true);
      // (The held call's arguments: the first transaction id in them is the one it works for.)
      const at = await w.sh(gw, 'cat /tmp/hold/at');
      return /\d{8}T\d{6}Z-[0-9a-f]{6}/.exec(at)![0];
    },
    release,
    async remove() {
      await release();
      // Lazily: a held wrapper still running keeps the mount busy, and a failed umount left it over a deleted directory.
      await w.sh(gw, 'umount -l /usr/local/sbin 2>/dev/null; rm -rf /tmp/hold /tmp/hold-bin; true');
    },
  };
}

/** The unix socket natchain reaches a lab gateway's sshd through (from the lab's ssh_config). */
function socketOf(w: LabWorld, gw: string): string {
  const m = new RegExp(`Host ${gw}\\b[^]*?UNIX-CONNECT:(\\S+)`).exec(readFileSync(w.lab.sshConfig, 'utf8'));
  if (!m) throw new Error(`no socket for ${gw} in ${w.lab.sshConfig}`);
  return m[1]!;
}

/**
 * A loud cut of a gateway's management link: its socket is moved away (new connections are
 * refused at once) and every sshd serving it is killed (open connections die, and with them every
 * connection jumped through it). Returns the repair.
 */
export async function cutManagement(w: LabWorld, gw: string): Promise<() => void> {
  const sock = socketOf(w, gw);
  renameSync(sock, `${sock}.cut`);
  signal(await sshdPids(w, gw), 'SIGKILL');
  return () => renameSync(`${sock}.cut`, sock);
}

/**
 * A silent cut inside a gateway's network namespace: every SSH packet to or from it is dropped (an
 * nft table of the test's own, ahead of everything), so open connections hang and new ones get no
 * answer. Returns the repair.
 */
export async function cutSilently(w: LabWorld, gw: string): Promise<() => Promise<void>> {
  await w.sh(
    gw,
    `nft -f - <<'EOF'
table inet natchain_test_cut {
  chain in { type filter hook input priority -400; tcp dport 22 drop; }
  chain out { type filter hook output priority -400; tcp sport 22 drop; }
}
EOF`,
  );
  return () => w.sh(gw, 'nft delete table inet natchain_test_cut').then(() => undefined);
}

// ---- a fleet of bare gateways (rollout-fleet, rollout-history) -------------------------------

/**
 * Gateways only (no client or server hosts: nothing sends packets) for fleet tests. `versions` maps
 * a name to a topology text, the lab's own first; each is written to `<dir>/fleet-<name>.yaml`.
 */
export class GatewayFleet<V extends string = string> extends LabSuite<V> {
  constructor(readonly versions: Record<V, string>) {
    super();
  }
  protected write(dir: string): Record<V, string> {
    const files = {} as Record<V, string>;
    for (const [v, text] of Object.entries(this.versions) as [V, string][]) {
      files[v] = join(dir, `fleet-${v}.yaml`);
      writeFileSync(files[v], text);
    }
    return files;
  }
  /** Every gateway holds the version `expected` names for it (all of them: `expected` covers every gateway); no lock, no armed timer. */
  async expectAll(expected: Record<string, string>, why: string): Promise<void> {
    await Promise.all(
      this.topology.gateways.map(async ({ name: g }) => {
        const want = (this.want as Record<string, Record<string, string>>)[expected[g]!];
        if (!want) throw new Error(`${why}: ${g}: no version ${expected[g]}`);
        expect(await this.owned(g), `${why}: ${g} holds ${expected[g]}`).to.equal(want[g]);
        await this.expectIdle(g, why);
      }),
    );
  }
}
