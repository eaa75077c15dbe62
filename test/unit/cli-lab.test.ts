// `natchain lab ...` given a name that does not exist (a lab, a node, a host, an echo service, a
// forward): a usage error (exit 64) naming what exists and the closest, like every other command.
// The lab here is only its lab.json in a directory of our own (NATCHAIN_LAB_DIR): each of these is
// refused before anything would touch a namespace, so no root and no real lab are needed.
import { expect } from 'chai';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natchain } from '../support/cli.js';

const LAB = 'zq-fake-lab';
const TYPO = 'zq-fake-lbe';

describe('cli: lab commands given an unknown name', () => {
  let base: string;
  let env: Record<string, string>;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'natchain-cli-lab-'));
    env = { NATCHAIN_LAB_DIR: base };
    const dir = join(base, LAB);
    mkdirSync(dir);
    const ns = (node: string) => `nc-${LAB}.${node}`;
    writeFileSync(
      join(dir, 'lab.json'),
      JSON.stringify({
        state: 'up',
        name: LAB,
        dir,
        topologyFile: new URL('../../topologies/seed-vpn.yaml', import.meta.url).pathname,
        sshConfig: join(dir, 'ssh_config'),
        switchNs: ns('_switch'),
        namespaces: [ns('gw-a'), ns('server-ssh-12')],
        gateways: [{ name: 'gw-a', netns: ns('gw-a'), mountNs: join(dir, 'ns', 'gw-a.mnt'), utsNs: join(dir, 'ns', 'gw-a.uts'), interfaces: [] }],
        hosts: [{ name: 'server-ssh-12', role: 'target', netns: ns('server-ssh-12'), services: [{ port: 22, proto: 'tcp' }], forwards: [] }],
      }),
    );
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  const didYouMean = (r: { code: number; stderr: string }, message: string, known: string) => {
    expect(r.code, r.stderr).to.equal(64);
    expect(r.stderr).to.include(`natchain: ${message}`);
    expect(r.stderr).to.match(new RegExp(`^  \\w[\\w ]*s: .*${known}`, 'm'));
  };

  for (const args of [['status', TYPO], ['exec', TYPO, 'gw-a', '--', 'true'], ['test', TYPO], ['echo', 'stop', TYPO, 'server-ssh-12']]) {
    it(`lab ${args[0]} of an unknown lab exits 64 and suggests the closest lab`, () => {
      didYouMean(natchain(['lab', ...args], { env }), `no lab "${TYPO}" in ${base}; did you mean "${LAB}"?`, LAB);
    });
  }

  it('lab status --json of an unknown lab prints the usage error as the JSON document', () => {
    const r = natchain(['lab', 'status', TYPO, '--json'], { env });
    expect(r.code).to.equal(64);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(doc.error.code).to.equal('USAGE');
    expect(doc.error.message).to.include(`did you mean "${LAB}"?`);
  });

  it('lab status of a lab that exists (here a lab whose namespaces are gone) still exits 0', () => {
    const r = natchain(['lab', 'status', LAB, '--json'], { env });
    expect(r.code, r.stderr).to.equal(0);
    expect((JSON.parse(r.stdout) as Array<{ name: string; state: string }>)[0]).to.include({ name: LAB, state: 'partial' });
  });

  it('lab exec of an unknown node suggests the closest node', () => {
    didYouMean(natchain(['lab', 'exec', LAB, 'gw-x', '--', 'true'], { env }), `no node "gw-x" in lab ${LAB}; did you mean "gw-a"?`, 'server-ssh-12');
  });

  it('lab echo of an unknown host or echo service suggests the closest', () => {
    didYouMean(natchain(['lab', 'echo', 'stop', LAB, 'server-ssh-21'], { env }), `no host "server-ssh-21" in lab ${LAB}; did you mean "server-ssh-12"?`, 'server-ssh-12');
    didYouMean(natchain(['lab', 'echo', 'start', LAB, 'server-ssh-12', '23/tcp'], { env }), `no echo service "23/tcp" in lab host server-ssh-12; did you mean "22/tcp"?`, '22/tcp');
  });

  it('lab test --forward of an unknown forward suggests the closest forward', () => {
    const r = natchain(['lab', 'test', LAB, '--forward', 'ssh12'], { env });
    didYouMean(r, `no forward "ssh12" in `, 'ssh-12');
    expect(r.stderr).to.include('; did you mean "ssh-12"?');
  });

  it('lab down of a lab with no trace does nothing and exits 0 (safe to run twice), with a "did you mean"', () => {
    const r = natchain(['lab', 'down', TYPO], { env });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`no lab "${TYPO}" to take down; did you mean "${LAB}"?\n`);
    const j = natchain(['lab', 'down', TYPO, '--json'], { env });
    expect(j.code).to.equal(0);
    expect(JSON.parse(j.stdout)).to.deep.equal([]);
  });

  it('an invalid lab name is a usage error, its control characters escaped', () => {
    const r = natchain(['lab', 'status', 'a\u001b[31mb'], { env });
    expect(r.code).to.equal(64);
    expect(r.stderr).to.include('invalid lab name "a\\e[31mb"');
  });
});
