import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseIptablesSave, renderRuleset } from '../../render/index.js';
import type { Backend } from '../../topology/types.js';
import { loadProject, readStdin, readText } from '../io.js';
import { printJson } from '../output.js';

/** `natchain render`: exactly what a rollout would load on a gateway. */
export function registerRender(program: Command): void {
  program
    .command('render')
    .description('print the ruleset natchain would load on a gateway (iptables-restore or nft -f input)')
    .argument('<topology>', 'topology file (YAML)')
    .option('-g, --gateway <name>', 'the gateway (default: every gateway, one after the other)')
    .option('-b, --backend <backend>', 'iptables or nftables (default: the gateway\'s own)')
    .option('--live <file>', "the gateway's current `iptables-save` output (- for stdin): print exactly what a rollout would load on it (only the missing jumps); needs --gateway")
    .option('--json', 'print {gateway: {backend, text}} as JSON')
    .addHelpText(
      'after',
      `
iptables output is input for \`iptables-restore --noflush\`: it replaces only natchain's chains
(NATCHAIN-PREROUTING, NATCHAIN-POSTROUTING in nat, NATCHAIN-FORWARD in filter) and the jumps to
them from the built-in chains. iptables-restore cannot "insert if absent", so the jump lines depend
on the gateway: without --live the output is for a fresh gateway (every jump inserted); with
--live it is exactly what a rollout loads there (missing jumps inserted, stray ones deleted), and
loading it leaves each jump exactly once. nftables output is input for \`nft -f\`: it replaces
\`table ip natchain\` in one transaction, the same whatever the gateway holds.

Examples:
  natchain render topologies/seed-vpn.yaml --gateway gw-b
  ssh gw-b iptables-save | natchain render topologies/seed-vpn.yaml -g gw-b --live - | ssh gw-b iptables-restore --noflush
  natchain render topologies/seed-vpn.yaml --gateway gw-a --backend nftables | nft -c -f -`,
    )
    .action(async (file: string, opts: { gateway?: string; backend?: string; live?: string; json?: boolean }) => {
      if (opts.backend !== undefined && opts.backend !== 'iptables' && opts.backend !== 'nftables') {
        throw new UsageError(`--backend must be iptables or nftables, not "${opts.backend}"`);
      }
      if (opts.live !== undefined && !opts.gateway) throw new UsageError('--live describes one gateway: give --gateway too');
      const live = opts.live === undefined ? undefined : parseIptablesSave(opts.live === '-' ? await readStdin() : await readText(opts.live));
      const p = await loadProject(file);
      const gateways = opts.gateway ? p.topology.gateways.filter((g) => g.name === opts.gateway) : p.topology.gateways;
      if (gateways.length === 0) {
        throw new UsageError(`no gateway "${opts.gateway}" in ${file}`, [`gateways: ${p.topology.gateways.map((g) => g.name).join(', ')}`]);
      }
      const rendered = gateways.map((g) => {
        const gw = opts.backend ? { ...g, backend: opts.backend as Backend } : g;
        const ropts = live && gw.backend === 'iptables' ? { presentJumps: live.jumps } : {};
        return { gateway: g.name, backend: gw.backend, text: renderRuleset(gw, p.solution.intents[g.name] ?? [], ropts) };
      });
      if (opts.json) return printJson(Object.fromEntries(rendered.map((r) => [r.gateway, { backend: r.backend, text: r.text }])));
      const many = rendered.length > 1;
      for (const r of rendered) {
        if (many) process.stdout.write(`# ==== gateway ${r.gateway} (${r.backend}) ====\n`);
        process.stdout.write(r.text.endsWith('\n') ? r.text : r.text + '\n');
      }
    });
}
