import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { readSide } from '../../src/cli/actions/diff.js';
import { NatchainError } from '../../src/errors.js';
import { buildState, diffStates } from '../../src/plan/index.js';
import { formatLock, solve } from '../../src/solve/index.js';
import { parseTopology } from '../../src/topology/index.js';

const MESH = readFileSync('test/fixtures/diff/mesh.yaml', 'utf8');

async function rejection(p: Promise<unknown>): Promise<NatchainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NatchainError) return e;
    throw e;
  }
  throw new Error('expected a NatchainError');
}

describe('diff: topologies from git revisions (REV:path)', () => {
  let repo: string;
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...args], { cwd: repo, encoding: 'utf8' });
  // The first commit's lock holds a port the solver would not pick by itself, so a lost lock shows.
  const locked = { version: 1 as const, ports: { ...solve(parseTopology(MESH, 'x')).lock.ports, app: { 'gw-c/198.51.100.3': 25000 } } };

  before(() => {
    repo = mkdtempSync(join(tmpdir(), 'natchain-diff-git-'));
    git('init', '-q', '-b', 'main');
    mkdirSync(join(repo, 'topologies'));
    writeFileSync(join(repo, 'topologies/site.yaml'), MESH);
    writeFileSync(join(repo, 'topologies/site.lock'), formatLock(locked));
    git('add', '.');
    git('commit', '-q', '-m', 'v1');
    // v2: a comment added and the lock deleted (someone forgot to commit it).
    writeFileSync(join(repo, 'topologies/site.yaml'), '# v2\n' + MESH);
    git('rm', '-q', 'topologies/site.lock');
    git('add', '.');
    git('commit', '-q', '-m', 'v2');
    // The working tree: a third version, not committed.
    writeFileSync(join(repo, 'topologies/site.yaml'), MESH.replace('to: 10.3.0.10:8080', 'to: 10.3.0.10:8443'));
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  it('reads REV:path from the repository top, with the lock of the same revision', async () => {
    const s = await readSide('HEAD~1:topologies/site.yaml', repo);
    expect(s.label).to.equal('HEAD~1:topologies/site.yaml');
    expect(s.lockLabel).to.equal('HEAD~1:topologies/site.lock');
    expect(s.lock).to.deep.equal(locked);
    expect(s.topology.forwards.find((f) => f.name === 'app')!.to.ports.from).to.equal(8080);
    // Diagnostics and positions name the revision, so errors point at what was read.
    expect(s.topology.forwards[0]!.pos.file).to.equal('HEAD~1:topologies/site.yaml');
  });

  it('a revision without the lock has none (not the working tree one)', async () => {
    const s = await readSide('HEAD:topologies/site.yaml', repo);
    expect(s.lockLabel).to.equal(null);
    expect(s.lock).to.equal(undefined);
  });

  it('REV:./path is relative to the current directory, and an absolute path finds its repository', async () => {
    const sub = join(repo, 'topologies');
    expect((await readSide('HEAD~1:./site.yaml', sub)).lock).to.deep.equal(locked);
    expect((await readSide(`HEAD~1:${join(repo, 'topologies/site.yaml')}`, tmpdir())).lock).to.deep.equal(locked);
  });

  it('an existing file wins over the REV:path reading', async () => {
    const s = await readSide('topologies/site.yaml', repo);
    expect(s.label).to.equal('topologies/site.yaml');
    expect(s.topology.forwards.find((f) => f.name === 'app')!.to.ports.from).to.equal(8443);
  });

  it('the lost lock entry moves a hop port, and the diff says so; the comment is no change', async () => {
    const [a, b] = await Promise.all([readSide('HEAD~1:topologies/site.yaml', repo), readSide('HEAD:topologies/site.yaml', repo)]);
    const d = diffStates(buildState(a), buildState(b));
    expect(d.model).to.deep.equal([]);
    expect(d.flags.map((f) => f.kind)).to.deep.equal(['hop-port-moved']);
    expect(d.flags[0]!.message).to.match(/^forward app: port 198\.51\.100\.3:25000 on gateway gw-c moves to \d+ \(not in the port lock\): breaks clients that use it$/);
    expect(d.old.lock).to.equal('HEAD~1:topologies/site.lock');
    expect(d.new.lock).to.equal(null);
  });

  it('errors: unknown revision, path not in it, option-like revision, no repository', async () => {
    const bad = await rejection(readSide('nosuchrev:topologies/site.yaml', repo));
    expect(bad.message).to.equal('cannot read nosuchrev:topologies/site.yaml from git');
    expect(bad.details[0]).to.match(/nosuchrev/);
    const missing = await rejection(readSide('HEAD:topologies/other.yaml', repo));
    expect(missing.code).to.equal('FILE_NOT_FOUND');
    expect(missing.details[0]).to.match(/topologies\/other\.yaml/);
    const opt = await rejection(readSide('--output=/tmp/x:topologies/site.yaml', repo));
    expect(opt.code).to.equal('USAGE');
    const none = mkdtempSync(join(tmpdir(), 'natchain-nogit-'));
    try {
      const r = await rejection(readSide('HEAD:site.yaml', none));
      expect(r.message).to.match(/is not in a git repository/);
    } finally {
      rmSync(none, { recursive: true, force: true });
    }
    const plain = await rejection(readSide('no-such-file.yaml', repo));
    expect(plain.message).to.equal('cannot read no-such-file.yaml: no such file (a git revision is written REV:path)');
  });

  it('an invalid topology at a revision reports file:line:col with the revision in the name', async () => {
    writeFileSync(join(repo, 'topologies/site.yaml'), MESH.replace('to: 10.3.0.10:8080', 'to: 10.3.0.300:8080'));
    git('commit', '-q', '-am', 'broken');
    try {
      const e = await rejection(readSide('HEAD:topologies/site.yaml', repo));
      expect(e.code).to.equal('TOPOLOGY_INVALID');
      expect(e.details[0]).to.match(/^HEAD:topologies\/site\.yaml:\d+:\d+: /);
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });
});
