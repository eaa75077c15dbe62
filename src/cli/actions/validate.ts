import { NatchainError, TopologyError } from '../../errors.js';
import { escapeControl } from '../../escape.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import { c, makeChalk, printJson } from '../output.js';
import { printWarnings, strictError } from '../warnings.js';

/** Runs `natchain validate`. */
export async function run(files: string[], opts: { json?: boolean; strict?: boolean }): Promise<void> {
  const results = [];
  const red = makeChalk(process.stderr).red;
  for (const file of files) {
    try {
      const p = await loadProject(file);
      const t = p.topology;
      const warnings = p.solution.warnings;
      const strict = strictError(warnings, opts.strict);
      if (strict) throw strict;
      const counts = { sites: t.sites.length, networks: t.networks.length, gateways: t.gateways.length, forwards: t.forwards.length };
      results.push({ file, valid: true, ...counts, lockUpToDate: !p.lockChanged, errors: [], warnings });
      if (opts.json) continue;
      printWarnings(warnings);
      process.stdout.write(
        `${c.green('valid')} ${escapeControl(file)}: ${counts.sites} sites, ${counts.networks} networks, ${counts.gateways} gateways, ${counts.forwards} forwards\n`,
      );
      if (p.lockChanged) {
        process.stderr.write(escapeControl(`note: ${p.lockFile} is ${p.lockExists ? 'out of date' : 'missing'}; \`natchain lock ${file}\` records the hop ports`) + '\n');
      }
    } catch (e) {
      if (!(e instanceof NatchainError)) throw e;
      const errors = e instanceof TopologyError ? e.diagnostics : [{ file, line: 0, col: 0, message: e.message }];
      results.push({ file, valid: false, errors, warnings: [] });
      if (opts.json) continue;
      for (const line of e instanceof TopologyError ? e.details : [escapeControl(e.message.includes(file) ? e.message : `${file}: ${e.message}`)]) process.stderr.write(line + '\n');
      process.stderr.write(red(`invalid ${escapeControl(file)}: ${errors.length} error${errors.length === 1 ? '' : 's'}`) + '\n');
    }
  }
  // One shape whatever the number of files: an array of results.
  if (opts.json) printJson(results);
  else if (files.length > 1) printSummary(results);
  if (results.some((r) => !r.valid)) throw new ExitCode(1);
}

/** The last line of a validate of several files: how many were valid, how many not, with how many errors. */
function printSummary(results: { valid: boolean; errors: unknown[] }[]): void {
  const bad = results.filter((r) => !r.valid);
  const errors = bad.reduce((n, r) => n + r.errors.length, 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (!bad.length) return void process.stdout.write(c.green(`all ${plural(results.length, 'file')} valid`) + '\n');
  const line = `${plural(results.length, 'file')}: ${results.length - bad.length} valid, ${bad.length} invalid (${plural(errors, 'error')})`;
  process.stderr.write(makeChalk(process.stderr).red(line) + '\n');
}
