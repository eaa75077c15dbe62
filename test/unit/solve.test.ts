import { expect } from 'chai';
import { compile } from '../../src/compile.js';
import { EMPTY_LOCK, formatLock, formatLockSliced, parseLock, solve } from '../../src/solve/index.js';
import type { Intent, PortLock } from '../../src/solve/types.js';
import { example, errorsOf, twoSites } from '../support/topo.js';

const p = (n: number) => ({ from: n, to: n });
/** Intents without the bookkeeping fields, for comparing with the seeds' rules. */
const bare = (is: Intent[]) => is.map(({ sources: _s, ...rest }) => rest);

describe('solve: chains and intents', () => {
  it('seed 000: port forward with hairpin SNAT, as the seed (without its INPUT mistake)', () => {
    const s = solve(example('seed-portforward'));
    expect(bare(s.intents.gw!)).to.deep.equal([
      // rule 1, for internet clients: -i eth0 -d 1.2.3.4 --dport 81 -j DNAT --to 192.168.0.2:8180
      { forward: 'web', gateway: 'gw', proto: 'tcp', inIface: 'eth0', dst: { address: '1.2.3.4', ports: p(81) }, outIface: 'eth1', dnat: { address: '192.168.0.2', ports: p(8180) } },
      // rules 1+2 for LAN clients (hairpin): DNAT, then SNAT to the gateway's LAN address
      {
        forward: 'web',
        gateway: 'gw',
        proto: 'tcp',
        inIface: 'eth1',
        src: { address: '192.168.0.0', prefix: 24 },
        dst: { address: '1.2.3.4', ports: p(81) },
        outIface: 'eth1',
        dnat: { address: '192.168.0.2', ports: p(8180) },
        snat: { address: '192.168.0.1' },
      },
    ]);
  });

  it('seed 001: DNAT + narrow SNAT on gw-b, one DNAT on gw-a serving the internet and gw-b', () => {
    const s = solve(example('seed-vpn'));
    expect(bare(s.intents['gw-b']!)).to.deep.equal([
      {
        forward: 'ssh-12',
        gateway: 'gw-b',
        proto: 'tcp',
        inIface: 'eth1',
        dst: { address: '10.0.0.12', ports: p(22) },
        outIface: 'eth0',
        dnat: { address: '143.89.197.180', ports: p(22012) },
        snat: { address: '143.89.135.171' },
      },
    ]);
    expect(bare(s.intents['gw-a']!)).to.deep.equal([
      { forward: 'ssh-12', gateway: 'gw-a', proto: 'tcp', inIface: 'eth0', dst: { address: '143.89.197.180', ports: p(22012) }, outIface: 'eth1', dnat: { address: '10.0.0.12', ports: p(22) } },
    ]);
    expect(s.intents['gw-a']![0]!.sources).to.have.members(['site-b', 'internet']);
    const chain = s.chains.find((c) => c.source.kind === 'site')!;
    expect(chain.hops.map((h) => h.gateway)).to.deep.equal(['gw-b', 'gw-a']);
    expect(chain.dial).to.deep.equal({ address: '10.0.0.12', ports: p(22) });
    expect(s.lock).to.deep.equal(EMPTY_LOCK); // 22012 is exposed, not picked
  });

  it('three gateways: every hop but the last SNATs, so replies retrace the chain', () => {
    const s = solve(example('three-hop'));
    const db = s.chains.find((c) => c.forward === 'db')!;
    expect(db.hops.map((h) => [h.gateway, h.inIface, h.outIface, h.snat?.address])).to.deep.equal([
      ['gw-office', 'eth1', 'eth0', '198.51.100.10'],
      ['gw-edge', 'eth0', 'eth1', '10.250.0.1'],
      ['gw-dc', 'eth0', 'eth1', undefined],
    ]);
    // Each hop sends to the next hop's entry address and port, which the next hop matches.
    for (let i = 0; i + 1 < db.hops.length; i++) {
      expect(db.hops[i]!.dnat).to.deep.equal(db.hops[i + 1]!.dst);
      expect(db.hops[i + 1]!.src).to.deep.equal({ address: db.hops[i]!.snat!.address, prefix: 32 });
    }
    expect(db.hops[2]!.dnat).to.deep.equal({ address: '10.3.0.50', ports: p(5432) });
    // Picked hop ports come from the gateway's range and are recorded in the lock.
    const picked = s.allocations.filter((a) => a.origin === 'new');
    expect(picked.map((a) => `${a.forward} ${a.gateway}`).sort()).to.deep.equal(['db gw-dc', 'db gw-edge', 'dns gw-dc']);
    for (const a of picked) expect(a.ports.from).to.be.within(20000, 29999);
    expect(Object.keys(s.lock.ports).sort()).to.deep.equal(['db', 'dns']);
  });

  it('a port range crosses every hop unchanged', () => {
    const s = solve(example('three-hop'));
    const m = s.chains.find((c) => c.forward === 'metrics')!;
    expect(m.hops.map((h) => h.dnat.ports)).to.deep.equal([
      { from: 9100, to: 9102 },
      { from: 9100, to: 9102 },
    ]);
  });

  it('proto both gives one intent per protocol, with one port for both', () => {
    const s = solve(example('three-hop'));
    const dc = s.intents['gw-dc']!.filter((i) => i.forward === 'dns');
    expect(dc.map((i) => i.proto)).to.deep.equal(['tcp', 'udp']);
    expect(dc[0]!.dst).to.deep.equal(dc[1]!.dst);
  });

  it('shared VPN: branches reach the hub over the vpn network, subnet sources are kept narrow', () => {
    const s = solve(example('hub-vpn'));
    const syslog = s.chains.filter((c) => c.forward === 'syslog');
    expect(syslog.map((c) => c.hops.map((h) => `${h.gateway}:${h.outIface}`).join(' '))).to.deep.equal([
      'gw-branch-1:wg0 gw-hq:eth1',
      'gw-branch-2:wg0 gw-hq:eth1',
    ]);
    expect(syslog[1]!.hops[0]!.src).to.deep.equal({ address: '10.30.0.0', prefix: 25 });
    // Both branches enter gw-hq on the same hop port; gw-hq tells them apart by source.
    expect(syslog[0]!.hops[1]!.dst).to.deep.equal(syslog[1]!.hops[1]!.dst);
    expect(s.intents['gw-hq']!.filter((i) => i.forward === 'syslog').map((i) => i.src?.address)).to.deep.equal(['10.255.0.2', '10.255.0.3']);
  });

  it('is deterministic', () => {
    const a = solve(example('hub-vpn'));
    const b = solve(example('hub-vpn'));
    expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
  });

  it('never allocates a hop port that is exposed or pinned elsewhere on the same address', () => {
    // Narrow range: 3 ports; two are claimed by exposure and pin, so the picked one must be the third.
    const t = compile(
      twoSites(`  a: { from: internet, to: "10.0.0.5:80", expose: "198.51.100.1:30000" }
  b: { from: site-b, to: "10.0.0.6:80", ports: { gw-a: 30001 } }
  c: { from: site-b, to: "10.0.0.7:80" }
`).replace('  gw-a:\n', '  gw-a:\n    hopPorts: 30000-30002\n'),
      't.yaml',
    ).topology;
    const s = solve(t);
    const port = (f: string) => s.allocations.find((a) => a.forward === f && a.gateway === 'gw-a')!;
    expect([port('a').ports.from, port('a').origin]).to.deep.equal([30000, 'expose']);
    expect([port('b').ports.from, port('b').origin]).to.deep.equal([30001, 'pin']);
    expect([port('c').ports.from, port('c').origin]).to.deep.equal([30002, 'new']);
  });

  it('reports a full hop-port range', () => {
    const yaml = twoSites(`  a: { from: site-b, to: "10.0.0.5:80" }
  b: { from: site-b, to: "10.0.0.6:80" }
`).replace('  gw-a:\n', '  gw-a:\n    hopPorts: 30000-30000\n');
    expect(errorsOf(() => compile(yaml, 't.yaml'))).to.deep.equal([
      't.yaml:18:3: forward "b": gateway gw-a has no free hop port left in 30000 on 198.51.100.1',
    ]);
  });
});

describe('solve: stable allocation', () => {
  const forwards = (names: string[]) => names.map((n, i) => `  ${n}: { from: site-b, to: "10.0.0.${10 + i}:${1000 + i}", proto: both }`).join('\n') + '\n';
  const portsOf = (lock: PortLock) => Object.fromEntries(Object.entries(lock.ports).map(([f, m]) => [f, Object.values(m)[0]]));
  const names = Array.from({ length: 40 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
  // A tiny range forces collisions, the case where a naive allocator would shuffle ports.
  const narrow = (yaml: string) => yaml.replace('  gw-a:\n', '  gw-a:\n    hopPorts: 30000-30059\n');

  it('keeps every existing port when forwards are added, removed or reordered (with the lock)', () => {
    const first = solve(compile(narrow(twoSites(forwards(names))), 't.yaml').topology);
    const before = portsOf(first.lock);
    expect(new Set(Object.values(before)).size).to.equal(40);
    const lock = parseLock(formatLock(first.lock), 't.lock'); // through the file format, as on disk

    const added = solve(compile(narrow(twoSites(forwards(['aaa-new', 'mmm-new', ...names]))), 't.yaml').topology, lock);
    const reordered = solve(compile(narrow(twoSites(forwards([...names].reverse()))), 't.yaml').topology, lock);
    const removed = solve(compile(narrow(twoSites(forwards(names.filter((_, i) => i % 3)))), 't.yaml').topology, lock);
    for (const [f, port] of Object.entries(portsOf(added.lock))) if (before[f] !== undefined) expect(port, f).to.equal(before[f]);
    expect(portsOf(added.lock)['aaa-new']).to.not.be.oneOf(Object.values(before));
    expect(portsOf(reordered.lock)).to.deep.equal(before);
    for (const [f, port] of Object.entries(portsOf(removed.lock))) expect(port, f).to.equal(before[f]);
    expect(Object.keys(removed.lock.ports)).to.have.length(26); // freed ports leave the lock
  });

  it('keeps ports without a lock too, unless two forwards hash to the same port', () => {
    // With a wide range collisions are rare: adding a forward moves nothing.
    const a = solve(compile(twoSites(forwards(names)), 't.yaml').topology);
    const b = solve(compile(twoSites(forwards([...names, 'zzz'])), 't.yaml').topology);
    for (const [f, port] of Object.entries(portsOf(a.lock))) expect(portsOf(b.lock)[f], f).to.equal(port);
  });

  it('moves a locked port only when a pin or exposure now claims it', () => {
    const t1 = compile(twoSites(forwards(['one'])), 't.yaml').topology;
    const s1 = solve(t1);
    const taken = portsOf(s1.lock).one!;
    const t2 = compile(twoSites(forwards(['one']) + `  two: { from: site-b, to: "10.0.0.99:80", ports: { gw-a: ${taken} } }\n`), 't.yaml').topology;
    const s2 = solve(t2, s1.lock);
    expect(portsOf(s2.lock).one).to.not.equal(taken);
    expect(s2.allocations.find((a) => a.forward === 'two' && a.gateway === 'gw-a')!.ports.from).to.equal(taken);
  });
});

describe('solve: the port lock written in slices', () => {
  it('is byte for byte what one stringify writes (names that are object members, keys that need quotes, no forward at all)', async () => {
    expect(await formatLockSliced(EMPTY_LOCK)).to.equal(formatLock(EMPTY_LOCK));
    const text = [
      'version: 1',
      'ports:',
      '  web:',
      '    gw-a/192.0.2.1: 20001',
      '    gw-b/10.0.0.1: 20002',
      '  __proto__:',
      '    gw-a/192.0.2.1: 20003',
      '  constructor:',
      '    "gw-c/198.51.100.7": 20004',
      '  "yes":',
      '    gw-a/192.0.2.1: 20005',
      '',
    ].join('\n');
    const lock = parseLock(text, 't.lock');
    const sliced = await formatLockSliced(lock);
    expect(sliced).to.equal(formatLock(lock));
    expect(parseLock(sliced, 't.lock')).to.deep.equal(lock);
  });
});
