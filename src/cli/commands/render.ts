import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { renderRuleset } from '../../render/index.js';
import type { Backend } from '../../topology/types.js';
import { loadProject } from '../io.js';
import { printJson } from '../output.js';

/** `natchain render`: exactly what a rollout would load on a gateway. */
export function registerRender(program: Command): void {
  program
    .command('render')
    .description('print the ruleset natchain would load on a gateway (iptables-restore or nft -f input)')
    .argument('<topology>', 'topology file (YAML)')
    .option('-g, --gateway <name>', 'the gateway (default: every gateway, one after the other)')
    .option('-b, --backend <backend>', 'iptables or nftables (default: the gateway\'s own)')
    .option('--json', 'print {gateway: {backend, text}} as JSON')
    .addHelpText(
      'after',
      `
iptables output is input for \`iptables-restore --noflush\`: it replaces only natchain's chains
(NATCHAIN-PREROUTING, NATCHAIN-POSTROUTING in nat, NATCHAIN-FORWARD in filter) and, as for a fresh
gateway, inserts the jumps to them (a rollout inserts only the jumps that are missing).
nftables output is input for \`nft -f\`: it replaces \`table ip natchain\` in one transaction.

Examples:
  natchain render topologies/seed-vpn.yaml --gateway gw-b
  natchain render topologies/seed-vpn.yaml --gateway gw-a --backend nftables | nft -c -f -`,
    )
    .action(async (file: string, opts: { gateway?: string; backend?: string; json?: boolean }) => {
      if (opts.backend !== undefined && opts.backend !== 'iptables' && opts.backend !== 'nftables') {
        throw new UsageError(`--backend must be iptables or nftables, not "${opts.backend}"`);
      }
      const p = await loadProject(file);
      const gateways = opts.gateway ? p.topology.gateways.filter((g) => g.name === opts.gateway) : p.topology.gateways;
      if (gateways.length === 0) {
        throw new UsageError(`no gateway "${opts.gateway}" in ${file}`, [`gateways: ${p.topology.gateways.map((g) => g.name).join(', ')}`]);
      }
      const rendered = gateways.map((g) => {
        const gw = opts.backend ? { ...g, backend: opts.backend as Backend } : g;
        return { gateway: g.name, backend: gw.backend, text: renderRuleset(gw, p.solution.intents[g.name] ?? []) };
      });
      if (opts.json) return printJson(Object.fromEntries(rendered.map((r) => [r.gateway, { backend: r.backend, text: r.text }])));
      const many = rendered.length > 1;
      for (const r of rendered) {
        if (many) process.stdout.write(`# ==== gateway ${r.gateway} (${r.backend}) ====\n`);
        process.stdout.write(r.text.endsWith('\n') ? r.text : r.text + '\n');
      }
    });
}
