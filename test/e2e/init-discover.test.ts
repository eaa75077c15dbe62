// `natchain init --discover` against the lab gateways of every example topology: the proposal must
// reproduce the interfaces, addresses and sites of the topology the lab was built from.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compile.js';
import { ipToInt } from '../../src/topology/addr.js';
import type { Cidr, Topology } from '../../src/topology/index.js';
import { natchain } from '../support/cli.js';
import { example } from '../support/topo.js';
import { labRun, useLab } from '../support/lab.js';

/** The addresses a list of prefixes covers, as sorted [start, end] runs (a /23 equals two /24s). */
function coverage(cs: Cidr[]): [number, number][] {
  const runs = cs.map((c) => [ipToInt(c.address), ipToInt(c.address) + 2 ** (32 - c.prefix) - 1] as [number, number]).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const r of runs) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([...r]);
  }
  return out;
}

/** Per gateway interface: name, address/prefix, and the site's coverage (or "network" + public) it is plugged into. */
function shape(t: Topology) {
  return t.gateways
    .map((g) => ({
      gateway: g.name,
      interfaces: g.interfaces
        .map((i) => {
          const site = i.attach.kind === 'site' ? t.sites.find((s) => s.name === i.attach.name)! : undefined;
          const net = i.attach.kind === 'network' ? t.networks.find((n) => n.name === i.attach.name)! : undefined;
          return { name: i.name, address: `${i.address}/${i.prefix}`, site: site ? coverage(site.subnets) : null, public: net ? net.public : null };
        })
        .sort((a, b) => a.name.localeCompare(b.name)),
    }))
    .sort((a, b) => a.gateway.localeCompare(b.gateway));
}

for (const name of ['seed-portforward', 'seed-vpn', 'three-hop', 'hub-vpn']) {
  describe(`init --discover on the lab of ${name}.yaml`, function () {
    this.timeout(120_000);
    const f = useLab(() => example(name), `au-${name.replace(/[^a-z]/g, '').slice(0, 6)}`);
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'natchain-discover-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** What discovery must leave as it was on every gateway: rules, addresses, routes, forwarding. */
    const gatewayState = () =>
      Promise.all(
        f.topology.gateways.map(async (g) =>
          [
            await labRun(f.lab, g.name, ['iptables-save']),
            await labRun(f.lab, g.name, ['nft', 'list', 'ruleset']),
            await labRun(f.lab, g.name, ['ip', '-j', 'addr']),
            await labRun(f.lab, g.name, ['ip', '-j', 'route']),
            await labRun(f.lab, g.name, ['cat', '/proc/sys/net/ipv4/ip_forward']),
          ].map((x) => x.replace(/^# (Generated|Completed) .*$/gm, '')),
        ),
      );

    it('reproduces the interfaces, addresses and sites (and networks: shared subnets, public addresses), changing nothing on the gateways', async () => {
      const file = join(dir, `${name}.yaml`);
      const gws = f.topology.gateways.map((g) => g.name);
      const before = await gatewayState();
      const r = natchain(['init', file, '--discover', ...gws, '-F', f.lab.sshConfig]);
      expect(await gatewayState()).to.deep.equal(before);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.not.contain('CHECK: the proposal does not validate');
      const text = readFileSync(file, 'utf8');
      expect(text).to.match(/^# yaml-language-server: \$schema=/);
      expect(text).to.contain('inferred:');
      const proposed = compile(text, file).topology;
      expect(shape(proposed)).to.deep.equal(shape(f.topology));
      expect(proposed.sites.length).to.equal(f.topology.sites.length);
    });

    if (name === 'seed-vpn') {
      it('host keys are verified as apply verifies them: an unknown key is refused and nothing is written', () => {
        const empty = join(dir, 'known_hosts');
        writeFileSync(empty, '');
        const cfg = join(dir, 'ssh_config');
        writeFileSync(cfg, readFileSync(f.lab.sshConfig, 'utf8').replace(/UserKnownHostsFile .*/g, `UserKnownHostsFile ${empty}`));
        const file = join(dir, 'refused.yaml');
        const r = natchain(['init', file, '--discover', 'gw-a', '-F', cfg]);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.match(/host key/i);
        expect(existsSync(file)).to.equal(false);
      });
    }
  });
}
