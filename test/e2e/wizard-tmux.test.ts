// The wizard driven by keystrokes in a real terminal (tmux, 80x24), against real gateways in the
// lab: add a site-to-site forward to a copy of seed-vpn.yaml, save, apply from the wizard, prove it
// with traffic; change its port, apply, traffic on the new port only; remove it, apply, refused.
// Ctrl-C (or Escape) in the middle of each flow leaves the topology and its lock byte-identical.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addForwards } from '../../src/author/forwards.js';
import { compile } from '../../src/compile.js';
import { labProbe } from '../../src/lab/index.js';
import { natchain } from '../support/cli.js';
import { labUnavailable, sourcePort, useLab } from '../support/lab.js';
import { Terminal } from '../support/tmux.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const SEED = readFileSync('topologies/seed-vpn.yaml', 'utf8');
const TARGET = '10.0.1.50';

const hash = (f: string) => (existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : 'absent');

describe('wizard: without a lab', function () {
  this.timeout(60_000);
  let dir: string;
  const terms: Terminal[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-wiz-'))));
  after(() => {
    for (const t of terms) t.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const term = (...args: string[]) => {
    const t = new Terminal([process.execPath, MAIN, 'wizard', ...args], { cwd: dir });
    terms.push(t);
    return t;
  };

  it('without a terminal: exit 64, pointing at natchain forward', () => {
    copyFileSync('topologies/seed-vpn.yaml', join(dir, 'seed.yaml'));
    const r = natchain(['wizard', join(dir, 'seed.yaml')]);
    expect(r.code).to.equal(64);
    expect(r.stderr).to.contain('natchain forward add|edit|rm|list|import');
  });

  it('a topology with errors is refused before any question, with file:line:col (exit 1)', async () => {
    writeFileSync(join(dir, 'bad.yaml'), SEED.replace('site: site-a', 'site: site-x'));
    const t = term('bad.yaml');
    expect(await t.exitCode()).to.equal(1);
    const s = t.history();
    expect(s).to.match(/bad\.yaml:20:\d+: unknown site "site-x"/);
    expect(s).to.not.contain('What now?');
  });

  it('a file that does not exist: offers init, writes the starter, goes on to the menu; Escape there quits writing nothing more', async () => {
    const t = term('new.yaml');
    await t.waitFor(/new\.yaml does not exist\. Create it\?/);
    t.keys('Enter');
    await t.waitFor(/new\.yaml: 0 forwards\. What now\?/);
    expect(compile(readFileSync(join(dir, 'new.yaml'), 'utf8'), 'new.yaml').topology.gateways).to.have.length(1);
    const h = hash(join(dir, 'new.yaml'));
    t.keys('Escape');
    expect(await t.exitCode()).to.equal(130);
    expect(hash(join(dir, 'new.yaml'))).to.equal(h);
    expect(t.history()).to.contain('nothing more was written (saved before: new.yaml)');
  });

  it('a forward from the internet: asks the allow-list and the exposure (offering an address and a free port), writes both', async () => {
    const file = join(dir, 'inet.yaml');
    copyFileSync('topologies/seed-vpn.yaml', file);
    const t = term('inet.yaml');
    await t.waitFor(/What now\?/);
    t.keys('Enter');
    await t.waitFor(/Who connects\?/);
    t.keys('Down', 'Down', 'Space', 'Enter');
    await t.waitFor(/Only these clients on internet.*\n.*empty: any client may connect/);
    t.type('203.0.113.7 203.0.113.1/24');
    await t.waitFor(/has host bits set; the prefix is 203\.0\.113\.0\/24/);
    t.keys(...Array<string>(14).fill('BSpace'));
    await t.waitFor(/only 203\.0\.113\.7 may connect/);
    t.keys('Enter');
    await t.waitFor(/Target host:port/);
    t.type('10.0.1.50:80');
    t.keys('Enter');
    await t.waitFor(/Protocol:/);
    t.keys('Enter');
    // natchain would enter at gw-b (closest to the target); port 80 is free there.
    await t.waitFor(/Address:port clients dial \(exposed\): \(143\.89\.135\.171:80\)/);
    t.keys('Enter');
    await t.waitFor(/Name of the forward: \(web-50\)/);
    t.keys('Enter');
    await t.waitFor(/Let clients in site-b \(the target's own site\) use 143\.89\.135\.171:80/);
    t.keys('Enter');
    await t.waitFor(/Now\?[\s\S]*Save/);
    expect(t.history()).to.contain('from internet [203.0.113.7/32]: dials 143.89.135.171:80 tcp');
    t.keys('Enter');
    await t.waitFor(/saved .*inet\.yaml/);
    expect(readFileSync(file, 'utf8')).to.contain('  web-50:\n    from: [{ internet: [203.0.113.7] }]\n    to: 10.0.1.50:80\n    proto: tcp\n    expose: 143.89.135.171:80\n');
    t.keys('Enter');
    await t.waitFor(/inet\.yaml: 2 forwards\. What now\?/);
    t.keys('Down', 'Down', 'Down', 'Enter');
    await t.waitFor(/web-50 {2}internet \[203\.0\.113\.7\/32\] -> 10\.0\.1\.50:80 tcp {2}exposed 143\.89\.135\.171:80\n {4}internet: gw-b/);
    t.keys('Escape');
    expect(await t.exitCode()).to.equal(130);
  });

  it('a file that does not exist, Ctrl-C at the offer: nothing is created, exit 130', async () => {
    const t = term('never.yaml');
    await t.waitFor(/Create it\?/);
    t.keys('C-c');
    expect(await t.exitCode()).to.equal(130);
    expect(t.history()).to.contain('natchain: wizard cancelled: nothing was written');
    expect(existsSync(join(dir, 'never.yaml'))).to.equal(false);
  });
});

describe('wizard: add, edit, remove in a real terminal, applied to lab gateways, proven with traffic', function () {
  this.timeout(300_000);
  // The lab is seed-vpn plus a server in site-b listening on 8080 and 8081 and a client in site-a:
  // built from two extra forwards that the wizard's own copy of seed-vpn.yaml does not have.
  const labText = addForwards(SEED, [
    { name: 'lab-8080', from: ['site-a'], to: `${TARGET}:8080`, proto: 'tcp' },
    { name: 'lab-8081', from: ['site-a'], to: `${TARGET}:8081`, proto: 'tcp' },
  ]);
  const f = useLab(() => compile(labText, 'lab.yaml').topology, 'au-wiz');
  let dir: string;
  let file: string;
  let lock: string;
  const terms: Terminal[] = [];
  before(async function () {
    if (await labUnavailable()) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'natchain-wizlab-'));
    file = join(dir, 'site.yaml');
    lock = join(dir, 'site.lock');
    copyFileSync('topologies/seed-vpn.yaml', file);
  });
  after(() => {
    for (const t of terms) t.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const wizard = () => {
    const t = new Terminal([process.execPath, MAIN, 'wizard', 'site.yaml', '-F', f.lab.sshConfig, '--state-dir', join(dir, 'state')], { cwd: dir });
    terms.push(t);
    return t;
  };
  const hashes = () => [hash(file), hash(lock)];
  const client = () => f.lab.hosts.find((h) => h.forwards.includes('lab-8080:site-a'))!.name;
  const probe = (port: number) => labProbe(f.lab, client(), { proto: 'tcp', address: TARGET, port, sourcePort: sourcePort(), timeoutMs: 2000 });
  /** Cancels with a key and checks: exit 130, the one line, both files as they were. */
  const cancelled = async (t: Terminal, key: string, before: string[]) => {
    t.keys(key);
    expect(await t.exitCode()).to.equal(130);
    expect(t.history()).to.match(/natchain: wizard cancelled: nothing was written\n/);
    expect(hashes()).to.deep.equal(before);
  };
  /** From the menu to the target question of a new forward from site-a. */
  const toTargetQuestion = async (t: Terminal) => {
    await t.waitFor(/What now\?/);
    t.keys('Enter');
    await t.waitFor(/Who connects\?/);
    t.keys('Space', 'Enter');
    await t.waitFor(/Target host:port/);
  };
  /** After "save": apply now, answer yes, wait for the commit and the menu. */
  const applyNow = async (t: Terminal) => {
    await t.waitFor(/Next\?/);
    t.keys('Down', 'Down', 'Enter');
    await t.waitFor(/apply these changes on \d+ gateway/, 60_000);
    t.type('y');
    t.keys('Enter');
    await t.waitFor(/committed[\s\S]*What now\?/, 120_000);
  };
  /** From the menu to the target question of the second forward (the wizard's), through "change which answer". */
  const toEditTarget = async (t: Terminal) => {
    await t.waitFor(/What now\?/);
    t.keys('Down', 'Enter');
    await t.waitFor(/Which forward\?/);
    t.keys('Down', 'Enter');
    await t.waitFor(/Change which answer\?/);
    t.keys('Down', 'Down', 'Enter');
  };
  /** From the menu to the review of the second forward's removal. */
  const toRemoveReview = async (t: Terminal) => {
    await t.waitFor(/What now\?/);
    t.keys('Down', 'Down', 'Enter');
    await t.waitFor(/Remove which forward\?/);
    t.keys('Down', 'Enter');
    await t.waitFor(/Now\?[\s\S]*Remove it/);
  };
  const quit = async (t: Terminal) => {
    t.keys('Up', 'Enter');
    expect(await t.exitCode()).to.equal(0);
  };

  it('a file that does not exist: the wizard offers discovery, reads the lab gateways, goes on with the proposal', async () => {
    const t = new Terminal([process.execPath, MAIN, 'wizard', 'found.yaml', '-F', f.lab.sshConfig], { cwd: dir });
    terms.push(t);
    await t.waitFor(/found\.yaml does not exist\. Create it\?/);
    t.keys('Down', 'Enter');
    await t.waitFor(/Gateways to read/);
    t.type('gw-a gw-b');
    t.keys('Enter');
    await t.waitFor(/found\.yaml: 0 forwards\. What now\?/, 60_000);
    const found = compile(readFileSync(join(dir, 'found.yaml'), 'utf8'), 'found.yaml').topology;
    expect(found.gateways.map((g) => g.interfaces.map((i) => `${g.name} ${i.name} ${i.address}/${i.prefix}`)).flat().sort()).to.deep.equal(
      f.topology.gateways.flatMap((g) => g.interfaces.map((i) => `${g.name} ${i.name} ${i.address}/${i.prefix}`)).sort(),
    );
    t.keys('Escape');
    expect(await t.exitCode()).to.equal(130);
  });

  it('before anything: no traffic from site-a to the server', async () => {
    expect((await probe(8080)).ok).to.equal(false);
  });

  it('Ctrl-C in the middle of adding: both files byte-identical, exit 130, one line', async () => {
    const before = hashes();
    const t = wizard();
    await toTargetQuestion(t);
    t.type(`${TARGET}:80`);
    await t.waitFor(/is in site site-b/);
    await cancelled(t, 'C-c', before);
  });

  it('adds a site-to-site forward by keystrokes, saves, applies from the wizard: the traffic flows', async () => {
    const t = wizard();
    await toTargetQuestion(t);
    t.type(`${TARGET}:808`);
    await t.waitFor(/10\.0\.1\.50 is in site site-b \(gateway gw-b\)/);
    t.type('0');
    t.keys('Enter');
    await t.waitFor(/Protocol:/);
    t.keys('Enter');
    await t.waitFor(/Name of the forward: \(http-50\)/);
    t.keys('Enter');
    const review = await t.waitFor(/Now\?[\s\S]*Save \(writes site\.yaml and its lock\)/);
    expect(review).to.contain('the server 10.0.1.50:8080 sees source 143.89.197.180 (SNAT by gw-a)');
    expect(review).to.match(/^1 forward changed, 2 gateways touched, 5 rules added, 0 removed/m);
    expect(t.history()).to.match(/gw-a \(iptables\): \+3 -0 rules/);
    t.keys('Enter');
    await t.waitFor(/saved site\.yaml and .*site\.lock/);
    expect(readFileSync(file, 'utf8')).to.equal(SEED.replace('# The lab builds', '  http-50:\n    from: site-a\n    to: 10.0.1.50:8080\n    proto: tcp\n# The lab builds'));
    await applyNow(t);
    await quit(t);
    const r = await probe(8080);
    expect(r.ok, JSON.stringify(r)).to.equal(true);
    if (r.ok) expect(r.fields).to.include({ port: '8080', peer: '143.89.197.180' });
  });

  it('Escape in the middle of editing: both files byte-identical, exit 130', async () => {
    const before = hashes();
    const t = wizard();
    await toEditTarget(t);
    await t.waitFor(/Target host:port/);
    t.type(`${TARGET}:8081`);
    await t.waitFor(/is in site site-b/);
    await cancelled(t, 'Escape', before);
  });

  it('edits it (the port), applies: traffic on the new port, the old port refused', async () => {
    const t = wizard();
    await toEditTarget(t);
    await t.waitFor(/Target host:port.*\(10\.0\.1\.50:8080\)/);
    t.type(`${TARGET}:8081`);
    await t.waitFor(/is in site site-b/);
    t.keys('Enter');
    await t.waitFor(/Change which answer\?[\s\S]*target: 10\.0\.1\.50:8081/);
    t.keys('Enter');
    await t.waitFor(/Now\?[\s\S]*Save/);
    t.keys('Enter');
    await t.waitFor(/saved site\.yaml/);
    expect(readFileSync(file, 'utf8')).to.contain('    to: 10.0.1.50:8081\n');
    await applyNow(t);
    await quit(t);
    const [now, old] = [await probe(8081), await probe(8080)];
    expect(now.ok, JSON.stringify(now)).to.equal(true);
    expect(old.ok).to.equal(false);
  });

  it('Ctrl-C at the review of a removal: both files byte-identical, exit 130', async () => {
    const before = hashes();
    const t = wizard();
    await toRemoveReview(t);
    await cancelled(t, 'C-c', before);
  });

  it('removes it, applies: the forward is gone from the file, its port freed, traffic refused', async () => {
    const t = wizard();
    await toRemoveReview(t);
    expect(t.history()).to.match(/- http-50 gw-b\/143\.89\.135\.171 \d+ \(freed\)/);
    t.keys('Enter');
    await t.waitFor(/saved site\.yaml/);
    expect(readFileSync(file, 'utf8')).to.equal(SEED);
    await applyNow(t);
    await quit(t);
    expect((await probe(8081)).ok).to.equal(false);
  });
});
