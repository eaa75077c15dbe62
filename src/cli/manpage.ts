// natchain.1, generated from the command definitions (and the environment table of docs/cli.md),
// so the manual says what `--help` says. `npm run man` writes man/natchain.1; a test keeps it fresh.
import type { Command, Help } from 'commander';

/** Inputs beside the command tree: the environment variables as docs/cli.md lists them. */
export interface ManSources {
  /** docs/cli.md's text: its "Environment variables" table becomes the ENVIRONMENT section. */
  cliDoc: string;
}

/** The whole manual page, in roff (man(7) macros). */
export function manPage(program: Command, version: string, sources: ManSources): string {
  const out: string[] = [
    `.TH NATCHAIN 1 "" "natchain ${version}" "User Commands"`,
    '.SH NAME',
    `natchain \\- ${text(lowerFirst(program.description()).replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    '.B natchain',
    '.I command',
    '[\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.br',
    '.B natchain',
    '.RB [ \\-\\-help | \\-\\-version ]',
    '.SH DESCRIPTION',
    text(program.description()),
    'Each command is described below with its arguments and options, as',
    '.B natchain',
    '.I command',
    '.B \\-\\-help',
    'prints them.',
    '.SH COMMANDS',
  ];
  for (const cmd of visibleCommands(program)) out.push(...commandSection(cmd));
  out.push(...environment(sources.cliDoc));
  out.push(
    '.SH FILES',
    '.TP',
    '.I ./natchain.config.yaml',
    'The project\'s settings (sshConfig, stateDir, concurrency, confirmTimeout).',
    '.TP',
    '.I $XDG_CONFIG_HOME/natchain/config.yaml',
    'The user\'s settings (default \\fI~/.config/natchain/config.yaml\\fR). A flag wins over the environment, which wins over the project file, which wins over the user file.',
    '.TP',
    '.I x.lock',
    'The port lock beside topology \\fIx.yaml\\fR: the hop ports natchain picked.',
    '.TP',
    '.I $XDG_STATE_HOME/natchain/journal.jsonl',
    'The journal of transactions (default \\fI~/.local/state/natchain\\fR; see \\-\\-state\\-dir).',
    '.SH EXIT STATUS',
    '.TP',
    '.B 0',
    'Success (plan: every gateway in sync; diff: no difference).',
    '.TP',
    '.B 1',
    'Failure: an invalid topology, a gateway that could not be reached, a transaction that did not commit (diff: differences).',
    '.TP',
    '.B 2',
    'plan: changes pending; diff: trouble (an unreadable or invalid topology).',
    '.TP',
    '.B 64',
    'Bad usage: an unknown command or option, a missing argument, a bad option value.',
    '.TP',
    '.B 70',
    'Internal error (a bug; the stack trace is printed).',
    '.TP',
    '.B 78',
    'A bad config file or NATCHAIN_* environment variable.',
    '.SH SEE ALSO',
    '.BR ssh_config (5),',
    '.BR iptables\\-restore (8),',
    '.BR nft (8);',
    'the documentation in the package\'s \\fIdocs/\\fR directory (cli.md, topology.md, rollout.md, lab.md).',
  );
  return out.join('\n') + '\n';
}

/** Every command that runs something, depth first, in `--help` order (groups by their subcommands). */
function visibleCommands(cmd: Command): Command[] {
  const help = cmd.createHelp();
  return help.visibleCommands(cmd).filter((c) => c.name() !== 'help').flatMap((c) => [c, ...visibleCommands(c)]);
}

function commandSection(cmd: Command): string[] {
  const help = cmd.createHelp();
  const out = ['.SS ' + quoteArg(help.commandUsage(cmd)), text(cmd.description())];
  const args = help.visibleArguments(cmd);
  const opts = help.visibleOptions(cmd).filter((o) => o.long !== '--help');
  if (args.length) out.push('.PP', 'Arguments:', ...args.flatMap((a) => item(help.argumentTerm(a), help.argumentDescription(a))));
  if (opts.length) out.push('.PP', 'Options:', ...opts.flatMap((o) => item(help.optionTerm(o), help.optionDescription(o))));
  const after = afterText(cmd, help);
  if (after) out.push('.PP', '.nf', ...after.split('\n').map(line), '.fi');
  return out;
}

/** The text a command adds after its generated help (details, exit status, examples). */
function afterText(cmd: Command, help: Help): string {
  let full = '';
  cmd.configureOutput({ writeOut: (s) => (full += s), writeErr: (s) => (full += s) });
  cmd.outputHelp();
  cmd.configureOutput({});
  const generated = help.formatHelp(cmd, help);
  return full.slice(full.indexOf(generated) + generated.length).trim();
}

function item(term: string, description: string): string[] {
  return ['.TP', `.B ${quoteArg(term)}`, text(description)];
}

/** The ENVIRONMENT section: the table of docs/cli.md's "Environment variables", one item per row. */
function environment(doc: string): string[] {
  const start = doc.indexOf('## Environment variables');
  if (start < 0) return [];
  const end = doc.indexOf('\n## ', start + 5);
  const rows = doc.slice(start, end < 0 ? undefined : end).split('\n').filter((l) => /^\| `/.test(l));
  const out = ['.SH ENVIRONMENT'];
  for (const row of rows) {
    const [, names, what] = row.split(/\s*\|\s*/);
    out.push('.TP', `.B ${quoteArg(plain(names!))}`, text(plain(what!)));
  }
  return out;
}

/** Markdown inline markup removed: backticks, links (their text kept), escaped pipes. */
function plain(md: string): string {
  return md.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1').replace(/`/g, '').replace(/\\\|/g, '|');
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** Text for a roff line: backslashes and hyphens escaped, a leading dot or quote neutralised. */
function text(s: string): string {
  return s.split('\n').map(line).join('\n');
}

function line(s: string): string {
  const escaped = s.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? '\\&' + escaped : escaped;
}

/** A macro argument: escaped, and in double quotes (a double quote inside written as two). */
function quoteArg(s: string): string {
  return `"${line(s).replace(/"/g, '""')}"`;
}
