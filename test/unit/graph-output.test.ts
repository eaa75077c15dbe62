import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { dotToSvg, toDot, toMermaid, topologyPicture, type Picture } from '../../src/graph/index.js';
import { solve } from '../../src/solve/index.js';
import type { Topology } from '../../src/topology/types.js';
import { natchain } from '../support/cli.js';
import { example } from '../support/topo.js';

const GOLDEN = 'test/golden/graph';
const EXAMPLES = ['seed-portforward', 'seed-vpn', 'three-hop', 'hub-vpn'];

/** Compares with a golden file; `UPDATE_GOLDEN=1` rewrites it instead (review the change in git). */
function golden(name: string, actual: string): void {
  const file = `${GOLDEN}/${name}`;
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(existsSync(file), `${file} is missing (UPDATE_GOLDEN=1 writes it)`).to.equal(true);
  expect(actual, `${file} (UPDATE_GOLDEN=1 rewrites it)`).to.equal(readFileSync(file, 'utf8'));
}

function picture(t: Topology, forward?: string): Picture {
  if (!forward) return topologyPicture(t);
  return topologyPicture(t, { forward, chains: solve(t).chains.filter((c) => c.forward === forward) });
}

const hasDot = (() => {
  try {
    execFileSync('dot', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('graph: the picture', () => {
  it('has every site, network and gateway, one link per interface, with the addresses', () => {
    const p = picture(example('three-hop'));
    expect(p.nodes.map((n) => n.id)).to.deep.equal(['site:dc', 'site:office', 'net:internet', 'net:transit', 'gw:gw-dc', 'gw:gw-edge', 'gw:gw-office']);
    expect(p.nodes.find((n) => n.id === 'gw:gw-dc')!.lines).to.deep.equal(['iptables', 'eth0 10.250.0.2/30', 'eth1 10.3.0.1/24']);
    expect(p.nodes.find((n) => n.id === 'net:transit')!.lines).to.deep.equal(['private', '10.250.0.0/30']);
    expect(p.edges.filter((e) => e.kind === 'link')).to.have.length(6);
    expect(p.edges.every((e) => e.kind === 'link')).to.equal(true);
    expect(p.legend).to.deep.equal([]);
  });

  it("seed 001's chain, step by step: the packet as the seed draws it", () => {
    const p = picture(example('seed-vpn'), 'ssh-12');
    const steps = p.edges.filter((e) => e.kind === 'path' && e.label).map((e) => `${e.from} -> ${e.to}: ${e.label}`);
    expect(steps).to.deep.equal([
      'site:site-b -> gw:gw-b: A1 10.0.1.0/24 → 10.0.0.12:22',
      'gw:gw-b -> net:internet: A2 143.89.135.171 → 143.89.197.180:22012',
      'gw:gw-a -> host:10.0.0.12: A3 143.89.135.171 → 10.0.0.12:22',
      'net:internet -> gw:gw-a: B1 internet → 143.89.197.180:22012',
      'gw:gw-a -> host:10.0.0.12: B2 internet → 10.0.0.12:22',
    ]);
    // One DNAT on gw-a serves both chains, as in the seed: shown once, for A and B.
    expect(p.nodes.find((n) => n.id === 'gw:gw-a')!.nat).to.deep.equal([{ text: 'DNAT 143.89.197.180:22012 → 10.0.0.12:22', chains: [0, 1] }]);
    expect(p.nodes.find((n) => n.id === 'gw:gw-b')!.nat).to.deep.equal([{ text: 'DNAT 10.0.0.12:22 → 143.89.197.180:22012, SNAT → 143.89.135.171', chains: [0] }]);
    expect(p.legend).to.deep.equal(['forward ssh-12: tcp to 10.0.0.12:22', 'A: from site-b, dials 10.0.0.12:22', 'B: from internet, dials 143.89.197.180:22012']);
  });
});

describe('graph: Mermaid and DOT text (golden)', () => {
  it('seed-vpn, plain and with ssh-12 highlighted', () => {
    const t = example('seed-vpn');
    golden('seed-vpn.mmd', toMermaid(picture(t)));
    golden('seed-vpn-ssh-12.mmd', toMermaid(picture(t, 'ssh-12')));
    golden('seed-vpn-ssh-12.dot', toDot(picture(t, 'ssh-12')));
  });

  it('three-hop with dns highlighted, hub-vpn with cam highlighted', () => {
    golden('three-hop-dns.mmd', toMermaid(picture(example('three-hop'), 'dns')));
    golden('hub-vpn-cam.mmd', toMermaid(picture(example('hub-vpn'), 'cam')));
  });

  it('Mermaid: generated ids, escaped labels, one linkStyle per chain step', () => {
    const p: Picture = {
      title: 'x',
      nodes: [
        { id: 'site:end', kind: 'site', title: 'end', lines: ['a "quoted" <b>name</b> & more'], nat: [] },
        { id: 'gw:g', kind: 'gateway', title: 'g', lines: [], nat: [] },
      ],
      edges: [
        { from: 'site:end', to: 'gw:g', label: 'eth0', kind: 'link' },
        { from: 'site:end', to: 'gw:g', label: 'A1 "x"', kind: 'path', chain: 0 },
      ],
      legend: [],
    };
    const m = toMermaid(p);
    expect(m).to.contain('s0[/"<b>end</b><br/>a #quot;quoted#quot; #lt;b#gt;name#lt;/b#gt; #amp; more"\\]');
    expect(m).to.contain('s0 ---|"eth0"| g0');
    expect(m).to.contain('s0 ==>|"A1 #quot;x#quot;"| g0');
    expect(m).to.contain('linkStyle 1 stroke:#d62728');
    expect(m).not.to.match(/^\s*linkStyle 0 /m);
  });

  it('DOT: quotes IDs and escapes HTML labels', () => {
    const p: Picture = {
      title: 'x',
      nodes: [{ id: 'site:a"b', kind: 'site', title: 'a<b>&', lines: [], nat: [] }],
      edges: [],
      legend: [],
    };
    const d = toDot(p);
    expect(d).to.contain('"site:a\\"b" [');
    expect(d).to.contain('<b>a&lt;b&gt;&amp;</b>');
  });
});

describe('graph: DOT is valid Graphviz', () => {
  for (const name of EXAMPLES) {
    it(`${name}: every forward (and none) renders with dot`, async function () {
      if (!hasDot) this.skip();
      const t = example(name);
      for (const f of [undefined, ...t.forwards.map((x) => x.name)]) {
        const svg = await dotToSvg(toDot(picture(t, f)));
        expect(svg, `${name} ${f ?? ''}`).to.match(/<svg[\s\S]*<\/svg>\s*$/);
      }
    });
  }

  it('a missing dot program is a clear ENVIRONMENT error', async () => {
    try {
      await dotToSvg('digraph {}', 'natchain-no-such-dot');
      expect.fail('should have thrown');
    } catch (e) {
      expect((e as { code: string }).code).to.equal('ENVIRONMENT');
      expect((e as Error).message).to.contain('natchain-no-such-dot');
    }
  });
});

describe('cli: graph (compiled binary)', () => {
  it('--format mermaid --forward prints the flowchart', () => {
    const r = natchain(['graph', 'topologies/seed-vpn.yaml', '--format', 'mermaid', '--forward', 'ssh-12']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(readFileSync(`${GOLDEN}/seed-vpn-ssh-12.mmd`, 'utf8'));
  });

  it('--format svg renders through dot', function () {
    if (!hasDot) this.skip();
    const r = natchain(['graph', 'topologies/three-hop.yaml', '--format', 'svg', '-f', 'db']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^<\?xml[\s\S]*<svg/);
  });

  it('an unknown forward or format is a usage error with a hint', () => {
    const r = natchain(['graph', 'topologies/seed-vpn.yaml', '--forward', 'ssh-13']);
    expect(r.code).to.equal(64);
    expect(r.stderr).to.contain('no forward "ssh-13" in topologies/seed-vpn.yaml; did you mean "ssh-12"?');
    expect(natchain(['graph', 'topologies/seed-vpn.yaml', '--format', 'png']).code).to.equal(64);
  });

  it('--help has examples', () => {
    const r = natchain(['graph', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain('Examples:');
  });
});
