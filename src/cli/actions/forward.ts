import { author, AuthorError, compileBase, diffOf, forwardSummaries, chainSummary, parseImport, reportJson, reviewLines, specOf, type Authored, type Compiled, type Edit, type ForwardSpec } from '../../author/index.js';
import { NatchainError, UsageError } from '../../errors.js';
import { readForEdit, saveAuthored, type EditTarget } from '../author-io.js';
import { readText } from '../io.js';
import { c, printJson, table } from '../output.js';
import type { SpecOptions } from '../commands/forward.js';
import { escapeControl } from '../../escape.js';
import { unknownName } from '../../suggest.js';

/** The flag each field is set with, for messages. */
const FLAG: Record<string, string> = { name: '<name>', from: '--from', allow: '--allow', to: '--to', proto: '--proto', expose: '--expose', hairpin: '--hairpin' };

/** --allow as allow-lists: the same prefixes for every network source in `from`. */
function allowFor(t: Compiled, from: string[], prefixes: string[]): ForwardSpec['allow'] {
  const networks = from.filter((x) => t.topology.networks.some((n) => n.name === x));
  if (!networks.length) throw new UsageError('--allow needs a network source in --from (such as internet): an allow-list says which of its clients may connect');
  return networks.map((network) => ({ network, prefixes }));
}

/** Runs `natchain forward add`. */
export async function add(file: string, name: string, o: SpecOptions): Promise<void> {
  if (!o.from?.length) throw new UsageError('forward add needs --from <site|subnet|network>...');
  if (!o.to) throw new UsageError('forward add needs --to <host:port>');
  const from = o.from;
  const spec = (t: Compiled): ForwardSpec => ({
    name,
    from,
    ...(o.allow ? { allow: allowFor(t, from, o.allow) } : {}),
    to: o.to!,
    proto: (o.proto ?? 'tcp') as ForwardSpec['proto'],
    ...(o.expose ? { expose: o.expose } : {}),
    ...(o.hairpin ? { hairpin: true } : {}),
  });
  await run(file, (t) => ({ kind: 'add', forwards: [spec(t)] }), o);
}

/** Runs `natchain forward edit`. */
export async function edit(file: string, name: string, o: SpecOptions): Promise<void> {
  await run(
    file,
    (t) => {
      const f = t.topology.forwards.find((x) => x.name === name);
      if (!f) throw unknownName('forward', name, t.topology.forwards.map((x) => x.name), file);
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
      if (o.allow === false) delete spec.allow;
      else if (o.allow) spec.allow = allowFor(t, spec.from, o.allow);
      else if (o.from) spec.allow = spec.allow?.filter((a) => spec.from.includes(a.network));
      return { kind: 'edit', name, forward: spec };
    },
    o,
  );
}

/** Runs `natchain forward rm`. */
export async function rm(file: string, name: string, o: SpecOptions): Promise<void> {
  await run(file, () => ({ kind: 'remove', name }), o);
}

/** Runs `natchain forward list`. */
export async function list(file: string, o: { json?: boolean }): Promise<void> {
  const t = await readForEdit(file);
  const rows = forwardSummaries(compileBase(t));
  if (o.json) return printJson({ file, forwards: rows });
  if (!rows.length) return void process.stdout.write(`no forwards in ${file}\n`);
  const head = ['NAME', 'FROM', 'TO', 'PROTO', 'EXPOSED', 'CHAIN', 'DESCRIPTION'].map((h) => c.bold(h));
  // A description is the user's free text: control characters escaped, one line, cut for the table.
  const described = (r: { description: string | null }) => (r.description ? escapeControl(oneLine(r.description, 60)) : '');
  process.stdout.write(table([head, ...rows.map((r) => [r.name, r.from.join(','), r.to, r.proto, r.exposure ?? '-', chainSummary(r), described(r)])]) + '\n');
}

/** Runs `natchain forward import`. */
export async function importForwards(file: string, input: string, o: SpecOptions): Promise<void> {
  const parsed = parseImport(input, await readText(input));
  if (parsed.problems.length) throw importError(input, parsed.problems);
  if (!parsed.rows.length) throw new NatchainError('USAGE', `${input} has no forwards to import`);
  const lineOf = new Map(parsed.rows.map((r) => [r.spec.name, r.line]));
  try {
    await run(file, (t) => ({ kind: 'add', forwards: parsed.rows.map((r) => (r.allowAll ? { ...r.spec, allow: importAllow(t, r.spec.from, r.allowAll) } : r.spec)) }), o, false);
  } catch (e) {
    if (!(e instanceof AuthorError)) throw e;
    throw importError(input, e.problems.map((p) => ({ line: lineOf.get(p.forward) ?? 0, message: `${p.field ? p.field + ': ' : ''}${p.message}` })));
  }
}

/** A CSV row's allow cell as allow-lists of its network sources (none: the check then says the allow-list needs one). */
function importAllow(t: Compiled, from: string[], prefixes: string[]): NonNullable<ForwardSpec['allow']> {
  const networks = from.filter((x) => t.topology.networks.some((n) => n.name === x));
  return (networks.length ? networks : ['(no network source)']).map((network) => ({ network, prefixes }));
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

/** Text on one line (runs of white space made one space), cut to `max` characters with "...". */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 3) + '...' : flat;
}
