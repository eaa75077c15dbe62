// Throwaway network namespaces for tests that need a real kernel (netfilter state, links).
//
// Traffic safety: a namespace made here starts with only a down loopback, so nothing in it can
// reach the host or the outside; every command runs inside it via `ip netns exec`, and nothing is
// ever added to the root namespace. Each `ip netns exec` sees the namespace's own netfilter state.
// Namespaces are deleted by `delete()`, and, as a last resort, when the test process exits.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** What a finished command printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const live = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // Synchronous: 'exit' handlers cannot wait. Only namespaces this process made are removed.
  process.on('exit', () => {
    for (const name of live) spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  });
}

/** Runs a program (no shell), feeding `input` on stdin; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined); // the program may exit without reading stdin
    child.stdin.end(input ?? '');
  });
}

/** Whether the tests run as root (namespaces and netfilter need it). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Whether `cmd` can be run (found on PATH). */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** A network namespace this test process created; delete it when done (in after()/finally). */
export class Netns {
  private deleted = false;

  private constructor(readonly name: string) {}

  /** Creates `natchain-rt-<random>` (or `<prefix>-<random>`); throws when `ip netns add` fails. */
  static async create(prefix = 'natchain-rt'): Promise<Netns> {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(prefix)) throw new Error(`bad netns prefix ${JSON.stringify(prefix)}`);
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    hookExit();
    const r = await run('ip', ['netns', 'add', name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr.trim()}`);
    live.add(name);
    return new Netns(name);
  }

  /** Runs a program inside the namespace; the result, whatever the exit code. */
  exec(cmd: string, args: readonly string[] = [], input?: string): Promise<RunResult> {
    if (this.deleted) throw new Error(`netns ${this.name} was deleted`);
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  /** Like exec, but throws (with stderr) on a non-zero exit; returns stdout. */
  async run(cmd: string, args: readonly string[] = [], input?: string): Promise<string> {
    const r = await this.exec(cmd, args, input);
    if (r.code !== 0) throw new Error(`[${this.name}] ${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /**
   * Adds an interface with an address inside the namespace (never in the root namespace): a dummy
   * link, or where the kernel lacks the dummy driver, one end of a veth pair whose other end
   * (`<name>p`) stays in the same namespace. Either way, down and connected to nothing outside.
   */
  async addDummy(ifname: string, cidr?: string): Promise<void> {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,13}$/.test(ifname)) throw new Error(`bad interface name ${JSON.stringify(ifname)}`);
    const dummy = await this.exec('ip', ['link', 'add', ifname, 'type', 'dummy']);
    if (dummy.code !== 0) await this.run('ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`]);
    if (cidr) await this.run('ip', ['addr', 'add', cidr, 'dev', ifname]);
  }

  /** Adds a veth pair with both ends inside the namespace. */
  async addVethPair(a: string, b: string): Promise<void> {
    await this.run('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  }

  /** Deletes the namespace (and everything in it); safe to call twice. */
  async delete(): Promise<void> {
    if (this.deleted) return;
    this.deleted = true;
    const r = await run('ip', ['netns', 'delete', this.name]);
    live.delete(this.name);
    if (r.code !== 0) throw new Error(`ip netns delete ${this.name} failed: ${r.stderr.trim()}`);
  }
}

/** Runs `fn` with a fresh namespace and deletes it afterwards, failed or not. */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>, prefix?: string): Promise<T> {
  const ns = await Netns.create(prefix);
  try {
    return await fn(ns);
  } finally {
    await ns.delete();
  }
}
