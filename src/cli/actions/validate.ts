import { NatchainError, TopologyError } from '../../errors.js';
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
        `${c.green('valid')} ${file}: ${counts.sites} sites, ${counts.networks} networks, ${counts.gateways} gateways, ${counts.forwards} forwards\n`,
      );
      if (p.lockChanged) {
        process.stderr.write(`note: ${p.lockFile} is ${p.lockExists ? 'out of date' : 'missing'}; \`natchain lock ${file}\` records the hop ports\n`);
      }
    } catch (e) {
      if (!(e instanceof NatchainError)) throw e;
      const errors = e instanceof TopologyError ? e.diagnostics : [{ file, line: 0, col: 0, message: e.message }];
      results.push({ file, valid: false, errors, warnings: [] });
      if (opts.json) continue;
      for (const line of e instanceof TopologyError ? e.details : [`${file}: ${e.message}`]) process.stderr.write(line + '\n');
      process.stderr.write(red(`invalid ${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}`) + '\n');
    }
  }
  if (opts.json) printJson(files.length === 1 ? results[0] : results);
  if (results.some((r) => !r.valid)) throw new ExitCode(1);
}
