// `natchain wizard`: add, edit and remove forwards by answering questions, see what natchain
// solved and the exact rule changes, save (the topology edited in place, the lock updated), then
// plan or apply through the same code as the commands. Nothing is written before "save"; Ctrl-C or
// Escape before it leaves both files as they were.
import { existsSync } from 'node:fs';
import { author, AuthorError, chainSummary, compileBase, diffOf, forwardSummaries, lookupsOf, reviewLines, specOf, type Authored, type Edit, type ForwardSpec } from '../author/index.js';
import { NatchainError, UsageError } from '../errors.js';
import type { Paint } from '../plan/index.js';
import { askAll, askAllow, askExpose, askFrom, askHairpin, askName, askProto, askTo, hairpinPossible, hasNetworkSource, type Answers, type Context } from './questions.js';
import { ask, WizardCancelled } from './prompts.js';

/** What the wizard needs from the CLI around it: output, files, and the commands it can hand over to. */
export interface WizardIo {
  paint: Paint;
  write(text: string): void;
  readForEdit(file: string): Promise<Context['base'] & { lockFile: string; lockExists: boolean }>;
  save(target: Awaited<ReturnType<WizardIo['readForEdit']>>, a: Authored): Promise<string[]>;
  /** Creates the topology file (the init flow); `discover` names gateways to read. */
  create(file: string, discover?: string[]): Promise<{ problems: string[] }>;
  plan(file: string): Promise<void>;
  apply(file: string): Promise<void>;
}

/** Runs the wizard on a terminal; resolves when the admin quits. */
export async function runWizard(file: string, io: WizardIo): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError('natchain wizard needs a terminal; without one, use natchain forward add|edit|rm|list|import (natchain forward --help)');
  }
  let saved: string[] = [];
  try {
    if (!existsSync(file)) {
      await offerInit(file, io);
      saved = [file];
    }
    // A topology with errors is refused before any question (compileBase throws them all).
    compileBase(await io.readForEdit(file));
    for (;;) {
      const target = await io.readForEdit(file);
      const t0 = performance.now();
      const before = compileBase(target);
      // A big topology takes too long to compile per keystroke: its answers are then compiled at the review.
      const ctx: Context = { base: target, before, l: lookupsOf(before.topology), liveCompile: performance.now() - t0 < 150 };
      const n = before.topology.forwards.length;
      const action = await ask.select(`${file}: ${n} forward${n === 1 ? '' : 's'}. What now?`, [
        { name: 'Add a forward', value: 'add' },
        ...(n ? [{ name: 'Edit a forward', value: 'edit' }, { name: 'Remove a forward', value: 'remove' }, { name: 'List the forwards', value: 'list' }] : []),
        { name: 'Quit', value: 'quit' },
      ]);
      if (action === 'quit') return;
      if (action === 'list') {
        io.write(listText(ctx, io.paint));
        continue;
      }
      const edit = await editFor(action as 'add' | 'edit' | 'remove', ctx);
      const done = await review(ctx, edit, io);
      if (!done) continue;
      saved = [...new Set([...saved, ...(await io.save(target, done))])];
      io.write(`${io.paint.green('saved')} ${saved.join(' and ') || '(no change)'}\n`);
      await nextStep(file, io);
    }
  } catch (e) {
    if (!(e instanceof WizardCancelled)) throw e;
    const what = saved.length ? `nothing more was written (saved before: ${saved.join(', ')})` : 'nothing was written';
    const err = new NatchainError('CANCELLED', `wizard cancelled: ${what}`);
    err.exitCode = 130;
    throw err;
  }
}

/** The file does not exist: offer to create it (a starter, or discovered from gateways). */
async function offerInit(file: string, io: WizardIo): Promise<void> {
  const how = await ask.select(`${file} does not exist. Create it?`, [
    { name: 'Yes, a commented starter topology to edit', value: 'starter' },
    { name: 'Yes, discovered from my gateways (read-only, over SSH)', value: 'discover' },
    { name: 'No, quit', value: 'quit' },
  ]);
  if (how === 'quit') throw new WizardCancelled();
  let gateways: string[] | undefined;
  if (how === 'discover') {
    const text = await ask.text('Gateways to read (ssh_config Host names, space-separated):', (v) => (v.trim() ? {} : { error: 'name at least one gateway' }));
    gateways = text.split(/\s+/).filter(Boolean);
  }
  const created = await io.create(file, gateways);
  io.write(`${io.paint.green('wrote')} ${file}\n`);
  if (created.problems.length) {
    io.write(io.paint.yellow(`CHECK: it does not validate yet; fix these and run the wizard again:\n`) + created.problems.map((p) => `  ${p}\n`).join(''));
    throw new NatchainError('TOPOLOGY_INVALID', `${file} was written but needs fixing before forwards can be added`);
  }
  io.write(`Read the comments in ${file} and adjust the sites, networks and gateways to yours.\n`);
}

/** The edit an action asks for: the questions of a new forward, a chosen forward's changed answers, or a removal. */
async function editFor(action: 'add' | 'edit' | 'remove', ctx: Context): Promise<Edit> {
  if (action === 'add') return { kind: 'add', forwards: [await askAll(ctx)] };
  const name = await ask.select(
    action === 'edit' ? 'Which forward?' : 'Remove which forward?',
    forwardSummaries(ctx.before).map((s) => ({ name: `${s.name}  ${s.from.join(',')} -> ${s.to} ${s.proto}`, value: s.name, description: chainSummary(s) })),
  );
  if (action === 'remove') return { kind: 'remove', name };
  const f = ctx.before.topology.forwards.find((x) => x.name === name)!;
  return { kind: 'edit', name, forward: await changeAnswers(ctx, specOf(f), name) };
}

type Question = 'from' | 'to' | 'proto' | 'expose' | 'name' | 'hairpin';

/** Re-asks the answers the admin picks, one at a time, until "done". */
async function changeAnswers(ctx: Context, start: ForwardSpec, editing?: string): Promise<ForwardSpec> {
  const a: Answers = { ...start };
  for (;;) {
    const choices: { name: string; value: Question | 'done' }[] = [
      { name: 'done: review the change', value: 'done' },
      { name: `who connects: ${a.from!.map((x) => x + (a.allow?.find((y) => y.network === x) ? ` [${a.allow.find((y) => y.network === x)!.prefixes.join(', ')}]` : '')).join(', ')}`, value: 'from' },
      { name: `target: ${a.to}`, value: 'to' },
      { name: `protocol: ${a.proto}`, value: 'proto' },
      ...(hasNetworkSource(ctx, a) ? [{ name: `exposed at: ${a.expose ?? '(natchain picks)'}`, value: 'expose' as const }] : []),
      { name: `name: ${a.name}`, value: 'name' },
      ...(hairpinPossible(ctx, a) ? [{ name: `hairpin: ${a.hairpin ? 'yes' : 'no'}`, value: 'hairpin' as const }] : []),
    ];
    const q = await ask.select('Change which answer?', choices, 'done');
    if (q === 'done') break;
    await reask(ctx, a, q, editing);
  }
  return { name: a.name!, from: a.from!, ...(a.allow ? { allow: a.allow } : {}), to: a.to!, proto: a.proto!, ...(a.expose ? { expose: a.expose } : {}), ...(a.hairpin ? { hairpin: true } : {}) };
}

/** Asks one question again; answers that depend on it follow (a network source needs an exposure). */
async function reask(ctx: Context, a: Answers, q: Question, editing?: string): Promise<void> {
  if (q === 'from') {
    a.from = await askFrom(ctx, a.from);
    if (hasNetworkSource(ctx, a)) a.allow = await askAllow(ctx, a);
    else delete a.allow;
  }
  if (q === 'to') a.to = await askTo(ctx, a, editing);
  if (q === 'proto') a.proto = await askProto(a);
  if (q === 'name') a.name = await askName(ctx, a, editing);
  if (q === 'hairpin') a.hairpin = await askHairpin(ctx, a);
  if (q === 'expose' || (hasNetworkSource(ctx, a) && !a.expose)) a.expose = await askExpose(ctx, a, editing);
  if (!hasNetworkSource(ctx, a) && !a.hairpin) delete a.expose;
  if (!hairpinPossible(ctx, a)) a.hairpin = false;
}

/** Shows what the edit does; returns it to save, or null when discarded. "Change an answer" loops. */
async function review(ctx: Context, first: Edit, io: WizardIo): Promise<Authored | null> {
  let edit = first;
  for (;;) {
    let a: Authored | null = null;
    try {
      a = author(ctx.base, edit, ctx.before);
      io.write('\n' + reviewLines(a, diffOf(a, ctx.base.file), io.paint).join('\n') + '\n\n');
    } catch (e) {
      if (!(e instanceof AuthorError)) throw e;
      io.write(io.paint.red(`This cannot be saved:\n`) + e.problems.map((p) => `  ${p.field ? p.field + ': ' : ''}${p.message}\n`).join(''));
    }
    const verb = edit.kind === 'remove' ? 'Remove it' : 'Save';
    const choice = await ask.select('Now?', [
      ...(a ? [{ name: `${verb} (writes ${ctx.base.file}${JSON.stringify(a.lock) !== JSON.stringify(ctx.base.lock) ? ' and its lock' : ''})`, value: 'save' }] : []),
      ...(edit.kind !== 'remove' ? [{ name: 'Change an answer', value: 'change' }] : []),
      { name: 'Discard', value: 'discard' },
    ]);
    if (choice === 'save') return a;
    if (choice === 'discard') return null;
    if (edit.kind === 'add') edit = { kind: 'add', forwards: [await changeAnswers(ctx, edit.forwards[0]!)] };
    else if (edit.kind === 'edit') edit = { ...edit, forward: await changeAnswers(ctx, edit.forward, edit.name) };
  }
}

/** After a save: done, or plan / apply now (the commands' own code, with their options). */
async function nextStep(file: string, io: WizardIo): Promise<void> {
  for (;;) {
    const next = await ask.select('Next?', [
      { name: 'Done (back to the menu)', value: 'done' },
      { name: `Plan now: what apply would change on the gateways`, value: 'plan' },
      { name: `Apply now: push it to the gateways (asks before changing anything)`, value: 'apply' },
    ]);
    if (next === 'done') return;
    if (next === 'plan') await io.plan(file);
    else return io.apply(file);
  }
}

/** The forwards as a short table for an 80-column terminal. */
function listText(ctx: Context, p: Paint): string {
  const rows = forwardSummaries(ctx.before);
  if (!rows.length) return 'no forwards yet\n';
  return rows.map((r) => `${p.bold(r.name)}  ${r.from.join(',')} -> ${r.to} ${r.proto}${r.exposure ? `  exposed ${r.exposure}` : ''}\n    ${p.dim(chainSummary(r))}\n`).join('');
}
