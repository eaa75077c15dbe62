import { Option, type Command } from 'commander';
import { addTxOptions, type TxCliOptions } from '../options.js';
import { lazy } from '../lazy.js';

/** The wave options of apply. */
export interface WaveCliOptions {
  canary?: string;
  waveSize?: string;
  maxFail?: string;
  pause?: string;
  limit?: string[];
  probe?: boolean;
  refresh?: boolean;
  /** false (--no-check-outside): no contact at all with the gateways outside the change. */
  checkOutside?: boolean;
}

/** Every option of apply. */
export interface ApplyOptions extends TxCliOptions, WaveCliOptions {
  testFault?: string;
  plan?: string;
  resume?: string;
}

/** `natchain apply`: the change the topology makes, as one transaction or in waves, on the gateways it needs. */
export function registerApply(program: Command): void {
  const cmd = program
    .command('apply')
    .description('push the topology to the gateways its change needs: one all-or-nothing transaction, or waves of them, with dead-man timers')
    .argument('[topology]', 'topology file (YAML); optional with --plan')
    .option('--plan <file>', 'apply exactly this saved plan (natchain plan --out); refused if a gateway changed since')
    .option('--resume <rollout>', 'continue a stopped wave rollout (its id, or a wave transaction id) from its first uncommitted wave')
    .option('--limit <pattern...>', 'only the changes touching these gateways (names or globs) or forwards (forward:NAME), widened to whole chains')
    .option('--canary <n|gateways>', 'first wave: this many gateways, or these gateways (comma-separated), widened to whole chains')
    .option('--wave-size <n|n%>', 'largest wave after the canary (gateways, or a percentage of the gateways in the change)')
    .option('--max-fail <n|n%>', 'no new wave once more gateways than this are in failed waves', '0')
    .option('--pause <seconds|prompt>', 'between waves: wait this long, or ask before each wave')
    .option('--probe', "between waves: natchain probe the forwards of the wave just committed; a failure stops the rollout (the wave stays committed)")
    .option('--refresh', 'read every gateway outside the change first: drift there (found by no plan or status yet) is brought into this change')
    .option('--no-check-outside', "no contact at all with the gateways outside the change (not even the sshd check): they are reported from natchain's last record");
  addTxOptions(cmd)
    .addOption(new Option('--test-fault <spec>', 'test-only fault injection (docs/rollout.md)').hideHelp())
    .addHelpText(
      'after',
      `
Scope: only the gateways on the chains of the forwards the change adds, changes or removes take
part, worked out from natchain's last record of each gateway (its journal, and what plan, status
and apply last read; a gateway with no record takes part). Gateways outside the change are not
read: their sshd is only checked (no login) and one that does not answer is reported, never
blocking; --no-check-outside skips that check too (no connection to them at all). Drift there
is seen by plan/status (the next apply then brings it in) or by --refresh, which reads them all
first (a saved plan always does). Phases on every gateway of a wave, in parallel: lock +
snapshot, stage + check (every gateway must pass before any changes), arm a dead-man timer +
apply + read back, a NEW ssh connection must get in, commit. Any failure rolls the wave back;
committed waves stay. See docs/rollout.md.

Examples:
  natchain apply topologies/seed-vpn.yaml -F lab/ssh_config --yes
  natchain apply site.yaml --canary 1 --wave-size 10% --max-fail 0 --pause prompt
  natchain apply site.yaml --limit 'gw-branch-*' forward:erp
  natchain plan site.yaml --out plan.json && natchain apply --plan plan.json --yes
  natchain apply site.yaml --resume 20260101T120000Z-a1b2c3`,
    )
    .action(lazy(() => import('../actions/apply.js'), 'run'));
}
