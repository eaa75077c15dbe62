// A scripted fake gateway session for transaction unit tests: no SSH, no netfilter. Each exec is
// recognised by its remote phase (prepare, apply, commit, abort, inspect) and answered by the
// test's script, in the framed section format the real scripts print.
import { NatchainError } from '../../src/errors.js';
import type { RemoteOp } from '../../src/rollout/remote.js';
import type { ExecResult, GatewaySession } from '../../src/transport/types.js';

/** One exec the fake saw: its phase and its arguments after nonce, backend and tx. */
export interface FakeCall {
  gateway: string;
  op: RemoteOp;
  nonce: string;
  tx: string;
  args: string[];
}

/** How the test answers one exec: sections to print (an `end` marker is added), or a thrown error. */
export type FakeAnswer = { sections: Record<string, string>; code?: number } | { lose: string } | { timeout: string };

/** Which phase a command runs (by a line only that phase's template has). */
export function opOf(command: string): RemoteOp {
  if (command.includes('UNDO=$1')) return 'abort';
  if (command.includes('SECS=$1; FWD=$2; FAULT=$3')) return 'apply';
  if (command.includes('OWNER=$1; BRK=$2')) return 'prepare';
  if (command.includes('if claim commit; then')) return 'commit';
  if (command.includes('sec live')) return 'inspect';
  throw new Error(`fake session: unknown phase in ${command.slice(0, 80)}`);
}

/** Builds a script's framed output. */
export function sections(nonce: string, parts: Record<string, string>): string {
  let out = '';
  for (const [name, text] of Object.entries(parts)) out += `\n@@natchain:${nonce}:${name}\n${text}`;
  return out + `\n@@natchain:${nonce}:end\n`;
}

/** A fake session; `answer` decides each exec's reply. A `lose` answer also ends the connection. */
export class FakeSession implements GatewaySession {
  execCount = 0;
  readonly closed: Promise<void>;
  private end!: () => void;
  isClosed = false;
  constructor(
    readonly gateway: string,
    private readonly answer: (call: FakeCall, session: FakeSession) => FakeAnswer,
    readonly calls: FakeCall[],
  ) {
    this.closed = new Promise((r) => (this.end = r));
  }
  async exec(command: string): Promise<ExecResult> {
    if (this.isClosed) throw new NatchainError('SSH', `${this.gateway}: the connection is closed`);
    this.execCount++;
    const words = command.slice(command.lastIndexOf("' natchain ") + "' natchain ".length).split(' ');
    const call: FakeCall = { gateway: this.gateway, op: opOf(command), nonce: words[0]!, tx: words[2]!, args: words.slice(3) };
    this.calls.push(call);
    const a = this.answer(call, this);
    if ('lose' in a) {
      this.isClosed = true;
      this.end();
      throw new NatchainError('SSH', `${this.gateway}: ${a.lose}`);
    }
    if ('timeout' in a) throw new NatchainError('SSH', `${this.gateway}: ${a.timeout}`);
    return { stdout: sections(call.nonce, a.sections), stderr: '', code: a.code ?? 0 };
  }
  async close(): Promise<void> {
    this.isClosed = true;
    this.end();
  }
}
