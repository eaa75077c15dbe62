// A corpus of realistic bad topologies (test/fixtures/bad), one or more per class of issue 11:
// each file's diagnostics are exactly those in the .expected file beside it (`line:col: message`,
// one a line), and the CLI refuses them all with exit 1 and never an internal error.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { compile } from '../../src/compile.js';
import { TopologyError } from '../../src/errors.js';
import { decodeText } from '../../src/topology/decode.js';
import { natchain } from '../support/cli.js';

const DIR = 'test/fixtures/bad';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

/** The diagnostics of a file, as `line:col: message`. */
function diagnosticsOf(file: string): string[] {
  const path = `${DIR}/${file}`;
  try {
    compile(decodeText(readFileSync(path), path), path);
  } catch (e) {
    if (e instanceof TopologyError) return e.details.map((l) => l.slice(path.length + 1));
    throw e;
  }
  return [];
}

describe('bad topologies corpus (test/fixtures/bad)', () => {
  it('has a file for every class', () => {
    expect(FILES.length).to.be.greaterThan(20);
  });

  for (const file of FILES) {
    it(file, () => {
      const expected = readFileSync(`${DIR}/${file.replace(/\.yaml$/, '.expected')}`, 'utf8').trimEnd().split('\n');
      expect(diagnosticsOf(file)).to.deep.equal(expected);
    });
  }

  it('the CLI refuses every one of them with exit 1, never an internal error', function () {
    this.timeout(120_000);
    const r = natchain(['validate', ...FILES.map((f) => `${DIR}/${f}`)]);
    expect(r.code).to.equal(1);
    expect(r.stderr).not.to.match(/internal error|RangeError|TypeError|at .*\.js:\d+/);
    for (const f of FILES) expect(r.stderr).to.match(new RegExp(`invalid ${DIR}/${f.replace(/\./g, '\\.')}: \\d+ errors?`));
  });
});
