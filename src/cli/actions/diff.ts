import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { NatchainError, UsageError } from '../../errors.js';
import { buildState, diffStates, formatDiff, type StateSource } from '../../plan/index.js';
import { lockPathFor, parseLock } from '../../solve/index.js';
import { parseTopology } from '../../topology/index.js';
import { ExitCode } from '../exit.js';
import { readLock, readText } from '../io.js';
import { c, printJson } from '../output.js';
import { strictError } from '../warnings.js';

/** Runs `natchain diff`. */
export async function run(oldSpec: string, newSpec: string, opts: { json?: boolean; context: string; quiet?: boolean; strict?: boolean }): Promise<void> {
  try {
    const context = Number(opts.context);
    if (!Number.isInteger(context) || context < 0) throw new UsageError(`--context must be a whole number of lines, not "${opts.context}"`);
    const [a, b] = await Promise.all([readSide(oldSpec), readSide(newSpec)]);
    const after = buildState(b);
    const strict = strictError(after.solution.warnings, opts.strict);
    if (strict) throw strict;
    const d = diffStates(buildState(a), after, { context });
    if (opts.json) printJson(d);
    else if (opts.quiet) process.stdout.write([...d.flags.map((f) => c.red(`! ${f.message}`)), d.summary.text].join('\n') + '\n');
    else process.stdout.write(formatDiff(d, c));
    if (!d.identical) throw new ExitCode(1);
  } catch (e) {
    // Trouble is 2, as in diff(1); a usage mistake is 64, as for every command.
    if (e instanceof NatchainError && e.code !== 'USAGE') e.exitCode = 2;
    throw e;
  }
}

/** Reads one side of a diff: a topology file with the lock beside it, or `REV:path` (and `REV:lock`) from git. */
export async function readSide(spec: string, cwd = process.cwd()): Promise<StateSource> {
  if (existsSync(resolve(cwd, spec))) {
const topology = parseTopology(await readText(resolve(cwd, spec)), spec);
const lock = await readLock(resolve(cwd, spec));
return { label: spec, topology, lock: lock.lock, lockLabel: lock.exists ? lockPathFor(spec) : null };
  }
  const m = /^([^:]*):(.+)$/.exec(spec);
  if (!m) throw new NatchainError('FILE_NOT_FOUND', `cannot read ${spec}: no such file (a git revision is written REV:path)`);
  const [, rev, path] = m as unknown as [string, string, string];
  // Never let a revision be read as an option of git.
  if (rev.startsWith('-')) throw new UsageError(`"${rev}" is not a git revision`);
  const { top, rel } = await locateInRepo(path, cwd);
  const text = await gitShow(top, rev, rel, spec);
  const topology = parseTopology(text, spec);
  const lockRel = lockPathFor(rel);
  const lockSpec = `${rev}:${lockPathFor(path)}`;
  if (!(await git(['cat-file', '-e', `${rev}:${lockRel}`], top).then(() => true, () => false))) return { label: spec, topology, lockLabel: null };
  return { label: spec, topology, lock: parseLock(await gitShow(top, rev, lockRel, lockSpec), lockSpec), lockLabel: lockSpec };
}

/** The repository top and the path inside it, the way git reads `REV:path` (`./` and `../` from `cwd`, else from the top). */
async function locateInRepo(path: string, cwd: string): Promise<{ top: string; rel: string }> {
  const fromCwd = isAbsolute(path) || path.startsWith('./') || path.startsWith('../') || path === '.' || path === '..';
  if (!fromCwd) return { top: await toplevel(cwd), rel: path };
  // Find the repository from the path itself: the file need not exist any more in the working tree.
  const abs = resolve(cwd, path);
  let dir = dirname(abs);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const top = await toplevel(dir);
  // git reports the top with symlinks resolved; resolve ours the same way before comparing.
  const real = join(realpathSync(dir), relative(dir, abs));
  const rel = relative(top, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new NatchainError('FILE_NOT_FOUND', `${path} is not inside the git repository at ${top}`);
  return { top, rel: rel.split(sep).join('/') };
}

async function toplevel(dir: string): Promise<string> {
  try {
return (await git(['rev-parse', '--show-toplevel'], dir)).trim();
  } catch (e) {
if (e instanceof NatchainError) throw e;
throw new NatchainError('FILE_NOT_FOUND', `cannot read a git revision: ${dir} is not in a git repository`, [firstLine(e)]);
  }
}

async function gitShow(top: string, rev: string, rel: string, spec: string): Promise<string> {
  try {
return await git(['show', `${rev}:${rel}`], top);
  } catch (e) {
if (e instanceof NatchainError) throw e;
throw new NatchainError('FILE_NOT_FOUND', `cannot read ${spec} from git`, [firstLine(e)]);
  }
}

const firstLine = (e: unknown) => String((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n')[0]!;

/** Runs git without a shell; rejects with git's stderr on failure, or an ENVIRONMENT error when git is missing. */
function git(args: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
execFile('git', args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
  if (!err) return resolvePromise(stdout);
  if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !stderr) {
    return reject(new NatchainError('ENVIRONMENT', 'cannot read a git revision: the git program is not installed'));
  }
  reject(Object.assign(err, { stderr }));
});
  });
}
