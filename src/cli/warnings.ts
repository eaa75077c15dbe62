// Warnings of the core (what is allowed but probably not meant), as validate, solve and diff show
// them, and `--strict`, which makes them errors.
import { TopologyError, formatDiagnostic, type Diagnostic } from '../errors.js';
import { makeChalk } from './output.js';

/** Prints warnings on stderr as `file:line:col: warning: message`, like a compiler. */
export function printWarnings(warnings: readonly Diagnostic[]): void {
  const yellow = makeChalk(process.stderr).yellow;
  for (const w of warnings) process.stderr.write(yellow(formatDiagnostic({ ...w, message: `warning: ${w.message}` })) + '\n');
}

/** With `--strict`, the warnings as a TopologyError (each message marked as a warning made an error); otherwise nothing. */
export function strictError(warnings: readonly Diagnostic[], strict: boolean | undefined): TopologyError | undefined {
  if (!strict || warnings.length === 0) return undefined;
  return new TopologyError(warnings.map((w) => ({ ...w, message: `${w.message} (a warning; --strict makes it an error)` })));
}
