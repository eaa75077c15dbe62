import { escapeControl } from './escape.js';

/** Stable error codes: the CLI maps them to exit codes, tests and scripts match on them. */
export type ErrorCode =
  | 'TOPOLOGY_INVALID' // the topology file has errors (see diagnostics)
  | 'FILE_NOT_FOUND'
  | 'USAGE' // bad command-line arguments
  | 'NOT_FOUND' // a named gateway, forward, lab... does not exist
  | 'LOCK_STALE' // the port lock would change under --frozen-lock
  | 'ENVIRONMENT' // a required program, permission or kernel feature is missing
  | 'LAB' // the lab could not be built or torn down
  | 'SSH' // connecting, authenticating or host-key verification failed
  | 'HOST_KEY' // host key unknown or changed
  | 'REMOTE' // a command on a gateway failed
  | 'LOCKED' // another transaction holds a gateway's lock
  | 'TRANSACTION' // a transaction failed (and was rolled back)
  | 'CANCELLED' // the user said no
  | 'CONFIG' // a config file or a NATCHAIN_* environment variable is wrong
  | 'INTERNAL';

/** A position in a source file, 1-based line and column. */
export interface Pos {
  file: string;
  line: number;
  col: number;
}

/** One problem found in an input file, reported as `file:line:col: message`. */
export interface Diagnostic extends Pos {
  message: string;
  /** The forward the problem is about, when it is one forward's (the solver's errors): lets a diff set that forward aside. */
  forward?: string;
}

/** Formats a diagnostic the way compilers do, so editors can jump to it; control characters from input are escaped. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${escapeControl(d.file)}:${d.line}:${d.col}: ${escapeControl(d.message)}`;
}

/** Base of every error natchain throws on purpose; anything else is a bug. */
export class NatchainError extends Error {
  readonly code: ErrorCode;
  /** Extra lines shown under the message (hints, details). */
  readonly details: string[];
  /** Overrides the CLI's exit code for this error (diff(1)-style commands exit 2 on errors). */
  exitCode?: number;
  constructor(code: ErrorCode, message: string, details: string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NatchainError';
    this.code = code;
    this.details = details;
  }
}

/** A topology (or lock) file that cannot be used; carries every problem at once. */
export class TopologyError extends NatchainError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    const n = diagnostics.length;
    super('TOPOLOGY_INVALID', `${n} error${n === 1 ? '' : 's'} in topology`, diagnostics.map(formatDiagnostic));
    this.name = 'TopologyError';
    this.diagnostics = diagnostics;
  }
}

/** Bad command-line usage (unknown gateway name, conflicting flags...). */
export class UsageError extends NatchainError {
  constructor(message: string, details: string[] = []) {
    super('USAGE', message, details);
    this.name = 'UsageError';
  }
}

/** `message` about `gateway` as shown in a row or column that already names the gateway: without a leading "gateway: ". */
export function withoutGateway(gateway: string, message: string): string {
  return message.startsWith(`${gateway}: `) ? message.slice(gateway.length + 2) : message;
}

/** `message` about `gateway` prefixed with its name, once (transport errors often carry it already). */
export function withGateway(gateway: string, message: string): string {
  return `${gateway}: ${withoutGateway(gateway, message)}`;
}

const IO_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many open files',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the directory is not empty',
  EBUSY: 'the resource is busy',
};

/**
 * Why a file operation failed, in words ("no such file or directory"), for messages that say what
 * could not be read or written: never Node's raw "ENOENT: ..., open '/x'".
 */
export function ioReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code && Object.hasOwn(IO_REASONS, err.code)) return IO_REASONS[err.code]!;
  // Node words a system error "CODE: description, syscall 'path'": keep the description.
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(String(err?.message ?? e));
  return m ? m[1]! : String(err?.message ?? e);
}
