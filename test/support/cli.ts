import { spawnSync } from 'node:child_process';

/** Runs the compiled CLI (as users do: `natchain ...`) and returns its exit code and output. */
export function natchain(args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [new URL('../../dist/cli/main.js', import.meta.url).pathname, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    input: opts.input ?? '',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
