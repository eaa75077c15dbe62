import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compile.js';
import { parseLock } from '../../src/solve/index.js';
import { natchain } from '../support/cli.js';

const hash = (f: string) => (existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : 'absent');

describe('cli: natchain forward (compiled binary)', () => {
  let dir: string;
  let topo: string;
  let lock: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-fwd-'));
    topo = join(dir, 'seed-vpn.yaml');
    lock = join(dir, 'seed-vpn.lock');
    copyFileSync('topologies/seed-vpn.yaml', topo);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const unchanged = (fn: () => void) => {
    const before = [hash(topo), hash(lock)];
    fn();
    expect([hash(topo), hash(lock)]).to.deep.equal(before);
  };

  it('add: prints the chain, warnings and rule diff, writes the topology in place and the lock', () => {
    const original = readFileSync(topo, 'utf8');
    const r = natchain(['forward', 'add', topo, 'web-80', '--from', 'site-a', '--to', '10.0.1.13:80']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('add forward web-80');
    expect(r.stdout).to.match(/1\. gw-a: in eth1 \(site-a\), out eth0 \(internet, public\)/);
    expect(r.stdout).to.contain('the server 10.0.1.13:80 sees source 143.89.197.180 (SNAT by gw-a)');
    expect(r.stdout).to.contain('crosses public network internet');
    expect(r.stdout).to.match(/gw-b \(iptables\): \+2 -0 rules/);
    expect(r.stdout).to.contain(`wrote ${topo} and ${lock}`);
    const text = readFileSync(topo, 'utf8');
    expect(text.startsWith(original.slice(0, original.indexOf('# The lab builds')))).to.equal(true);
    expect(text).to.contain('  web-80:\n    from: site-a\n    to: 10.0.1.13:80\n    proto: tcp\n# The lab builds');
    const l = parseLock(readFileSync(lock, 'utf8'), lock);
    expect(Object.keys(l.ports['web-80']!)).to.deep.equal(['gw-b/143.89.135.171']);
    compile(text, topo, l);
  });

  it('writes through a symlink (the link stays) and keeps the file mode', () => {
    const real = join(dir, 'real.yaml');
    copyFileSync(topo, real);
    chmodSync(real, 0o640);
    rmSync(topo);
    symlinkSync(real, topo);
    const r = natchain(['forward', 'add', topo, 'web-80', '--from', 'site-a', '--to', '10.0.1.13:80']);
    expect(r.code, r.stderr).to.equal(0);
    expect(lstatSync(topo).isSymbolicLink()).to.equal(true);
    expect(readFileSync(real, 'utf8')).to.contain('web-80:');
    expect(statSync(real).mode & 0o777).to.equal(0o640);
  });

  it('--dry-run and --json write nothing; the JSON has chains, allocations, gateways', () => {
    unchanged(() => {
      const r = natchain(['forward', 'add', topo, 'web-80', '--from', 'site-a', '--to', '10.0.1.13:80', '--dry-run', '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const j = JSON.parse(r.stdout);
      expect(j).to.include({ action: 'add', dryRun: true });
      expect(j.written).to.deep.equal([]);
      expect(j.chains[0].hops.map((h: { gateway: string }) => h.gateway)).to.deep.equal(['gw-a', 'gw-b']);
      expect(j.gateways.map((g: { gateway: string }) => g.gateway)).to.deep.equal(['gw-a', 'gw-b']);
      expect(j.lock.added).to.have.length(1);
    });
  });

  for (const [what, args, message] of [
    ['unknown site', ['--from', 'site-c', '--to', '10.0.1.13:80'], '--from: unknown source "site-c": expected a site, a network or a subnet; did you mean "site-a"?'],
    ['address in no site', ['--from', 'site-a', '--to', '10.9.0.1:80'], "--to: target 10.9.0.1 is in no site's subnet"],
    ['port 0', ['--from', 'site-a', '--to', '10.0.1.13:0'], '--to: port 0 is outside 1-65535'],
    ['port 65536', ['--from', 'site-a', '--to', '10.0.1.13:65536'], '--to: port 65536 is outside 1-65535'],
    ['clashing exposure', ['--from', 'internet', '--to', '10.0.0.13:22', '--expose', '143.89.197.180:22012'], '22012'],
  ] as const) {
    it(`bad value (${what}): exit 1, a clear message, nothing written`, () => {
      unchanged(() => {
        const r = natchain(['forward', 'add', topo, 'x', ...args]);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.contain(message);
        expect(r.stderr).to.contain('nothing was written');
      });
    });
  }

  it('bad value (duplicate name): exit 1, nothing written', () => {
    unchanged(() => {
      const r = natchain(['forward', 'add', topo, 'ssh-12', '--from', 'site-a', '--to', '10.0.1.13:80']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('forward ssh-12: <name>: a forward named "ssh-12" already exists');
    });
  });

  it('a topology with errors: exit 1 with file:line:col, nothing written', () => {
    writeFileSync(topo, readFileSync(topo, 'utf8').replace('site: site-a', 'site: site-x'));
    unchanged(() => {
      const r = natchain(['forward', 'rm', topo, 'ssh-12']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`${topo}:20:\\d+: unknown site "site-x"`));
    });
  });

  it('edit changes the port; rm frees the ports; list shows name, from, to, proto, exposure, chain', () => {
    expect(natchain(['forward', 'add', topo, 'web-80', '--from', 'site-a', '--to', '10.0.1.13:80']).code).to.equal(0);
    const port = parseLock(readFileSync(lock, 'utf8'), lock).ports['web-80'];
    const e = natchain(['forward', 'edit', topo, 'web-80', '--to', '10.0.1.13:8080']);
    expect(e.code, e.stderr).to.equal(0);
    expect(readFileSync(topo, 'utf8')).to.contain('    to: 10.0.1.13:8080\n');
    expect(parseLock(readFileSync(lock, 'utf8'), lock).ports['web-80']).to.deep.equal(port);
    const l = natchain(['forward', 'list', topo]);
    expect(l.stdout).to.match(/ssh-12 +site-b,internet +10\.0\.0\.12:22 +tcp +143\.89\.197\.180:22012 +site-b: gw-b>gw-a; internet: gw-a/);
    expect(l.stdout).to.match(/web-80 +site-a +10\.0\.1\.13:8080 +tcp +- +site-a: gw-a>gw-b/);
    const j = JSON.parse(natchain(['forward', 'list', topo, '--json']).stdout);
    expect(j.forwards.map((f: { name: string }) => f.name)).to.deep.equal(['ssh-12', 'web-80']);
    const r = natchain(['forward', 'rm', topo, 'web-80']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('(freed)');
    expect(readFileSync(topo, 'utf8')).to.equal(readFileSync('topologies/seed-vpn.yaml', 'utf8'));
    expect(parseLock(readFileSync(lock, 'utf8'), lock).ports['web-80']).to.equal(undefined);
  });

  it('add --allow writes the allow-list form of the network source; edit keeps it as written', () => {
    const r = natchain(['forward', 'add', topo, 'web', '--from', 'internet', '--to', '10.0.1.50:80', '--allow', '203.0.113.0/24', '198.51.100.7', '--expose', '143.89.135.171:8080']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('from internet [203.0.113.0/24, 198.51.100.7/32]');
    expect(readFileSync(topo, 'utf8')).to.contain('    from: [{ internet: [203.0.113.0/24, 198.51.100.7] }]\n');
    expect(natchain(['forward', 'edit', topo, 'web', '--to', '10.0.1.50:81']).code).to.equal(0);
    expect(readFileSync(topo, 'utf8')).to.contain('    from: [{ internet: [203.0.113.0/24, 198.51.100.7] }]\n    to: 10.0.1.50:81\n');
    const bad = natchain(['forward', 'add', topo, 'x', '--from', 'internet', '--to', '10.0.1.50:82', '--allow', '203.0.113.1/24']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('--allow: "203.0.113.1/24" has host bits set; the prefix is 203.0.113.0/24');
    expect(natchain(['forward', 'edit', topo, 'web', '--no-allow']).code).to.equal(0);
    expect(readFileSync(topo, 'utf8')).to.contain('    from: internet\n');
  });

  it('import CSV: all forwards in one edit', () => {
    const csv = join(dir, 'new.csv');
    writeFileSync(csv, 'name,from,to,proto,expose,hairpin,allow\n# a comment\nweb-80,site-a,10.0.1.13:80,tcp,,,\ndns,"site-a;internet",10.0.1.53:53,both,143.89.135.171:53,,203.0.113.0/24\n');
    const r = natchain(['forward', 'import', topo, csv]);
    expect(r.code, r.stderr).to.equal(0);
    expect(readFileSync(topo, 'utf8')).to.contain('    from: [site-a, { internet: [203.0.113.0/24] }]\n');
    expect(compile(readFileSync(topo, 'utf8'), topo).topology.forwards.map((f) => f.name)).to.deep.equal(['ssh-12', 'web-80', 'dns']);
  });

  it('import: one error anywhere writes nothing, every error reported with its input line', () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'name,from,to,proto\nok,site-a,10.0.1.13:80,tcp\nbad-site,site-c,10.0.1.13:81,tcp\nok2,site-a,10.0.1.13:82,tcp\nbad-port,site-a,10.0.1.13:0,tcp\nssh-12,site-a,10.0.1.13:83,tcp\n');
    unchanged(() => {
      const r = natchain(['forward', 'import', topo, csv]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`3 problems in ${csv}; nothing was imported`);
      expect(r.stderr).to.contain(`${csv}:3: from: unknown source "site-c"`);
      expect(r.stderr).to.contain(`${csv}:5: to: port 0 is outside 1-65535`);
      expect(r.stderr).to.contain(`${csv}:6: name: a forward named "ssh-12" already exists`);
    });
    const yml = join(dir, 'bad.yaml');
    writeFileSync(yml, 'forwards:\n  a: { from: site-a, to: 10.0.1.13:80 }\n  b:\n    from: site-a\n    to: 10.0.1.13:80\n    proto: sctp\n  c: { from: site-a, to: 10.0.1.13:81, color: red }\n');
    unchanged(() => {
      const r = natchain(['forward', 'import', topo, yml]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`${yml}:3: proto must be tcp, udp or both, not "sctp"`);
      expect(r.stderr).to.contain(`${yml}:7: unknown field "color"`);
    });
  });

  it('import YAML: the forwards map as a topology writes it', () => {
    const yml = join(dir, 'new.yaml');
    writeFileSync(yml, 'web-80: { from: site-a, to: 10.0.1.13:80 }\nweb-81:\n  from: [site-a]\n  to: 10.0.1.13:81\n  proto: udp\n');
    const r = natchain(['forward', 'import', topo, yml, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).forwards).to.deep.equal(['web-80', 'web-81']);
  });
});
