import type { Command } from 'commander';
import { createTopology } from '../create-topology.js';
import { c, makeChalk, printJson } from '../output.js';
import { addRemoteOptions, concurrencyOf, connectOptionsOf, type RemoteOptions } from '../remote.js';

/** `natchain init`: a topology to start from: a commented starter, or one proposed from live gateways. */
export function registerInit(program: Command): void {
  const cmd = program
    .command('init')
    .description('write a topology to start from: a commented starter, or one discovered from your gateways (read-only)')
    .argument('<file>', 'the topology file to create')
    .option('--discover <gateway...>', 'read these gateways over SSH (ssh_config Host names) and propose their interfaces, sites and networks')
    .option('--force', 'replace the file if it exists');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
Without --discover: one site, one gateway, the internet and an example forward (commented out),
valid as it is, with the yaml-language-server line for editors. With --discover: one read-only
command per gateway (ip -j addr, ip -j route, which of nft/iptables-restore exist, ip_forward),
host keys verified as apply verifies them; the file says in comments what was inferred.

Examples:
  natchain init site.yaml
  natchain init site.yaml --discover gw-a gw-b -F ~/.ssh/config
  natchain wizard site.yaml`,
    )
    .action(async (file: string, o: RemoteOptions & { discover?: string[]; force?: boolean }) => {
      const created = await createTopology(file, {
        ...(o.discover ? { discover: o.discover, connect: connectOptionsOf(o), concurrency: concurrencyOf(o) } : {}),
        force: Boolean(o.force),
      });
      if (o.json) return printJson({ file, discovered: o.discover ?? [], valid: created.problems.length === 0, problems: created.problems });
      process.stdout.write(`${c.green('wrote')} ${file}${o.discover ? ` (proposed from ${o.discover.join(', ')})` : ''}\n`);
      const warn = makeChalk(process.stderr).yellow;
      if (created.problems.length) {
        process.stderr.write(warn(`CHECK: the proposal does not validate yet; fix these in ${file}:`) + '\n');
        for (const p of created.problems) process.stderr.write(`  ${p}\n`);
      }
      process.stdout.write(`next: read the comments in ${file}, then \`natchain wizard ${file}\` to add forwards\n`);
    });
}
