// Whether a gateway's sshd answers, without logging in to it: a connection to its SSH port
// (direct TCP, its ProxyCommand, or a channel opened by its jump host's connection) that shows an
// SSH version line. For gateways outside a change: it never locks, never runs a command, and is
// bounded by its own deadline.
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { ioReason } from '../errors.js';
import { ProxyCommandSocket } from './proxy.js';

/** Longest preamble read while looking for the version line (RFC 4253 lets a server send lines before it). */
const MAX_PREAMBLE = 8192;

const NET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host name not found',
};

/** Why a connection failed, in words, with the address when Node gives it. */
function netReason(e: Error): string {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const words = err.code && Object.hasOwn(NET_REASONS, err.code) ? NET_REASONS[err.code]! : undefined;
  if (!words) return ioReason(e);
  return err.address ? `${words} (${err.address}${err.port ? `:${err.port}` : ''})` : words;
}

/** The socket a check reads from: direct TCP to host:port, or the gateway's ProxyCommand. */
export function openCheckSocket(via: { kind: 'tcp'; host: string; port: number } | { kind: 'proxy-command'; command: string }): Duplex {
  return via.kind === 'tcp' ? tcpConnect({ host: via.host, port: via.port }) : new ProxyCommandSocket(via.command);
}

/**
 * Reads the server's SSH version line (`SSH-2.0-OpenSSH_9.2p1 ...`) from `sock` within `timeoutMs`, then
 * destroys the socket (a ProxyCommand's process group is ended with it). Rejects with why there is none.
 */
export function readSshBanner(sock: Duplex, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, banner?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      sock.destroy();
      if (err) reject(err);
      else resolve(banner!);
    };
    const timer = setTimeout(() => finish(new Error(`no SSH version line within ${(timeoutMs / 1000).toFixed(1)} s`)), timeoutMs);
    const stop = () => finish(new Error('check stopped'));
    if (signal?.aborted) return stop();
    signal?.addEventListener('abort', stop, { once: true });
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (const line of buf.split('\n').slice(0, -1)) {
        if (line.startsWith('SSH-')) return finish(undefined, line.replace(/\r$/, ''));
      }
      if (buf.length > MAX_PREAMBLE) finish(new Error('it answers, but not with an SSH version line'));
    });
    sock.on('error', (e) => finish(new Error(netReason(e))));
    const closed = () => {
      if (done) return;
      // A ProxyCommand's exit status and stderr say why (socat: "Connection refused"): wait briefly for them.
      const exit = sock instanceof ProxyCommandSocket && !sock.exited ? Promise.race([sock.exit, new Promise((r) => setTimeout(r, 500))]) : Promise.resolve();
      void exit.then(() => finish(new Error(`closed before any SSH version line${sock instanceof ProxyCommandSocket ? `; ${sock.describeExit()}` : ''}`)));
    };
    sock.on('end', closed);
    sock.on('close', closed);
  });
}
