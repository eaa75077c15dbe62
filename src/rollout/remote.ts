/**
 * The remote half of the transaction: fixed POSIX sh templates (remote-scripts.ts) run on a
 * gateway with `sh -c <template> natchain <args>`. Every argument is checked against a strict
 * pattern here and shell-quoted; rulesets travel on stdin; output comes back in sections framed
 * by a random nonce (`@@natchain:<nonce>:<name>`), so no rule text can forge a section.
 */
import { NatchainError } from '../errors.js';
import type { Backend } from '../topology/types.js';
import { shellQuote } from '../transport/quote.js';
import { isTxId, OWNER_PATTERN } from './ids.js';
import { COUNTERS_SHELL } from '../gateway/counters.js';
import { FACTS_SHELL } from '../gateway/facts.js';
import { RULESET_SHELL } from '../gateway/shadow.js';
import { BODIES, COMMON, PRUNE, RESOLVE_AWK, STAGE_AWK, TIMER, UNFRAME_AWK } from './remote-scripts.js';

/** The remote phases natchain runs, one exec (round trip) each. */
export type RemoteOp = 'prepare' | 'apply' | 'commit' | 'abort' | 'inspect';

/** Exit status the scripts use when natchain's lock is held by someone else. */
export const EXIT_LOCKED = 4;

/**
 * A script as it is sent: without its comment lines (every byte is parsed twice on the gateway, about
 * 0.06 ms per KiB; the comments are a third of the text). Only whole lines whose first character past
 * the indentation is '#' go: a comment in sh and in awk (the awk programs are quoted in the sh text;
 * none of the scripts has a quoted string with a line that starts with '#').
 */
function wire(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
}

const awkVar = (name: string, program: string) => `${name}=${shellQuote(wire(program))}\n`;

/** The detached timer's script (it runs after apply's shell has gone); apply hands it RESOLVE_AWK in its environment. */
const TIMER_SH = wire(COMMON + TIMER);

/**
 * What each phase needs before COMMON: its awk programs, the read-only gateway facts of src/gateway/
 * (facts, ruleset, counters), pruning, the timer. Only those: every byte is sent, and parsed by two
 * shells on the gateway, on every exec.
 */
const PRELUDES: Record<RemoteOp, string> = {
  prepare: awkVar('STAGE_AWK', STAGE_AWK) + wire(FACTS_SHELL),
  apply: awkVar('UNFRAME_AWK', UNFRAME_AWK) + awkVar('RESOLVE_AWK', RESOLVE_AWK) + `TIMER_SH=${shellQuote(TIMER_SH)}\n`,
  commit: wire(PRUNE),
  abort: awkVar('RESOLVE_AWK', RESOLVE_AWK),
  inspect: wire(FACTS_SHELL + RULESET_SHELL + COUNTERS_SHELL),
};

/** Each phase's `sh -c` word, quoted once per run (the scripts are fixed text). */
const QUOTED = new Map<RemoteOp, string>();
function quotedScriptOf(op: RemoteOp): string {
  let q = QUOTED.get(op);
  if (q === undefined) QUOTED.set(op, (q = shellQuote(PRELUDES[op] + wire(COMMON + BODIES[op]))));
  return q;
}

/** One remote invocation: the command line (template + quoted args) and what goes to stdin. */
export interface RemoteCall {
  op: RemoteOp;
  nonce: string;
  command: string;
  stdin?: string;
}

const NONCE_RE = /^[0-9a-f]{16}$/;
const WORD_RE = /^[A-Za-z0-9._@:-]{1,200}$/;

/** A value natchain made (or checked) itself did not have its shape: a bug, or tampered state; never sent. */
function badArgument(what: string, value: unknown, op: RemoteOp): NatchainError {
  return new NatchainError('INTERNAL', `bad ${what} ${JSON.stringify(value)} for ${op}`, ['natchain refuses to send it to a gateway shell']);
}

/** Builds the exact command for one phase; throws on any argument that is not of the expected shape. */
export function remoteCall(
  op: RemoteOp,
  nonce: string,
  backend: Backend,
  tx: string | null,
  args: Array<string | number>,
  stdin?: string,
): RemoteCall {
  if (!NONCE_RE.test(nonce)) throw badArgument('nonce', nonce, op);
  if (backend !== 'iptables' && backend !== 'nftables') throw badArgument('backend', backend, op);
  if (tx !== null && !isTxId(tx)) throw badArgument('transaction id', tx, op);
  for (const a of args) {
    if (typeof a === 'number' ? !Number.isInteger(a) || a < 0 : !WORD_RE.test(a)) throw badArgument('argument', a, op);
  }
  if (op === 'prepare' && !OWNER_PATTERN.test(String(args[0]))) throw badArgument('owner', args[0], op);
  const words = [nonce, backend, tx ?? 'none', ...args.map(String)].map((w) => shellQuote(w)).join(' ');
  const call: RemoteCall = { op, nonce, command: `sh -c ${quotedScriptOf(op)} natchain ${words}` };
  if (stdin !== undefined) call.stdin = stdin;
  return call;
}

/** Frames named texts for a script's stdin (each text ends with a newline). */
export function frame(nonce: string, parts: Record<string, string>): string {
  let out = '';
  for (const [name, text] of Object.entries(parts)) {
    out += `@@natchain:${nonce}:${name}\n` + text + (text === '' || text.endsWith('\n') ? '' : '\n');
  }
  return out;
}

/** A script's output, cut into its named sections; `complete` is false when the end marker is missing. */
export interface Sections {
  get(name: string): string | undefined;
  has(name: string): boolean;
  complete: boolean;
}

/** Splits a script's stdout into sections (text between markers exactly as the gateway printed it). */
export function parseSections(stdout: string, nonce: string): Sections {
  const map = new Map<string, string>();
  const marker = new RegExp(`\\n@@natchain:${nonce}:([a-z]+)\\n`);
  const parts = stdout.split(marker);
  // parts: [before, name1, body1, name2, body2, ...]
  for (let i = 1; i + 1 < parts.length; i += 2) map.set(parts[i]!, parts[i + 1]!);
  const complete = map.has('end');
  return { get: (n) => map.get(n), has: (n) => map.has(n), complete };
}

/** The lock holder as the gateway recorded it. */
export interface LockHolder {
  tx: string;
  owner: string;
  /** When it was taken (gateway clock, epoch seconds). */
  since: number;
  /** Age in seconds, on the gateway's clock. */
  ageSec: number;
  /** Deadline of the holder's armed dead-man timer, when one is armed. */
  armedUntil?: number;
}

/** Parses a `held`/`lock` section (plus the gateway's `now`). */
export function parseLockInfo(text: string | undefined, now: number): LockHolder | undefined {
  if (!text || !text.trim()) return undefined;
  const lines = text.split('\n');
  const since = Number(lines[2] ?? NaN);
  const armed = lines.find((l) => l.startsWith('armed '));
  const holder: LockHolder = {
    tx: (lines[0] ?? '').trim() || '(being taken)',
    owner: (lines[1] ?? '').trim() || 'unknown',
    since: Number.isFinite(since) ? since : now,
    ageSec: Number.isFinite(since) ? Math.max(0, now - since) : 0,
  };
  if (armed) {
    const d = Number(armed.slice(6));
    if (Number.isFinite(d)) holder.armedUntil = d;
  }
  return holder;
}

/** Parses the `armed` section of `inspect`: each armed timer's transaction and deadline. */
export function parseArmed(text: string | undefined): Array<{ tx: string; deadline: number }> {
  return (text ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] && isTxId(w[0]))
    .map((w) => ({ tx: w[0]!, deadline: Number(w[1] ?? 0) }));
}
