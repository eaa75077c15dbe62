import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatchainError } from '../../src/errors.js';
import { readFaults } from '../../src/rollout/faults.js';
import { isTxId, newNonce, newTxId, OWNER_PATTERN, ownerIdentity } from '../../src/rollout/ids.js';
import { Journal, outcomeOf, stateDir } from '../../src/rollout/journal.js';
import { forwardChanges } from '../../src/rollout/owned.js';
import { frame, parseArmed, parseLockInfo, parseSections, remoteCall, type RemoteOp } from '../../src/rollout/remote.js';
import { parseHistory } from '../../src/rollout/history.js';

const OPS: RemoteOp[] = ['prepare', 'apply', 'commit', 'abort', 'inspect'];

describe('rollout: remote scripts', () => {
  const nonce = 'a'.repeat(16);
  const tx = '20260101T120000Z-abcdef';

  it('every template is valid POSIX sh (dash -n)', () => {
    for (const op of OPS) {
      const args = op === 'prepare' ? ['root@host:1', '-', 'abc', 0, 1, '-'] : op === 'apply' ? [60, 0, '-'] : op === 'abort' ? [0] : [];
      const call = remoteCall(op, nonce, 'iptables', tx, args);
      const m = /^sh -c '([\s\S]*)' natchain /.exec(call.command);
      expect(m, op).to.not.equal(null);
      const script = m![1]!.replace(/'\\''/g, "'");
      const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
      expect(r.status, `${op}: ${r.stderr}`).to.equal(0);
    }
  });

  it('refuses every argument that is not of its exact shape (hostile values never reach a shell)', () => {
    const hostile = ["x'; rm -rf /; '", '$(reboot)', '`id`', 'a b', 'a\nb', ''];
    for (const h of hostile) {
      expect(() => remoteCall('prepare', nonce, 'iptables', tx, [h, '-', 'abc', 0, 0, '-']), h).to.throw();
      expect(() => remoteCall('prepare', nonce, 'iptables', tx, ['root@host:1', h, 'abc', 0, 0, '-']), h).to.throw();
      expect(() => remoteCall('commit', nonce, 'iptables', h, []), h).to.throw();
      expect(() => remoteCall('commit', h, 'iptables', tx, []), h).to.throw();
    }
    expect(() => remoteCall('apply', nonce, 'iptables', tx, [-1, 0, '-'])).to.throw();
    expect(() => remoteCall('apply', nonce, 'iptables', tx, [1.5, 0, '-'])).to.throw();
    expect(() => remoteCall('commit', nonce, 'pf' as never, tx, [])).to.throw();
    // Refused with a stable code the CLI knows (not a plain Error, which it would report as a crash).
    try {
      remoteCall('prepare', nonce, 'iptables', tx, ['$(reboot)', '-', 'abc', 0, 0, '-']);
      expect.fail('not refused');
    } catch (e) {
      expect(e).to.be.instanceOf(NatchainError);
      expect((e as NatchainError).code).to.equal('INTERNAL');
    }
  });

  it('passes the arguments as single words after the template', () => {
    const call = remoteCall('apply', nonce, 'nftables', tx, [60, 1, '-']);
    expect(call.command.endsWith(` natchain ${nonce} nftables ${tx} 60 1 -`)).to.equal(true);
    const r = spawnSync('sh', ['-c', call.command.replace(/^sh -c '[\s\S]*' natchain /, 'printf "%s|" ')], { encoding: 'utf8' });
    expect(r.stdout).to.equal(`${nonce}|nftables|${tx}|60|1|-|`);
  });

  it('frames stdin and parses sections exactly, unforgeable without the nonce', () => {
    const n = newNonce();
    expect(n).to.match(/^[0-9a-f]{16}$/);
    expect(frame(n, { new: 'a\nb', revert: '' })).to.equal(`@@natchain:${n}:new\na\nb\n@@natchain:${n}:revert\n`);
    const forged = `-A X -m comment --comment "\n@@natchain:0000000000000000:error\n"`;
    const out = `junk\n@@natchain:${n}:snapshot\n${forged}\nline2\n\n@@natchain:${n}:forward\n1\n\n@@natchain:${n}:end\n`;
    const s = parseSections(out, n);
    expect(s.complete).to.equal(true);
    expect(s.get('snapshot')).to.equal(`${forged}\nline2\n`);
    expect(s.get('forward')).to.equal('1\n');
    expect(s.has('error')).to.equal(false);
    expect(parseSections('no end', n).complete).to.equal(false);
  });

  /** Runs one phase script for real, with its gateway-side directories moved into `root` (no netfilter used). */
  const runSandboxed = (root: string, op: RemoteOp, args: Array<string | number>, edit = (script: string) => script) => {
    const call = remoteCall(op, nonce, 'iptables', tx, args);
    const m = /^sh -c '([\s\S]*)' natchain (.*)$/.exec(call.command)!;
    const script = edit(m[1]!.replace(/'\\''/g, "'").replace('D=/var/lib/natchain', `D=${root}/lib`).replace('R=/run/natchain', `R=${root}/run`));
    return spawnSync('sh', ['-c', script, 'natchain', ...m[2]!.split(' ')], { encoding: 'utf8' });
  };

  it('abort releases a lock its transaction holds even when the begin was cut short before recording it', () => {
    const root = mkdtempSync(join(tmpdir(), 'natchain-remote-'));
    try {
      mkdirSync(join(root, 'run', 'lock'), { recursive: true });
      writeFileSync(join(root, 'run', 'lock', 'owner'), `${tx}\nroot@ops:1\n1\n`);
      const r = runSandboxed(root, 'abort', [0]);
      expect(r.status, r.stderr).to.equal(0);
      expect(parseSections(r.stdout, nonce).get('state')).to.equal('none\n');
      expect(existsSync(join(root, 'run', 'lock'))).to.equal(false);
      // Someone else's lock is never touched.
      mkdirSync(join(root, 'run', 'lock'));
      writeFileSync(join(root, 'run', 'lock', 'owner'), '20260101T120000Z-000000\nroot@ops:2\n1\n');
      expect(runSandboxed(root, 'abort', [0]).status).to.equal(0);
      expect(existsSync(join(root, 'run', 'lock', 'owner'))).to.equal(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('inspect keeps the live state in memory, never in a predictable /tmp file', () => {
    expect(remoteCall('inspect', nonce, 'iptables', tx, []).command).to.not.include('/tmp');
    const root = mkdtempSync(join(tmpdir(), 'natchain-remote-'));
    try {
      const fake = (body: string) => (script: string) => script.replace('dump() {', `dump() { ${body}; }\nreal_dump() {`);
      const ok = runSandboxed(root, 'inspect', [], fake("printf '*nat\\n-A NATCHAIN-X\\nCOMMIT\\n'"));
      expect(ok.status, ok.stderr).to.equal(0);
      expect(parseSections(ok.stdout, nonce).get('live')).to.equal('*nat\n-A NATCHAIN-X\nCOMMIT\n');
      const empty = runSandboxed(root, 'inspect', [], fake('return 0'));
      expect(parseSections(empty.stdout, nonce).get('live')).to.equal('');
      const bad = runSandboxed(root, 'inspect', [], fake("echo 'nft: permission denied' >&2; return 1"));
      expect(parseSections(bad.stdout, nonce).get('error')).to.include('permission denied');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads lock holders and armed timers', () => {
    const h = parseLockInfo('20260101T000000Z-abcdef\nalice@ops:42\n1000\narmed 1060\n', 1012);
    expect(h).to.deep.equal({ tx: '20260101T000000Z-abcdef', owner: 'alice@ops:42', since: 1000, ageSec: 12, armedUntil: 1060 });
    expect(parseLockInfo('', 5)).to.equal(undefined);
    expect(parseArmed('20260101T000000Z-abcdef 1060\ngarbage\n')).to.deep.equal([{ tx: '20260101T000000Z-abcdef', deadline: 1060 }]);
  });

  it('makes transaction ids and owner identities of the shapes the scripts accept', () => {
    const tx1 = newTxId(new Date('2026-01-02T03:04:05.678Z'));
    expect(tx1).to.match(/^20260102T030405Z-[0-9a-f]{6}$/);
    expect(isTxId(tx1)).to.equal(true);
    expect(isTxId('20260102T030405Z-ABCDEF')).to.equal(false);
    expect(ownerIdentity().text).to.match(OWNER_PATTERN);
  });
});

describe('rollout: faults, plan summaries', () => {
  it('reads NATCHAIN_TEST_FAULT, and nothing is active without it', () => {
    const none = readFaults(undefined, false);
    expect(none.active).to.equal(false);
    expect(none.remote('check', 'gw-a')).to.equal(false);
    expect(readFaults('', false).active).to.equal(false);
    const f = readFaults('check:gw-a, disconnect:gw-b,pause:commit:1500', true);
    expect(f.remote('check', 'gw-a')).to.equal(true);
    expect(f.remote('check', 'gw-b')).to.equal(false);
    expect(f.remote('disconnect', 'gw-b')).to.equal(true);
    expect(f.pause('commit')).to.equal(1500);
    expect(f.pause('apply')).to.equal(0);
  });

  it('refuses a fault spec without the second opt-in, NATCHAIN_TEST_FAULTS_ENABLE=1', () => {
    expect(() => readFaults('disconnect:gw-a', false)).to.throw(NatchainError, /refusing test fault injection/).with.property('code', 'USAGE');
    const saved = { ...process.env };
    try {
      process.env.NATCHAIN_TEST_FAULT = 'disconnect:gw-a';
      delete process.env.NATCHAIN_TEST_FAULTS_ENABLE;
      expect(() => readFaults()).to.throw(/NATCHAIN_TEST_FAULTS_ENABLE=1/);
      process.env.NATCHAIN_TEST_FAULTS_ENABLE = 'yes';
      expect(() => readFaults()).to.throw(/refusing/);
      process.env.NATCHAIN_TEST_FAULTS_ENABLE = '1';
      expect(readFaults().remote('disconnect', 'gw-a')).to.equal(true);
    } finally {
      process.env = saved;
    }
  });

  it('names forwards added, removed and changed from rule comments (both backends)', () => {
    const before = '-A NATCHAIN-PREROUTING -m comment --comment natchain:web -j DNAT --to-destination 1.2.3.4:80\n-A X -m comment --comment natchain:old -j ACCEPT\n';
    const after = '-A NATCHAIN-PREROUTING -m comment --comment natchain:web -j DNAT --to-destination 1.2.3.4:81\n  rule tcp dport 22 comment "natchain:ssh%2D1" accept\n';
    expect(forwardChanges(before, after)).to.deep.equal({ added: ['ssh-1'], removed: ['old'], changed: ['web'] });
  });
});

describe('rollout: journal', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-journal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has a documented default and overrides', () => {
    const saved = { ...process.env };
    try {
      delete process.env.NATCHAIN_STATE_DIR;
      process.env.XDG_STATE_HOME = '/x/state';
      expect(stateDir()).to.equal('/x/state/natchain');
      process.env.NATCHAIN_STATE_DIR = '/y';
      expect(stateDir()).to.equal('/y');
      expect(stateDir('/z')).to.equal('/z');
    } finally {
      process.env = saved;
    }
  });

  it('appends records, groups them by transaction and survives a torn last line', () => {
    const j = new Journal(dir);
    const t = '2026-01-01T00:00:00Z';
    j.append({ type: 'begin', tx: 'T1', time: t, kind: 'apply', owner: 'a@b:1', topology: '/t.yaml', gateways: ['gw-a'], confirmTimeoutSec: 60 });
    j.append({ type: 'phase', tx: 'T1', time: t, gateway: 'gw-a', phase: 'locked' });
    j.append({ type: 'end', tx: 'T1', time: t, outcome: 'committed', states: { 'gw-a': 'committed' } });
    j.append({ type: 'begin', tx: 'T2', time: t, kind: 'apply', owner: 'a@b:1', topology: '/t.yaml', gateways: ['gw-a'], confirmTimeoutSec: 60 });
    j.flush();
    appendFileSync(j.file, '{"type":"phase","tx":"T2"');
    const txs = j.transactions();
    expect(txs.map((h) => h.tx)).to.deep.equal(['T1', 'T2']);
    expect(txs[0]!.phases['gw-a']).to.deep.equal(['locked']);
    expect(outcomeOf(txs[0]!)).to.equal('committed');
    expect(outcomeOf(txs[1]!)).to.equal(undefined);
  });

  it('reads the same transactions in slices as at once (queued records and a torn line included)', async () => {
    const j = new Journal(dir);
    const t = '2026-01-01T00:00:00Z';
    for (let i = 0; i < 200; i++) j.append({ type: 'begin', tx: `S${i}`, time: t, kind: 'apply', owner: 'a@b:1', topology: '/t.yaml', gateways: ['gw-a'], confirmTimeoutSec: 60 });
    j.flush();
    appendFileSync(j.file, '{"type":"phase","tx":"S1"');
    j.append({ type: 'end', tx: 'S0', time: t, outcome: 'committed', states: { 'gw-a': 'committed' } });
    const sliced = await j.transactionsSliced();
    expect(sliced).to.deep.equal(j.transactions());
    expect(outcomeOf(sliced.find((h) => h.tx === 'S0')!)).to.equal('committed');
  });
});

describe('rollout: gateway history and journal bounds', () => {
  it('reads a gateway history section (tab-separated, oldest first), skipping malformed lines', () => {
    const text = '20260101T120000Z-abcdef\t1767268800\troot@ops:1\tapply\tcommitted\t0123456789abcdef\ngarbage\n20260101T130000Z-000001\t1767272400\t-\troll-forward\treverted\t-\n';
    expect(parseHistory(text)).to.deep.equal([
      { tx: '20260101T120000Z-abcdef', time: '2026-01-01T12:00:00.000Z', owner: 'root@ops:1', kind: 'apply', outcome: 'committed', topologyHash: '0123456789abcdef' },
      { tx: '20260101T130000Z-000001', time: '2026-01-01T13:00:00.000Z', owner: '-', kind: 'roll-forward', outcome: 'reverted', topologyHash: '-' },
    ]);
    expect(parseHistory(undefined)).to.deep.equal([]);
  });

  it('compacts the journal past its size: the last N finished transactions and every unfinished one stay; one fsync per barrier', () => {
    const dir = mkdtempSync(join(tmpdir(), 'natchain-compact-'));
    try {
      const j = new Journal(dir);
      const t = '2026-01-01T00:00:00Z';
      const begin = (tx: string) => j.append({ type: 'begin', tx, time: t, kind: 'apply', owner: 'a@b:1', topology: '/t.yaml', gateways: ['gw-a'], confirmTimeoutSec: 60 });
      begin('U0');
      for (let i = 1; i <= 30; i++) {
        begin(`T${i}`);
        j.append({ type: 'end', tx: `T${i}`, time: t, outcome: 'committed', states: {} });
      }
      expect(j.syncs).to.equal(0);
      j.flush();
      expect(j.syncs).to.equal(1);
      expect(j.compact(5, 1 << 30)).to.equal(false);
      expect(j.compact(5, 100)).to.equal(true);
      expect(new Journal(dir).transactions().map((h) => h.tx)).to.deep.equal(['U0', 'T26', 'T27', 'T28', 'T29', 'T30']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
