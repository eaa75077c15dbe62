import { Argument, Option, type Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain completion <shell>`: the shell completion script; `natchain __complete`: the answers it asks for. */
export function registerCompletion(program: Command): void {
  const load = () => import('../actions/completion.js');
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish (commands, options, files, gateway and forward names)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
Completes commands, options, fixed option values, file names, and the gateways and forwards
of the topology given earlier on the line (--gateway, --forward, forward edit/rm...).

Examples:
  echo 'eval "$(natchain completion bash)"' >> ~/.bashrc
  echo 'eval "$(natchain completion zsh)"' >> ~/.zshrc      # after compinit
  natchain completion fish > ~/.config/fish/completions/natchain.fish`,
    )
    .action(lazy(load, 'script'));
  // Hidden: what the scripts call at each TAB (kept fast: no topology validation, names read tolerantly).
  program
    .command('__complete', { hidden: true })
    .description('the completions for the words after natchain (the last one is being typed)')
    .addOption(new Option('--shell <shell>').choices(['bash', 'zsh', 'fish']).default('bash'))
    .argument('[words...]', 'the words typed so far')
    .allowUnknownOption()
    .action(lazy(load, 'answer'));
}
