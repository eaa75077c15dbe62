import { Option, type Command } from 'commander';
import { withChoices } from '../choices.js';
import { lazy } from '../lazy.js';

/** Options of `forward add` and `forward edit`. */
export interface SpecOptions {
  from?: string[];
  to?: string;
  proto?: string;
  expose?: string | false;
  allow?: string[] | false;
  hairpin?: boolean;
  rename?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** `natchain forward add|edit|rm|list|import`: the wizard's actions without a terminal. */
export function registerForward(program: Command): void {
  const load = () => import('../actions/forward.js');
  const fw = program
    .command('forward')
    .description('add, edit, remove, list or import forwards: the topology edited in place, checked, the lock updated')
    .addHelpText(
      'after',
      `
Every change is checked exactly as \`natchain validate\` checks the file, shown (each new chain hop
by hop, warnings, the rule diff per gateway, the lock's ports) and only then written: the
topology in place, every other byte of it unchanged, and the lock beside it. Nothing is written
on any error, or with --dry-run. \`natchain wizard\` asks the same questions interactively.

Examples:
  natchain forward add site.yaml ssh-12 --from site-b --to 10.0.0.12:22
  natchain forward add site.yaml web --from internet --to 10.0.0.80:80 --expose 198.51.100.7:8080 --dry-run
  natchain forward edit site.yaml ssh-12 --to 10.0.0.12:2222
  natchain forward rm site.yaml ssh-12
  natchain forward list site.yaml --json
  natchain forward import site.yaml new-forwards.csv`,
    );

  const specOptions = (cmd: Command, required: boolean) =>
    cmd
      .option('--from <source...>', 'who connects: sites, subnets inside a site (CIDR), or networks such as internet')
      .option('--to <host:port>', 'the target: host:port or host:from-to')
      .addOption(withChoices(new Option('--proto <proto>', 'the protocol').default(required ? 'tcp' : undefined), ['tcp', 'udp', 'both']))
      .option('--expose <address:port>', 'where network clients enter (a gateway address, optionally a port; default: natchain picks)')
      .option('--allow <prefix...>', 'only these client addresses or prefixes may use it from the network sources of --from (an allow-list)')
      .option('--hairpin', 'let clients in the target\'s own site use the exposed address')
      .option('--dry-run', 'show the chain, warnings and rule diff; write nothing')
      .option('--json', 'print the result as one JSON document');

  specOptions(fw.command('add').description('add a forward').argument('<topology>', 'topology file (YAML)').argument('<name>', 'the new forward\'s name'), true).action(lazy(load, 'add'));

  specOptions(fw.command('edit').description('change a forward\'s answers (only the flags given)').argument('<topology>', 'topology file (YAML)').argument('<name>', 'the forward to change'), false)
    .option('--rename <name>', 'give the forward a new name (its hop ports stay)')
    .option('--no-expose', 'drop the exposure (natchain then picks where network clients enter)')
    .option('--no-hairpin', 'turn hairpin off')
    .option('--no-allow', 'drop the allow-lists (any client of the network sources)')
    .action(lazy(load, 'edit'));

  fw.command('rm')
    .description('remove a forward (its hop ports are freed in the lock)')
    .argument('<topology>', 'topology file (YAML)')
    .argument('<name>', 'the forward to remove')
    .option('--dry-run', 'show what goes; write nothing')
    .option('--json', 'print the result as one JSON document')
    .action(lazy(load, 'rm'));

  fw.command('list')
    .description('list the forwards: name, from, to, proto, exposure, chain')
    .argument('<topology>', 'topology file (YAML)')
    .option('--json', 'print them as one JSON document')
    .action(lazy(load, 'list'));

  fw.command('import')
    .description('add many forwards from a CSV or YAML file: all of them or none')
    .argument('<topology>', 'topology file (YAML)')
    .argument('<file>', 'CSV (header: name,from,to,proto,expose,hairpin) or YAML (name: {from, to, ...})')
    .option('--dry-run', 'check and show everything; write nothing')
    .option('--json', 'print the result as one JSON document')
    .action(lazy(load, 'importForwards'));
}
