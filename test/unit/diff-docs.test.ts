import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { natchain } from '../support/cli.js';

const COMMAND = '$ natchain diff HEAD:topologies/seed-vpn.yaml topologies/seed-vpn.yaml';

/** The documented example output: the indented block after the command line, up to `$ echo $?`. */
function documented(): { file: string; text: string } {
  for (const file of ['docs/cli.md']) {
    const lines = readFileSync(file, 'utf8').split('\n');
    const start = lines.findIndex((l) => l.trim() === COMMAND);
    if (start < 0) continue;
    const end = lines.findIndex((l, i) => i > start && l.trim() === '$ echo $?');
    return { file, text: lines.slice(start + 1, end).map((l) => l.replace(/^ {4}/, '')).join('\n') + '\n' };
  }
  throw new Error(`no "${COMMAND}" example in docs/`);
}

describe('docs: the diff example is real output', () => {
  it('matches natchain diff between seed-vpn.yaml and its second version in a git repository', () => {
    const repo = mkdtempSync(join(tmpdir(), 'natchain-diff-doc-'));
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...args], { cwd: repo });
    try {
      git('init', '-q', '-b', 'main');
      mkdirSync(join(repo, 'topologies'));
      copyFileSync(resolve('topologies/seed-vpn.yaml'), join(repo, 'topologies/seed-vpn.yaml'));
      git('add', '.');
      git('commit', '-q', '-m', 'seed 001');
      copyFileSync(resolve('test/fixtures/diff/seed-vpn-v2.yaml'), join(repo, 'topologies/seed-vpn.yaml'));
      const r = natchain(['diff', 'HEAD:topologies/seed-vpn.yaml', 'topologies/seed-vpn.yaml'], { cwd: repo });
      expect(r.code, r.stderr).to.equal(1);
      const doc = documented();
      expect(doc.text, `${doc.file} is out of date: paste the new output`).to.equal(r.stdout);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
