// One simulated gateway: the state natchain's remote scripts keep (the lock, one directory per
// transaction, the last commit, the dead-man timer) and its netfilter, with each remote phase
// (src/rollout/remote.ts) done as its script does it, in memory. Answers use the script's own
// framing: `\n@@natchain:<nonce>:<section>\n` markers, exit 3 with an `error` section, 4 when locked.

import { IptablesModel, NftablesModel } from './netfilter.js';

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
  next?: string;
  revert?: string;
  applied?: string;
  deadline?: number;
  armed: boolean;
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

/** One gateway's state and the phases natchain runs on it. */
export class SimGateway {
  ipForward = '1';
  private readonly net: IptablesModel | NftablesModel;
  private lock: Lock | undefined;
  private readonly txs = new Map<string, TxDir>();
  private last: string | undefined;
  /** Phases run, by name (the benchmark reports round trips from them). */
  readonly counts = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly backend: 'iptables' | 'nftables',
    /** Its interfaces, as `ip -j addr` reports them in the facts (src/gateway/facts.ts). */
    readonly interfaces: SimInterface[] = [],
  ) {
    this.net = backend === 'iptables' ? new IptablesModel(FOREIGN_IPTABLES) : new NftablesModel();
  }

  /** natchain's dump: `iptables-save -t nat; -t filter`, or natchain's nft table. */
  dump(): string {
    return this.net.save();
  }

  /** What FACTS_SHELL prints: ip_forward, the tools, `ip -j addr show` on one line. */
  facts(): string {
    const tools = this.backend === 'iptables' ? ['iptables-restore', 'iptables-save'] : ['nft'];
    const links = [{ ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] }];
    for (const i of this.interfaces) links.push({ ifname: i.name, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], addr_info: [{ family: 'inet', local: i.address, prefixlen: i.prefix }] });
    const found = (t: string) => (tools.includes(t) || t === 'ip' ? `/usr/sbin/${t}` : '');
    return (
      `ip_forward=${this.ipForward}\n` +
      ['nft', 'iptables-restore', 'iptables-save', 'ip'].map((t) => `tool=${t} ${found(t)}\n`).join('') +
      `addr=${JSON.stringify(links)}\n`
    );
  }

  private load(text: string, test = false): string | undefined {
    return this.net.restore(text, test);
  }

  /** Runs one phase; `out` collects sections exactly as the script's `sec` prints them. */
  run(op: string, nonce: string, txId: string, args: string[], stdin: string): Answer {
    this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
    const out = new Out(nonce);
    try {
      const code = this.phase(op, out, txId, args, stdin);
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

  private phase(op: string, out: Out, tx: string, args: string[], stdin: string): number {
    switch (op) {
      case 'prepare': {
        // The engine's exec 1 (lock + snapshot + stage + check); the revert text now comes with apply.
        // TODO(perf): the "unchanged" shortcut and iptables templates (src/rollout/template.ts) are not modelled.
        const code = this.begin(out, tx, args[0]!, args[1]!, false);
        return code !== 0 ? code : this.stage(out, tx, args[5]!, stdin, out.nonce);
      }
      case 'apply':
        this.held(tx).revert = unframe(stdin, out.nonce).get('revert');
        return this.apply(out, tx, Number(args[0]), args[1] === '1', args[2]!);
      case 'commit':
        return this.commit(out, tx);
      case 'abort':
        return this.abort(out, tx, args[0] === '1');
      case 'inspect':
        return this.inspect(out, tx);
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

  private begin(out: Out, tx: string, owner: string, brk: string, end = true): number {
    const t = now();
    if (this.lock) {
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
      out.line(`${this.lock.tx}\n${this.lock.owner}\n${this.lock.since}`);
      const old = this.txs.get(h);
      if (old) old.state = 'aborted';
    }
    this.lock = { tx, owner, since: t };
    const snapshot = this.dump();
    this.txs.set(tx, { state: 'locked', snapshot, armed: false });
    out.sec('snapshot');
    out.raw(snapshot);
    out.sec('forward');
    out.line(this.ipForward);
    out.sec('last');
    if (this.last) out.line(this.last);
    out.sec('now');
    out.line(String(t));
    if (end) out.sec('end');
    return 0;
  }

  private held(tx: string): TxDir {
    if (this.lock?.tx !== tx) throw new Die(`natchain's lock on this gateway is no longer held by ${tx}`);
    return this.txs.get(tx)!;
  }

  private stage(out: Out, tx: string, fault: string, stdin: string, nonce: string): number {
    const d = this.held(tx);
    const parts = unframe(stdin, nonce);
    if (parts.get('new') === undefined) throw new Die('the staged ruleset did not arrive');
    d.next = parts.get('new')!;
    if (fault === 'check') d.next += 'natchain-test-fault: refused on purpose\n';
    const err = this.load(d.next, true);
    if (err) {
      d.state = 'check-failed';
      throw new Die(err);
    }
    d.state = 'staged';
    out.sec('staged');
    out.sec('end');
    return 0;
  }

  private apply(out: Out, tx: string, secs: number, fwd: boolean, fault: string): number {
    const d = this.held(tx);
    if (d.next === undefined || d.revert === undefined) throw new Die(`nothing is staged for ${tx}`);
    d.deadline = now() + secs;
    d.armed = true;
    d.timer = setTimeout(() => this.fire(tx), secs * 1000);
    d.timer.unref();
    d.state = 'armed';
    if (fwd) {
      d.forwardOld = this.ipForward;
      this.ipForward = '1';
    }
    const err = this.load(fault === 'apply' ? d.next + 'natchain-test-fault: refused on purpose\n' : d.next);
    if (err) {
      d.state = 'apply-failed';
      const ok = this.revert(d);
      if (ok) d.state = 'rolled-back';
      const r = ok ? 'restored the snapshot' : 'restoring the snapshot failed too';
      this.disarm(d);
      throw new Die(`${err}\n(${r})`);
    }
    d.state = 'applied';
    d.applied = this.dump();
    out.sec('readback');
    out.raw(d.applied);
    out.sec('deadline');
    out.line(String(d.deadline));
    out.sec('end');
    return 0;
  }

  private disarm(d: TxDir): void {
    d.armed = false;
    if (d.timer) clearTimeout(d.timer);
    d.timer = undefined;
  }

  private revert(d: TxDir): boolean {
    if (this.load(d.revert ?? '')) return false;
    if (d.forwardOld !== undefined) this.ipForward = d.forwardOld;
    return true;
  }

  /** The dead-man timer firing: restore the snapshot and free the lock. */
  private fire(tx: string): void {
    const d = this.txs.get(tx);
    if (!d?.armed) return;
    d.armed = false;
    d.state = this.revert(d) ? 'reverted' : 'revert-failed';
    this.unlock(tx);
  }

  private commit(out: Out, tx: string): number {
    const d = this.txs.get(tx);
    if (d?.armed) {
      this.disarm(d);
      d.state = 'committed';
      this.last = tx;
      this.unlock(tx);
      this.prune();
      out.sec('ok');
      out.sec('end');
      return 0;
    }
    const st = d?.state ?? 'none';
    if (st === 'committed') {
      this.unlock(tx);
      out.sec('ok');
      out.sec('end');
      return 0;
    }
    out.sec('state');
    out.line(st);
    throw new Die(`not armed any more (state: ${st}): the dead-man timer already fired`);
  }

  // The script keeps the last 20 transaction directories.
  private prune(): void {
    const ids = [...this.txs.keys()].sort().reverse();
    for (const id of ids.slice(20)) if (!this.txs.get(id)!.armed) this.txs.delete(id);
  }

  private abort(out: Out, tx: string, undo: boolean): number {
    const d = this.txs.get(tx);
    if (!d) {
      this.unlock(tx);
      out.sec('state');
      out.line('none');
      out.sec('end');
      return 0;
    }
    if (d.armed) this.disarm(d);
    const st = d.state;
    let todo = ['armed', 'applied', 'apply-failed'].includes(st) ? 'revert' : st === 'committed' && undo ? 'relock' : 'none';
    if (todo === 'relock') {
      if (this.lock && this.lock.tx !== tx) {
        out.sec('held');
        this.lockInfo(out);
        throw new Die(`cannot undo ${tx}: the lock is held by another transaction`);
      }
      this.lock = { tx, owner: 'undo', since: now() };
      todo = 'revert';
    }
    if (todo === 'revert') {
      if (!this.revert(d)) {
        d.state = 'revert-failed';
        this.unlock(tx);
        throw new Die('restoring the snapshot failed');
      }
      d.state = 'rolled-back';
      if (st === 'committed' && this.last === tx) this.last = undefined;
    } else if (['locked', 'staged', 'check-failed'].includes(st)) {
      d.state = 'aborted';
    }
    this.unlock(tx);
    out.sec('state');
    out.line(d.state);
    out.sec('end');
    return 0;
  }

  private inspect(out: Out, tx: string): number {
    const live = this.dump();
    out.sec('live');
    // The script captures the dump in a variable (trailing newlines stripped) and prints it with one.
    if (live.trim() !== '') out.line(live.replace(/\n+$/, ''));
    out.sec('now');
    out.line(String(now()));
    out.sec('forward');
    out.line(this.ipForward);
    out.sec('lock');
    this.lockInfo(out);
    out.sec('armed');
    for (const [id, d] of this.txs) if (d.armed) out.line(`${id} ${d.deadline}`);
    out.sec('last');
    out.line(this.last ?? '');
    const committed = this.last ? this.txs.get(this.last)?.applied : undefined;
    if (committed !== undefined) {
      out.sec('committed');
      out.raw(committed);
    }
    out.sec('facts');
    out.raw(this.facts());
    out.sec('ruleset');
    out.sec('counters');
    if (this.net instanceof IptablesModel) out.raw(this.net.counters());
    const d = this.txs.get(tx);
    if (tx !== 'none' && d) {
      out.sec('txstate');
      out.line(d.state);
      if (d.revert !== undefined) {
        out.sec('txsnapshot');
        out.raw(d.snapshot);
      }
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
