import type { Command } from 'commander';
import { planLive } from '../../rollout/live.js';
import { formatForwardChanges } from '../../rollout/owned.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import { c, printJson } from '../output.js';
import { addRemoteOptions, colourDiff, concurrencyOf, connectOptionsOf, connectors, type RemoteOptions } from '../remote.js';

/** `natchain plan`: what `apply` would change on every live gateway; exit 0 in sync, 2 changes pending, 1 error. */
export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description("read natchain's live state on every gateway and show what apply would change (exit 0 in sync, 2 changes pending, 1 error)")
    .argument('<topology>', 'topology file (YAML)');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
Only natchain's own chains (iptables) or table ip natchain (nftables) are read and compared.

Examples:
  natchain plan topologies/seed-vpn.yaml -F lab/ssh_config
  natchain plan site.yaml --json | jq '.gateways[] | select(.status != "in-sync")'`,
    )
    .action(async (file: string, o: RemoteOptions) => {
      const p = await loadProject(file);
      const opts = connectOptionsOf(o);
      const { pool, managed } = connectors(opts);
      let plan;
      try {
        plan = await planLive(p.topology, p.solution.intents, managed, opts, concurrencyOf(o));
      } finally {
        await pool.closeAll().catch(() => undefined);
      }
      const errors = plan.gateways.filter((g) => g.status === 'error');
      const code = errors.length ? 1 : plan.inSync ? 0 : 2;
      if (o.json) {
        printJson({ ...plan, exitCode: code });
      } else {
        for (const g of plan.gateways) {
          const head = `${c.bold(g.gateway)} (${g.backend})`;
          if (g.status === 'error') {
            process.stdout.write(`${head}: ${c.red('error')}: ${g.error}\n`);
            continue;
          }
          const lock = g.lock ? c.yellow(`  [locked by ${g.lock.tx} of ${g.lock.owner}]`) : '';
          if (g.status === 'in-sync') {
            process.stdout.write(`${head}: ${c.green('in sync')}${lock}\n`);
            continue;
          }
          const f = g.forwards;
          const parts = formatForwardChanges(f, { added: c.green, removed: c.red, changed: c.yellow });
          process.stdout.write(`${head}: ${c.yellow('changes')}: ${parts.join(' ') || 'rules'} (${g.rulesAdded} rule(s) added, ${g.rulesRemoved} removed)${lock}\n`);
          if (g.ipForward === '0') process.stdout.write(c.yellow('    net.ipv4.ip_forward is 0 (apply needs --enable-ip-forward)\n'));
          for (const l of colourDiff(g.diff)) process.stdout.write(l + '\n');
        }
        const n = plan.gateways.filter((g) => g.status === 'changes').length;
        process.stdout.write(
          errors.length
            ? c.red(`${errors.length} gateway(s) could not be read\n`)
            : plan.inSync
              ? c.green(`in sync: ${plan.gateways.length} gateway(s) hold exactly what the topology says\n`)
              : `${n} gateway(s) to change: run natchain apply ${file}\n`,
        );
      }
      if (code !== 0) throw new ExitCode(code);
    });
}
