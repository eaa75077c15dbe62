import { expect } from 'chai';
import { example, errorsOf, topo, twoSites } from '../support/topo.js';
import { topologyJsonSchema } from '../../src/topology/index.js';

describe('topology: parse and validate', () => {
  for (const name of ['seed-portforward', 'seed-vpn', 'three-hop', 'hub-vpn']) {
    it(`accepts the example ${name}`, () => {
      const t = example(name);
      expect(t.gateways.length).to.be.greaterThan(0);
      expect(t.forwards.length).to.be.greaterThan(0);
    });
  }

  it('reads seed-vpn as the seed describes it', () => {
    const t = example('seed-vpn');
    const gwA = t.gateways.find((g) => g.name === 'gw-a')!;
    expect(gwA.interfaces.map((i) => [i.name, i.address])).to.deep.equal([
      ['eth0', '143.89.197.180'],
      ['eth1', '10.0.0.2'],
    ]);
    const f = t.forwards[0]!;
    expect(f.name).to.equal('ssh-12');
    expect(f.from).to.deep.equal([{ kind: 'site', site: 'site-b' }, { kind: 'network', network: 'internet' }]);
    expect(f.to).to.deep.equal({ address: '10.0.0.12', ports: { from: 22, to: 22 } });
    expect(f.expose).to.deep.equal({ address: '143.89.197.180', ports: { from: 22012, to: 22012 } });
    expect(t.sites.map((s) => [s.name, s.gateway])).to.deep.equal([
      ['site-a', 'gw-a'],
      ['site-b', 'gw-b'],
    ]);
    expect(gwA.ssh).to.deep.equal({ host: 'gw-a' });
    expect(gwA.backend).to.equal('iptables');
  });

  it('reports every error at once, each as file:line:col: message, in file order', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  a:
    subnets: [10.0.0.0/24]
  b:
    subnets: [10.0.0.128/25, 10.5.0.1/24]
networks:
  internet: { public: true }
gateways:
  gw1:
    interfaces:
      eth0: { address: 10.0.0.300, network: internet }
      eth1: { address: 10.9.0.1/24, site: a }
  a:
    interfaces:
      eth0: { address: 198.51.100.1, site: nope }
forwards:
  f:
    from: [siteb, internet]
    to: 10.0.0.5:99999
`),
    );
    expect(errors).to.deep.equal([
      `t.yaml:5:15: subnet 10.0.0.128/25 overlaps site "a"'s 10.0.0.0/24`,
      't.yaml:5:30: "10.5.0.1/24" has host bits set; the subnet is 10.5.0.0/24',
      't.yaml:11:24: "10.0.0.300" is not an IPv4 address (optionally with /prefix)',
      't.yaml:12:24: 10.9.0.1 is outside site "a" (10.0.0.0/24)',
      't.yaml:13:3: name "a" is already used by a site; sites, networks and gateways share one namespace',
      't.yaml:18:12: unknown source "siteb": expected a site, a network or a subnet',
      't.yaml:19:9: to: port 99999 is outside 1-65535',
    ]);
  });

  it('reports shape errors (unknown fields, wrong types, bad names) with positions', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  a: { subnets: [10.0.0.0/24], colour: red }
gateways:
  "bad name":
    interfaces: {}
  gw:
    backend: pf
    interfaces: {}
`),
    );
    expect(errors).to.have.length(4);
    expect(errors[0]).to.match(/^t\.yaml:2:32: sites\.a: unknown field "colour"$/);
    expect(errors[1]).to.match(/^t\.yaml:4:3: gateways: name "bad name" must be 1-63 letters/);
    // Only the broken field is left out: gw is still checked (and has no interfaces).
    expect(errors[2]).to.match(/^t\.yaml:6:3: gateway "gw" has no route between its networks/);
    expect(errors[3]).to.match(/^t\.yaml:7:14: gateways\.gw\.backend: /);
  });

  it('reports duplicate YAML keys (duplicate names) with their position', () => {
    expect(errorsOf(() => topo('sites:\n  a: { subnets: [10.0.0.0/24] }\n  a: { subnets: [10.0.1.0/24] }\ngateways: {}\n'))[0]).to.match(
      /^t\.yaml:3:3: duplicate key "a": each name may appear once$/,
    );
  });

  it('rejects unknown references with a suggestion', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  site-a: { subnets: [10.0.0.0/24] }
networks:
  internet: { public: true }
gateways:
  gw:
    ssh: { jump: gw2 }
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internt }
      eth1: { address: 10.0.0.1/24, site: site-a }
`),
    );
    expect(errors).to.include('t.yaml:9:50: unknown network "internt"; did you mean "internet"?');
    expect(errors.some((e) => e.includes('unknown jump gateway "gw2"'))).to.equal(true);
  });

  it('rejects a gateway with no route between its networks', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  s: { subnets: [10.0.0.0/24] }
gateways:
  gw:
    interfaces:
      eth0: { address: 10.0.0.1/24, site: s }
      eth1: { address: 10.0.0.2/24, site: s }
`),
    );
    expect(errors).to.deep.equal([
      't.yaml:4:3: gateway "gw" has no route between its networks: it needs interfaces on at least two different sites or networks',
    ]);
  });

  it('rejects two interfaces with one address, and addresses outside a network subnet', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  s: { subnets: [10.0.0.0/24] }
networks:
  vpn: { subnet: 10.9.0.0/24 }
gateways:
  g1:
    interfaces:
      eth0: { address: 10.9.0.1, network: vpn }
      eth1: { address: 10.0.0.1, site: s }
  g2:
    interfaces:
      eth0: { address: 10.9.1.1, network: vpn }
      eth1: { address: 10.0.0.1, site: s }
`),
    );
    expect(errors).to.deep.equal([
      't.yaml:12:24: 10.9.1.1 is outside network "vpn" (10.9.0.0/24)',
      't.yaml:13:24: address 10.0.0.1 is already used by g1/eth1',
    ]);
  });

  it('rejects ports out of range and malformed ranges', () => {
    const errors = errorsOf(() =>
      topo(
        twoSites(`  a: { from: site-b, to: "10.0.0.5:0" }
  b: { from: site-b, to: "10.0.0.5:90-80" }
  c: { from: site-b, to: "10.0.0.5:22", ports: { gw-a: 70000 } }
`),
      ),
    );
    expect(errors).to.have.length(3);
    expect(errors[2]).to.equal('t.yaml:18:56: port 70000 is outside 1-65535');
  });

  it('rejects two forwards claiming the same address:port/proto on a gateway, but not across protocols', () => {
    const errors = errorsOf(() =>
      topo(
        twoSites(`  a: { from: internet, to: "10.0.0.5:80", expose: "198.51.100.1:8080" }
  b: { from: internet, to: "10.0.0.6:80", expose: "198.51.100.1:8080" }
  c: { from: internet, to: "10.0.0.7:80", expose: "198.51.100.1:8080", proto: udp }
`),
      ),
    );
    expect(errors).to.deep.equal(['t.yaml:17:51: forward "b": 198.51.100.1:8080/tcp on gateway gw-a is already used by forward "a"']);
  });

  it('rejects a target no gateway can reach, naming the forward', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  a: { subnets: [10.0.0.0/24] }
  b: { subnets: [10.0.1.0/24] }
networks:
  n1: { public: true }
  n2: { public: true }
gateways:
  gw-a:
    interfaces:
      eth0: { address: 198.51.100.1/24, network: n1 }
      eth1: { address: 10.0.0.1/24, site: a }
  gw-b:
    interfaces:
      eth0: { address: 203.0.113.1/24, network: n2 }
      eth1: { address: 10.0.1.1/24, site: b }
forwards:
  f: { from: b, to: "10.0.0.5:22" }
  g: { from: b, to: "10.7.0.5:22" }
`),
    );
    expect(errors).to.deep.equal([
      't.yaml:17:14: forward "f": target 10.0.0.5 is unreachable from b: no path of networks from gateway gw-b to gw-a',
      "t.yaml:18:21: forward \"g\": target 10.7.0.5 is in no site's subnet, so no gateway can reach it",
    ]);
  });

  it('explains hairpin when a forward comes from the target site itself', () => {
    const errors = errorsOf(() => topo(twoSites('  a: { from: site-a, to: "10.0.0.5:22" }\n')));
    expect(errors[0]).to.contain('set "hairpin: true"');
  });

  it('asks for the default gateway of a site with several', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  a: { subnets: [10.0.0.0/24] }
  b: { subnets: [10.0.1.0/24] }
networks:
  internet: { public: true }
gateways:
  gw-a:
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internet }
      eth1: { address: 10.0.0.1/24, site: a }
  gw-b1:
    interfaces:
      eth0: { address: 203.0.113.1/24, network: internet }
      eth1: { address: 10.0.1.1/24, site: b }
  gw-b2:
    interfaces:
      eth0: { address: 203.0.113.2/24, network: internet }
      eth1: { address: 10.0.1.2/24, site: b }
forwards:
  f: { from: b, to: "10.0.0.5:22" }
`),
    );
    expect(errors).to.deep.equal([
      't.yaml:20:14: forward "f": site "b" has several gateways (gw-b1, gw-b2): set its "gateway" to the one its hosts route through',
    ]);
  });

  it('publishes a JSON Schema for editors', () => {
    const schema = topologyJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).to.include.members(['sites', 'networks', 'gateways', 'forwards']);
    expect(schema.required).to.include.members(['sites', 'gateways']);
  });
});

describe('topology: JSON Schema file', () => {
  it('schema/topology.schema.json is up to date with the zod schema (npm run schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const onDisk = JSON.parse(readFileSync('schema/topology.schema.json', 'utf8'));
    expect(onDisk).to.deep.equal(JSON.parse(JSON.stringify(topologyJsonSchema())));
  });
});

describe('topology: acceptMark (for forward policies natchain does not own)', () => {
  const withMark = (defaults: string, gw = '') => {
    const base = twoSites('  f: { from: site-b, to: "10.0.0.5:22" }\n');
    return topo(base.replace('sites:', `defaults:\n  acceptMark: ${defaults}\nsites:`).replace('  gw-b:\n', `  gw-b:\n${gw}`));
  };

  it('takes a default and a per-gateway override, hex or decimal, and the renderers use it', async () => {
    const t = withMark('"0x100000"', '    acceptMark: 256\n');
    expect(t.gateways.map((g) => [g.name, g.acceptMark])).to.deep.equal([
      ['gw-a', 0x100000],
      ['gw-b', 256],
    ]);
    const { renderRuleset } = await import('../../src/render/index.js');
    const { solve } = await import('../../src/solve/index.js');
    const s = solve(t);
    const gwA = t.gateways[0]!;
    expect(renderRuleset(gwA, s.intents['gw-a']!)).to.contain('-j MARK --set-xmark 0x100000/0x100000');
    expect(renderRuleset({ ...gwA, backend: 'nftables' }, s.intents['gw-a']!)).to.contain('meta mark set meta mark | 0x00100000 accept');
  });

  it('refuses a mark that is not a 32-bit mask', () => {
    expect(errorsOf(() => withMark('0'))[0]).to.match(/acceptMark must be a non-zero 32-bit mask, got 0/);
    expect(errorsOf(() => withMark('"0xZZ"'))[0]).to.match(/must be a number or a hex mask/);
  });
});

describe('topology: shape and meaning errors together', () => {
  it('reports shape errors and the meaning errors of the other entities in one go, without cascades', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  a: { subnets: [10.0.0.0/24] }
  b: { subnets: [10.0.1.0/24] }
networks:
  internet: { public: true }
gateways:
  gw-a:
    backend: pf
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internet }
      eth1: { address: 10.0.0.1/24, site: a }
  gw-b:
    ssh: { jump: gw-a }
    interfaces:
      eth0: { address: 203.0.113.1/24, network: internt }
      eth1: { address: 10.0.1.1/24, site: b }
forwards:
  f: { from: b, to: "10.0.0.5:22", proto: sctp }
  g: { from: b, to: "10.0.0.6:99999" }
  h: { from: f-site, to: "10.0.0.7:22" }
`),
    );
    expect(errors).to.deep.equal([
      't.yaml:8:14: gateways.gw-a.backend: "pf" is not one of iptables or nftables',
      't.yaml:15:49: unknown network "internt"; did you mean "internet"?',
      't.yaml:18:43: forwards.f.proto: "sctp" is not one of tcp, udp or both',
      't.yaml:19:21: to: port 99999 is outside 1-65535',
      't.yaml:20:14: unknown source "f-site": expected a site, a network or a subnet',
    ]); // no "unknown jump gateway gw-a": gw-a was reported already
  });

  it('marks solve errors that may follow from an earlier error', () => {
    const errors = errorsOf(() =>
      topo(`sites:
  a: { subnets: [10.0.0.0/24] }
  b: { subnets: [10.0.1.0/24] }
networks:
  internet: { public: true }
gateways:
  gw-a:
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internet, speed: 10 }
      eth1: { address: 10.0.0.1/24, site: a }
  gw-b:
    interfaces:
      eth0: { address: 203.0.113.1/24, network: internet }
      eth1: { address: 10.0.1.1/24, site: b }
forwards:
  h: { from: b, to: "10.0.0.7:22" }
`),
    );
    expect(errors[1]).to.equal('t.yaml:16:21: forward "h": target site "a" has no gateway (possibly a consequence of an error above)');
  });
});

describe('topology: names and hosts are checked by the same rules the transport enforces', () => {
  it('refuses an ssh host that would read as an option, at validate time (not only at apply)', async () => {
    const { assertSafeHost } = await import('../../src/transport/quote.js');
    for (const host of ['-oProxyCommand=reboot', 'gw-', '_gw', 'a b', 'gw;id']) {
      const yaml = twoSites('').replace('  gw-b:\n', `  gw-b:\n    ssh: { host: "${host}" }\n`);
      expect(errorsOf(() => topo(yaml))[0], host).to.match(/ssh\.host: ".*" must be a host name or an IP address/);
      expect(() => assertSafeHost(host), host).to.throw(/unsafe ssh host/);
    }
    for (const host of ['gw-b.example.org', '198.51.100.1', '2001:db8::1', 'gw_b1']) {
      const yaml = twoSites('').replace('  gw-b:\n', `  gw-b:\n    ssh: { host: "${host}" }\n`);
      expect(topo(yaml).gateways[1]!.ssh.host).to.equal(host);
      expect(assertSafeHost(host)).to.equal(host);
    }
  });
});
