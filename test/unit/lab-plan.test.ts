// The lab's plan (what `lab up` builds for a topology) and the scripts made from it: pure, no
// namespaces. The e2e tests (test/e2e/lab-*.test.ts) check the same things against the kernel.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { generatedTopology } from '../../scripts/lab-bench.js';
import { ed25519KeyPair } from '../../src/lab/keys.js';
import { checkLabName, defaultLabName, labOfNetns, netnsName } from '../../src/lab/names.js';
import { CONTROL_PORT, freeAddress, planLab, planNodes } from '../../src/lab/plan.js';
import { gatewayFstab, gatewayMountScript, gatewayScript, hostScript, labPaths, nodeBatch, sshConfig, switchBatch } from '../../src/lab/scripts.js';
import type { LabPlan, PlannedHost } from '../../src/lab/types.js';
import { parseTopology, type Topology } from '../../src/topology/index.js';

const load = (file: string): Topology => parseTopology(readFileSync(file, 'utf8'), file);
const host = (p: LabPlan, name: string): PlannedHost => {
  const h = p.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in plan: ${p.hosts.map((x) => x.name).join(', ')}`);
  return h;
};
const routes = (n: { routes: Array<{ to: string; via?: string; dev: string; onlink?: boolean }> }) =>
  n.routes.map((r) => `${r.to}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}`);

describe('lab plan', () => {
  describe('names', () => {
    it('derives the lab name from the topology file and checks it', () => {
      expect(defaultLabName('topologies/seed-vpn.yaml')).to.equal('seed-vpn');
      expect(defaultLabName('/x/My Topology_v2.yml')).to.equal('my-topology-v2');
      expect(checkLabName('seed-vpn')).to.equal('seed-vpn');
      for (const bad of ['', 'Seed', 'a.b', 'a--b', '-a', 'a-', 'x'.repeat(21), 'a/b', 'a b', '$(reboot)']) {
        expect(() => checkLabName(bad), bad).to.throw(/invalid lab name/);
      }
    });

    it('names namespaces nc-<lab>.<node> and reads the lab back, so one lab never matches another', () => {
      expect(netnsName('seed-vpn', 'gw-a')).to.equal('nc-seed-vpn.gw-a');
      expect(labOfNetns('nc-seed-vpn.gw-a')).to.equal('seed-vpn');
      expect(labOfNetns('nc-a.b-c.d')).to.equal('a');
      expect(labOfNetns('natchain-t-1234')).to.equal(undefined);
      expect(labOfNetns('nc-nodot')).to.equal(undefined);
    });
  });

  describe('seed-vpn', () => {
    const p = planLab(load('topologies/seed-vpn.yaml'), { lab: 'vpn' });

    it('has both gateways with the topology interfaces, names and addresses, and a default route out of the internet interface', () => {
      expect(p.gateways.map((g) => g.name)).to.deep.equal(['gw-a', 'gw-b']);
      const a = p.gateways[0]!;
      expect(a.netns).to.equal('nc-vpn.gw-a');
      expect(a.interfaces.map((i) => `${i.name} ${i.address}/${i.prefix} ${i.segment}`)).to.deep.equal([
        'eth0 143.89.197.180/24 network:internet',
        'eth1 10.0.0.2/24 site:site-a',
      ]);
      expect(routes(a)).to.deep.equal(['default dev eth0']);
      expect(a.etcHosts).to.deep.include({ address: '143.89.135.171', names: ['gw-b'] });
    });

    it('routes a routed VPN (routes:): the other gateways on it reach the routed site through its gateway there', () => {
      const hp = planLab(load('test/e2e/fixtures/hub-paths.yaml'), { lab: 'hp' });
      const gw = (n: string) => hp.gateways.find((g) => g.name === n)!;
      expect(routes(gw('gw-hq'))).to.deep.equal(['default dev eth0', '10.20.0.0/24 via 10.255.0.2 dev wg0']);
      expect(routes(gw('gw-branch-2'))).to.deep.equal(['default dev eth0', '10.20.0.0/24 via 10.255.0.2 dev wg0']);
      // branch-1's own gateway has the subnet on its LAN: no route to itself.
      expect(routes(gw('gw-branch-1'))).to.deep.equal(['default dev eth0']);
    });

    it('builds the declared client at the seed address, the target, and an internet client', () => {
      const client = host(p, 'client-b');
      expect(client).to.include({ role: 'client', address: '10.0.1.13', prefix: 24, site: 'site-b', gateway: 'gw-b' });
      expect(routes(client)).to.deep.equal(['default via 10.0.1.2 dev eth0']);
      const target = host(p, 'server-ssh-12');
      expect(target).to.include({ role: 'target', address: '10.0.0.12', prefix: 24, gateway: 'gw-a' });
      expect(routes(target)).to.deep.equal(['default via 10.0.0.2 dev eth0']);
      expect(target.services.map((s) => `${s.proto}/${s.port}`)).to.deep.equal(['tcp/22', `tcp/${CONTROL_PORT}`]);
      const inet = host(p, 'client-internet');
      expect(inet).to.include({ role: 'internet', address: '203.0.113.200', network: 'internet' });
      expect(routes(inet)).to.deep.equal(['default dev eth0']);
    });

    it('has one segment per site and network', () => {
      expect(p.segments.map((s) => `${s.id} ${s.bridge}`)).to.deep.equal(['network:internet b0', 'site:site-a b1', 'site:site-b b2']);
      expect(p.warnings).to.deep.equal([]);
    });
  });

  it('seed-portforward: a LAN client for hairpin, the target on the gateway LAN prefix', () => {
    const p = planLab(load('topologies/seed-portforward.yaml'), { lab: 'pf' });
    expect(host(p, 'server-web')).to.include({ address: '192.168.0.2', prefix: 24, gateway: 'gw' });
    const lan = host(p, 'client-lan');
    expect(lan).to.include({ role: 'client', site: 'lan', address: '192.168.0.100' });
    expect(lan.forwards).to.deep.equal(['web:lan']);
    expect(host(p, 'client-internet').forwards).to.deep.equal(['web:internet']);
  });

  it('three-hop: every port of a range is served, the gateway without internet has no default route', () => {
    const p = planLab(load('topologies/three-hop.yaml'), { lab: '3hop' });
    expect(host(p, 'server-metrics').services.map((s) => `${s.proto}/${s.port}`)).to.deep.equal(['tcp/9100', 'tcp/9101', 'tcp/9102', 'tcp/7']);
    expect(host(p, 'server-dns').services.map((s) => `${s.proto}/${s.port}`)).to.deep.equal(['tcp/53', 'udp/53', 'tcp/7']);
    expect(routes(p.gateways.find((g) => g.name === 'gw-dc')!)).to.deep.equal([]);
    // gw-edge knows gw-dc by its transit address (for ssh -J through gw-edge).
    expect(p.gateways.find((g) => g.name === 'gw-edge')!.etcHosts).to.deep.include({ address: '10.250.0.2', names: ['gw-dc'] });
    expect(host(p, 'client-office')).to.include({ address: '10.1.0.100', gateway: 'gw-office' });
  });

  it('hub-vpn: a client inside a subnet source, the /23 LAN prefix for hosts of a two-subnet site', () => {
    const p = planLab(load('topologies/hub-vpn.yaml'), { lab: 'hub' });
    const b2 = host(p, 'client-branch-2');
    // syslog is from 10.30.0.0/25 only: the one client of branch-2 must be inside it.
    expect(Number(b2.address.split('.')[3])).to.be.lessThan(128);
    expect(b2.prefix).to.equal(24);
    expect(host(p, 'server-erp')).to.include({ address: '10.10.1.20', prefix: 23, gateway: 'gw-hq' });
    expect(routes(host(p, 'server-erp'))).to.deep.equal(['default via 10.10.0.1 dev eth0']);
    expect(host(p, 'server-syslog').services.map((s) => `${s.proto}/${s.port}`)).to.deep.equal(['udp/514', 'tcp/7']);
    // The internet client avoids the topology's public /24 addresses.
    expect(host(p, 'client-internet').address).to.equal('203.0.113.200');
  });

  it('never gives two nodes one address, one name or one namespace', () => {
    for (const f of ['seed-portforward', 'seed-vpn', 'three-hop', 'hub-vpn']) {
      const p = planLab(load(`topologies/${f}.yaml`), { lab: 'x' });
      const nodes = planNodes(p);
      const addrs = nodes.flatMap((n) => n.interfaces.map((i) => i.address));
      expect(new Set(addrs).size, f).to.equal(addrs.length);
      expect(new Set(nodes.map((n) => n.name)).size, f).to.equal(nodes.length);
      expect(new Set(nodes.map((n) => n.netns)).size, f).to.equal(nodes.length);
    }
  });

  it('is deterministic', () => {
    const t = load('topologies/hub-vpn.yaml');
    expect(JSON.stringify(planLab(t, { lab: 'x' }))).to.equal(JSON.stringify(planLab(t, { lab: 'x' })));
  });

  it('renames hosts that would collide with a gateway or declared host', () => {
    const t = load('topologies/seed-vpn.yaml');
    const clash: Topology = { ...t, labHosts: [...t.labHosts, { ...t.labHosts[0]!, name: 'server-ssh-12', address: '10.0.0.99' }] };
    const p = planLab(clash, { lab: 'x' });
    expect(p.hosts.map((h) => h.name)).to.include.members(['server-ssh-12', 'server-ssh-12-2']);
    expect(host(p, 'server-ssh-12-2').address).to.equal('10.0.0.12');
  });

  it('picks free addresses deterministically', () => {
    const used = new Set(['10.0.0.100']);
    expect(freeAddress({ address: '10.0.0.0', prefix: 24 }, used)).to.equal('10.0.0.101');
    expect(freeAddress({ address: '10.0.0.0', prefix: 30 }, new Set(['10.0.0.2']))).to.equal('10.0.0.1');
    expect(freeAddress({ address: '10.0.0.0', prefix: 30 }, new Set(['10.0.0.1', '10.0.0.2']))).to.equal(undefined);
    expect(freeAddress({ address: '10.0.0.0', prefix: 25 }, new Set())).to.equal('10.0.0.64');
  });

  it('plans a generated 50-gateway topology', () => {
    const p = planLab(generatedTopology(50), { lab: 'bench' });
    expect(p.gateways).to.have.length(50);
    expect(p.hosts).to.have.length(151);
    expect(p.segments).to.have.length(51);
  });

  describe('scripts (traffic safety)', () => {
    const p = planLab(load('topologies/three-hop.yaml'), { lab: '3hop' });
    const paths = labPaths('/run/natchain-lab/3hop', p);

    it('creates every veth inside the switch namespace with its peer straight in a lab namespace', () => {
      const lines = switchBatch(p).trim().split('\n');
      const adds = lines.filter((l) => l.startsWith('link add '));
      const veths = adds.filter((l) => l.includes('type veth'));
      expect(veths).to.have.length(planNodes(p).reduce((n, x) => n + x.interfaces.length, 0));
      for (const v of veths) expect(v).to.match(/^link add v\d+ type veth peer name _nc\d+ netns nc-3hop\.[a-z0-9-]+$/);
      // Bridges, and nothing else, besides the veths.
      expect(adds.filter((l) => !l.includes('type veth')).every((l) => /^link add b\d+ type bridge$/.test(l))).to.equal(true);
      // No address or route is configured by the switch batch at all.
      expect(lines.some((l) => /^(addr|route) /.test(l))).to.equal(false);
    });

    it('configures each node in its own namespace: rename, address, routes', () => {
      const dc = p.gateways.find((g) => g.name === 'gw-dc')!;
      expect(nodeBatch(dc).trim().split('\n')).to.deep.equal([
        'link set lo up',
        `link set ${dc.interfaces[0]!.tmpName} name eth0`,
        'addr add 10.250.0.2/30 dev eth0',
        'link set eth0 up',
        `link set ${dc.interfaces[1]!.tmpName} name eth1`,
        'addr add 10.3.0.1/24 dev eth1',
        'link set eth1 up',
      ]);
      expect(gatewayScript(dc, paths)).to.include('echo 1 > /proc/sys/net/ipv4/ip_forward');
      expect(gatewayScript(dc, paths)).to.include(`unshare --mount='${paths.mountNs('gw-dc')}' --uts='${paths.utsNs('gw-dc')}' --propagation slave`);
    });

    it("gives each gateway private natchain directories, /tmp and /root, and sshd -i on a unix socket", () => {
      const g = p.gateways[0]!;
      const fstab = gatewayFstab(g, paths);
      for (const d of ['/var/lib/natchain', '/run/natchain', '/tmp', '/root', '/etc/hosts']) expect(fstab).to.match(new RegExp(` ${d} none bind `));
      const m = gatewayMountScript(g, paths, '/usr/sbin/sshd');
      expect(m).to.include(`UNIX-LISTEN:'${paths.socket(g.name)}',fork`);
      expect(m).to.include(`EXEC:/usr/sbin/sshd -i -e -f ${paths.sshdConfig} -h ${paths.hostKey(g.name)},nofork`);
    });

    it('starts an echo service per port and protocol on a target', () => {
      const s = hostScript(host(p, 'server-dns'), paths);
      expect(s).to.include(`socat TCP-LISTEN:53,fork,reuseaddr 'SYSTEM:echo host=server-dns proto=tcp port=53 peer=$SOCAT_PEERADDR peerport=$SOCAT_PEERPORT'`);
      expect(s).to.include(`socat UDP-RECVFROM:53,fork 'SYSTEM:head -c1 >/dev/null; echo host=server-dns proto=udp port=53`);
      expect(s).to.include(`want='tcp:0035 udp:0035 tcp:0007'`);
    });

    it('writes an ssh_config with one Host per gateway, through its socket, with real host-key checking', () => {
      const c = sshConfig(p, paths);
      for (const g of p.gateways) {
        expect(c).to.include(`Host ${g.name}\n  HostName ${g.name}\n  HostKeyAlias ${g.name}\n  ProxyCommand socat - UNIX-CONNECT:${paths.socket(g.name)}\n  User root\n`);
      }
      expect(c).to.include(`UserKnownHostsFile ${paths.knownHosts}`);
      expect(c).to.include('StrictHostKeyChecking yes');
      expect(c).to.not.match(/StrictHostKeyChecking (no|accept-new)/);
    });

    it('refuses lab directories a gateway hides or a shell would misread', () => {
      expect(() => labPaths('/tmp/lab', p)).to.throw(/cannot be under/);
      expect(() => labPaths('/run/my lab', p)).to.throw(/without spaces/);
      expect(() => labPaths('relative/dir', p)).to.throw(/absolute/);
      expect(() => labPaths('/run/' + 'x'.repeat(100), p)).to.throw(/too long/);
    });
  });

  it('makes OpenSSH ed25519 keys', () => {
    const k = ed25519KeyPair('natchain-lab-test');
    expect(k.privateKey).to.match(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n$/);
    expect(k.publicKey).to.match(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} natchain-lab-test$/);
    expect(ed25519KeyPair('x').publicKey).to.not.equal(ed25519KeyPair('x').publicKey);
  });
});

describe('lab preflight', () => {
  it('refuses when not root', async () => {
    const { preflight } = await import('../../src/lab/preflight.js');
    const err = await preflight({ uid: 1000, which: async (p) => `/usr/bin/${p}` }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).to.equal('ENVIRONMENT');
    expect(err?.message).to.match(/needs root/);
  });

  it('names the Debian package of every missing program', async () => {
    const { preflight } = await import('../../src/lab/preflight.js');
    const gone = new Set(['socat', 'conntrack', 'nft']);
    const err = await preflight({ uid: 0, which: async (p) => (gone.has(p) ? undefined : `/usr/bin/${p}`) }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; details: string[] },
    );
    expect(err?.code).to.equal('ENVIRONMENT');
    expect(err?.message).to.include('socat').and.include('conntrack').and.include('nft');
    expect(err?.details.join('\n')).to.include('apt-get install conntrack nftables socat');
  });
});
