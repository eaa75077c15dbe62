import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { natchain } from '../support/cli.js';

const MESH = 'test/fixtures/diff/mesh.yaml';

describe('cli: diff (compiled binary)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-diff-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exit 0 and "no difference" when nothing changed (reordered keys, comments)', () => {
    const r = natchain(['diff', MESH, 'test/fixtures/diff/mesh-reordered.yaml']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trimEnd().split('\n').at(-1)).to.equal('no difference');
  });

  it('exit 1 with the sections and the summary when something changed', () => {
    const b = join(dir, 'b.yaml');
    writeFileSync(b, readFileSync(MESH, 'utf8').replace('expose: 198.51.100.3:80', 'expose: 198.51.100.3:8080'));
    const r = natchain(['diff', MESH, b]);
    expect(r.code, r.stderr).to.equal(1);
    for (const s of ['Review carefully', 'Model changes', 'Chain changes', 'Gateway impact']) expect(r.stdout).to.contain(s);
    expect(r.stdout).to.contain('breaks clients that use it');
    expect(r.stdout).not.to.match(/\x1b\[/); // NO_COLOR
    const q = natchain(['diff', '-q', MESH, b]);
    expect(q.code).to.equal(1);
    expect(q.stdout.trimEnd().split('\n')).to.have.length(2);
  });

  it('--json: one document with the documented shape', () => {
    const b = join(dir, 'c.yaml');
    writeFileSync(b, readFileSync(MESH, 'utf8').replace('  gw-a:\n    interfaces:', '  gw-a:\n    backend: nftables\n    interfaces:'));
    const r = natchain(['diff', '--json', MESH, b]);
    expect(r.code, r.stderr).to.equal(1);
    const d = JSON.parse(r.stdout);
    expect(Object.keys(d)).to.deep.equal(['old', 'new', 'identical', 'summary', 'flags', 'model', 'chains', 'unsolved', 'gateways', 'unlocked']);
    expect(d.old).to.deep.equal({ label: MESH, lock: null });
    expect(d.flags[0]).to.include({ kind: 'backend-changed', gateway: 'gw-a' });
    expect(d.gateways.filter((g: { gateway: string }) => g.gateway === 'gw-a').map((g: { backend: string; change: string }) => `${g.backend} ${g.change}`)).to.deep.equal([
      'iptables removed',
      'nftables added',
    ]);
    expect(d.summary).to.have.keys(['forwardsChanged', 'gatewaysTouched', 'rulesAdded', 'rulesRemoved', 'flags', 'text']);
  });

  it('exit 2 with file:line:col for an invalid topology or an unreadable file; 64 for usage errors, as every command', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(MESH, 'utf8').replace('to: 10.3.0.10:8080', 'to: 10.3.0.10:99999'));
    const r = natchain(['diff', MESH, bad]);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(new RegExp(`${bad}:\\d+:\\d+: `));
    expect(natchain(['diff', MESH, join(dir, 'missing.yaml')]).code).to.equal(2);
    expect(natchain(['diff', MESH]).code).to.equal(64);
    expect(natchain(['diff', '--bogus', MESH, MESH]).code).to.equal(64);
    expect(natchain(['diff', '-U', 'x', MESH, MESH]).code).to.equal(64);
  });

  it('--help has examples, and exits 0', () => {
    const r = natchain(['diff', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain('Examples:');
    expect(r.stdout).to.contain('HEAD~1:topologies/seed-vpn.yaml');
  });
});
