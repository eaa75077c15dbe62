import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { natchain } from '../support/cli.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const HOOK = new URL('../support/imports-hook.mjs', import.meta.url).pathname;
const DIST = new URL('../../dist/', import.meta.url).href;

/** The modules (relative to dist/, or a package name) the compiled CLI loads for these arguments. */
function loaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', HOOK, MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const urls = r.stderr.split('\n').filter((l) => l.startsWith('natchain-import ')).map((l) => l.slice('natchain-import '.length));
  const names = urls.filter((u) => !u.startsWith('node:') && !u.startsWith('data:')).map((u) => {
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
    return pkg ? pkg[1]! : u.startsWith(DIST) ? u.slice(DIST.length) : u;
  });
  return [...new Set(names)];
}

// Start-up speed is measured in scripts/bench/startup.sh (docs/benchmarks.md); this guards its cause:
// a command's implementation is imported only when it runs (src/cli/lazy.ts).
describe('cli: start-up loads only the command definitions', () => {
  const definitionsOnly = (m: string) => m === 'commander' || m === 'errors.js' || m === 'escape.js' || m === 'suggest.js' || /^cli\/(main|program|version|lazy|options|choices|exit)\.js$/.test(m) || /^cli\/commands\/[\w-]+\.js$/.test(m);

  for (const args of [['validate', '--help'], ['apply', '--help'], ['lab', 'up', '--help']]) {
    it(`natchain ${args.join(' ')} loads no implementation and no library but commander`, () => {
      const mods = loaded(args);
      expect(mods).to.include('cli/program.js');
      expect(mods.filter((m) => !definitionsOnly(m))).to.deep.equal([]);
    });
  }

  it('natchain --help is answered from the cached text, which is what commander prints from the definitions', async () => {
    const mods = loaded(['--help']);
    expect(mods.filter((m) => !/^(cli\/(main|exit|version|help-text)|errors|escape)\.js$/.test(m))).to.deep.equal([]);
    const { buildProgram } = await import('../../src/cli/program.js');
    const { topLevelHelp } = await import('../../src/cli/help-cache.js');
    const { TOP_LEVEL_HELP } = await import('../../src/cli/help-text.js');
    expect(TOP_LEVEL_HELP, 'src/cli/help-text.ts is stale: run npm run man').to.equal(topLevelHelp(buildProgram()));
    const r = natchain(['--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal(TOP_LEVEL_HELP);
  });

  it('natchain --version is answered before commander and the definitions load', () => {
    const mods = loaded(['--version']);
    expect(mods).to.include('cli/version.js');
    expect(mods.filter((m) => !/^(cli\/(main|exit|version)|errors|escape)\.js$/.test(m))).to.deep.equal([]);
  });

  it('a command loads its implementation when it runs', () => {
    const mods = loaded(['validate', 'topologies/seed-vpn.yaml']);
    expect(mods).to.include.members(['cli/actions/validate.js', 'js-yaml']);
    expect(mods).not.to.include.members(['ssh2']);
    expect(mods.filter((m) => m.startsWith('cli/actions/'))).to.deep.equal(['cli/actions/validate.js']);
  });

  it('--version is the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = natchain(['--version']);
    expect(r.code).to.equal(0);
    expect(r.stdout.trim()).to.equal(pkg.version);
  });
});
