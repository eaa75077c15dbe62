import { Command } from 'commander';
import { commands } from './commands/index.js';
import { version } from './version.js';

export { version };

/**
 * The whole command tree: every command's name, arguments, options and help, and nothing else
 * loaded (see lazy.ts). main.ts runs it; the man page and shell completion are built from it.
 */
export function buildProgram(): Command {
  const program = new Command('natchain')
    .description('Solve, render and push port forwards across chains of Linux gateways.')
    .version(version())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands) register(program);
  // Settings the command line left unset come from the environment or a config file (config.ts).
  program.hook('preAction', async (_program, action) => (await import('./config.js')).applySettings(action));
  program.addHelpText(
    'after',
    `
Examples:
  natchain validate topologies/seed-vpn.yaml
  natchain solve topologies/seed-vpn.yaml
  natchain render topologies/seed-vpn.yaml --gateway gw-b`,
  );
  return program;
}
