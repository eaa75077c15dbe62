#!/usr/bin/env node
import { version } from './version.js';

// A reader that stops early (`natchain solve x | head`) closes the pipe: the rest of the output is
// dropped quietly, and the command still finishes as it would (an apply is never cut short by its reader).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  });
}

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Answered before commander and the command definitions load: what scripts call most often.
  process.stdout.write(version() + '\n');
} else if (args.length === 1 && (args[0] === '--help' || args[0] === '-h') && (!process.stdout.isTTY || process.stdout.columns >= 80)) {
  // The same text commander prints at 80 columns, cached from the definitions (help-text.ts): no command tree to build.
  process.stdout.write((await import('./help-text.js')).TOP_LEVEL_HELP);
} else {
  // The one top-level error handler: every error is printed here and turned into an exit code.
  try {
    const { buildProgram } = await import('./program.js');
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    process.exitCode = await report(e);
  }
}

async function report(e: unknown): Promise<number> {
  // Imported here, not at the top: `--version` and `--help` load nothing but their answer.
  const [{ ExitCode, exitCodeFor }, { ioReason, NatchainError, TopologyError }, { escapeControl }] = await Promise.all([import('./exit.js'), import('../errors.js'), import('../escape.js')]);
  if (e instanceof ExitCode) return e.code;
  if (isCommanderError(e)) return e.exitCode === 0 ? 0 : 64;
  // Loaded only on this path: colours (and a transaction's report) are not needed to start.
  const { makeChalk } = await import('./output.js');
  // --json promises one JSON document on stdout, failures included (the human text still goes to stderr).
  // (A failed transaction's or rollout's report already is that document: apply and rollback print it.)
  if (process.argv.includes('--json') && e instanceof NatchainError && e.name !== 'TransactionError' && e.name !== 'RolloutError') {
    const diagnostics = e instanceof TopologyError ? e.diagnostics : undefined;
    process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details, ...(diagnostics ? { diagnostics } : {}) } }, null, 2) + '\n');
  }
  const red = makeChalk(process.stderr).red;
  if (e instanceof TopologyError) {
    for (const line of e.details) process.stderr.write(line + '\n');
    process.stderr.write(red(`natchain: ${e.message}; nothing was done`) + '\n');
    return e.exitCode ?? exitCodeFor(e.code);
  }
  if (e instanceof NatchainError) {
    // Messages quote input (names, paths, a gateway's answer): control characters are shown, not obeyed.
    process.stderr.write(red(`natchain: ${escapeControl(e.message)}`) + '\n');
    for (const line of e.details) process.stderr.write(`  ${escapeControl(line)}\n`);
    return e.exitCode ?? exitCodeFor(e.code);
  }
  if (isSystemError(e)) {
    // A file or process operation no command wrapped: still said in natchain's words, never Node's raw text.
    process.stderr.write(red(escapeControl(`natchain: cannot ${SYSCALL_VERBS[e.syscall] ?? e.syscall} ${e.path ?? ''}`.trimEnd() + `: ${ioReason(e)}`)) + '\n');
    return 1;
  }
  process.stderr.write(red('natchain: internal error (a bug; please report it with this trace)') + '\n');
  const { sourceMappedStack } = await import('./stack.js');
  process.stderr.write(sourceMappedStack(String((e as Error)?.stack ?? e)) + '\n');
  return 70;
}

const SYSCALL_VERBS: Record<string, string> = {
  open: 'open',
  read: 'read',
  write: 'write',
  mkdir: 'create the directory',
  rename: 'rename',
  unlink: 'remove',
  rm: 'remove',
  rmdir: 'remove the directory',
  scandir: 'list the directory',
  stat: 'examine',
  lstat: 'examine',
  access: 'access',
  spawn: 'run',
  chmod: 'change the mode of',
  fsync: 'flush',
};

function isSystemError(e: unknown): e is NodeJS.ErrnoException & { syscall: string } {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/** commander's own errors (usage, help, version) carry a `commander.*` code and the exit code it chose. */
function isCommanderError(e: unknown): e is { exitCode: number } {
  const code: unknown = (e as { code?: unknown } | undefined)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}
