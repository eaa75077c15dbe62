// `npm run build`: the library with tsc, the CLI bundled with esbuild. Plain JavaScript (no tsx) so
// `npm ci`'s prepare step runs it as is.
//
// - dist/index.js + .d.ts (the package's `main` and types): tsc, from src/index.ts and what it
//   imports, one file per module, as the library's users expect.
// - dist/cli/main.js (the `natchain` binary) and its chunks: src/cli/main.ts bundled with its
//   dependencies. Node's ESM loader costs about 0.5 ms per module and zod, commander, js-yaml,
//   graphology and chalk are made of hundreds; bundled, a command loads a few files. Every lazy
//   `import()` (a command's implementation, src/cli/lazy.ts) stays a chunk of its own, loaded
//   when that command runs. The chunks sit flat in dist/cli/ because code finds package files
//   relative to its own module (version.ts: ../../package.json; create-topology.ts: ../../schema/).
//   Source maps beside each chunk: src/cli/stack.ts maps an internal error's trace back to src/.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
rmSync('dist', { recursive: true, force: true });

const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ssh2 loads optional native bindings (cpu-features, its crypto binding) by path: left as a package.
  external: ['ssh2'],
  // Whitespace and syntax only: names stay, so a trace reads even without its source map.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  chunkNames: '[name]-[hash]',
  // Bundled CommonJS packages (commander, graphology...) require Node's built-ins.
  banner: { js: "import { createRequire as __natchainRequire } from 'node:module'; const require = __natchainRequire(import.meta.url);" },
  logLevel: 'warning',
});
