import type { Command } from 'commander';
import { lazy } from '../lazy.js';
import { addRemoteOptions } from '../options.js';

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
    .action(lazy(() => import('../actions/init.js'), 'run'));
}
