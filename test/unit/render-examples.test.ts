// Golden files for the shipped example topologies: every topologies/*.yaml (found at run time, so
// a new example is covered as soon as it is added), solved with its lock file when there is one,
// rendered for every gateway in both backends. `UPDATE_GOLDEN=1 npx mocha ...` rewrites them in
// test/golden/examples/<topology>/<gateway>.<iptables|nft>; review the diff before committing.
// The semantic checks below are there so that a wrong golden cannot be blessed unnoticed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { compile } from '../../src/compile.js';
import { renderRuleset } from '../../src/render/index.js';
import { EMPTY_LOCK, lockPathFor, parseLock } from '../../src/solve/index.js';
import type { PortLock, Solution } from '../../src/solve/index.js';
import type { Backend, Topology } from '../../src/topology/types.js';
import { expectGolden } from '../golden/golden.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const topologyDir = join(root, 'topologies');
const examplesDir = fileURLToPath(new URL('../golden/examples/', import.meta.url));

const backends: { backend: Backend; ext: string }[] = [
  { backend: 'iptables', ext: 'iptables' },
  { backend: 'nftables', ext: 'nft' },
];

interface Example {
  name: string;
  file: string;
  lock: PortLock | undefined;
  topology: Topology;
  solution: Solution;
}

/** Every example topology, solved as `natchain render` would solve it (with its lock, if any). */
function loadExamples(): Example[] {
  return readdirSync(topologyDir)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => {
      const file = `topologies/${f}`;
      const lockFile = lockPathFor(join(topologyDir, f));
      const lock = existsSync(lockFile) ? parseLock(readFileSync(lockFile, 'utf8'), lockPathFor(file)) : undefined;
      const { topology, solution } = compile(readFileSync(join(topologyDir, f), 'utf8'), file, lock ?? EMPTY_LOCK);
      return { name: f.replace(/\.ya?ml$/i, ''), file, lock, topology, solution };
    });
}

const examples = loadExamples();
const byName = (name: string) => {
  const ex = examples.find((e) => e.name === name);
  if (!ex) throw new Error(`no example topology ${name} in topologies/`);
  return ex;
};

/** One gateway of an example rendered for `backend` (overriding the gateway's own). */
function render(example: Example, gateway: string, backend: Backend): string {
  const g = example.topology.gateways.find((x) => x.name === gateway);
  if (!g) throw new Error(`no gateway ${gateway} in ${example.file}`);
  return renderRuleset({ ...g, backend }, example.solution.intents[gateway] ?? []);
}

/** The rule lines of a rendered ruleset: iptables `-A/-I/-D` lines; nft chain rules and map elements. */
function ruleLines(text: string, backend: Backend): string[] {
  if (backend === 'iptables') return text.split('\n').filter((l) => /^-[AID] /.test(l));
  const out: string[] = [];
  let block: 'chain' | 'elements' | undefined;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (/^chain \S+ \{$/.test(l)) block = 'chain';
    else if (l === 'elements = {') block = 'elements';
    else if (l === '}') block = undefined;
    else if (block === 'chain' && l && !l.startsWith('type ')) out.push(l);
    else if (block === 'elements' && l) out.push(l.replace(/,$/, ''));
  }
  return out;
}

/** The natchain comment of a rule line (`natchain` or `natchain:<forward>`), if it has one. */
function commentOf(line: string): string | undefined {
  return /(?:--comment |comment )"?(natchain(?::[^"\s]+)?)"?(?:\s|$)/.exec(line)?.[1];
}

describe('render/examples (topologies/*.yaml)', () => {
  it('finds the shipped examples', () => {
    expect(examples.map((e) => e.name)).to.include.members(['hub-vpn', 'seed-portforward', 'seed-vpn', 'three-hop']);
  });

  for (const ex of examples) {
    describe(ex.name, () => {
      if (ex.lock) {
        it(`has an up-to-date lock (${ex.name}.lock): solving picks and frees no port`, () => {
          expect(ex.solution.lock).to.deep.equal(ex.lock);
        });
      }
      for (const { backend, ext } of backends) {
        for (const g of ex.topology.gateways) {
          it(`renders ${g.name} for ${backend} as in test/golden/examples/${ex.name}/${g.name}.${ext}`, () => {
            expectGolden(`examples/${ex.name}/${g.name}.${ext}`, render(ex, g.name, backend));
          });
          it(`puts a natchain comment on every rule of ${g.name} (${backend}), naming a real forward`, () => {
            const forwards = new Set(ex.topology.forwards.map((f) => f.name));
            const lines = ruleLines(render(ex, g.name, backend), backend);
            expect(lines, 'no rule lines found: the rule-line parser is out of step with the renderer').not.to.be.empty;
            for (const l of lines) {
              const c = commentOf(l);
              expect(c, `rule without a natchain comment: ${l}`).to.be.a('string');
              // Per-forward rules say which forward they serve; the jumps and dispatch rules
              // that exist on every gateway carry the bare `natchain`.
              if (c !== 'natchain') expect(forwards, `comment ${c} names no forward of ${ex.file}: ${l}`).to.include(c!.slice('natchain:'.length));
              else expect(l, `bare natchain comment on a per-forward rule: ${l}`).not.to.match(/ (DNAT|SNAT|ACCEPT)\b|\b(dnat|snat) to\b|\baccept comment\b/);
            }
            if ((ex.solution.intents[g.name] ?? []).length) expect(lines.some((l) => commentOf(l)?.startsWith('natchain:'))).to.equal(true);
          });
        }
      }
    });
  }

  it('keeps no golden file for a topology, gateway or backend that no longer exists', () => {
    const expected = new Set(examples.flatMap((ex) => ex.topology.gateways.flatMap((g) => backends.map((b) => `${ex.name}/${g.name}.${b.ext}`))));
    const present = (existsSync(examplesDir) ? readdirSync(examplesDir, { withFileTypes: true }) : [])
      .filter((d) => d.isDirectory())
      .flatMap((d) => readdirSync(join(examplesDir, d.name)).map((f) => `${d.name}/${f}`));
    expect(present.filter((f) => !expected.has(f)), 'stale golden files (delete them)').to.deep.equal([]);
  });

  describe('seed-portforward (seed 000)', () => {
    const ex = byName('seed-portforward');
    it('gw: DNATs 1.2.3.4:81 to 192.168.0.2:8180 and SNATs the hairpin flow to 192.168.0.1 (iptables)', () => {
      const lines = ruleLines(render(ex, 'gw', 'iptables'), 'iptables');
      expect(lines.filter((l) => l.includes('-j DNAT')).every((l) => l.includes('-d 1.2.3.4/32') && l.endsWith('--to-destination 192.168.0.2:8180'))).to.equal(true);
      expect(lines.filter((l) => l.includes('-j DNAT')).map((l) => / -i (\S+) /.exec(l)?.[1]).sort()).to.deep.equal(['eth0', 'eth1']);
      const snat = lines.filter((l) => l.includes('-j SNAT'));
      expect(snat).to.have.length(1);
      expect(snat[0]).to.match(/^-A NATCHAIN-POSTROUTING -s 192\.168\.0\.0\/24 -d 192\.168\.0\.2\/32 -o eth1 -p tcp -m tcp --dport 8180 .*--ctorigdst 1\.2\.3\.4 --ctorigdstport 81 .*-j SNAT --to-source 192\.168\.0\.1$/);
    });
    it('gw: the same hairpin SNAT to 192.168.0.1 (nftables)', () => {
      const lines = ruleLines(render(ex, 'gw', 'nftables'), 'nftables');
      const snat = lines.filter((l) => / snat to /.test(l));
      expect(snat).to.have.length(1);
      expect(snat[0]).to.match(/^oifname "eth1" ip saddr 192\.168\.0\.0\/24 ip daddr 192\.168\.0\.2 tcp dport 8180 ct original ip daddr 1\.2\.3\.4 ct original proto-dst 81 snat to 192\.168\.0\.1 /);
      expect(lines.filter((l) => / dnat to /.test(l)).every((l) => l.includes('dnat to 192.168.0.2:8180'))).to.equal(true);
    });
    it('gw: no INPUT (or OUTPUT) rule in either backend; the accept is in FORWARD', () => {
      const ipt = render(ex, 'gw', 'iptables');
      expect(ipt).not.to.match(/^(-[AID] |:)(INPUT|OUTPUT)\b/m);
      expect(ruleLines(ipt, 'iptables').filter((l) => l.includes('-j ACCEPT')).every((l) => l.startsWith('-A NATCHAIN-FORWARD '))).to.equal(true);
      expect(ruleLines(ipt, 'iptables').some((l) => l.startsWith('-A NATCHAIN-FORWARD ') && l.endsWith('-j ACCEPT'))).to.equal(true);
      const nft = render(ex, 'gw', 'nftables');
      expect(nft).not.to.match(/hook (input|output)\b/);
      expect(nft).to.include('type filter hook forward');
    });
  });

  describe('seed-vpn (seed 001)', () => {
    const ex = byName('seed-vpn');
    it('gw-b: DNATs 10.0.0.12:22 to 143.89.197.180:22012 and SNATs to 143.89.135.171 for that flow only (iptables)', () => {
      const lines = ruleLines(render(ex, 'gw-b', 'iptables'), 'iptables');
      const dnat = lines.filter((l) => l.includes('-j DNAT'));
      expect(dnat).to.have.length(1);
      expect(dnat[0]).to.match(/ -d 10\.0\.0\.12\/32 -i eth1 -p tcp -m tcp --dport 22 .*-j DNAT --to-destination 143\.89\.197\.180:22012$/);
      const snat = lines.filter((l) => l.includes('-j SNAT'));
      expect(snat).to.have.length(1);
      // Scoped to this one forward: its new destination and port, out of eth0, and only
      // connections that were DNATed from 10.0.0.12:22 (not the seed's `! -d 10.0.0.0/8 -o eth0`).
      expect(snat[0]).to.match(
        /^-A NATCHAIN-POSTROUTING -d 143\.89\.197\.180\/32 -o eth0 -p tcp -m tcp --dport 22012 -m conntrack --ctstate DNAT --ctorigdst 10\.0\.0\.12 --ctorigdstport 22 .*-j SNAT --to-source 143\.89\.135\.171$/,
      );
    });
    it('gw-b: the same DNAT and narrow SNAT (nftables)', () => {
      const lines = ruleLines(render(ex, 'gw-b', 'nftables'), 'nftables');
      const dnat = lines.filter((l) => / dnat to /.test(l));
      expect(dnat).to.have.length(1);
      expect(dnat[0]).to.match(/^iifname "eth1" ip daddr 10\.0\.0\.12 tcp dport 22 counter dnat to 143\.89\.197\.180:22012 /);
      const snat = lines.filter((l) => / snat to /.test(l));
      expect(snat).to.have.length(1);
      expect(snat[0]).to.match(/^oifname "eth0" ip daddr 143\.89\.197\.180 tcp dport 22012 ct original ip daddr 10\.0\.0\.12 ct original proto-dst 22 snat to 143\.89\.135\.171 /);
    });
    for (const { backend } of backends) {
      it(`gw-a: exactly one DNAT, 143.89.197.180:22012 to 10.0.0.12:22, and no SNAT (${backend})`, () => {
        const lines = ruleLines(render(ex, 'gw-a', backend), backend);
        const dnat = lines.filter((l) => (backend === 'iptables' ? l.includes('-j DNAT') : / dnat to /.test(l)));
        expect(dnat).to.have.length(1);
        expect(dnat[0]).to.match(
          backend === 'iptables'
            ? /-d 143\.89\.197\.180\/32 -i eth0 -p tcp -m tcp --dport 22012 .*-j DNAT --to-destination 10\.0\.0\.12:22$/
            : /^iifname "eth0" ip daddr 143\.89\.197\.180 tcp dport 22012 counter dnat to 10\.0\.0\.12:22 /,
        );
        expect(lines.filter((l) => /SNAT|snat to/.test(l))).to.deep.equal([]);
      });
    }
  });
});
