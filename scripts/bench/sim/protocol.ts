// Recognises natchain's remote commands the way a gateway's shell receives them: the transport's
// wrapper (`timeout -s KILL <s> sh -c <cmd>`, maybe under `sudo -n`), then `sh -c <script> natchain
// <nonce> <backend> <tx> <args...>` as src/rollout/remote.ts builds it. Which phase a script is
// comes from natchain's own code (remoteCall), never from a copy of the script text: when the
// scripts change, recognition follows; when a phase is added or changes its arguments, the table
// below no longer type-checks or the phase is reported as unknown.

import { remoteCall, type RemoteOp } from '../../../src/rollout/remote.js';

/** Splits a POSIX shell command line into words (single and double quotes, backslash escapes). */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && /["\\$`\n]/.test(s[i + 1] ?? '')) i++;
        cur += s[i++];
      }
      if (i >= s.length) throw new Error('unterminated double quote');
      inWord = true;
    } else if (c === '\\') {
      cur += s[++i] ?? '';
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

// A well-formed call of every phase, to learn each phase's script from natchain itself.
const SAMPLE_TX = '20260101T000000Z-000000';
const SAMPLES: Record<RemoteOp, Array<string | number>> = {
  prepare: ['sim@sim:1', '-', '0', 0, 0, '-'],
  apply: [60, 0, '-'],
  commit: [],
  abort: [0],
  inspect: [],
};

let scripts: Map<string, RemoteOp> | undefined;
function scriptTable(): Map<string, RemoteOp> {
  if (!scripts) {
    scripts = new Map();
    for (const [op, args] of Object.entries(SAMPLES) as Array<[RemoteOp, Array<string | number>]>) {
      const words = shellWords(remoteCall(op, '0000000000000000', 'iptables', op === 'inspect' ? null : SAMPLE_TX, args).command);
      scripts.set(words[2]!, op);
    }
  }
  return scripts;
}

/** A recognised phase call. */
export interface PhaseCall {
  op: RemoteOp;
  nonce: string;
  backend: string;
  tx: string;
  args: string[];
}

/** The phase a command runs, or an error naming what was not recognised. */
export function recognise(command: string): PhaseCall | Error {
  let words = shellWords(command);
  if (words[0] === 'sudo' && words[1] === '-n') words = words.slice(2);
  if (words[0] === 'timeout' && words[1] === '-s' && words[2] === 'KILL') words = words.slice(4);
  if (words[0] !== 'sh' || words[1] !== '-c') return new Error(`not a wrapped command: ${command.slice(0, 80)}`);
  // Wrapped in a second `sh -c` (a plain command), or run as it is (ExecOptions.shWords: a phase's own `sh -c`).
  if (words.length === 3) words = shellWords(words[2]!);
  if (words[0] !== 'sh' || words[1] !== '-c' || words[3] !== 'natchain') return new Error(`not a natchain phase: ${words.slice(0, 2).join(' ')}`);
  const op = scriptTable().get(words[2]!);
  if (!op) return new Error('a natchain script this simulation does not know (src/rollout/remote.ts changed: update scripts/bench/sim)');
  const [nonce, backend, tx, ...args] = words.slice(4);
  return { op, nonce: nonce!, backend: backend!, tx: tx!, args };
}
