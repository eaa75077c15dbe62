// prepare's (and inspect's) script run for real by sh (its gateway-side directories moved into a temporary root;
// natchain's state read from a fixed text, the check always passing: no netfilter here): the one awk
// past the snapshot stages, checks what it wrote, prints the history's last line and counts it, and
// an unchanged gateway gets no transaction directory.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frame, parseSections, remoteCall } from '../../src/rollout/remote.js';

const NONCE = 'b'.repeat(16);
const DUMP = '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.9.0.0/16 -j ACCEPT\nCOMMIT\n';
const TEMPLATE =
  '*nat\n@declare NATCHAIN-PREROUTING 1\n-A NATCHAIN-PREROUTING -p tcp -m tcp --dport 80 -m comment --comment natchain:web -j DNAT --to-destination 10.0.0.1:80\n' +
  '@drop PREROUTING NATCHAIN-PREROUTING 1 -m comment --comment natchain -j NATCHAIN-PREROUTING\n@insert PREROUTING NATCHAIN-PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING\nCOMMIT\n';
const RESOLVED =
  '*nat\n:NATCHAIN-PREROUTING - [0:0]\n-A NATCHAIN-PREROUTING -p tcp -m tcp --dport 80 -m comment --comment natchain:web -j DNAT --to-destination 10.0.0.1:80\n' +
  '-I PREROUTING 1 -m comment --comment natchain -j NATCHAIN-PREROUTING\nCOMMIT\n';
const META = 'kind=apply\nowner=root@ops:7\ntopology=abc123\nrollout=-\nmembers=gw-a gw-b';

describe('rollout: the phase scripts run by sh (sandboxed)', () => {
  let root = '';
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'natchain-prepare-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const lib = (...p: string[]) => join(root, 'lib', ...p);
  const history = (tx: string, outcome: string) => `${tx}\t1767268800\troot@ops:7\tapply\t${outcome}\tabc123\t-\n`;

  /** Runs prepare for `tx` wanting state hash `want`, with `dump` as natchain's live state; stdin framed from `parts`. */
  function prepare(tx: string, want: string, dump: string, parts: Record<string, string>) {
    const call = remoteCall('prepare', NONCE, 'iptables', tx, ['root@ops:7', '-', want, 0, 0, '-']);
    const m = /^sh -c '([\s\S]*)' natchain (.*)$/.exec(call.command)!;
    writeFileSync(join(root, 'dump'), dump);
    const script = m[1]!
      .replace(/'\\''/g, "'")
      .replace('D=/var/lib/natchain', `D=${root}/lib`)
      .replace('R=/run/natchain', `R=${root}/run`)
      .replace('dump() {', `dump() { cat '${root}/dump'; }\nreal_dump() {`)
      .replace('check() {', 'check() { [ -s "$1" ]; }\nreal_check() {')
      .replace('facts() {', 'facts() { :; }\nreal_facts() {');
    const words = m[2]!.split(' ').map((w) => w.replace(/^'|'$/g, ''));
    const r = spawnSync('sh', ['-c', script, 'natchain', ...words], { input: frame(NONCE, parts), encoding: 'utf8' });
    return { ...r, sec: parseSections(r.stdout, NONCE) };
  }

  it('stages the resolved ruleset with one awk: every file checked, the history\'s last line said once and its lines counted', () => {
    mkdirSync(lib(), { recursive: true });
    writeFileSync(lib('history'), history('20260101T000000Z-000001', 'committed') + history('20260101T000000Z-000002', 'reverted'));
    const tx = '20260101T120000Z-abcdef';
    const r = prepare(tx, 'h1', DUMP, { meta: META, new: TEMPLATE, end: '' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.sec.has('staged')).to.equal(true);
    expect(r.sec.get('histlast')).to.equal(history('20260101T000000Z-000002', 'reverted'));
    expect(r.stdout.split(`@@natchain:${NONCE}:histlast\n`).length, 'histlast printed once').to.equal(2);
    expect(readFileSync(lib(tx, 'new.load'), 'utf8')).to.equal(RESOLVED);
    expect(readFileSync(lib(tx, 'new'), 'utf8')).to.equal(TEMPLATE);
    expect(readFileSync(lib(tx, 'snapshot'), 'utf8')).to.equal(DUMP);
    expect(readFileSync(lib(tx, 'meta'), 'utf8')).to.equal(META + '\n');
    expect(readFileSync(lib(tx, 'histn'), 'utf8')).to.equal('2\n');
    expect(readFileSync(lib(tx, 'state'), 'utf8')).to.equal('staged\n');
    expect(readFileSync(join(root, 'run', 'lock', 'owner'), 'utf8')).to.match(new RegExp(`^${tx}\nroot@ops:7\n\\d+\n$`));
  });

  it('an unchanged gateway: lock released, no transaction directory; drifted since its commit: staged, the history line said once', () => {
    const last = '20260101T110000Z-aaaaaa';
    mkdirSync(lib(last), { recursive: true });
    writeFileSync(lib('last'), `${last}\n`);
    writeFileSync(lib(last, 'hash'), 'h1\n');
    const live = '*nat\n:PREROUTING ACCEPT [3:180]\n:NATCHAIN-PREROUTING - [0:0]\n-A PREROUTING -m comment --comment natchain -j NATCHAIN-PREROUTING\n-A NATCHAIN-PREROUTING -p tcp -m tcp --dport 80 -m comment --comment natchain:web -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n';
    // What the apply read back then, with other counters: the same natchain state.
    writeFileSync(lib(last, 'applied'), live.replace('[3:180]', '[0:0]').replace('- [0:0]', '- [7:420]'));
    writeFileSync(lib('history'), history(last, 'committed'));
    const same = prepare('20260101T120000Z-bbbbbb', 'h1', live, { meta: META, new: TEMPLATE, end: '' });
    expect(same.status, same.stderr).to.equal(0);
    expect(same.sec.has('unchanged')).to.equal(true);
    expect(same.sec.get('histlast')).to.equal(history(last, 'committed'));
    expect(existsSync(lib('20260101T120000Z-bbbbbb')), 'no transaction directory').to.equal(false);
    expect(existsSync(join(root, 'run', 'lock')), 'lock released').to.equal(false);

    const drifted = prepare('20260101T120000Z-cccccc', 'h1', DUMP, { meta: META, new: TEMPLATE, end: '' });
    expect(drifted.status, drifted.stderr).to.equal(0);
    expect(drifted.sec.has('staged')).to.equal(true);
    expect(drifted.stdout.split(`@@natchain:${NONCE}:histlast\n`).length, 'histlast printed once').to.equal(2);
    expect(readFileSync(lib('20260101T120000Z-cccccc', 'new.load'), 'utf8')).to.equal(RESOLVED);
  });

  it('reads the clock from /proc, the boot time kept in btime with the boot id; a cache of another boot, or torn, or old, is read again', () => {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const uptime = Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]));
    const caches = ['', `1 ${uptime} ${bootId}`.replace(bootId, '00000000-0000-0000-0000-000000000000'), `1 ${uptime} ${bootId.slice(0, 10)}`, `1 ${uptime - 600} ${bootId}`, `1 x ${bootId}`];
    caches.forEach((cache, i) => {
      mkdirSync(lib(), { recursive: true });
      rmSync(join(root, 'run'), { recursive: true, force: true });
      if (cache) writeFileSync(lib('btime'), cache + '\n');
      const r = prepare(`20260101T120000Z-00000${i}`, 'h1', DUMP, { meta: META, new: TEMPLATE, end: '' });
      expect(r.status, r.stderr).to.equal(0);
      const now = Number(r.sec.get('now'));
      expect(Math.abs(now - Date.now() / 1000), `cache ${JSON.stringify(cache)}: the gateway's clock`).to.be.below(3);
      const [btime, at, id] = readFileSync(lib('btime'), 'utf8').trim().split(' ');
      expect(Number(btime) + Number(at), 'boot time + the uptime it was read at').to.be.within(now - 2, now);
      expect(id).to.equal(bootId);
    });
    // A fresh cache of this boot is what the clock reads (here one 1000 s off: proof it was not read again).
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    writeFileSync(lib('btime'), `${btime + 1000} ${uptime} ${bootId}\n`);
    rmSync(join(root, 'run'), { recursive: true, force: true });
    const r = prepare('20260101T120000Z-0000ff', 'h1', DUMP, { meta: META, new: TEMPLATE, end: '' });
    expect(Number(r.sec.get('now')) - Date.now() / 1000).to.be.within(997, 1003);
  });

  it('inspect prints the commit record\'s read-back, the history and the pruned line as sections (one awk); counters only when asked', () => {
    mkdirSync(lib('20260101T110000Z-aaaaaa'), { recursive: true });
    writeFileSync(lib('last'), '20260101T110000Z-aaaaaa\n');
    writeFileSync(lib('20260101T110000Z-aaaaaa', 'applied'), RESOLVED);
    writeFileSync(lib('history'), history('20260101T110000Z-aaaaaa', 'committed'));
    writeFileSync(lib('pruned'), history('20260101T000000Z-000001', 'aborted'));
    const run = (backend: 'iptables' | 'nftables', args: number[]) => {
      const m = /^sh -c '([\s\S]*)' natchain (.*)$/.exec(remoteCall('inspect', NONCE, backend, null, args).command)!;
      const script = m[1]!
        .replace(/'\\''/g, "'")
        .replace('D=/var/lib/natchain', `D=${root}/lib`)
        .replace('R=/run/natchain', `R=${root}/run`)
        .replace('dump() {', "dump() { printf 'x\\n'; }\nreal_dump() {")
        .replace('facts() {', 'facts() { :; }\nreal_facts() {')
        .replace('ruleset() {', 'ruleset() { :; }\nreal_ruleset() {')
        .replace('counters() {', "counters() { echo counted; }\nreal_counters() {");
      const r = spawnSync('sh', ['-c', script, 'natchain', ...m[2]!.split(' ').map((w) => w.replace(/^'|'$/g, ''))], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      return parseSections(r.stdout, NONCE);
    };
    const sec = run('iptables', [0]);
    expect(sec.get('committed')).to.equal(RESOLVED);
    expect(sec.get('history')).to.equal(history('20260101T110000Z-aaaaaa', 'committed'));
    expect(sec.get('pruned')).to.equal(history('20260101T000000Z-000001', 'aborted'));
    expect(sec.has('counters')).to.equal(false);
    expect(run('iptables', []).get('counters')).to.equal('counted\n');
  });

  it('input cut short: nothing staged counts, the lock is released and the history line names the meta (either order of its keys)', () => {
    const tx = '20260101T120000Z-dddddd';
    // An older natchain wrote the rollout after the member list: still read.
    const r = prepare(tx, 'h1', DUMP, { meta: 'kind=apply\nowner=root@ops:7\ntopology=abc123\nmembers=gw-a gw-b\nrollout=20260101T115959Z-ffffff', new: TEMPLATE });
    expect(r.status).to.equal(3);
    expect(r.sec.get('error')).to.equal('the staged ruleset did not arrive whole; nothing was changed\n');
    expect(existsSync(join(root, 'run', 'lock')), 'lock released').to.equal(false);
    expect(readFileSync(lib(tx, 'state'), 'utf8')).to.equal('aborted\n');
    const line = readFileSync(lib('history'), 'utf8').split('\t');
    expect([line[0], line[2], line[3], line[4], line[5], line[6]]).to.deep.equal([tx, 'root@ops:7', 'apply', 'aborted', 'abc123', '20260101T115959Z-ffffff\n']);
  });
});
