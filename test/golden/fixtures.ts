// Hand-built gateways and intents for the renderer tests (the seeds of /work/shared/seeds and a
// few more shapes). The solver's own tests check that it produces these same intents.
import type { Backend, Gateway } from '../../src/topology/types.js';
import type { Intent } from '../../src/solve/types.js';

const pos = { file: 'fixture.yaml', line: 1, col: 1 };

/** A gateway with the given backend and `name: address/prefix` interfaces. */
export function gateway(name: string, backend: Backend, ifaces: Record<string, string>): Gateway {
  return {
    name,
    backend,
    ssh: { host: name },
    interfaces: Object.entries(ifaces).map(([ifname, cidr]) => {
      const [address, prefix] = cidr.split('/');
      return { name: ifname, gateway: name, address: address!, prefix: Number(prefix), attach: { kind: 'network', name: 'n' }, pos };
    }),
    hopPorts: { from: 20000, to: 29999 },
    pos,
  };
}

/** Shorthand for an intent: `dst`/`dnat` as `addr:port` or `addr:from-to`. */
export function intent(
  forward: string,
  gw: string,
  proto: 'tcp' | 'udp',
  inIface: string,
  dst: string,
  outIface: string,
  dnat: string,
  extra: { src?: string; snat?: string } = {},
): Intent {
  const ep = (s: string) => {
    const [address, ports] = s.split(':');
    const [from, to] = ports!.split('-').map(Number);
    return { address: address!, ports: { from: from!, to: to ?? from! } };
  };
  const src = extra.src?.split('/');
  return {
    forward,
    gateway: gw,
    proto,
    inIface,
    ...(src ? { src: { address: src[0]!, prefix: Number(src[1]) } } : {}),
    dst: ep(dst),
    outIface,
    dnat: ep(dnat),
    ...(extra.snat ? { snat: { address: extra.snat } } : {}),
    sources: ['fixture'],
  };
}

/** Seed 000: gw, forward web, public 1.2.3.4:81 -> 192.168.0.2:8180, with hairpin for the LAN. */
export function seed000(backend: Backend): { gw: Gateway; intents: Intent[] } {
  const gw = gateway('gw', backend, { eth0: '1.2.3.4/24', eth1: '192.168.0.1/24' });
  return {
    gw,
    intents: [
      intent('web', 'gw', 'tcp', 'eth0', '1.2.3.4:81', 'eth1', '192.168.0.2:8180'),
      intent('web', 'gw', 'tcp', 'eth1', '1.2.3.4:81', 'eth1', '192.168.0.2:8180', { src: '192.168.0.0/24', snat: '192.168.0.1' }),
    ],
  };
}

/** Seed 001, gateway B: the site-B client dials 10.0.0.12:22, B sends it to A's public port 22012. */
export function seed001b(backend: Backend): { gw: Gateway; intents: Intent[] } {
  const gw = gateway('gw-b', backend, { eth0: '143.89.135.171/16', eth1: '10.0.1.2/24' });
  return {
    gw,
    intents: [intent('ssh', 'gw-b', 'tcp', 'eth1', '10.0.0.12:22', 'eth0', '143.89.197.180:22012', { snat: '143.89.135.171' })],
  };
}

/** Seed 001, gateway A: its public port 22012 goes to the server 10.0.0.12:22. */
export function seed001a(backend: Backend): { gw: Gateway; intents: Intent[] } {
  const gw = gateway('gw-a', backend, { eth0: '143.89.197.180/16', eth1: '10.0.0.2/24' });
  return { gw, intents: [intent('ssh', 'gw-a', 'tcp', 'eth0', '143.89.197.180:22012', 'eth1', '10.0.0.12:22')] };
}

/** A mixed gateway: udp, a port range (kept as is), a subnet source, two protocols of one forward. */
export function mixed(backend: Backend): { gw: Gateway; intents: Intent[] } {
  const gw = gateway('mix', backend, { wan0: '203.0.113.1/24', lan0: '10.10.0.1/24' });
  return {
    gw,
    intents: [
      intent('dns', 'mix', 'udp', 'wan0', '203.0.113.1:53', 'lan0', '10.10.0.53:5353'),
      intent('dns', 'mix', 'tcp', 'wan0', '203.0.113.1:53', 'lan0', '10.10.0.53:5353'),
      intent('rtp', 'mix', 'udp', 'wan0', '203.0.113.1:10000-10099', 'lan0', '10.10.0.7:10000-10099'),
      intent('admin', 'mix', 'tcp', 'wan0', '203.0.113.1:2222', 'lan0', '10.10.0.9:22', { src: '198.51.100.0/24' }),
    ],
  };
}

/** `n` forwards on one gateway, distinct public ports, every third with hairpin SNAT. */
export function many(backend: Backend, n: number): { gw: Gateway; intents: Intent[] } {
  const gw = gateway('big', backend, { eth0: '198.51.100.1/24', eth1: '10.20.0.1/16' });
  const intents: Intent[] = [];
  for (let k = 0; k < n; k++) {
    const target = `10.20.${Math.floor(k / 250)}.${(k % 250) + 2}`;
    intents.push(intent(`f${k}`, 'big', k % 2 ? 'udp' : 'tcp', 'eth0', `198.51.100.1:${20000 + k}`, 'eth1', `${target}:${1000 + k}`));
    if (k % 3 === 0) {
      intents.push(
        intent(`f${k}`, 'big', k % 2 ? 'udp' : 'tcp', 'eth1', `198.51.100.1:${20000 + k}`, 'eth1', `${target}:${1000 + k}`, { src: '10.20.0.0/16', snat: '10.20.0.1' }),
      );
    }
  }
  return { gw, intents };
}

/** A range forward and a single-port forward inside it, on different interfaces (nft cuts the range). */
export function overlap(backend: Backend): { gw: Gateway; intents: Intent[] } {
  const gw = gateway('ov', backend, { eth0: '1.2.3.4/24', eth1: '10.0.0.1/24' });
  return {
    gw,
    intents: [
      intent('range', 'ov', 'tcp', 'eth0', '1.2.3.4:8000-8010', 'eth1', '10.0.0.5:8000-8010'),
      intent('single', 'ov', 'tcp', 'eth1', '1.2.3.4:8005', 'eth1', '10.0.0.6:80', { src: '10.0.0.0/24', snat: '10.0.0.1' }),
    ],
  };
}
