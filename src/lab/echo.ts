// Stopping and starting a lab target's echo services, so a real service can listen on a forwarded
// port instead (`natchain lab echo stop`, then `natchain lab exec <lab> <host> -- <your server>`),
// or so a test can take a target down on purpose.
import { join } from 'node:path';
import { NatchainError } from '../errors.js';
import { unknownName } from '../suggest.js';
import { echoListen, echoStartScript, echoWaitScript } from './scripts.js';
import { NETNS_DIR, alive, openLab, processesIn } from './state.js';
import { run } from './sys.js';
import type { Lab, LabHostInfo, PlannedService } from './types.js';

/** Which of a host's echo services: all of them, or those on these `port/proto`s. */
export type EchoSelection = Array<{ port: number; proto: PlannedService['proto'] }> | 'all';

/** Parses `22/tcp` or `53/udp` (a bare port means tcp). */
export function parseServiceSpec(spec: string): { port: number; proto: PlannedService['proto'] } {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(spec);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) throw new NatchainError('USAGE', `"${spec}" is not PORT or PORT/tcp or PORT/udp`);
  return { port, proto: (m[2] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

function hostOf(lab: Lab, name: string): LabHostInfo {
  const h = lab.hosts.find((x) => x.name === name);
  if (!h) throw unknownName('host', name, lab.hosts.map((x) => x.name), `lab ${lab.name}`);
  if (!h.services.length) throw new NatchainError('NOT_FOUND', `lab host "${name}" runs no echo service (only forward targets do)`);
  return h;
}

function selected(h: LabHostInfo, which: EchoSelection): PlannedService[] {
  if (which === 'all') return h.services;
  return which.map((w) => {
    const svc = h.services.find((s) => s.port === w.port && s.proto === w.proto);
    if (!svc) throw unknownName('echo service', `${w.port}/${w.proto}`, h.services.map((s) => `${s.port}/${s.proto}`), `lab host ${h.name}`);
    return svc;
  });
}

/** Stops echo services of a lab host (only natchain's echo processes, never another listener); returns what it stopped. */
export async function labEchoStop(lab: Lab | string, host: string, which: EchoSelection = 'all'): Promise<string[]> {
  const l = typeof lab === 'string' ? await openLab(lab) : lab;
  const h = hostOf(l, host);
  const services = selected(h, which);
  const procs = await processesIn([join(NETNS_DIR, h.netns)]);
  const stopped: string[] = [];
  for (const svc of services) {
    const head = `socat ${echoListen(svc)} SYSTEM:echo host=${h.name} `;
    for (const p of procs.filter((x) => x.command.startsWith(head))) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 200 && (await alive(p.pid)); i++) await new Promise((r) => setTimeout(r, 10));
      stopped.push(`${svc.port}/${svc.proto}`);
    }
  }
  return stopped;
}

/** Starts echo services of a lab host again (those not running); resolves once they listen. */
export async function labEchoStart(lab: Lab | string, host: string, which: EchoSelection = 'all'): Promise<string[]> {
  const l = typeof lab === 'string' ? await openLab(lab) : lab;
  const h = hostOf(l, host);
  const procs = await processesIn([join(NETNS_DIR, h.netns)]);
  const down = selected(h, which).filter((svc) => !procs.some((p) => p.command.startsWith(`socat ${echoListen(svc)} SYSTEM:echo host=${h.name} `)));
  if (!down.length) return [];
  const script = 'set -e\n' + echoStartScript(h.name, down, join(l.dir, 'log', `${h.name}.log`)) + echoWaitScript(down);
  const r = await run('nsenter', [`--net=${join(NETNS_DIR, h.netns)}`, '--', 'sh', '-c', script], { timeoutMs: 20_000, detached: true });
  if (r.code !== 0) throw new NatchainError('LAB', `starting the echo services of ${h.name} failed: ${(r.stderr || r.stdout).trim()}`);
  return down.map((s) => `${s.port}/${s.proto}`);
}
