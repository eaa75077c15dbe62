// Fuzzing of the loader (issue 11): seeded mutations of the example topologies must end in a
// model or in file:line:col diagnostics, never in another kind of error, never with a position
// outside the file, never with raw control characters or another library's wording. The seed is
// fixed, so a failure reproduces; the number of cases keeps this to a few seconds.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { compile } from '../../src/compile.js';
import { NatchainError, TopologyError, formatDiagnostic } from '../../src/errors.js';
import { decodeText } from '../../src/topology/decode.js';
import { mulberry32, mutate } from '../support/mutate.js';

const EXAMPLES = readdirSync('topologies')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, text: readFileSync(`topologies/${f}`, 'utf8') }));

const CASES = 800;
const SEED = 0x11_2026;

/** Text quoted from files must never carry these, nor another library's phrasing. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const FOREIGN = /Invalid (input|option)|expected one of|9007199254740991|call stack|\[object Object\]|undefined|NaN|YAMLException|RangeError/;

describe('loader fuzzing: seeded mutations of the examples', function () {
  this.timeout(60_000);

  it(`${CASES} mutations end in a model or in file:line:col diagnostics inside the file`, () => {
    const rand = mulberry32(SEED);
    const failures: string[] = [];
    const outcomes = { valid: 0, invalid: 0 };
    for (let n = 0; n < CASES && failures.length < 5; n++) {
      const base = EXAMPLES[n % EXAMPLES.length]!;
      const bytes = mutate(Buffer.from(base.text, 'utf8'), rand);
      const problem = check(bytes, `m${n}.yaml`, outcomes);
      if (problem) failures.push(`case ${n} (${base.file}): ${problem}\n--- input ---\n${JSON.stringify(bytes.toString('latin1').slice(0, 600))}`);
    }
    expect(failures, failures.join('\n\n')).to.deep.equal([]);
    // The mutations reach both outcomes (a fuzzer that only ever breaks the syntax tests little).
    expect(outcomes.valid).to.be.greaterThan(CASES / 20);
    expect(outcomes.invalid).to.be.greaterThan(CASES / 4);
  });
});

/** What is wrong with the loader's answer for these bytes, or undefined when it is right. */
function check(bytes: Buffer, file: string, outcomes: { valid: number; invalid: number }): string | undefined {
  let text: string | undefined;
  try {
    text = decodeText(bytes, file);
    compile(text, file);
    outcomes.valid++;
    return undefined;
  } catch (e) {
    if (!(e instanceof NatchainError)) return `threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
    if (!(e instanceof TopologyError) || e.code !== 'TOPOLOGY_INVALID') return `threw ${e.code} (${e.message}), not a topology error`;
    if (e.diagnostics.length === 0) return 'a topology error without diagnostics';
    outcomes.invalid++;
    const lines = (text ?? bytes.toString('latin1')).split('\n');
    for (const d of e.diagnostics) {
      const shown = formatDiagnostic(d);
      if (d.file !== file) return `diagnostic for another file: ${shown}`;
      if (!Number.isInteger(d.line) || d.line < 1 || d.line > lines.length) return `line outside the file (${lines.length} lines): ${shown}`;
      if (!Number.isInteger(d.col) || d.col < 1 || d.col > lines[d.line - 1]!.length + 1) return `column outside line ${d.line}: ${shown}`;
      if (RAW_CONTROL.test(shown)) return `raw control character: ${JSON.stringify(shown)}`;
      if (FOREIGN.test(d.message)) return `foreign wording: ${shown}`;
    }
    return undefined;
  }
}
