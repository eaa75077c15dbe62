// Golden files: the exact text a renderer must produce. `UPDATE_GOLDEN=1 npx mocha ...` rewrites
// them; review the diff before committing, it is the ruleset every gateway will get.
// captured/ holds real kernel read-backs (iptables-save, nft list ruleset) of seed 000 loaded
// next to Docker-like and admin rules, so the parsers are tested offline against the real spelling.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const here = dirname(fileURLToPath(import.meta.url));

/** Asserts `actual` equals test/golden/<name> (or rewrites the file when UPDATE_GOLDEN=1). */
export function expectGolden(name: string, actual: string): void {
  const file = join(here, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden file ${name} is missing: run with UPDATE_GOLDEN=1 to create it`);
  expect(actual, `output differs from golden file ${name} (UPDATE_GOLDEN=1 rewrites it)`).to.equal(readFileSync(file, 'utf8'));
}
