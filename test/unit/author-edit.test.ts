import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { author, AuthorError, type Base, type ForwardSpec } from '../../src/author/index.js';
import { addForwards, editForward, removeForward } from '../../src/author/forwards.js';
import { compile } from '../../src/compile.js';
import { EMPTY_LOCK } from '../../src/solve/index.js';

/** What changed between two texts: the one differing middle (common prefix and suffix cut off). */
function changed(a: string, b: string): { removed: string; added: string } {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return { removed: a.slice(p, a.length - s), added: b.slice(p, b.length - s) };
}

/** Lines of b that are not in a, and of a not in b, as multisets (for edits touching several places of one forward). */
function lineDelta(a: string, b: string): { gone: string[]; came: string[] } {
  const count = (t: string) => t.split('\n').reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const [ca, cb] = [count(a), count(b)];
  const minus = (x: Map<string, number>, y: Map<string, number>) => [...x].flatMap(([l, n]) => Array(Math.max(0, n - (y.get(l) ?? 0))).fill(l) as string[]);
  return { gone: minus(ca, cb), came: minus(cb, ca) };
}

const valid = (text: string) => compile(text, 't.yaml');

// Comments everywhere, anchors and aliases, flow and block maps and sequences, quoting styles, blank lines.
const KITCHEN = `# yaml-language-server: $schema=../schema/topology.schema.json
# A file written by hand.
version: 1
sites:
  site-a:   # the head office
    subnets:
      - 10.0.0.0/24
  "site-b": { subnets: ['10.0.1.0/24'] }
networks: { internet: { public: true } }
gateways:
  gw-a:
    ssh: &ssh { user: root }
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internet }   # uplink
      eth1: { address: "10.0.0.1/24", site: site-a }
  gw-b:
    ssh: *ssh
    interfaces:
      eth0:
        address: 203.0.113.1/24
        network: internet
      eth1: { address: 10.0.1.1/24, site: site-b }

forwards:
  # ssh to the build box
  ssh-12:
    from: &b [site-b]
    to: "10.0.0.12:22"   # the build box
    proto: tcp

  web:
    from: internet
    to: '10.0.1.80:80'
    expose: 203.0.113.1:8080
    # more to come
  back: { from: *b, to: 10.0.0.13:22, proto: tcp }

# trailing comment about the lab
lab:
  hosts:
    client-b: { address: 10.0.1.13, site: site-b }
`;

const SPEC: ForwardSpec = { name: 'db-5432', from: ['site-b'], to: '10.0.0.50:5432', proto: 'tcp' };

describe('author: the YAML editor keeps every other byte', () => {
  const files: Record<string, string> = {
    kitchen: KITCHEN,
    'seed-vpn': readFileSync('topologies/seed-vpn.yaml', 'utf8'),
    'three-hop': readFileSync('topologies/three-hop.yaml', 'utf8'),
    'hub-vpn': readFileSync('topologies/hub-vpn.yaml', 'utf8'),
  };

  it('the fixture itself is valid', () => {
    expect(valid(KITCHEN).topology.forwards.map((f) => f.name)).to.deep.equal(['ssh-12', 'web', 'back']);
  });

  for (const [name, text] of Object.entries(files)) {
    it(`${name}: add inserts only the new forward, which validates`, () => {
      const t = valid(text).topology;
      const site = t.sites.find((s) => s.gateway)!;
      const other = t.sites.find((s) => s !== site && s.gateway && s.gateway !== site.gateway)!;
      const host = other.subnets[0]!.address.replace(/\.0$/, '.201');
      const out = addForwards(text, [{ name: 'new-1', from: [site.name], to: `${host}:4444`, proto: 'udp' }]);
      const d = changed(text, out);
      expect(d.removed).to.equal('');
      expect(d.added).to.match(/new-1/);
      expect(d.added).to.not.match(/ssh-12|erp|db:/);
      const f = valid(out).topology.forwards.find((x) => x.name === 'new-1')!;
      expect(f.to.address).to.equal(host);
      expect(f.protos).to.deep.equal(['udp']);
    });

    it(`${name}: removing every forward, one by one, removes only its lines, and each result validates`, () => {
      let cur = text;
      // Last first: in the kitchen file a later forward uses an earlier one's anchor.
      for (const f of valid(text).topology.forwards.reverse()) {
        const next = removeForward(cur, f.name);
        const d = changed(cur, next);
        expect(d.added).to.equal('');
        // (The cut may start one byte into the name when the previous entry ends alike.)
        expect(d.removed).to.contain(`${f.name.slice(1)}:`);
        expect(valid(next).topology.forwards.map((x) => x.name)).to.not.include(f.name);
        cur = next;
      }
    });
  }

  it('add to the kitchen file: block style with the same indent, blank line kept as separator, before the trailing comment', () => {
    const out = addForwards(KITCHEN, [SPEC]);
    const back = '  back: { from: *b, to: 10.0.0.13:22, proto: tcp }\n';
    expect(out).to.equal(KITCHEN.replace(back, back + '\n  db-5432:\n    from: site-b\n    to: 10.0.0.50:5432\n    proto: tcp\n'));
  });

  it('add many at once keeps their order', () => {
    const out = addForwards(KITCHEN, [SPEC, { ...SPEC, name: 'db-2', to: '10.0.0.51:5432' }]);
    expect(out.indexOf('db-5432:')).to.be.lessThan(out.indexOf('db-2:'));
    expect(valid(out).topology.forwards).to.have.length(5);
  });

  it('add into flow-style forwards writes a flow entry', () => {
    const text = KITCHEN.replace(/forwards:[\s\S]*?\n\n# trailing/, 'forwards: { a: { from: site-b, to: 10.0.0.12:22 } }  # flow\n\n# trailing');
    const out = addForwards(text, [SPEC]);
    expect(changed(text, out).added).to.equal(', db-5432: { from: site-b, to: 10.0.0.50:5432, proto: tcp }');
    expect(valid(out).topology.forwards.map((f) => f.name)).to.deep.equal(['a', 'db-5432']);
  });

  it('add when every forward is a one-line flow map writes one too', () => {
    const text = KITCHEN.replace(/forwards:[\s\S]*?\n\n# trailing/, 'forwards:\n  a: { from: site-b, to: 10.0.0.12:22 }\n\n# trailing');
    const out = addForwards(text, [SPEC]);
    expect(changed(text, out).added).to.equal('  db-5432: { from: site-b, to: 10.0.0.50:5432, proto: tcp }\n');
  });

  for (const empty of ['forwards:\n', 'forwards: {}\n', 'forwards: ~ # none yet\n', '']) {
    it(`add to ${JSON.stringify(empty || 'no forwards section')} creates the entries (before lab:)`, () => {
      const text = KITCHEN.replace(/forwards:[\s\S]*?\n\n# trailing/, `${empty}\n# trailing`);
      const out = addForwards(text, [SPEC]);
      expect(valid(out).topology.forwards.map((f) => f.name)).to.deep.equal(['db-5432']);
      expect(out).to.contain('forwards:');
      expect(out.indexOf('db-5432')).to.be.lessThan(out.indexOf('lab:'));
      if (empty.includes('#')) expect(out).to.contain('forwards: # none yet\n  db-5432:');
      // Everything before the section is untouched.
      expect(out.startsWith(text.slice(0, text.indexOf('\n# trailing') - empty.length))).to.equal(true);
    });
  }

  it('add at the end of a file with no lab and no trailing newline', () => {
    const text = readFileSync('topologies/seed-portforward.yaml', 'utf8').replace(/forwards:[\s\S]*$/, '').trimEnd();
    const out = addForwards(text, [{ name: 'w', from: ['internet'], to: '192.168.0.2:80', proto: 'tcp' }]);
    expect(out.startsWith(text + '\n')).to.equal(true);
    expect(valid(out).topology.forwards).to.have.length(1);
  });

  it('edit changes only the fields that change, keeping quotes, comments and the untouched fields', () => {
    const out = editForward(KITCHEN, 'ssh-12', { name: 'ssh-12', from: ['site-b'], to: '10.0.0.12:2222', proto: 'tcp' });
    expect(changed(KITCHEN, out)).to.deep.equal({ removed: '', added: '22' });
    expect(out).to.contain('to: "10.0.0.12:2222"   # the build box');
  });

  it('edit: single-quoted, flow sequence, block sequence and flow-map styles are kept', () => {
    let out = editForward(KITCHEN, 'web', { name: 'web', from: ['internet', 'site-a'], to: '10.0.1.81:81', proto: 'both', expose: '203.0.113.1:8081' });
    expect(lineDelta(KITCHEN, out)).to.deep.equal({
      gone: ['    from: internet', "    to: '10.0.1.80:80'", '    expose: 203.0.113.1:8080'],
      came: ['    from: [internet, site-a]', "    to: '10.0.1.81:81'", '    expose: 203.0.113.1:8081', '    proto: both'],
    });
    expect(out).to.contain('    expose: 203.0.113.1:8081\n    proto: both\n    # more to come\n');
    out = editForward(KITCHEN, 'back', { name: 'back', from: ['site-b'], to: '10.0.0.13:23', proto: 'udp' });
    expect(out).to.equal(KITCHEN.replace('to: 10.0.0.13:22, proto: tcp }', 'to: 10.0.0.13:23, proto: udp }'));
    valid(out);
  });

  it('edit into a block sequence writes a block sequence', () => {
    const text = KITCHEN.replace('    from: internet\n', '    from:\n      - internet\n');
    const out = editForward(text, 'web', { name: 'web', from: ['internet', 'site-a'], to: '10.0.1.80:80', proto: 'tcp', expose: '203.0.113.1:8080' });
    expect(out).to.equal(text.replace('      - internet\n', '      - internet\n      - site-a\n'));
    expect(valid(out).topology.forwards.find((f) => f.name === 'web')!.from).to.have.length(2);
  });

  it('edit removes a field the spec drops, with its line', () => {
    const out = editForward(KITCHEN, 'web', { name: 'web', from: ['internet'], to: '10.0.1.80:80', proto: 'tcp' });
    expect(out).to.equal(KITCHEN.replace('    expose: 203.0.113.1:8080\n', ''));
  });

  it('rename keeps the body and the key quoting', () => {
    const out = editForward(KITCHEN, 'ssh-12', { name: 'ssh-build', from: ['site-b'], to: '10.0.0.12:22', proto: 'tcp' });
    expect(changed(KITCHEN, out)).to.deep.equal({ removed: '12', added: 'build' });
  });

  it('a CRLF file stays CRLF: inserted lines end with \\r\\n, the rest is unchanged', () => {
    const crlf = KITCHEN.replace(/\n/g, '\r\n');
    const added = addForwards(crlf, [SPEC]);
    expect(added).to.equal(addForwards(KITCHEN, [SPEC]).replace(/\n/g, '\r\n'));
    const edited = editForward(added, 'web', { name: 'web', from: ['internet'], to: '10.0.1.80:80', proto: 'udp', expose: '203.0.113.1:8080' });
    expect(edited.replace(/\r\n/g, '')).to.not.contain('\n');
    expect(removeForward(added, 'db-5432')).to.equal(crlf);
    valid(edited);
  });

  it('an anchor another forward uses is never removed or changed under it', () => {
    // ssh-12's "from" defines &b, which "back" uses.
    expect(() => removeForward(KITCHEN, 'ssh-12')).to.throw(/anchor &b/);
    expect(() => editForward(KITCHEN, 'ssh-12', { name: 'ssh-12', from: ['site-b', 'internet'], to: '10.0.0.12:22', proto: 'tcp', expose: '198.51.100.1:2222' })).to.throw(/anchor &b/);
    // The alias side may change freely; the anchor stays.
    const out = editForward(KITCHEN, 'back', { name: 'back', from: ['internet'], to: '10.0.0.13:22', proto: 'tcp' });
    expect(out).to.contain('from: &b [site-b]');
    expect(changed(KITCHEN, out)).to.deep.equal({ removed: '*b', added: 'internet' });
    valid(out);
  });
});

describe('author: edits checked by compile, with the lock', () => {
  const text = readFileSync('topologies/seed-vpn.yaml', 'utf8');
  const base: Base = { text, file: 'seed-vpn.yaml', lock: EMPTY_LOCK };
  const problems = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof AuthorError) return e.problems.map((p) => `${p.field}: ${p.message}`);
      throw e;
    }
    throw new Error('expected an AuthorError');
  };

  it('add: new text re-validates, the lock gets the new hop port', () => {
    const a = author(base, { kind: 'add', forwards: [{ name: 'web-80', from: ['site-a'], to: '10.0.1.13:80', proto: 'tcp' }] });
    expect(compile(a.text, 'x.yaml').topology.forwards).to.have.length(2);
    expect(Object.keys(a.lock.ports)).to.include('web-80');
  });

  it('remove frees the forward\'s hop ports in the lock; rename keeps them', () => {
    const added = author(base, { kind: 'add', forwards: [{ name: 'web-80', from: ['site-a'], to: '10.0.1.13:80', proto: 'tcp' }] });
    const port = added.lock.ports['web-80'];
    const b2: Base = { ...base, text: added.text, lock: added.lock };
    const renamed = author(b2, { kind: 'edit', name: 'web-80', forward: { name: 'web', from: ['site-a'], to: '10.0.1.13:81', proto: 'tcp' } });
    expect(renamed.lock.ports['web']).to.deep.equal(port);
    expect(renamed.lock.ports['web-80']).to.equal(undefined);
    const removed = author(b2, { kind: 'remove', name: 'web-80' });
    expect(removed.lock.ports['web-80']).to.equal(undefined);
    expect(removed.text).to.equal(text);
  });

  it('bad values: unknown site, address in no site, port 0 and 65536, duplicate name', () => {
    const add = (s: Partial<ForwardSpec>) => () => author(base, { kind: 'add', forwards: [{ ...SPEC, from: ['site-a'], to: '10.0.1.13:80', ...s }] });
    expect(problems(add({ from: ['site-c'] }))).to.deep.equal(['from: unknown source "site-c": expected a site, a network or a subnet; did you mean "site-a"?']);
    expect(problems(add({ to: '10.9.0.1:80' }))).to.deep.equal(["to: target 10.9.0.1 is in no site's subnet, so no gateway can reach it"]);
    expect(problems(add({ to: '10.0.1.13:0' }))).to.deep.equal(['to: port 0 is outside 1-65535']);
    expect(problems(add({ to: '10.0.1.13:65536' }))).to.deep.equal(['to: port 65536 is outside 1-65535']);
    expect(problems(add({ name: 'ssh-12' }))).to.deep.equal(['name: a forward named "ssh-12" already exists']);
    expect(problems(add({ from: ['site-a', 'site-a'] }))).to.deep.equal(['from: "site-a" is listed twice']);
  });

  it('a clashing exposure is refused by the solver, reported on the new forward', () => {
    const p = problems(() => author(base, { kind: 'add', forwards: [{ name: 'clash', from: ['internet'], to: '10.0.0.13:22', proto: 'tcp', expose: '143.89.197.180:22012' }] }));
    expect(p).to.have.length(1);
    expect(p[0]).to.match(/22012/).and.to.match(/ssh-12/);
  });

  it('a topology with errors is refused before anything', () => {
    expect(() => author({ ...base, text: text.replace('site: site-a', 'site: site-x') }, { kind: 'remove', name: 'ssh-12' })).to.throw(/errors? in topology/);
  });

  it('add many: every problem at once, nothing written', () => {
    const p = problems(() =>
      author(base, {
        kind: 'add',
        forwards: [
          { ...SPEC, name: 'a', from: ['nowhere'], to: '10.0.1.13:80' },
          { ...SPEC, name: 'b', from: ['site-a'], to: '10.0.1.13:99999' },
          { ...SPEC, name: 'a', from: ['site-a'], to: '10.0.1.13:81' },
        ],
      }),
    );
    expect(p).to.have.length(3);
  });
});
