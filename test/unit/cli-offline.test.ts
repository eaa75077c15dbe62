import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderRuleset } from '../../src/render/index.js';
import { solve } from '../../src/solve/index.js';
import { natchain } from '../support/cli.js';
import { example } from '../support/topo.js';

describe('cli: offline commands (compiled binary)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validate: exit 0 for every example topology', () => {
    const r = natchain(['validate', 'topologies/seed-portforward.yaml', 'topologies/seed-vpn.yaml', 'topologies/three-hop.yaml', 'topologies/hub-vpn.yaml']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('valid topologies/seed-vpn.yaml: 2 sites, 1 networks, 2 gateways, 1 forwards');
  });

  it('validate: exit 1 with every error as file:line:col, and nothing on stdout', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'sites:\n  a: { subnets: [10.0.0.0/24] }\n  b: { subnets: [10.0.0.0/25] }\ngateways:\n  g:\n    interfaces:\n      eth0: { address: 10.0.0.1, site: a }\n      eth1: { address: 10.9.0.1, site: c }\n');
    const r = natchain(['validate', bad]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.contain(`${bad}:3:18: subnet 10.0.0.0/25 overlaps site "a"'s 10.0.0.0/24`);
    expect(r.stderr).to.contain(`${bad}:8:40: unknown site "c"`);
  });

  it('validate --json reports errors as data', () => {
    const bad = join(dir, 'bad2.yaml');
    writeFileSync(bad, 'sites: {}\ngateways: {}\nforwards:\n  f: { from: x, to: "10.0.0.1:22" }\n');
    const r = natchain(['validate', '--json', bad]);
    expect(r.code).to.equal(1);
    const [doc, ...more] = JSON.parse(r.stdout);
    expect(more).to.deep.equal([]);
    expect(doc.valid).to.equal(false);
    expect(doc.errors[0]).to.deep.include({ file: bad, line: 4, col: 14 });
  });

  it('--json failures are one JSON document on stdout too', () => {
    const r = natchain(['solve', '--json', join(dir, 'nope.yaml')]);
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stdout)).to.deep.equal({ error: { code: 'FILE_NOT_FOUND', message: `cannot read ${join(dir, 'nope.yaml')}: no such file or directory`, details: [] } });
    const bad = join(dir, 'bad3.yaml');
    writeFileSync(bad, 'sites: {}\ngateways: {}\nforwards:\n  f: { from: x, to: "10.0.0.1:22" }\n');
    const t = JSON.parse(natchain(['render', '--json', bad]).stdout);
    expect(t.error.code).to.equal('TOPOLOGY_INVALID');
    expect(t.error.diagnostics[0]).to.deep.include({ file: bad, line: 4, col: 14 });
  });

  it('a missing file is a clear error, exit 1', () => {
    const r = natchain(['solve', join(dir, 'nope.yaml')]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/natchain: cannot read .*nope\.yaml: no such file/);
  });

  it('solve: the chain hop by hop, ports and rules; --json matches the library', () => {
    const r = natchain(['solve', 'topologies/seed-vpn.yaml']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/1\. gw-b in eth1 +10\.0\.0\.12:22 +DNAT 143\.89\.197\.180:22012 out eth0 over internet \(public\) SNAT 143\.89\.135\.171/);
    expect(r.stdout).to.contain('from site-b: dials 10.0.0.12:22, 2 gateways, the target sees 143.89.135.171');
    // Seed 001 joins its sites over the internet only: allowed, warned about; --strict makes it an error.
    expect(r.stderr).to.match(/seed-vpn\.yaml:\d+:\d+: warning: forward "ssh-12": the chain from site-b crosses public network internet/);
    const strict = natchain(['solve', 'topologies/seed-vpn.yaml', '--strict']);
    expect(strict.code).to.equal(1);
    expect(strict.stderr).to.include('(a warning; --strict makes it an error)');
    // The same for validate (1: invalid) and diff (2: trouble); without --strict both pass with the warning.
    const v = natchain(['validate', 'topologies/seed-vpn.yaml']);
    expect([v.code, v.stderr]).to.deep.equal([0, v.stderr.includes('warning: forward "ssh-12"') ? v.stderr : 'no warning']);
    expect(natchain(['validate', 'topologies/seed-vpn.yaml', '--strict']).code).to.equal(1);
    expect(natchain(['diff', 'topologies/seed-vpn.yaml', 'topologies/seed-vpn.yaml']).code).to.equal(0);
    expect(natchain(['diff', 'topologies/seed-vpn.yaml', 'topologies/seed-vpn.yaml', '--strict']).code).to.equal(2);
    expect(r.stdout).to.contain('port gw-a 143.89.197.180:22012 (exposed)');
    expect(r.stdout).to.contain('net.ipv4.ip_forward=1');
    expect(r.stdout).to.not.match(/\x1b\[/); // NO_COLOR
    const j = JSON.parse(natchain(['solve', 'topologies/seed-vpn.yaml', '--json']).stdout);
    expect(j.chains).to.deep.equal(JSON.parse(JSON.stringify(solve(example('seed-vpn')).chains)));
  });

  it('solve --forward filters, and an unknown forward is a usage error (64)', () => {
    const r = natchain(['solve', 'topologies/three-hop.yaml', '--forward', 'db']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain('forward db');
    expect(r.stdout).to.not.contain('forward dns');
    const bad = natchain(['solve', 'topologies/three-hop.yaml', '--forward', 'nope']);
    expect(bad.code).to.equal(64);
    expect(bad.stderr).to.contain('no forward "nope"');
  });

  it('render prints exactly the library rendering, per backend', () => {
    const t = example('seed-vpn');
    const s = solve(t);
    const gwB = t.gateways.find((g) => g.name === 'gw-b')!;
    const r = natchain(['render', 'topologies/seed-vpn.yaml', '--gateway', 'gw-b']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(renderRuleset(gwB, s.intents['gw-b']!));
    const n = natchain(['render', 'topologies/seed-vpn.yaml', '--gateway', 'gw-b', '--backend', 'nftables']);
    expect(n.stdout).to.equal(renderRuleset({ ...gwB, backend: 'nftables' }, s.intents['gw-b']!));
    expect(n.stdout).to.contain('table ip natchain');
  });

  it('render: unknown gateway and bad backend are usage errors', () => {
    expect(natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-z']).code).to.equal(64);
    expect(natchain(['render', 'topologies/seed-vpn.yaml', '-g', 'gw-a', '-b', 'pf']).code).to.equal(64);
  });

  it('lock writes the picked ports, --check tells CI whether it is current, and solve then uses them', () => {
    const file = join(dir, 'three-hop.yaml');
    copyFileSync('topologies/three-hop.yaml', file);
    expect(natchain(['lock', '--check', file]).code).to.equal(1);
    const w = natchain(['lock', file]);
    expect(w.code, w.stderr).to.equal(0);
    expect(w.stdout).to.match(/\+ db: gw-dc 10\.250\.0\.2:\d+/);
    const lock = readFileSync(join(dir, 'three-hop.lock'), 'utf8');
    expect(lock).to.match(/^# natchain port lock/);
    expect(natchain(['lock', '--check', file]).code).to.equal(0);
    // Pin a locked port elsewhere by editing the lock: solve must honour the lock, not recompute.
    const edited = lock.replace(/gw-dc\/10\.250\.0\.2: \d+/, 'gw-dc/10.250.0.2: 21234');
    writeFileSync(join(dir, 'three-hop.lock'), edited);
    const j = JSON.parse(natchain(['solve', file, '--json']).stdout);
    const a = j.allocations.find((x: { forward: string; gateway: string }) => x.forward === 'db' && x.gateway === 'gw-dc');
    expect(a).to.deep.include({ origin: 'lock', ports: { from: 21234, to: 21234 } });
    expect(existsSync(join(dir, 'three-hop.lock'))).to.equal(true);
  });

  it('a malformed lock is reported with its position, not ignored', () => {
    const file = join(dir, 'seed-vpn.yaml');
    copyFileSync('topologies/seed-vpn.yaml', file);
    writeFileSync(join(dir, 'seed-vpn.lock'), 'version: 1\nports:\n  ssh-12:\n    gw-a/1.2.3.4: lots\n');
    const r = natchain(['solve', file]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`${join(dir, 'seed-vpn.lock')}:4:19: expected a port number`);
  });

  it('every command has --help with examples', () => {
    const top = natchain(['--help']).stdout;
    const names = [...top.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((n) => n !== 'help');
    expect(names).to.include.members(['validate', 'solve', 'render', 'lock']);
    for (const name of names) {
      const h = natchain([name, '--help']);
      expect(h.code, name).to.equal(0);
      expect(h.stdout, name).to.match(/Examples?:/);
    }
  });
});
