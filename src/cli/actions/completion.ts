import type { Command } from 'commander';
import { complete, formatCompletion } from '../complete.js';
import { completionScript, type Shell } from '../completion-scripts.js';

/** Runs `natchain completion <shell>`. */
export async function script(shell: Shell): Promise<void> {
  process.stdout.write(completionScript(shell));
}

/** Runs `natchain __complete --shell S -- WORDS...`: one candidate per line. */
export async function answer(words: string[], opts: { shell: Shell }, cmd: Command): Promise<void> {
  process.stdout.write(formatCompletion(complete(cmd.parent!, words.length ? words : ['']), opts.shell));
}
