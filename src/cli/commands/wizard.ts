import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain wizard`: add, edit and remove forwards interactively, then save, plan or apply. */
export function registerWizard(program: Command): void {
  program
    .command('wizard')
    .description('add, edit or remove forwards by answering questions: see the chain and the rule changes, save, plan, apply')
    .argument('<topology>', 'topology file (YAML); offered to be created when it does not exist')
    .option('-F, --ssh-config <file>', 'ssh_config for discovery, plan and apply (the lab writes one)')
    .option('--accept-new', 'record host keys of gateways never seen before (a changed key is always refused)')
    .option('--concurrency <n>', 'gateways worked on at once', '8')
    .option('--state-dir <dir>', "where apply's journal lives (as for natchain apply)")
    .option('--confirm-timeout <seconds>', "apply's dead-man timer (as for natchain apply)", '60')
    .option('--enable-ip-forward', 'let apply turn net.ipv4.ip_forward on where needed (as for natchain apply)')
    .addHelpText(
      'after',
      `
Needs a terminal (without one: natchain forward add|edit|rm|list|import, the same checks and
output). Nothing is written before you choose "save": Ctrl-C or Escape leaves the topology and its
lock byte-identical (exit 130). Save edits the topology in place (every other byte kept) and
updates the lock; then plan or apply run exactly as the commands do (apply asks before changing
anything). A walk-through with a screen capture: docs/wizard.md.

Examples:
  natchain wizard site.yaml
  natchain wizard topologies/seed-vpn.yaml -F /run/natchain-lab/seed-vpn/ssh_config`,
    )
    .action(lazy(() => import('../actions/wizard.js'), 'run'));
}
