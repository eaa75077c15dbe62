// One authoring step: topology text + lock + an edit -> the new text and lock, checked by
// `compile` exactly as `validate` would check the file. Pure: nothing is read or written here.
import { compile } from '../compile.js';
import { NatchainError, TopologyError, type Diagnostic } from '../errors.js';
import type { PortLock, Solution } from '../solve/types.js';
import type { Topology } from '../topology/types.js';
import { checkSpec, lookupsOf, type Lookups, type Problem, type SpecField } from './fields.js';
import { addForwards, editForward, forwardSpan, removeForward, type ForwardSpec } from './forwards.js';
import { offsetOf } from './splice.js';
import { unknownName } from '../suggest.js';

/** The topology as read: its text, its file name (for messages) and its lock. */
export interface Base {
  text: string;
  file: string;
  lock: PortLock;
}

/** A change to a topology's forwards. */
export type Edit =
  | { kind: 'add'; forwards: ForwardSpec[] }
  | { kind: 'edit'; name: string; forward: ForwardSpec }
  | { kind: 'remove'; name: string };

/** A topology, validated and solved. */
export interface Compiled {
  topology: Topology;
  solution: Solution;
}

/** The outcome of an edit: what to write, and the solved states before and after for the report. */
export interface Authored {
  edit: Edit;
  /** The forwards the edit is about (their names after the edit). */
  names: string[];
  before: Compiled;
  after: Compiled;
  text: string;
  lock: PortLock;
  /** The lock as the `after` solve read it (the base lock, with a renamed forward's ports carried over). */
  lockIn: PortLock;
}

/** An edit that cannot be made: every problem, each about one forward (and field when known). */
export class AuthorError extends NatchainError {
  constructor(readonly problems: Problem[]) {
    const n = problems.length;
    super('TOPOLOGY_INVALID', n === 1 ? problems[0]!.message : `${n} problems; nothing was written`, n === 1 ? [] : problems.map(formatProblem));
    this.name = 'AuthorError';
  }
}

/** `forward "x": to: message`, for lists of problems. */
export function formatProblem(p: Problem): string {
  return `forward "${p.forward}"${p.field ? `: ${p.field}` : ''}: ${p.message}`;
}

/** Validates and solves the base; a topology with errors is refused (TopologyError, as validate reports it). */
export function compileBase(base: Base): Compiled {
  return compile(base.text, base.file, base.lock);
}

/** Applies an edit: checks the answers, edits the text in place, compiles the result, updates the lock. */
export function author(base: Base, edit: Edit, before: Compiled = compileBase(base)): Authored {
  const l = lookupsOf(before.topology);
  const specs = edit.kind === 'add' ? edit.forwards : edit.kind === 'edit' ? [edit.forward] : [];
  if (edit.kind !== 'add' && !l.forwards.has(edit.name)) throw unknownName('forward', edit.name, before.topology.forwards.map((f) => f.name), base.file);
  const problems = specs.flatMap((s) => checkSpec(l, s, edit.kind === 'edit' ? edit.name : undefined));
  problems.push(...duplicatesAmong(specs));
  if (problems.length) throw new AuthorError(problems);

  const text = edit.kind === 'add' ? addForwards(base.text, edit.forwards) : edit.kind === 'edit' ? editForward(base.text, edit.name, edit.forward) : removeForward(base.text, edit.name);
  const lockIn = edit.kind === 'edit' && edit.forward.name !== edit.name ? renamed(base.lock, edit.name, edit.forward.name) : base.lock;
  const names = edit.kind === 'remove' ? [edit.name] : specs.map((s) => s.name);
  let after: Compiled;
  try {
    after = compile(text, base.file, lockIn);
  } catch (e) {
    if (!(e instanceof TopologyError)) throw e;
    throw new AuthorError(e.diagnostics.map((d) => problemOf(text, names, d)));
  }
  return { edit, names, before, after, text, lock: after.solution.lock, lockIn };
}

/** The same forward name twice in one bulk edit. */
function duplicatesAmong(specs: ForwardSpec[]): Problem[] {
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const s of specs) {
    if (seen.has(s.name)) out.push({ forward: s.name, field: 'name', message: `the name "${s.name}" is given twice` });
    seen.add(s.name);
  }
  return out;
}

/** A lock whose ports of forward `from` now belong to `to` (a renamed forward keeps its hop ports). */
function renamed(lock: PortLock, from: string, to: string): PortLock {
  const ports = { ...lock.ports };
  if (ports[from]) {
    ports[to] = ports[from]!;
    delete ports[from];
  }
  return { version: 1, ports };
}

/** A diagnostic of the edited text as a problem of the forward (and field) it points into. */
function problemOf(text: string, names: string[], d: Diagnostic): Problem {
  const at = offsetOf(text, d.line, d.col);
  for (const name of names) {
    const span = forwardSpan(text, name);
    if (!span || at < span.start || at >= span.end) continue;
    let field: SpecField | null = null;
    for (const [k, [s, e]] of span.fields) if (at >= s && at < e && ['from', 'to', 'proto', 'expose', 'hairpin'].includes(k)) field = k as SpecField;
    return { forward: name, field, message: d.message.replace(new RegExp(`^forward "${name}": `), '') };
  }
  // About another entity (a forward the edit now clashes with): name it by its own message.
  const fw = /^forward "([^"]+)": /.exec(d.message);
  return { forward: names[0] ?? fw?.[1] ?? '?', field: null, message: d.message };
}

/** The lookups of a compiled topology (for the wizard's checks as the admin types). */
export function lookups(c: Compiled): Lookups {
  return lookupsOf(c.topology);
}
