import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain validate`: exit 0 when every topology is valid and every forward solves, 1 with every error otherwise. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check topology files: shape, references, addresses, ports, and that every forward has a path')
    .argument('<topology...>', 'topology file(s) (YAML)')
    .option('--json', 'print the result as JSON: [{file, valid, errors[], warnings[]...}]')
    .option('--strict', 'treat warnings (a site-to-site chain across a public network) as errors')
    .addHelpText(
      'after',
      `
Every error is printed at once as file:line:col: message; nothing else is done. Warnings (a
site-to-site chain that crosses a public network) are printed as file:line:col: warning: message
and do not make a file invalid, unless --strict.
Exit status: 0 all valid, 1 any invalid.

Examples:
  natchain validate topologies/seed-vpn.yaml
  natchain validate topologies/*.yaml --json`,
    )
    .action(lazy(() => import('../actions/validate.js'), 'run'));
}
