// Names that are members of Object.prototype (toString, constructor, __proto__...) are just names,
// end to end through the compiled CLI: validate, solve, render, the lock file written and read
// back, diff (issue 11 class 5; DESIGN.md invariant 8).
import { expect } from 'chai';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normaliseIptablesRule } from '../../src/render/iptables.js';
import { Journal } from '../../src/rollout/journal.js';
import { parseKnownHosts, preferredHostKeyAlgorithms } from '../../src/transport/knownhosts.js';
import { parseLock } from '../../src/solve/lock.js';
import { natchain } from '../support/cli.js';

const FORWARDS = ['toString', 'isPrototypeOf', 'constructor', 'valueOf', 'hasOwnProperty'];
const GATEWAYS = ['toString', 'prototype', 'toLocaleString'];

describe('names that are JavaScript object members, end to end (compiled CLI)', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'natchain-names-'));
    file = join(dir, 'members.yaml');
    copyFileSync('test/fixtures/names/members.yaml', file);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validate: every entity is kept', () => {
    const r = natchain(['validate', file]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('3 sites, 2 networks, 3 gateways, 5 forwards');
  });

  it('solve: every forward has chains, every hop port is a number', () => {
    const r = natchain(['solve', '--json', file]);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { chains: { forward: string; hops: { gateway: string; dnat: { ports: { from: unknown } } }[] }[]; intents: Record<string, unknown[]> };
    expect([...new Set(j.chains.map((c) => c.forward))].sort()).to.deep.equal([...FORWARDS].sort());
    for (const c of j.chains) for (const h of c.hops) expect(h.dnat.ports.from).to.be.a('number');
    expect(Object.keys(j.intents).sort()).to.deep.equal([...GATEWAYS].sort());
    expect(r.stdout).not.to.match(/function|native code|\[object/);
  });

  it('render: each gateway renders, with its forwards named in the comments', () => {
    let all = '';
    for (const g of GATEWAYS) {
      const r = natchain(['render', file, '-g', g]);
      expect(r.code, `${g}: ${r.stderr}`).to.equal(0);
      all += r.stdout;
    }
    for (const f of FORWARDS) expect(all).to.contain(`natchain:${f}`);
    expect(all).to.match(/24001/); // constructor's pin on gateway toString
  });

  it('lock: written, read back, and then up to date', () => {
    const r = natchain(['lock', file]);
    expect(r.code, r.stderr).to.equal(0);
    const lockFile = file.replace(/\.yaml$/, '.lock');
    const lock = parseLock(readFileSync(lockFile, 'utf8'), lockFile);
    // Every forward with a hop port natchain picked is in the lock (constructor's is pinned, so not).
    expect(Object.keys(lock.ports).sort()).to.deep.equal(['hasOwnProperty', 'isPrototypeOf', 'toString', 'valueOf']);
    for (const f of ['isPrototypeOf', 'valueOf', 'hasOwnProperty', 'toString']) {
      expect(Object.keys(lock.ports), f).to.include(f);
      for (const port of Object.values(lock.ports[f]!)) expect(port).to.be.a('number');
    }
    expect(Object.getPrototypeOf(lock.ports)).to.equal(null);
    const again = natchain(['validate', file]);
    expect(again.code).to.equal(0);
    expect(again.stderr).not.to.contain('out of date');
    expect(natchain(['lock', file]).stdout).to.contain('up to date');
  });

  it('diff: a change to the forward named isPrototypeOf is shown as such', () => {
    const changed = join(dir, 'changed.yaml');
    writeFileSync(changed, readFileSync(file, 'utf8').replace('to: "10.0.0.13:22"', 'to: "10.0.0.23:22"'));
    copyFileSync(file.replace(/\.yaml$/, '.lock'), changed.replace(/\.yaml$/, '.lock'));
    const r = natchain(['diff', file, changed]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/~ forward isPrototypeOf/);
    expect(r.stdout).to.contain('to: 10.0.0.13:22 -> 10.0.0.23:22');
  });
});

describe('names that are JavaScript object members, in the journal', () => {
  // A journal is JSON written by natchain, so a key `__proto__` there (no valid gateway name) must not break reading either.
  it('phases, read-backs and per-gateway states of gateways named constructor and __proto__ are kept apart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'natchain-names-journal-'));
    try {
      const j = new Journal(dir);
      const time = new Date(0).toISOString();
      j.append({ type: 'begin', tx: 't1', time, kind: 'apply', owner: 'me', topology: '/x.yaml', gateways: ['constructor', '__proto__'], confirmTimeoutSec: 60 });
      for (const g of ['constructor', '__proto__']) {
        j.append({ type: 'phase', tx: 't1', time, gateway: g, phase: 'locked' });
        j.append({ type: 'readback', tx: 't1', time, gateway: g, dump: `dump of ${g}` });
      }
      j.append({ type: 'end', tx: 't1', time, outcome: 'committed', states: Object.fromEntries([['constructor', 'committed'], ['__proto__', 'committed']]) as never });
      const [h] = j.transactions();
      expect(Object.keys(h!.phases).sort()).to.deep.equal(['__proto__', 'constructor']);
      expect(h!.phases['constructor']).to.deep.equal(['locked']);
      expect(h!.readback['__proto__']).to.equal('dump of __proto__');
      expect(h!.readback['toString']).to.equal(undefined);
      expect(Object.keys(h!.end!.states).sort()).to.deep.equal(['__proto__', 'constructor']);
      expect(h!.end!.states['hasOwnProperty']).to.equal(undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('names that are JavaScript object members, in fixed lookup tables fed by input', () => {
  it("a gateway's foreign rule with protocol `constructor` is kept as written", () => {
    expect(normaliseIptablesRule('-A FORWARD -p constructor -j ACCEPT')).to.contain('-p constructor');
  });

  it('a known_hosts key type `constructor` is no algorithm list', () => {
    const entries = parseKnownHosts('gw constructor AAAA\n', 'known_hosts');
    expect(() => preferredHostKeyAlgorithms(entries, 'gw')).not.to.throw();
  });
});
