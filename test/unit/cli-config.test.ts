import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/cli/config.js';
import { NatchainError } from '../../src/errors.js';
import { natchain } from '../support/cli.js';

describe('config: parseConfig', () => {
  it('reads the known settings; relative paths are relative to the file, ~ is the home directory', () => {
    const c = parseConfig('sshConfig: lab/ssh_config\nstateDir: ~/state\nconcurrency: 4\nconfirmTimeout: "120"\n', '/etc/x/natchain.config.yaml');
    expect(c.get('sshConfig')).to.equal('/etc/x/lab/ssh_config');
    expect(c.get('stateDir')).to.match(/\/state$/).and.not.to.contain('~');
    expect(c.get('concurrency')).to.equal('4');
    expect(c.get('confirmTimeout')).to.equal('120');
    expect(parseConfig('', 'f').size).to.equal(0);
    expect(parseConfig('# only a comment\n', 'f').size).to.equal(0);
  });

  it('reports every problem at once, each with the file, and suggests the setting meant', () => {
    try {
      parseConfig('concurency: 3\nconfirmTimeout: 1\nstateDir: [a]\n', 'c.yaml');
      expect.fail('no error');
    } catch (e) {
      expect(e).to.be.instanceOf(NatchainError);
      const err = e as NatchainError;
      expect(err.code).to.equal('CONFIG');
      expect(err.message).to.equal('3 problems in the config file c.yaml');
      expect(err.details).to.deep.equal([
        'c.yaml: unknown setting "concurency"; did you mean "concurrency"? (settings: sshConfig, stateDir, concurrency, confirmTimeout)',
        'c.yaml: confirmTimeout must be whole seconds from 2 to 86400, not "1"',
        'c.yaml: stateDir must be a path, not ["a"]',
      ]);
    }
    expect(() => parseConfig('- a\n', 'c.yaml')).to.throw(NatchainError, 'c.yaml: a config file is a map of settings');
    expect(() => parseConfig('a: [\n', 'c.yaml')).to.throw(NatchainError, /^c\.yaml:2:1: not valid YAML/);
    expect(() => parseConfig('concurrency: 2.5\n', 'c.yaml')).to.throw(NatchainError, 'c.yaml: concurrency must be a whole number from 1 to 256, not "2.5"');
  });
});

describe('config: precedence flag > environment > project file > user file (compiled binary)', () => {
  let dir: string;
  let project: string;
  let xdg: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-config-'));
    project = join(dir, 'project');
    xdg = join(dir, 'xdg');
    mkdirSync(project);
    mkdirSync(join(xdg, 'natchain'), { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The journal `recover` uses (offline: no interrupted transaction), which shows the state directory chosen. */
  const journal = (args: string[] = [], env: Record<string, string> = {}) => {
    const r = natchain(['recover', '--json', ...args], { cwd: project, env: { XDG_CONFIG_HOME: xdg, NATCHAIN_STATE_DIR: '', ...env } });
    expect(r.code, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as { journal: string }).journal;
  };

  it('each source overrides the ones below it', () => {
    expect(journal([], { HOME: dir })).to.not.contain(dir + '/xdg');
    writeFileSync(join(xdg, 'natchain', 'config.yaml'), 'stateDir: user-state\n');
    expect(journal()).to.equal(join(xdg, 'natchain', 'user-state', 'journal.jsonl'));
    writeFileSync(join(project, 'natchain.config.yaml'), 'stateDir: project-state\n');
    expect(journal()).to.equal(join(project, 'project-state', 'journal.jsonl'));
    expect(journal([], { NATCHAIN_STATE_DIR: join(dir, 'env-state') })).to.equal(join(dir, 'env-state', 'journal.jsonl'));
    expect(journal(['--state-dir', join(dir, 'flag-state')], { NATCHAIN_STATE_DIR: join(dir, 'env-state') })).to.equal(join(dir, 'flag-state', 'journal.jsonl'));
  });

  it('the user file is found under ~/.config without XDG_CONFIG_HOME', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.config', 'natchain'), { recursive: true });
    writeFileSync(join(home, '.config', 'natchain', 'config.yaml'), 'stateDir: /tmp/natchain-home-state\n');
    const r = natchain(['recover', '--json'], { cwd: dir, env: { HOME: home, XDG_CONFIG_HOME: '', NATCHAIN_STATE_DIR: '' } });
    expect(JSON.parse(r.stdout).journal).to.equal('/tmp/natchain-home-state/journal.jsonl');
  });

  it('sshConfig and concurrency from a file reach the commands; bad values exit 78 naming where they are', () => {
    const cwd = join(dir, 'ssh');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'natchain.config.yaml'), 'sshConfig: /nonexistent/ssh_config\n');
    const topo = join(process.cwd(), 'topologies/seed-vpn.yaml');
    const r = natchain(['plan', topo], { cwd, env: { XDG_CONFIG_HOME: xdg } });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('cannot read ssh config /nonexistent/ssh_config');
    writeFileSync(join(cwd, 'natchain.config.yaml'), 'concurrency: lots\n');
    const bad = natchain(['plan', topo], { cwd, env: { XDG_CONFIG_HOME: xdg } });
    expect(bad.code).to.equal(78);
    expect(bad.stderr).to.contain(`natchain: ${join(cwd, 'natchain.config.yaml')}: concurrency must be a whole number from 1 to 256, not "lots"`);
    const env = natchain(['plan', topo, '-F', '/dev/null'], { cwd: project, env: { XDG_CONFIG_HOME: xdg, NATCHAIN_CONCURRENCY: '0' } });
    expect(env.code).to.equal(78);
    expect(env.stderr).to.contain('environment variable NATCHAIN_CONCURRENCY must be a whole number from 1 to 256, not "0"');
    // A flag wins over the environment: its bad value is never looked at.
    const flag = natchain(['plan', topo, '--concurrency', '2', '-F', '/nonexistent/x'], { cwd: project, env: { XDG_CONFIG_HOME: xdg, NATCHAIN_CONCURRENCY: '0' } });
    expect(flag.stderr).to.contain('cannot read ssh config /nonexistent/x');
  });

  it('offline commands never read a config file', () => {
    const cwd = join(dir, 'offline');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'natchain.config.yaml'), 'not: [valid\n');
    const r = natchain(['validate', join(process.cwd(), 'topologies/seed-vpn.yaml')], { cwd, env: { XDG_CONFIG_HOME: xdg } });
    expect(r.code, r.stderr).to.equal(0);
  });
});

describe('docs: every environment variable natchain reads is in docs/cli.md', () => {
  it('the "Environment variables" table names each one found in src/', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const names = new Set<string>();
    const patterns = [/process\.env\.([A-Z][A-Z0-9_]+)/g, /\benv\.([A-Z][A-Z0-9_]{2,})\b/g, /(?<!<<)['"](NATCHAIN_[A-Z0-9_]+)['"]/g, /\bia === '([A-Z_]+)'/g];
    for (const f of files) {
      const text = readFileSync(join('src', f), 'utf8');
      for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
    }
    expect(names.size).to.be.greaterThan(8);
    const doc = readFileSync('docs/cli.md', 'utf8');
    const section = doc.slice(doc.indexOf('## Environment variables'), doc.indexOf('\n## ', doc.indexOf('## Environment variables') + 5));
    const missing = [...names].filter((n) => !section.includes('`' + n + '`'));
    expect(missing, 'add them to the table in docs/cli.md').to.deep.equal([]);
  });
});

describe('output: FORCE_COLOR and NO_COLOR', () => {
  it('FORCE_COLOR wins over NO_COLOR, TERM=dumb and a pipe; 0 turns colour off on a terminal', async () => {
    const { colourLevel } = await import('../../src/cli/output.js');
    expect(colourLevel({ isTTY: true }, {})).to.equal(1);
    expect(colourLevel({ isTTY: false }, {})).to.equal(0);
    expect(colourLevel({ isTTY: true }, { NO_COLOR: '1' })).to.equal(0);
    expect(colourLevel({ isTTY: true }, { TERM: 'dumb' })).to.equal(0);
    expect(colourLevel({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' })).to.equal(1);
    expect(colourLevel({ isTTY: false }, { FORCE_COLOR: '3' })).to.equal(3);
    expect(colourLevel({ isTTY: false }, { FORCE_COLOR: '' })).to.equal(1);
    expect(colourLevel({ isTTY: true }, { FORCE_COLOR: '0' })).to.equal(0);
    const r = natchain(['validate', 'topologies/seed-portforward.yaml'], { env: { FORCE_COLOR: '1' } });
    expect(r.stdout).to.contain('\x1b[32mvalid\x1b[39m');
    expect(natchain(['validate', 'topologies/seed-portforward.yaml']).stdout).not.to.contain('\x1b[');
  });
});
