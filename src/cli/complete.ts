// Shell completion's one engine: the words typed so far -> what may come next, read from the command
// tree itself (so it never drifts) and, for names, from the topology given earlier on the line.
// The bash, zsh and fish scripts (completion-scripts.ts) only ask `natchain __complete` and show the answer.
import { readdirSync, readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import jsyaml from 'js-yaml';

/** One candidate: the word, and a description for shells that show one. */
export interface Candidate {
  word: string;
  help?: string;
}

/** What may come at the cursor: words, and whether file names fit too. */
export interface Completion {
  candidates: Candidate[];
  files: boolean;
}

/** Names a topology file defines, read tolerantly (a file with errors still completes). */
export interface TopologyNames {
  gateways: string[];
  forwards: string[];
  sites: string[];
  networks: string[];
}

/** Option attribute (or argument) names whose values are names from the topology. */
const NAME_VALUES: Record<string, (t: TopologyNames) => string[]> = {
  forward: (t) => t.forwards,
  gateway: (t) => t.gateways,
  from: (t) => [...t.sites, ...t.networks],
  name: (t) => t.forwards,
};

/** Options and arguments whose values are paths. */
const PATH_VALUE = /file|topology|config|dir|live|plan|out|old|new|input/i;

/**
 * Completes `words` (what follows `natchain`; the last one is the word being typed, maybe empty)
 * against `program`. `readNames` reads a topology file's names (injected for tests).
 */
export function complete(program: Command, words: string[], readNames: (file: string) => TopologyNames | undefined = readTopologyNames): Completion {
  const current = words[words.length - 1] ?? '';
  let cmd = program;
  const positional: string[] = [];
  let pending: Option | undefined;
  let optionsEnded = false;
  for (const w of words.slice(0, -1)) {
    if (pending) {
      pending = undefined;
      continue;
    }
    if (!optionsEnded && w === '--') optionsEnded = true;
    else if (!optionsEnded && w.startsWith('-') && w !== '-') {
      const opt = findOption(cmd, w);
      if (opt && (opt.required || opt.optional) && !w.includes('=')) pending = opt;
    } else {
      const sub = positional.length === 0 ? cmd.commands.find((c) => c.name() === w || c.aliases().includes(w)) : undefined;
      if (sub) cmd = sub;
      else positional.push(w);
    }
  }
  const names = () => {
    const file = positional.find((p) => /\.ya?ml$/.test(p)) ?? positional[0];
    return (file && readNames(file)) || undefined;
  };
  const out = (candidates: Candidate[], files = false): Completion => ({ candidates: candidates.filter((c) => c.word.startsWith(current)), files });

  if (pending) return valuesOf(pending.attributeName(), pending.argChoices, names, out);
  if (current.startsWith('-') && !optionsEnded) return out(optionsOf(cmd));
  const visibleSubs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  if (visibleSubs.length && positional.length === 0) {
    return out(visibleSubs.map((c) => ({ word: c.name(), help: c.description() })));
  }
  const args = cmd.registeredArguments;
  const arg = args[Math.min(positional.length, args.length - 1)];
  if (!arg || (positional.length >= args.length && !arg.variadic)) return out([]);
  // A new forward's name is the user's to choose; lab names are the labs that exist.
  if (arg.name() === 'name' && cmd.name() === 'add') return out([]);
  if (arg.name() === 'lab') return out(labNames().map((word) => ({ word })));
  return valuesOf(arg.name(), arg.argChoices, names, out);
}

function valuesOf(name: string, choices: readonly string[] | undefined, names: () => TopologyNames | undefined, out: (c: Candidate[], files?: boolean) => Completion): Completion {
  if (choices?.length) return out(choices.map((word) => ({ word })));
  const pick = NAME_VALUES[name];
  if (pick) {
    const t = names();
    return out(t ? pick(t).map((word) => ({ word })) : []);
  }
  return out([], PATH_VALUE.test(name));
}

function findOption(cmd: Command, word: string): Option | undefined {
  const flag = word.split('=')[0];
  for (let c: Command | null = cmd; c; c = c.parent) {
    const hit = c.options.find((o) => o.long === flag || o.short === flag);
    if (hit) return hit;
  }
  return undefined;
}

function optionsOf(cmd: Command): Candidate[] {
  const list: Candidate[] = [];
  for (const o of cmd.options) {
    if (o.hidden) continue;
    for (const flag of [o.long, o.short]) if (flag) list.push({ word: flag, help: o.description });
  }
  list.push({ word: '--help', help: 'display help for command' });
  return list;
}

/** The labs on this machine: the directories under $NATCHAIN_LAB_DIR (default /run/natchain-lab). */
function labNames(): string[] {
  try {
    return readdirSync(process.env.NATCHAIN_LAB_DIR || '/run/natchain-lab', { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** The names a topology file defines (gateways, forwards, sites, networks), or undefined if it cannot be read as YAML. */
export function readTopologyNames(file: string): TopologyNames | undefined {
  try {
    const doc = jsyaml.load(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    const keys = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : []);
    return { gateways: keys(doc?.gateways), forwards: keys(doc?.forwards), sites: keys(doc?.sites), networks: keys(doc?.networks) };
  } catch {
    return undefined;
  }
}

/** The answer as the shell scripts read it: one word per line (fish: word TAB help; zsh: word:help), then `:file` when paths fit. */
export function formatCompletion(c: Completion, shell: 'bash' | 'zsh' | 'fish'): string {
  const lines = c.candidates.map((x) => {
    const help = x.help?.replace(/\s+/g, ' ').slice(0, 80);
    if (shell === 'fish' && help) return `${x.word}\t${help}`;
    if (shell === 'zsh') return help ? `${x.word.replace(/:/g, '\\:')}:${help}` : x.word.replace(/:/g, '\\:');
    return x.word;
  });
  if (c.files) lines.push(':file');
  return lines.length ? lines.join('\n') + '\n' : '';
}
