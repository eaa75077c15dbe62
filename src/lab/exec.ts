import { join } from 'node:path';
import { NatchainError } from '../errors.js';
import { unknownName } from '../suggest.js';
import type { Proto } from '../topology/types.js';
import { SWITCH_NODE } from './names.js';
import { NETNS_DIR, openLab } from './state.js';
import { run, type RunResult } from './sys.js';
import type { Lab } from './types.js';

export interface LabExecOptions {
  /** Written to the command's stdin. */
  input?: string | Buffer;
  /** Kill it after this long (then code is null). */
  timeoutMs?: number;
  /** Use the caller's terminal (interactive); stdout/stderr then come back empty. */
  inherit?: boolean;
}

/** Node names of a lab, gateways first (for messages and completion). */
export function labNodes(lab: Lab): string[] {
  return [...lab.gateways.map((g) => g.name), ...lab.hosts.map((h) => h.name)];
}

/** The nsenter arguments that put a command in a lab node: gateways in all their namespaces, hosts in their network namespace. */
export function nsenterArgs(lab: Lab, node: string): string[] {
  const g = lab.gateways.find((x) => x.name === node);
  if (g) return [`--net=${join(NETNS_DIR, g.netns)}`, `--mount=${g.mountNs}`, `--uts=${g.utsNs}`];
  const h = lab.hosts.find((x) => x.name === node);
  if (h) return [`--net=${join(NETNS_DIR, h.netns)}`];
  if (node === SWITCH_NODE) return [`--net=${join(NETNS_DIR, lab.switchNs)}`];
  throw unknownName('node', node, labNodes(lab), `lab ${lab.name}`);
}

/**
 * Runs a command (argv, no shell) inside a node of a lab, as the gateway or host would run it.
 * Resolves with its output and exit code, whatever the code is.
 */
export async function labExec(lab: Lab | string, node: string, argv: string[], opts: LabExecOptions = {}): Promise<RunResult> {
  const l = typeof lab === 'string' ? await openLab(lab) : lab;
  if (!argv.length) throw new NatchainError('USAGE', 'lab exec: no command given');
  return run('nsenter', [...nsenterArgs(l, node), '--', ...argv], {
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.inherit ? { inherit: true } : {}),
  });
}

/** What a probe saw. `fields` parses the echo service's `key=value` reply (host, proto, port, peer, peerport). */
export type ProbeResult = { ok: true; reply: string; fields: Record<string, string> } | { ok: false; error: string };

export interface ProbeOptions {
  proto: Proto;
  address: string;
  port: number;
  /** Source port to send from (so the flow can be found in conntrack); default: any. */
  sourcePort?: number;
  /** Give up after this long (default 1500 ms). */
  timeoutMs?: number;
}

// Runs inside the node with `node -e`: the probes given as JSON, all at once; one result line each,
// in order. A probe is one TCP connection or one UDP exchange, and keeps the first line answered.
const PROBE_JS = `
const probes = JSON.parse(process.argv[1]);
const results = new Array(probes.length);
let left = probes.length;
const finish = (i, o) => { if (results[i]) return; results[i] = o; if (--left === 0) { process.stdout.write(results.map((r) => JSON.stringify(r)).join('\\n') + '\\n'); process.exit(0); } };
probes.forEach((p, i) => {
  const done = (o) => finish(i, o);
  setTimeout(() => done({ ok: false, error: 'timeout' }), p.timeoutMs);
  if (p.proto === 'tcp') {
    const s = require('net').connect({ host: p.address, port: p.port, ...(p.sourcePort ? { localPort: p.sourcePort } : {}) });
    let buf = '';
    s.on('data', (d) => { buf += d; const n = buf.indexOf('\\n'); if (n >= 0) { done({ ok: true, reply: buf.slice(0, n) }); s.destroy(); } });
    s.on('end', () => done(buf ? { ok: true, reply: buf.trim() } : { ok: false, error: 'closed without a reply' }));
    s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
  } else {
    const s = require('dgram').createSocket('udp4');
    s.on('message', (m) => { done({ ok: true, reply: String(m).trim() }); s.close(); });
    s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
    s.bind(p.sourcePort || 0, () => s.connect(p.port, p.address, (e) => e ? done({ ok: false, error: e.code || e.message }) : s.send('probe\\n')));
  }
});
if (!probes.length) process.exit(0);
`;

/**
 * From a lab node, opens one TCP connection (or sends one UDP datagram) and returns the first
 * line of the answer: with the lab's echo services, which host answered and whom it saw.
 */
export async function labProbe(lab: Lab | string, from: string, o: ProbeOptions): Promise<ProbeResult> {
  return (await labProbeMany(lab, from, [o]))[0]!;
}

/** Several probes from one node at once (one process in the node for all of them); results in order. */
export async function labProbeMany(lab: Lab | string, from: string, probes: ProbeOptions[]): Promise<ProbeResult[]> {
  if (!probes.length) return [];
  const list = probes.map((o) => ({ proto: o.proto, address: o.address, port: o.port, sourcePort: o.sourcePort ?? 0, timeoutMs: o.timeoutMs ?? 1500 }));
  const longest = Math.max(...list.map((p) => p.timeoutMs));
  const r = await labExec(lab, from, [process.execPath, '-e', PROBE_JS, JSON.stringify(list)], { timeoutMs: longest + 10_000 });
  const lines = r.stdout.trim().split('\n');
  return list.map((_, i) => {
    let parsed: { ok: boolean; reply?: string; error?: string };
    try {
      parsed = JSON.parse(lines[i] ?? '') as typeof parsed;
    } catch {
      return { ok: false, error: `probe failed: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}` };
    }
    if (!parsed.ok) return { ok: false, error: parsed.error ?? 'failed' };
    const reply = parsed.reply ?? '';
    return { ok: true, reply, fields: parseEcho(reply) };
  });
}

/** Parses `host=server-ssh-12 proto=tcp port=22 peer=143.89.135.171 peerport=2182`. */
export function parseEcho(reply: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of reply.matchAll(/(\w+)=(\S*)/g)) out[m[1]!] = m[2]!;
  return out;
}
