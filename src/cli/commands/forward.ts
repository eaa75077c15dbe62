import { Option, type Command } from 'commander';
import { author, AuthorError, compileBase, diffOf, forwardSummaries, chainSummary, parseImport, reportJson, reviewLines, specOf, type Authored, type Edit, type ForwardSpec } from '../../author/index.js';
import { NatchainError, UsageError } from '../../errors.js';
import { readForEdit, saveAuthored, type EditTarget } from '../author-io.js';
import { readText } from '../io.js';
import { c, printJson, table } from '../output.js';

/** Options of `forward add` and `forward edit`. */
interface SpecOptions {
  from?: string[];
  to?: string;
  proto?: string;
  expose?: string | false;
  hairpin?: boolean;
  rename?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** The flag each field is set with, for messages. */
const FLAG: Record<string, string> = { name: '<name>', from: '--from', to: '--to', proto: '--proto', expose: '--expose', hairpin: '--hairpin' };

/** `natchain forward add|edit|rm|list|import`: the wizard's actions without a terminal. */
export function registerForward(program: Command): void {
  const fw = program
    .command('forward')
    .description('add, edit, remove, list or import forwards: the topology edited in place, checked, the lock updated')
    .addHelpText(
      'after',
      `
Every change is checked exactly as \`natchain validate\` checks the file, shown (each new chain hop
by hop, warnings, the rule diff per gateway, the lock's ports) and only then written: the
topology in place, every other byte of it unchanged, and the lock beside it. Nothing is written
on any error, or with --dry-run. \`natchain wizard\` asks the same questions interactively.

Examples:
  natchain forward add site.yaml ssh-12 --from site-b --to 10.0.0.12:22
  natchain forward add site.yaml web --from internet --to 10.0.0.80:80 --expose 198.51.100.7:8080 --dry-run
  natchain forward edit site.yaml ssh-12 --to 10.0.0.12:2222
  natchain forward rm site.yaml ssh-12
  natchain forward list site.yaml --json
  natchain forward import site.yaml new-forwards.csv`,
    );

  const specOptions = (cmd: Command, required: boolean) =>
    cmd
      .option('--from <source...>', 'who connects: sites, subnets inside a site (CIDR), or networks such as internet')
      .option('--to <host:port>', 'the target: host:port or host:from-to')
      .addOption(new Option('--proto <proto>', 'tcp, udp or both').choices(['tcp', 'udp', 'both']).default(required ? 'tcp' : undefined))
      .option('--expose <address:port>', 'where network clients enter (a gateway address, optionally a port; default: natchain picks)')
      .option('--hairpin', 'let clients in the target\'s own site use the exposed address')
      .option('--dry-run', 'show the chain, warnings and rule diff; write nothing')
      .option('--json', 'print the result as one JSON document');

  specOptions(fw.command('add').description('add a forward').argument('<topology>', 'topology file (YAML)').argument('<name>', 'the new forward\'s name'), true).action(
    async (file: string, name: string, o: SpecOptions) => {
      if (!o.from?.length) throw new UsageError('forward add needs --from <site|subnet|network>...');
      if (!o.to) throw new UsageError('forward add needs --to <host:port>');
      const spec: ForwardSpec = { name, from: o.from, to: o.to, proto: (o.proto ?? 'tcp') as ForwardSpec['proto'], ...(o.expose ? { expose: o.expose } : {}), ...(o.hairpin ? { hairpin: true } : {}) };
      await run(file, () => ({ kind: 'add', forwards: [spec] }), o);
    },
  );

  specOptions(fw.command('edit').description('change a forward\'s answers (only the flags given)').argument('<topology>', 'topology file (YAML)').argument('<name>', 'the forward to change'), false)
    .option('--rename <name>', 'give the forward a new name (its hop ports stay)')
    .option('--no-expose', 'drop the exposure (natchain then picks where network clients enter)')
    .option('--no-hairpin', 'turn hairpin off')
    .action(async (file: string, name: string, o: SpecOptions) => {
      await run(
        file,
        (t) => {
          const f = t.topology.forwards.find((x) => x.name === name);
          if (!f) throw new NatchainError('NOT_FOUND', `there is no forward named "${name}" in ${file}`);
          const old = specOf(f);
          const spec: ForwardSpec = {
            ...old,
            name: o.rename ?? name,
            ...(o.from ? { from: o.from } : {}),
            ...(o.to ? { to: o.to } : {}),
            ...(o.proto ? { proto: o.proto as ForwardSpec['proto'] } : {}),
            ...(typeof o.expose === 'string' ? { expose: o.expose } : {}),
            ...(o.hairpin !== undefined ? { hairpin: o.hairpin } : {}),
          };
          if (o.expose === false) delete spec.expose;
          return { kind: 'edit', name, forward: spec };
        },
        o,
      );
    });

  fw.command('rm')
    .description('remove a forward (its hop ports are freed in the lock)')
    .argument('<topology>', 'topology file (YAML)')
    .argument('<name>', 'the forward to remove')
    .option('--dry-run', 'show what goes; write nothing')
    .option('--json', 'print the result as one JSON document')
    .action(async (file: string, name: string, o: SpecOptions) => run(file, () => ({ kind: 'remove', name }), o));

  fw.command('list')
    .description('list the forwards: name, from, to, proto, exposure, chain')
    .argument('<topology>', 'topology file (YAML)')
    .option('--json', 'print them as one JSON document')
    .action(async (file: string, o: { json?: boolean }) => {
      const t = await readForEdit(file);
      const rows = forwardSummaries(compileBase(t));
      if (o.json) return printJson({ file, forwards: rows });
      if (!rows.length) return void process.stdout.write(`no forwards in ${file}\n`);
      const head = ['NAME', 'FROM', 'TO', 'PROTO', 'EXPOSED', 'CHAIN'].map((h) => c.bold(h));
      process.stdout.write(table([head, ...rows.map((r) => [r.name, r.from.join(','), r.to, r.proto, r.exposure ?? '-', chainSummary(r)])]) + '\n');
    });

  fw.command('import')
    .description('add many forwards from a CSV or YAML file: all of them or none')
    .argument('<topology>', 'topology file (YAML)')
    .argument('<file>', 'CSV (header: name,from,to,proto,expose,hairpin) or YAML (name: {from, to, ...})')
    .option('--dry-run', 'check and show everything; write nothing')
    .option('--json', 'print the result as one JSON document')
    .action(async (file: string, input: string, o: SpecOptions) => {
      const parsed = parseImport(input, await readText(input));
      if (parsed.problems.length) throw importError(input, parsed.problems);
      if (!parsed.rows.length) throw new NatchainError('USAGE', `${input} has no forwards to import`);
      const lineOf = new Map(parsed.rows.map((r) => [r.spec.name, r.line]));
      try {
        await run(file, () => ({ kind: 'add', forwards: parsed.rows.map((r) => r.spec) }), o, false);
      } catch (e) {
        if (!(e instanceof AuthorError)) throw e;
        throw importError(input, e.problems.map((p) => ({ line: lineOf.get(p.forward) ?? 0, message: `${p.field ? p.field + ': ' : ''}${p.message}` })));
      }
    });
}

/** Every problem of an import file, each at its line, in line order. */
function importError(input: string, problems: { line: number; message: string }[]): NatchainError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const n = sorted.length;
  return new NatchainError('TOPOLOGY_INVALID', `${n} problem${n === 1 ? '' : 's'} in ${input}; nothing was imported`, sorted.map((p) => `${input}:${p.line}: ${p.message}`));
}

/** Applies one edit, prints the review, writes unless --dry-run; problems name the flag they are about. */
async function run(file: string, editOf: (t: ReturnType<typeof compileBase>) => Edit, o: SpecOptions, flags = true): Promise<void> {
  const target: EditTarget = await readForEdit(file);
  const before = compileBase(target);
  let a: Authored;
  try {
    a = author(target, editOf(before), before);
  } catch (e) {
    if (!(e instanceof AuthorError) || !flags) throw e;
    const lines = e.problems.map((p) => `${p.field ? FLAG[p.field] + ': ' : ''}${p.message}`);
    throw new NatchainError('TOPOLOGY_INVALID', lines.length === 1 ? `forward ${e.problems[0]!.forward}: ${lines[0]}; nothing was written` : `${lines.length} problems; nothing was written`, lines.length === 1 ? [] : lines);
  }
  const d = diffOf(a, file);
  const written = o.dryRun ? [] : await saveAuthored(target, a);
  if (o.json) return printJson({ file, action: a.edit.kind, dryRun: Boolean(o.dryRun), written, ...reportJson(a, d) });
  process.stdout.write(reviewLines(a, d, c).join('\n') + '\n');
  process.stdout.write((o.dryRun ? c.yellow('dry run: nothing was written') : `${c.green('wrote')} ${written.join(' and ')}`) + '\n');
}
