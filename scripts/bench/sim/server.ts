// A simulated fleet: one ssh2 SSH server (the real protocol: key exchange, host key, public-key
// login with signature check, session channels, exec, stdin, exit status) behind one TCP listener
// per gateway on 127.0.0.1, answering natchain's remote phases from an in-memory model of each
// gateway (gateway.ts). One process serves the whole fleet, so what a benchmark measures in the
// natchain process is the controller's own cost.

import net from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey } from 'ssh2';
import { SimGateway, type SimInterface } from './gateway.js';
import { recognise } from './protocol.js';

const { Server, utils } = ssh2;

/** One gateway of the fleet. */
export interface SimGatewaySpec {
  name: string;
  backend: 'iptables' | 'nftables';
  interfaces: SimInterface[];
}

/** A running simulated fleet. */
export interface SimFleet {
  gateways: Map<string, SimGateway>;
  /** TCP port on 127.0.0.1 of each gateway. */
  ports: Map<string, number>;
  /** `ssh-ed25519 AAAA...`: the host key every simulated gateway presents. */
  hostKeyPub: string;
  /** SSH connections accepted (and the most open at once), exec requests served, and commands not recognised. */
  /** open/maxOpen: TCP connections (a reachability check that never logs in included); loggedIn/maxLoggedIn: authenticated ones. */
  stats: { connections: number; open: number; maxOpen: number; loggedIn: number; maxLoggedIn: number; execs: number; unknown: string[] };
  close(): Promise<void>;
}

/** Starts the fleet; `clientPub` is the one public key allowed to log in (as root). */
export async function startSimFleet(specs: SimGatewaySpec[], clientPub: string): Promise<SimFleet> {
  const host = utils.generateKeyPairSync('ed25519');
  const allowed = utils.parseKey(clientPub) as ParsedKey;
  if (allowed instanceof Error) throw allowed;
  const stats: SimFleet['stats'] = { connections: 0, open: 0, maxOpen: 0, loggedIn: 0, maxLoggedIn: 0, execs: 0, unknown: [] };
  const gateways = new Map(specs.map((s) => [s.name, new SimGateway(s.name, s.backend, s.interfaces)]));
  const byPort = new Map<number, SimGateway>();
  const live = new Set<net.Socket>();
  const server = new Server({ hostKeys: [host.private] }, () => undefined);
  const listeners: net.Server[] = [];

  const serve = (client: Connection, gw: SimGateway): void => {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.username !== 'root' || ctx.key.algo !== allowed.type || !ctx.key.data.equals(allowed.getPublicSSH())) {
        ctx.reject(['publickey']);
        return;
      }
      if (ctx.signature && allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
        ctx.reject(['publickey']);
        return;
      }
      ctx.accept();
    });
    client.on('ready', () => {
      stats.maxLoggedIn = Math.max(stats.maxLoggedIn, ++stats.loggedIn);
      client.once('close', () => stats.loggedIn--);
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          stats.execs++;
          const input: Buffer[] = [];
          stream.on('data', (d: Buffer) => input.push(d));
          stream.on('end', () => {
            const call = recognise(info.command);
            if (call instanceof Error) {
              stats.unknown.push(call.message);
              stream.stderr.write(`sim: ${call.message}\n`);
              stream.exit(127);
              stream.end();
              return;
            }
            const answer = () => {
              if (gw.cut.has(call.op)) return void client.end();
              const a = gw.run(call.op, call.nonce, call.tx, call.args, Buffer.concat(input).toString('utf8'));
              stream.write(a.stdout);
              stream.exit(a.code);
              stream.end();
            };
            const ms = gw.delay.get(call.op);
            if (ms) setTimeout(answer, ms);
            else answer();
          });
        });
      });
    });
  };

  // ssh2's Server calls its connection listener for injected sockets too: route by local port.
  server.on('connection', (client: Connection, info: { ip: string; port: number }) => {
    void info;
    const sock = (client as unknown as { _sock?: net.Socket })._sock;
    const gw = sock?.localPort !== undefined ? byPort.get(sock.localPort) : undefined;
    if (!gw) {
      client.end();
      return;
    }
    serve(client, gw);
  });

  for (const gw of gateways.values()) {
    const l = net.createServer((sock) => {
      stats.connections++;
      stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
      live.add(sock);
      sock.on('close', () => {
        stats.open--;
        live.delete(sock);
      });
      sock.on('error', () => undefined);
      server.injectSocket(sock);
    });
    await new Promise<void>((resolve, reject) => {
      l.once('error', reject);
      l.listen(0, '127.0.0.1', () => resolve());
    });
    byPort.set((l.address() as net.AddressInfo).port, gw);
    listeners.push(l);
  }
  const ports = new Map([...byPort].map(([port, gw]) => [gw.name, port]));
  return {
    gateways,
    ports,
    hostKeyPub: host.public,
    stats,
    close: async () => {
      for (const s of live) s.destroy();
      await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
    },
  };
}
