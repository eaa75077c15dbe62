// A simulated gateway as a GatewaySession without SSH: each exec is recognised as a natchain phase
// (protocol.ts) and answered by the gateway's model, exactly as the simulated sshd answers it. For
// tests that hold the simulation against the real scripts, call for call.

import type { ExecOptions, ExecResult, GatewaySession } from '../../../src/transport/types.js';
import type { SimGateway } from './gateway.js';
import { recognise } from './protocol.js';

/** A session whose execs the simulated gateway answers (an unknown command: exit 127, as the server says it). */
export function simSession(gw: SimGateway): GatewaySession {
  let count = 0;
  return {
    gateway: gw.name,
    get execCount() {
      return count;
    },
    closed: new Promise<void>(() => undefined),
    async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      count++;
      const call = recognise(command);
      if (call instanceof Error) return { stdout: '', stderr: `sim: ${call.message}\n`, code: 127 };
      const a = gw.run(call.op, call.nonce, call.tx, call.args, opts.stdin === undefined ? '' : opts.stdin.toString());
      return { stdout: a.stdout, stderr: '', code: a.code };
    },
    async close() {},
  };
}
