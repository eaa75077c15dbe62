import { Option, type Command } from 'commander';
import { addTxOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** `natchain apply`: the transaction of DESIGN.md on every gateway the plan touches. */
export function registerApply(program: Command): void {
  const cmd = program
    .command('apply')
    .description('push the topology to every gateway as one transaction: all gateways or none, with a dead-man timer')
    .argument('<topology>', 'topology file (YAML)');
  addTxOptions(cmd)
    .addOption(new Option('--test-fault <spec>', 'test-only fault injection (docs/rollout.md)').hideHelp())
    .addHelpText(
      'after',
      `
Phases on every gateway, in parallel: lock + snapshot, stage + check (every gateway must pass
before any changes), arm a dead-man timer + apply + read back, a NEW ssh connection must get in,
commit (disarm + unlock). Any failure rolls every gateway back; a gateway natchain cannot reach
restores itself when its timer fires. Journal: see --state-dir; natchain recover finishes or undoes
a transaction a crash interrupted.

Examples:
  natchain apply topologies/seed-vpn.yaml -F lab/ssh_config --yes
  natchain apply site.yaml --confirm-timeout 120 --enable-ip-forward`,
    )
    .action(lazy(() => import('../actions/apply.js'), 'run'));
}
