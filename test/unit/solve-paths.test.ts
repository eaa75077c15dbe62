// Path choice (private before public, then names; never interface names or YAML order), `via`,
// whose address the server sees (`snat`, network `routes`) and allow-lists on network sources.
import { expect } from 'chai';
import { compile } from '../../src/compile.js';
import { renderIptables, renderNftables } from '../../src/render/index.js';
import type { Chain, Solution } from '../../src/solve/types.js';
import { errorsOf } from '../support/topo.js';

interface HubOpts {
  /** Interface names: internet, vpn, LAN (the old solver broke ties by these). */
  names?: [string, string, string];
  vpnExtra?: string;
  forwards: string;
  /** Write gateways and networks in reverse order. */
  reversed?: boolean;
  defaults?: string;
}

/** A hub and two branches, each on the internet and on a private VPN (the topology). */
function hub(o: HubOpts): string {
  const [inet, vpn, lan] = o.names ?? ['eth0', 'wg0', 'eth1'];
  const gws = [
    ['gw-hq', '192.0.2.10', '10.255.0.1', '10.10.0.1/23', 'hq'],
    ['gw-branch-1', '192.0.2.21', '10.255.0.2', '10.20.0.1/24', 'branch-1'],
    ['gw-branch-2', '192.0.2.31', '10.255.0.3', '10.30.0.1/24', 'branch-2'],
  ].map(
    ([g, pub, priv, lanAddr, site]) =>
      `  ${g}:\n    interfaces:\n      ${inet}: { address: ${pub}/24, network: internet }\n      ${vpn}: { address: ${priv}/24, network: vpn }\n      ${lan}: { address: ${lanAddr}, site: ${site} }\n`,
  );
  const nets = ['  internet: { public: true }\n', `  vpn:\n    subnet: 10.255.0.0/24\n${o.vpnExtra ?? ''}`];
  const order = <T>(xs: T[]) => (o.reversed ? [...xs].reverse() : xs);
  return (
    (o.defaults ? `defaults:\n${o.defaults}` : '') +
    'sites:\n  hq: { subnets: [10.10.0.0/24, 10.10.1.0/24] }\n  branch-1: { subnets: [10.20.0.0/24] }\n  branch-2: { subnets: [10.30.0.0/24] }\n' +
    `networks:\n${order(nets).join('')}gateways:\n${order(gws).join('')}forwards:\n${o.forwards}`
  );
}

const ERP = '  erp:\n    from: [branch-1, branch-2]\n    to: 10.10.1.20:443\n';
const solved = (yaml: string): Solution => compile(yaml, 't.yaml').solution;
/** A chain as gateways and the networks between them: `gw-branch-1 >vpn> gw-hq`. */
const route = (c: Chain) => c.hops.map((h) => (h.network ? `${h.gateway} >${h.network}>` : h.gateway)).join(' ');
const routes = (s: Solution, forward?: string) => s.chains.filter((c) => !forward || c.forward === forward).map((c) => `${sourceOf(c)}: ${route(c)}`);
const sourceOf = (c: Chain) => (c.source.kind === 'site' ? c.source.site : c.source.kind === 'network' ? c.source.network : `${c.source.cidr.address}/${c.source.cidr.prefix}`);
/** What the target sees: the last SNAT address, or `client`. */
const seen = (c: Chain) => c.hops.filter((h) => h.snat).at(-1)?.snat?.address ?? 'client';

describe('solve: path choice', () => {
  it('prefers the private VPN over the internet, whatever the interfaces are called (eth0 sorts before wg0)', () => {
    const s = solved(hub({ forwards: ERP }));
    expect(routes(s)).to.deep.equal(['branch-1: gw-branch-1 >vpn> gw-hq', 'branch-2: gw-branch-2 >vpn> gw-hq']);
    expect(s.warnings).to.deep.equal([]);
  });

  it('is the same chain under interface renaming and YAML reordering (only the interface names in the hops change)', () => {
    const base = solved(hub({ forwards: ERP }));
    const strip = (s: Solution) => s.chains.map((c) => ({ ...c, hops: c.hops.map(({ inIface: _i, outIface: _o, ...h }) => h) }));
    for (const variant of [
      hub({ forwards: ERP, names: ['zz9', 'aa0', 'lan0'] }),
      hub({ forwards: ERP, names: ['wg0', 'eth0', 'br0'] }),
      hub({ forwards: ERP, reversed: true }),
    ]) {
      const s = solved(variant);
      expect(routes(s)).to.deep.equal(routes(base));
      expect(strip(s)).to.deep.equal(strip(base));
    }
    // The ports too (they hang on gateway addresses, not on names or order).
    expect(solved(hub({ forwards: ERP, reversed: true })).allocations).to.deep.equal(base.allocations);
  });

  it('breaks ties between equally good private paths by network and gateway names', () => {
    const two = (a: string, b: string) =>
      `sites:\n  x: { subnets: [10.1.0.0/24] }\n  y: { subnets: [10.2.0.0/24] }\nnetworks:\n  ${a}: {}\n  ${b}: {}\ngateways:\n` +
      `  gw-x:\n    interfaces:\n      if1: { address: 10.251.0.1/24, network: ${a} }\n      if2: { address: 10.252.0.1/24, network: ${b} }\n      lan: { address: 10.1.0.1/24, site: x }\n` +
      `  gw-y:\n    interfaces:\n      if1: { address: 10.251.0.2/24, network: ${a} }\n      if2: { address: 10.252.0.2/24, network: ${b} }\n      lan: { address: 10.2.0.1/24, site: y }\n` +
      'forwards:\n  f:\n    from: x\n    to: 10.2.0.5:80\n';
    expect(routes(solved(two('link-a', 'link-b')))).to.deep.equal(['x: gw-x >link-a> gw-y']);
    // Renaming the network (not the interfaces) moves the chain: names decide, by byte order.
    expect(routes(solved(two('zz', 'link-b')))).to.deep.equal(['x: gw-x >link-b> gw-y']);
  });

  it('among equally long paths that all cross the internet, takes the one with fewer public crossings', () => {
    // a > inet-1 > b-mid > inet-2 > c   versus   a > private > z-mid > inet-3 > c: the second, although its names sort later.
    const yaml =
      'sites:\n  a: { subnets: [10.1.0.0/24] }\n  c: { subnets: [10.3.0.0/24] }\n' +
      'networks:\n  inet-1: { public: true }\n  inet-2: { public: true }\n  inet-3: { public: true }\n  private: {}\n' +
      'gateways:\n' +
      '  gw-a:\n    interfaces:\n      e1: { address: 198.51.100.1/24, network: inet-1 }\n      e2: { address: 10.250.0.1/24, network: private }\n      lan: { address: 10.1.0.1/24, site: a }\n' +
      '  b-mid:\n    interfaces:\n      e1: { address: 198.51.100.2/24, network: inet-1 }\n      e2: { address: 203.0.113.2/24, network: inet-2 }\n' +
      '  z-mid:\n    interfaces:\n      e1: { address: 10.250.0.2/24, network: private }\n      e2: { address: 192.0.2.2/24, network: inet-3 }\n' +
      '  gw-c:\n    interfaces:\n      e1: { address: 203.0.113.3/24, network: inet-2 }\n      e2: { address: 192.0.2.3/24, network: inet-3 }\n      lan: { address: 10.3.0.1/24, site: c }\n' +
      'forwards:\n  f:\n    from: a\n    to: 10.3.0.5:80\n';
    const s = solved(yaml);
    expect(routes(s)).to.deep.equal(['a: gw-a >private> z-mid >inet-3> gw-c']);
    expect(s.warnings.map((w) => w.message)).to.deep.equal([
      'forward "f": the chain from a crosses public network inet-3 (gw-a > private > z-mid > inet-3 > gw-c); join the sites by a private network, or pin it with via',
    ]);
  });

  it('a shorter chain across the internet still beats a longer private one (shortest first), with a warning', () => {
    const yaml = hub({ forwards: ERP }).replace(/      wg0: \{ address: 10\.255\.0\.3\/24, network: vpn \}\n/, '');
    const s = solved(yaml);
    expect(routes(s)).to.deep.equal(['branch-1: gw-branch-1 >vpn> gw-hq', 'branch-2: gw-branch-2 >internet> gw-hq']);
    expect(s.warnings).to.have.length(1);
    expect(s.warnings[0]).to.include({ file: 't.yaml', line: yaml.split('\n').indexOf('  erp:') + 1, forward: 'erp' });
    // As JSON (solve/validate --json) too: the message survives.
    expect(JSON.parse(JSON.stringify(s.warnings))[0].message).to.match(/^forward "erp": the chain from branch-2 crosses public network internet/);
  });
});

describe('solve: via', () => {
  it('pins the path through networks and gateways, in order; a public network named in via is not warned about', () => {
    const s = solved(hub({ forwards: '  erp:\n    from: branch-1\n    to: 10.10.1.20:443\n    via: [internet]\n' }));
    expect(routes(s)).to.deep.equal(['branch-1: gw-branch-1 >internet> gw-hq']);
    expect(s.warnings).to.deep.equal([]);
    const through = solved(hub({ forwards: '  erp:\n    from: branch-1\n    to: 10.10.1.20:443\n    via: [gw-branch-2, vpn]\n' }));
    expect(routes(through)).to.deep.equal(['branch-1: gw-branch-1 >internet> gw-branch-2 >vpn> gw-hq']);
    // Naming the chain's own ends is allowed (and changes nothing).
    expect(routes(solved(hub({ forwards: '  erp:\n    from: branch-1\n    to: 10.10.1.20:443\n    via: [gw-branch-1, vpn, gw-hq]\n' })))).to.deep.equal([
      'branch-1: gw-branch-1 >vpn> gw-hq',
    ]);
  });

  it('a via no chain satisfies is an error at the via line', () => {
    const yaml = hub({ forwards: '  erp:\n    from: branch-1\n    to: 10.10.1.20:443\n    via: [vpn, gw-branch-1]\n' });
    const line = yaml.split('\n').findIndex((l) => l.includes('via:')) + 1;
    expect(errorsOf(() => compile(yaml, 't.yaml'))).to.deep.equal([
      `t.yaml:${line}:5: forward "erp": via vpn, gw-branch-1: no chain from branch-1 to hq crosses them in this order (the only way through them crosses gw-branch-1 twice)`,
    ]);
    // From the internet to the VPN only gw-hq or gw-branch-2 lead, and both are still to come.
    const none = hub({ forwards: '  erp:\n    from: branch-1\n    to: 10.10.1.20:443\n    via: [internet, vpn, gw-branch-2]\n' });
    expect(errorsOf(() => compile(none, 't.yaml'))[0]).to.match(/via internet, vpn, gw-branch-2: no chain from branch-1 to hq crosses them in this order \(there is no path from internet to vpn\)$/);
  });

  it('names networks and gateways only, each once', () => {
    const errs = errorsOf(() => compile(hub({ forwards: '  erp:\n    from: branch-1\n    to: 10.10.1.20:443\n    via: [hq, vpm, vpn, vpn]\n' }), 't.yaml'));
    expect(errs.map((e) => e.replace(/^t\.yaml:\d+:\d+: /, ''))).to.deep.equal([
      'via names networks and gateways; "hq" is a site (sites are endpoints, never crossed)',
      'unknown network or gateway "vpm"; did you mean "vpn"?',
      '"vpn" is listed twice: a chain crosses each network and gateway once',
    ]);
  });
});

describe('solve: whose address the server sees (snat)', () => {
  const routed = '    routes: [branch-1]\n';

  it('auto: where the VPN routes the branch back, no SNAT: the server sees the client; elsewhere as before', () => {
    const s = solved(hub({ vpnExtra: routed, forwards: ERP }));
    const [b1, b2] = s.chains;
    expect(seen(b1!)).to.equal('client');
    expect(b1!.hops[0]!.snat).to.equal(undefined);
    // gw-hq takes the hop port only from branch-1's subnet (as before only from gw-branch-1's address).
    expect(b1!.hops[1]!.src).to.deep.equal({ address: '10.20.0.0', prefix: 24 });
    expect(seen(b2!)).to.equal('10.255.0.3');
    // Without routes: the first hop SNATs, as it always did.
    expect(solved(hub({ forwards: ERP })).chains.map(seen)).to.deep.equal(['10.255.0.2', '10.255.0.3']);
  });

  it('a routed site with several subnets gets one chain per subnet, each matched at the next hop', () => {
    const s = solved(hub({ vpnExtra: '    routes: [10.10.0.0/16]\n', forwards: '  cam:\n    from: hq\n    to: 10.20.0.40:8554\n' }));
    expect(s.chains.map((c) => [seen(c), c.hops[1]!.src])).to.deep.equal([
      ['client', { address: '10.10.0.0', prefix: 24 }],
      ['client', { address: '10.10.1.0', prefix: 24 }],
    ]);
    // gw-hq's one DNAT serves both (merged), gw-branch-1 has one per subnet.
    expect(s.intents['gw-hq']!.filter((i) => i.forward === 'cam')).to.have.length(1);
    expect(s.intents['gw-branch-1']!.filter((i) => i.forward === 'cam').map((i) => i.src?.address)).to.deep.equal(['10.10.0.0', '10.10.1.0']);
  });

  it('always: every hop SNATs, the last one too', () => {
    const s = solved(hub({ vpnExtra: routed, forwards: ERP.replace('\n    to:', '\n    snat: always\n    to:') }));
    expect(s.chains.map((c) => c.hops.map((h) => h.snat?.address))).to.deep.equal([
      ['10.255.0.2', '10.10.0.1'],
      ['10.255.0.3', '10.10.0.1'],
    ]);
  });

  it('never: refused where replies could not come back (at the snat line), accepted where the network routes them', () => {
    const yaml = hub({ vpnExtra: routed, forwards: ERP.replace('\n    to:', '\n    snat: never\n    to:') });
    const line = yaml.split('\n').findIndex((l) => l.includes('snat: never')) + 1;
    expect(errorsOf(() => compile(yaml, 't.yaml'))).to.deep.equal([
      `t.yaml:${line}:5: forward "erp": snat: never, but replies to 10.30.0.0/24 would not come back from gw-hq to gw-branch-2: network "vpn" does not route 10.30.0.0/24 to gw-branch-2 (list it in networks.vpn.routes)`,
    ]);
    const ok = solved(hub({ vpnExtra: '    routes: [branch-1, branch-2]\n', forwards: ERP.replace('\n    to:', '\n    snat: never\n    to:') }));
    expect(ok.chains.map(seen)).to.deep.equal(['client', 'client']);
    // defaults.snat applies to every forward, and errors point at it.
    const d = hub({ defaults: '  snat: never\n', forwards: ERP });
    expect(errorsOf(() => compile(d, 't.yaml'))[0]).to.match(/^t\.yaml:2:3: forward "erp": snat: never, but replies to 10\.20\.0\.0\/24/);
  });

  it('hairpin and internet forwards are as before with auto; never refuses the hairpin', () => {
    const web = '  web:\n    from: internet\n    to: 10.10.0.80:80\n    expose: 192.0.2.10:80\n    hairpin: true\n';
    const s = solved(hub({ vpnExtra: routed, forwards: web }));
    expect(s.chains.map((c) => [sourceOf(c), seen(c)])).to.deep.equal([
      ['internet', 'client'],
      ['hq', '10.10.0.1'],
      ['hq', '10.10.0.1'],
    ]);
    expect(errorsOf(() => compile(hub({ forwards: web.replace('hairpin: true', 'hairpin: true\n    snat: never') }), 't.yaml'))[0]).to.include(
      'snat: never, but a hairpin client is on the target\'s own LAN',
    );
  });

  it('routes must name sites (or prefixes holding site subnets) that have a gateway on the network', () => {
    const errs = errorsOf(() => compile(hub({ vpnExtra: '    routes: [10.99.0.0/16, nowhere, 10.20.0.1/16]\n', forwards: ERP }), 't.yaml'));
    expect(errs.map((e) => e.replace(/^t\.yaml:\d+:\d+: /, ''))).to.deep.equal([
      'no site subnet lies inside 10.99.0.0/16: routes name the sites whose replies the network carries',
      '"nowhere" is neither a site nor a prefix like 10.20.0.0/16',
      '"10.20.0.1/16" has host bits set; the prefix is 10.20.0.0/16',
    ]);
  });
});

describe('solve + render: allow-lists on network sources', () => {
  const web = (from: string) => `  web:\n    from: ${from}\n    to: 10.30.0.80:80\n    expose: 192.0.2.31:80\n`;

  it('DNATs only the listed sources, on both backends: other sources match no natchain rule', () => {
    const s = solved(hub({ forwards: web('[{ internet: [203.0.113.0/24, 198.51.100.7] }]') }));
    expect(s.chains.map((c) => c.hops[0]!.src)).to.deep.equal([
      { address: '203.0.113.0', prefix: 24 },
      { address: '198.51.100.7', prefix: 32 },
    ]);
    const t = compile(hub({ forwards: web('[{ internet: [203.0.113.0/24, 198.51.100.7] }]') }), 't.yaml').topology;
    const gw = t.gateways.find((g) => g.name === 'gw-branch-2')!;
    const ipt = renderIptables(gw, s.intents['gw-branch-2']!).split('\n');
    expect(ipt.filter((l) => l.includes('-j DNAT'))).to.deep.equal([
      '-A NATCHAIN-PREROUTING -s 198.51.100.7/32 -d 192.0.2.31/32 -i eth0 -p tcp -m tcp --dport 80 -m comment --comment \"natchain:web\" -j DNAT --to-destination 10.30.0.80:80',
      '-A NATCHAIN-PREROUTING -s 203.0.113.0/24 -d 192.0.2.31/32 -i eth0 -p tcp -m tcp --dport 80 -m comment --comment \"natchain:web\" -j DNAT --to-destination 10.30.0.80:80',
    ]);
    expect(ipt.filter((l) => l.includes('-j ACCEPT')).every((l) => / --ctorigsrc (198\.51\.100\.7\/32|203\.0\.113\.0\/24) /.test(l))).to.equal(true);
    const nft = renderNftables({ ...gw, backend: 'nftables' }, s.intents['gw-branch-2']!).split('\n').map((l) => l.trim());
    expect(nft.filter((l) => l.includes(' dnat to '))).to.deep.equal([
      'iifname "eth0" ip saddr 198.51.100.7/32 ip daddr 192.0.2.31 tcp dport 80 counter dnat to 10.30.0.80:80 comment "natchain:web"',
      'iifname "eth0" ip saddr 203.0.113.0/24 ip daddr 192.0.2.31 tcp dport 80 counter dnat to 10.30.0.80:80 comment "natchain:web"',
    ]);
  });

  it('checks the list: addresses or prefixes, on a network, each once', () => {
    const errs = errorsOf(() => compile(hub({ forwards: web('[{ internet: [203.0.113.1/24, bogus, 0.0.0.0/0, 198.51.100.7, 198.51.100.7/32] }, { hq: [10.0.0.1] }]') }), 't.yaml'));
    expect(errs.map((e) => e.replace(/^t\.yaml:\d+:\d+: /, ''))).to.deep.equal([
      '"203.0.113.1/24" has host bits set; the prefix is 203.0.113.0/24',
      '"bogus" is not an IPv4 address or prefix like 203.0.113.0/24',
      '"0.0.0.0/0" allows everyone: leave the allow-list out instead',
      '"198.51.100.7/32" is listed twice',
      'an allow-list belongs to a network source; "hq" is not a network',
    ]);
  });
});
