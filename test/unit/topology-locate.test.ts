// The quick position finder (src/topology/locate.ts) against the full position-keeping parse: on
// every node of every example and of seeded variations in other YAML styles, it must give the
// same position or say it is unsure (never a different one).
import { expect } from 'chai';
import jsyaml from 'js-yaml';
import { readdirSync, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { FastLocator, offsetIn } from '../../src/topology/locate.js';
import { mulberry32, mutate } from '../support/mutate.js';

type Path = (string | number)[];

function* pathsOf(v: unknown, p: Path = []): Generator<Path> {
  yield p;
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* pathsOf(v[i], [...p, i]);
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) yield* pathsOf((v as Record<string, unknown>)[k], [...p, k]);
}

/** Positions where the quick finder disagrees with the full parse (and how often it was unsure). */
function compare(text: string): { wrong: string[]; unsure: number; total: number } {
  const data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA });
  const doc = parseDocument(text, { uniqueKeys: false });
  const fast = new FastLocator(text, data);
  const wrong: string[] = [];
  let unsure = 0;
  let total = 0;
  for (const p of pathsOf(data)) {
    for (const path of [p, [...p, 'missing']]) {
      for (const key of [false, true]) {
        total++;
        const a = fast.offsetOf(path, key);
        if (a === undefined) unsure++;
        else if (a !== offsetIn(doc, path, key)) wrong.push(`${JSON.stringify(path)} key=${key}: ${a} vs ${offsetIn(doc, path, key)}`);
      }
    }
  }
  return { wrong, unsure, total };
}

const EXAMPLES = readdirSync('topologies').filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(`topologies/${f}`, 'utf8'));

describe('topology: quick positions agree with the full parse', () => {
  it('on every node of every example, sure of every one', () => {
    for (const text of EXAMPLES) {
      const r = compare(text);
      expect(r.wrong).to.deep.equal([]);
      expect(r.unsure).to.equal(0);
    }
  });

  it('on other styles: flow maps, quoted and odd keys, comments, block sequences, anchors, documents', () => {
    const styles = [
      '{sites: {a: {subnets: [10.0.0.0/24]}}, gateways: {}}\n',
      '---\n# c\nsites:\n  "a b":\n    subnets:\n    - 10.0.0.0/24   # x\n    - 10.0.1.0/24\n  \'c\': { subnets: "10.0.2.0/24" }\n',
      'sites:\n  1: {x: 1}\n  0x10: {x: 2}\n  true: 3\n  1e3: 4\n  .inf: 5\n  ~: 6\n  1site: 7\n',
      'a: &x {b: 1, c: [1, 2]}\nd: *x\n? e\n: f\ng:\n  - h: 1\n    i: 2\n',
      'a:\n  b: "multi\n    line"\n  c: |\n    block\n    k: v\n  d: >-\n    folded\n  e: 1\n',
      'a: {b: "x,}", c: \'y]\', d: [1, {e: 2}]}\nf: [ "g" , h ]\n',
      'a:\n\tb: 1\n',
      'a:\n  b:\n  c: 1\n  d:\n    - x\n',
      'a:\n  b:   # note\n  c:\n',
    ];
    for (const text of styles) {
      let r;
      try {
        r = compare(text);
      } catch {
        continue; // not YAML both parsers read: nothing to compare
      }
      expect(r.wrong, text).to.deep.equal([]);
    }
  });

  it('on 150 seeded mutations of the examples that both parsers read', () => {
    const rand = mulberry32(0x10ca7e);
    let compared = 0;
    for (let n = 0; n < 150; n++) {
      const text = mutate(Buffer.from(EXAMPLES[n % EXAMPLES.length]!, 'utf8'), rand).toString('utf8');
      let r;
      try {
        if (parseDocument(text, { uniqueKeys: false }).errors.length) continue;
        r = compare(text);
      } catch {
        continue; // not YAML both parsers read: nothing to compare
      }
      compared++;
      expect(r.wrong, text).to.deep.equal([]);
    }
    expect(compared).to.be.greaterThan(25);
  });
});
