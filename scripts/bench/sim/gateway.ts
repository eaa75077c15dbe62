// One simulated gateway: the state natchain's remote scripts keep (the lock, one directory per
// transaction, the last commit, the dead-man timer) and its netfilter, with each remote phase
// (src/rollout/remote.ts) done as its script does it, in memory. Answers use the script's own
// framing: `\n@@natchain:<nonce>:<section>\n` markers, exit 3 with an `error` section, 4 when locked.

import { HISTORY_KEEP } from '../../../src/rollout/remote-scripts.js';
import { IptablesModel, NftablesModel } from './netfilter.js';
import { resolveTemplate, sameState } from './resolve.js';

/** Rules a Docker host has: natchain must leave them alone. */
export const FOREIGN_IPTABLES = [
  '*nat',
  ':DOCKER - [0:0]',
  '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
  '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
  '-A DOCKER -i docker0 -j RETURN',
  'COMMIT',
  '*filter',
  ':DOCKER - [0:0]',
  '-A FORWARD -o docker0 -j DOCKER',
  '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
  'COMMIT',
];

/** One interface of a simulated gateway. */
export interface SimInterface {
  name: string;
  address: string;
  prefix: number;
}

interface TxDir {
  state: string;
  snapshot: string;
  /** The desired state's hash natchain sent (the "unchanged" check compares it). */
  hash: string;
  /** The commit record before this transaction (restored when it is undone). */
  prev: string;
  meta: string;
  /** The ruleset to load, resolved against the snapshot. */
  load?: string;
  /** The revert template (resolved against the state at revert time). */
  revert?: string;
  applied?: string;
  /** The changed gateways of the transaction (apply's `members` section). */
  members?: string;
  deadline?: number;
  armed: boolean;
  claim?: 'commit' | 'abort' | 'timer';
  timer?: NodeJS.Timeout;
  forwardOld?: string;
}

interface Lock {
  tx: string;
  owner: string;
  since: number;
}

/** What one phase printed and its exit status. */
export interface Answer {
  stdout: string;
  code: number;
}

const now = (): number => Math.floor(Date.now() / 1000);
/** `printf '%s\n' "$(cmd)"`: trailing newlines cut, one added. */
const line = (s: string): string => s.replace(/\n+$/, '') + '\n';

/** One gateway's state and the phases natchain runs on it (src/rollout/remote-scripts.ts, in memory). */
export class SimGateway {
  ipForward = '1';
  private readonly net: IptablesModel | NftablesModel;
  private lock: Lock | undefined;
  private readonly txs = new Map<string, TxDir>();
  private last = '';
  private readonly history: string[] = [];
  /** The newest history line prune dropped. */
  private pruned = '';
  /** Phases run, by name (the benchmark reports round trips from them). */
  readonly counts = new Map<string, number>();
  /** Tests: phases this gateway refuses (answered as its script's `die`, with this text), e.g. a load the kernel refuses. */
  readonly refuse = new Map<string, string>();
  /** Tests: milliseconds a phase takes to answer here (a slow gateway; the server waits before answering). */
  readonly delay = new Map<string, number>();
  /** Tests: phases whose connection is cut instead of running them (when they are due: after any delay). */
  readonly cut = new Set<string>();

  constructor(
    readonly name: string,
    readonly backend: 'iptables' | 'nftables',
    /** Its interfaces, as `ip -j addr` reports them in the facts (src/gateway/facts.ts). */
    readonly interfaces: SimInterface[] = [],
  ) {
    this.net = backend === 'iptables' ? new IptablesModel(FOREIGN_IPTABLES) : new NftablesModel();
  }

  /** The commit record: the transaction whose state this gateway holds ('' for none). */
  get lastCommit(): string {
    return this.last;
  }

  /** The transaction holding natchain's lock here, if any. */
  get lockHolder(): string | undefined {
    return this.lock?.tx;
  }

  /** The transactions this gateway has a directory for (tests compare them with the real scripts'). */
  get transactionIds(): string[] {
    return [...this.txs.keys()].sort();
  }

  /** natchain's dump: `iptables-save`, or natchain's nft table. */
  dump(): string {
    return this.net.save();
  }

  /** What FACTS_SHELL prints: ip_forward, the tools, `ip -j addr show` on one line. */
  facts(): string {
    const tools = this.backend === 'iptables' ? ['iptables-restore', 'iptables-save'] : ['nft'];
    const links = [{ ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] }];
    for (const i of this.interfaces) links.push({ ifname: i.name, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], addr_info: [{ family: 'inet', local: i.address, prefixlen: i.prefix }] });
    const found = (t: string) => (tools.includes(t) || t === 'ip' ? `/usr/sbin/${t}` : '');
    return `ip_forward=${this.ipForward}\n` + ['nft', 'iptables-restore', 'iptables-save', 'ip'].map((t) => `tool=${t} ${found(t)}\n`).join('') + `addr=${JSON.stringify(links)}\n`;
  }

  private load(text: string, test = false): string | undefined {
    return this.net.restore(text, test);
  }

  /** Runs one phase; `out` collects sections exactly as the script's `sec` prints them. */
  run(op: string, nonce: string, txId: string, args: string[], stdin: string): Answer {
    this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
    const out = new Out(nonce);
    try {
      const code = this.phase(op, out, txId, args, unframe(stdin, nonce));
      return { stdout: out.text, code };
    } catch (e) {
      if (e instanceof Die) {
        out.sec('error');
        out.line(e.message);
        out.sec('end');
        return { stdout: out.text, code: 3 };
      }
      throw e;
    }
  }

  private phase(op: string, out: Out, tx: string, args: string[], input: Map<string, string>): number {
    // prepare and apply refuse where the kernel would (the check, the load); other phases at once.
    const refused = this.refuse.get(op);
    if (refused !== undefined && op !== 'prepare' && op !== 'apply') throw new Die(refused);
    switch (op) {
      case 'prepare':
        return this.prepare(out, tx, args, input);
      case 'apply':
        return this.apply(out, tx, Number(args[0]), args[1] === '1', args[2]!, input);
      case 'commit':
        return this.commit(out, tx);
      case 'abort':
        return this.abort(out, tx, args[0] === '1');
      case 'inspect':
        return this.inspect(out, tx, (args[0] ?? '1') === '1');
    }
    throw new Die(`simulated gateway: unknown phase ${op}`);
  }

  private lockInfo(out: Out): void {
    if (!this.lock) return;
    out.line(`${this.lock.tx}\n${this.lock.owner}\n${this.lock.since}`);
    const h = this.txs.get(this.lock.tx);
    if (h?.armed) out.line(`armed ${h.deadline}`);
  }

  private unlock(tx: string): void {
    if (this.lock?.tx === tx) this.lock = undefined;
  }

  // The script's history(): one line per ending (tx, time, owner, kind, outcome, topology hash, wave
  // rollout), from the transaction's meta ('-' for what it lacks, a directory included).
  private record(tx: string, outcome: string): void {
    const d = this.txs.get(tx);
    const meta = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(d?.meta ?? '')?.[1] || '-';
    this.history.push(`${tx}\t${now()}\t${meta('owner')}\t${meta('kind')}\t${outcome}\t${meta('topology')}\t${meta('rollout')}`);
  }

  // Exec 1: lock + snapshot + (unchanged: release and stop) + stage + check.
  private prepare(out: Out, tx: string, args: string[], input: Map<string, string>): number {
    const [owner, brk, want, empty, needFwd, fault] = args as [string, string, string, string, string, string];
    const t = now();
    if (this.lock && this.lock.tx !== tx) {
      const h = this.lock.tx;
      if (brk === '-' || h !== brk || this.txs.get(h)?.armed) {
        out.sec('held');
        this.lockInfo(out);
        out.sec('now');
        out.line(String(t));
        out.sec('end');
        return 4;
      }
      out.sec('broke');
      this.lockInfo(out);
      // The holder died before its end: its history line says so, and prune can drop it.
      const old = this.txs.get(h);
      if (old) old.state = 'aborted';
      this.record(h, 'aborted');
    }
    this.lock = { tx, owner, since: t };
    const snap = line(this.dump());
    out.sec('snapshot');
    out.raw(snap);
    out.sec('forward');
    out.line(this.ipForward);
    out.sec('last');
    out.line(this.last);
    out.sec('histlast');
    out.line(this.history[this.history.length - 1] ?? '');
    out.sec('now');
    out.line(String(t));
    out.sec('facts');
    out.raw(this.facts());
    if (needFwd === '0' || this.ipForward === '1') {
      const lastTx = this.last ? this.txs.get(this.last) : undefined;
      const unchanged = this.last
        ? lastTx?.hash === want && sameState(this.backend, snap, lastTx.applied ?? '')
        : empty === '1' && sameState(this.backend, snap, '');
      if (unchanged) {
        this.lock = undefined;
        out.sec('unchanged');
        out.sec('end');
        return 0;
      }
    }
    const d: TxDir = { state: 'locked', snapshot: snap, hash: want, prev: this.last, meta: input.get('meta') ?? '', armed: false };
    this.txs.set(tx, d);
    if (!input.has('end') || input.get('new') === undefined) {
      d.state = 'aborted';
      this.record(tx, 'aborted');
      this.unlock(tx);
      throw new Die('the staged ruleset did not arrive whole; nothing was changed');
    }
    d.load = resolveTemplate(this.backend, input.get('new')!, snap);
    if (fault === 'check') d.load += 'natchain-test-fault: refused on purpose\n';
    const err = this.refuse.get('prepare') ?? this.load(d.load, true);
    if (err) {
      d.state = 'check-failed';
      this.record(tx, 'aborted');
      this.unlock(tx);
      throw new Die(`check failed: ${err}`);
    }
    d.state = 'staged';
    out.sec('staged');
    out.sec('end');
    return 0;
  }

  private held(tx: string): TxDir {
    if (this.lock?.tx !== tx) throw new Die(`natchain's lock on this gateway is no longer held by ${tx}`);
    const d = this.txs.get(tx);
    if (!d?.load) throw new Die(`nothing is staged for ${tx}`);
    return d;
  }

  // Exec 2: arm the timer + load + read back.
  private apply(out: Out, tx: string, secs: number, fwd: boolean, fault: string, input: Map<string, string>): number {
    const d = this.held(tx);
    if (!input.has('end') || !input.get('revert')) throw new Die('the revert text did not arrive whole; nothing was changed');
    d.revert = input.get('revert')!;
    if (input.has('members')) d.members = input.get('members')!;
    d.deadline = now() + secs;
    d.armed = true;
    d.timer = setTimeout(() => this.fire(tx), secs * 1000);
    d.timer.unref();
    d.state = 'armed';
    if (fwd) {
      d.forwardOld = this.ipForward;
      this.ipForward = '1';
    }
    const err = this.refuse.get('apply') ?? this.load(fault === 'apply' ? d.load + 'natchain-test-fault: refused on purpose\n' : d.load!);
    if (err) {
      d.state = 'apply-failed';
      let r = "its dead-man timer restores the snapshot";
      if (this.claim(d, 'abort')) {
        this.disarm(d);
        if (this.revert(d)) {
          r = 'restored the snapshot';
          d.state = 'rolled-back';
          this.record(tx, 'rolled-back');
        } else {
          r = 'restoring the snapshot failed too';
          d.state = 'revert-failed';
          this.record(tx, 'revert-failed');
        }
      }
      throw new Die(`${err}\n(${r})`);
    }
    d.state = 'applied';
    d.applied = line(this.dump());
    out.sec('readback');
    out.raw(d.applied);
    out.sec('deadline');
    out.line(String(d.deadline));
    out.sec('end');
    return 0;
  }

  /** Exactly one of commit, abort and the timer decides an armed transaction. */
  private claim(d: TxDir, who: 'commit' | 'abort' | 'timer'): boolean {
    if (d.claim) return false;
    d.claim = who;
    return true;
  }

  private disarm(d: TxDir): void {
    d.armed = false;
    if (d.timer) clearTimeout(d.timer);
    d.timer = undefined;
  }

  private revert(d: TxDir): boolean {
    if (this.load(resolveTemplate(this.backend, d.revert ?? '', this.dump()))) return false;
    if (d.forwardOld !== undefined) this.ipForward = d.forwardOld;
    return true;
  }

  /** The dead-man timer firing: restore the snapshot and free the lock. */
  private fire(tx: string): void {
    const d = this.txs.get(tx);
    if (!d || !this.claim(d, 'timer')) return;
    d.armed = false;
    d.state = this.revert(d) ? 'reverted' : 'revert-failed';
    this.record(tx, d.state);
    this.unlock(tx);
  }

  // Exec 3: commit = disarm + record + unlock.
  private commit(out: Out, tx: string): number {
    const d = this.txs.get(tx);
    if (!d) throw new Die(`no transaction ${tx} on this gateway`);
    if (this.claim(d, 'commit')) {
      this.disarm(d);
      d.state = 'committed';
      this.last = tx;
      this.record(tx, 'committed');
      // Pruned under the lock, as the script does.
      this.prune();
      this.unlock(tx);
      out.sec('ok');
      out.sec('end');
      return 0;
    }
    if (d.claim === 'commit') {
      this.unlock(tx);
      out.sec('ok');
      out.sec('end');
      return 0;
    }
    out.sec('state');
    out.line(d.state);
    if (d.claim === 'timer') throw new Die(`not armed any more (state: ${d.state}): the dead-man timer already fired`);
    throw new Die(`not armed any more (state: ${d.state}): the transaction was rolled back`);
  }

  // The script's prune: past twice HISTORY_KEEP lines the last HISTORY_KEEP stay, the newest line
  // dropped is kept apart (`pruned`), and every transaction directory goes that no kept line names,
  // except the commit record's, the one before it, the lock holder's and an armed one.
  private prune(): void {
    if (this.history.length <= HISTORY_KEEP * 2) return;
    const gone = this.history.splice(0, this.history.length - HISTORY_KEEP);
    this.pruned = gone[gone.length - 1]!;
    const keep = new Set([this.last, this.txs.get(this.last)?.prev, this.lock?.tx, ...this.history.map((l) => l.split('\t')[0])]);
    for (const [id, d] of this.txs) if (!keep.has(id) && !d.armed) this.txs.delete(id);
  }

  private abort(out: Out, tx: string, undo: boolean): number {
    const d = this.txs.get(tx);
    if (!d) {
      // No record of it (its prepare cut short after taking the lock): a lock it holds is released, and said.
      if (this.lock?.tx === tx) {
        this.unlock(tx);
        this.record(tx, 'aborted');
      }
      out.sec('state');
      out.line('none');
      out.sec('end');
      return 0;
    }
    if (d.armed && this.claim(d, 'abort')) this.disarm(d);
    const st = d.state;
    const todo = ['armed', 'applied', 'apply-failed'].includes(st) ? 'revert' : st === 'committed' && undo ? 'undo' : 'none';
    if (todo === 'undo') {
      if (this.lock && this.lock.tx !== tx) {
        out.sec('held');
        this.lockInfo(out);
        throw new Die(`cannot undo ${tx}: the lock is held by another transaction`);
      }
      this.lock = { tx, owner: 'undo', since: now() };
    }
    if (todo !== 'none') {
      if (!this.revert(d)) {
        d.state = 'revert-failed';
        this.record(tx, 'revert-failed');
        this.unlock(tx);
        throw new Die('restoring the snapshot failed');
      }
      d.state = 'rolled-back';
      if (this.last === tx) this.last = d.prev;
      this.record(tx, todo === 'undo' ? 'undone' : 'rolled-back');
    } else if (['locked', 'staged'].includes(st)) {
      // Staged, or its prepare cut short before that. (A failed check wrote its line already.)
      d.state = 'aborted';
      this.record(tx, 'aborted');
    }
    this.unlock(tx);
    out.sec('state');
    out.line(d.state);
    out.sec('end');
    return 0;
  }

  private inspect(out: Out, tx: string, withCounters: boolean): number {
    const live = this.dump();
    out.sec('live');
    if (live.trim() !== '') out.raw(line(live));
    out.sec('now');
    out.line(String(now()));
    out.sec('forward');
    out.line(this.ipForward);
    out.sec('lock');
    this.lockInfo(out);
    out.sec('armed');
    for (const [id, d] of this.txs) if (d.armed) out.line(`${id} ${d.deadline}`);
    out.sec('last');
    out.line(this.last);
    const committed = this.last ? this.txs.get(this.last)?.applied : undefined;
    if (committed !== undefined) {
      out.sec('committed');
      out.raw(committed);
    }
    const d = this.txs.get(tx);
    if (tx !== 'none' && d) {
      out.sec('txstate');
      out.line(d.state);
      out.sec('txclaim');
      out.line(d.claim ?? '');
      out.sec('txprev');
      out.line(d.prev);
      out.sec('txdeadline');
      out.line(d.deadline === undefined ? '' : String(d.deadline));
      out.sec('txmembers');
      out.line((d.members ?? '').split('\n')[0]!);
      out.sec('txmeta');
      out.raw(d.meta);
      if (d.applied !== undefined) {
        out.sec('txapplied');
        out.raw(d.applied);
      }
      out.sec('txsnapshot');
      out.raw(d.snapshot);
    }
    if (this.history.length) {
      out.sec('history');
      out.raw(this.history.map((l) => l + '\n').join(''));
    }
    if (this.pruned) {
      out.sec('pruned');
      out.line(this.pruned);
    }
    out.sec('facts');
    out.raw(this.facts());
    out.sec('ruleset');
    if (withCounters) {
      out.sec('counters');
      if (this.net instanceof IptablesModel) out.raw(this.net.counters());
    }
    out.sec('end');
    return 0;
  }
}

/** A phase that stops with `die`: the `error` section and exit status 3. */
class Die extends Error {}

/** Output built the way the scripts print it. */
class Out {
  text = '';
  constructor(readonly nonce: string) {}
  sec(name: string): void {
    this.text += `\n@@natchain:${this.nonce}:${name}\n`;
  }
  line(s: string): void {
    this.text += s + '\n';
  }
  raw(s: string): void {
    this.text += s;
  }
}

/** Cuts a framed stdin (`@@natchain:<nonce>:<name>` lines) into its named texts. */
export function unframe(stdin: string, nonce: string): Map<string, string> {
  const out = new Map<string, string>();
  const marker = `@@natchain:${nonce}:`;
  let cur: string | undefined;
  let buf: string[] = [];
  const flush = () => {
    if (cur !== undefined) out.set(cur, buf.length ? buf.join('\n') + '\n' : '');
  };
  const lines = stdin.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const l of lines) {
    if (l.startsWith(marker)) {
      flush();
      cur = l.slice(marker.length);
      buf = [];
    } else if (cur !== undefined) buf.push(l);
  }
  flush();
  return out;
}
