import type { ErrorCode } from '../errors.js';

/** Thrown by a command to end with a given exit code after it printed its result (e.g. `plan`: 2 = changes pending). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = 'ExitCode';
  }
}

/** Exit code for each error class: 1 for failures by default; commands may map differently (diff uses 2). */
export function exitCodeFor(code: ErrorCode): number {
  // The sysexits.h codes: EX_USAGE 64, EX_SOFTWARE 70, EX_CONFIG 78.
  return code === 'USAGE' ? 64 : code === 'INTERNAL' ? 70 : code === 'CONFIG' ? 78 : 1;
}
