import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { natchain } from '../support/cli.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const HOOK = new URL('../support/imports-hook.mjs', import.meta.url).pathname;
const DIST = new URL('../../dist/cli/', import.meta.url).href;

/**
 * The modules the compiled CLI loads for these arguments: src/ modules as their compiled names
 * relative to src/ ('cli/main.js'), packages by name ('zod'). The CLI is bundled (scripts/build.mjs):
 * Node loads chunks, and each chunk's source map lists the modules inside it, all of which run
 * when the chunk loads.
 */
function loaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', HOOK, MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const urls = r.stderr.split('\n').filter((l) => l.startsWith('natchain-import ')).map((l) => l.slice('natchain-import '.length));
  const chunks = urls.filter((u) => u.startsWith(DIST));
  expect(chunks, 'the CLI loaded nothing from dist/').not.to.be.empty;
  const names = [...urls.filter((u) => !u.startsWith('node:') && !u.startsWith('data:') && !u.startsWith(DIST)), ...chunks.flatMap(sourcesOf)].map((u) => {
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
    if (pkg) return pkg[1]!;
    const src = /(?:^|\/)src\/(.+)\.ts$/.exec(u);
    return src ? src[1] + '.js' : u;
  });
  return [...new Set(names)];
}

/** The source files bundled into one chunk of dist/cli (its source map's `sources`). */
function sourcesOf(chunkUrl: string): string[] {
  const map = JSON.parse(readFileSync(new URL(chunkUrl + '.map'), 'utf8')) as { sources: string[] };
  return map.sources;
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

describe('cli: the bundled build', () => {
  it("an internal error's trace is shown at the source files, lines and columns, not in the bundle", async () => {
    const { sourceMappedStack } = await import('../../src/cli/stack.js');
    // A frame inside the bundled main.js: where its `report` function (src/cli/main.ts) begins.
    const bundled = readFileSync(MAIN, 'utf8').split('\n');
    const line = bundled.findIndex((l) => l.includes('async function report('));
    expect(line, 'report() not found in dist/cli/main.js').to.be.greaterThan(-1);
    const col = bundled[line]!.indexOf('async function report(');
    const frame = `    at report (${new URL(`file://${MAIN}`).href}:${line + 1}:${col + 1})`;
    const source = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8').split('\n');
    const want = source.findIndex((l) => l.startsWith('async function report(')) + 1;
    expect(sourceMappedStack(`Error: boom\n${frame}\n    at node:internal/x:1:1`)).to.equal(
      `Error: boom\n    at report (${new URL('../../src/cli/main.ts', import.meta.url).pathname}:${want}:1)\n    at node:internal/x:1:1`,
    );
  });

  it('dependencies are exactly the packages dist/ loads at run time; what the CLI bundle holds is a devDependency', () => {
    // Bare specifiers in the library's modules (tsc) and the CLI's chunks (the bundle's externals).
    const root = new URL('../../dist/', import.meta.url);
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));
    const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/[\w./-]*)?["']/g;
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(new URL(f, root), 'utf8').matchAll(SPEC)) if (!builtinModules.includes(m[1]!)) used.add(m[1]!);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect([...used].sort()).to.deep.equal(Object.keys(pkg.dependencies).sort());
  });
});
