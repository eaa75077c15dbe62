import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { manPage } from '../../src/cli/manpage.js';
import { buildProgram, version } from '../../src/cli/program.js';

describe('man page (natchain.1)', () => {
  const generated = () => manPage(buildProgram(), version(), { cliDoc: readFileSync('docs/cli.md', 'utf8') });

  it('man/natchain.1 is up to date with the command definitions (npm run man)', () => {
    expect(readFileSync('man/natchain.1', 'utf8')).to.equal(generated());
  });

  it('has every command with its arguments, options and examples, the environment and the exit codes', () => {
    const page = generated();
    const program = buildProgram();
    for (const cmd of program.commands.filter((c) => !['help', '__complete'].includes(c.name()))) {
      expect(page, cmd.name()).to.contain(`.SS "natchain ${cmd.name()}`);
    }
    expect(page).not.to.contain('__complete');
    expect(page).to.contain('.SS "natchain lab up [options] <topology>"');
    const apply = program.commands.find((c) => c.name() === 'apply')!;
    for (const o of apply.options.filter((o) => !o.hidden)) expect(page, o.long).to.contain(o.long!.replace(/-/g, '\\-'));
    expect(page).to.contain('.SH ENVIRONMENT').and.to.contain('.B "NATCHAIN_STATE_DIR"').and.to.contain('.B "FORCE_COLOR"');
    expect(page).to.contain('.SH EXIT STATUS').and.to.contain('.B 64').and.to.contain('.B 78');
    expect(page).to.contain('natchain validate topologies/seed\\-vpn.yaml');
  });

  it('is valid roff: groff reports no warning, man renders it', () => {
    const g = spawnSync('groff', ['-man', '-ww', '-z', 'man/natchain.1'], { encoding: 'utf8' });
    expect(g.status).to.equal(0);
    expect(g.stderr).to.equal('');
    const m = spawnSync('man', ['-l', 'man/natchain.1'], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat' } });
    expect(m.stdout).to.match(/^NATCHAIN\(1\)/);
    expect(m.stdout).to.contain('natchain - solve, render and push port forwards');
  });

  it('is installed with the package, with docs/ and the LICENSE', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { man: string[]; files: string[]; license: string };
    expect(pkg.man).to.deep.equal(['./man/natchain.1']);
    expect(pkg.files).to.include.members(['dist', 'schema', 'topologies', 'man', 'docs']);
    expect(pkg.license).to.equal('MIT');
    expect(readFileSync('LICENSE', 'utf8')).to.match(/^MIT License\n/);
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' });
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).to.include.members(['man/natchain.1', 'docs/cli.md', 'docs/topology.md', 'LICENSE', 'README.md', 'dist/cli/main.js']);
  });
});
