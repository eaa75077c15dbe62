import type { Command } from 'commander';
import { resolve } from 'node:path';
import { Journal, stateDir } from '../../rollout/journal.js';
import { recover } from '../../rollout/recover.js';
import { ExitCode } from '../exit.js';
import { readTopology } from '../io.js';
import { c, printJson, table } from '../output.js';
import { addRemoteOptions, concurrencyOf, connectOptionsOf, connectors, type RemoteOptions } from '../remote.js';

/** `natchain recover`: finishes or undoes every transaction a crash interrupted, telling what it did. */
export function registerRecover(program: Command): void {
  const cmd = program
    .command('recover')
    .description('bring every gateway of an interrupted transaction to a consistent state (committed if all had verified, else rolled back)')
    .argument('[topology]', 'topology file (default: the one each transaction journaled)')
    .option('--tx <id>', 'only this transaction');
  addRemoteOptions(cmd)
    .addHelpText(
      'after',
      `
Without -F, each transaction is recovered through the ssh_config it was applied with.

Exit 0 when every transaction is now consistent (or none was interrupted), 1 when a gateway could
not be reached (run it again; an armed gateway restores itself when its dead-man timer fires).

Examples:
  natchain recover
  natchain recover topologies/seed-vpn.yaml -F lab/ssh_config --json`,
    )
    .action(async (file: string | undefined, o: RemoteOptions & { tx?: string }) => {
      const journal = new Journal(stateDir(o.stateDir));
      const given = file ? await readTopology(file) : undefined;
      // One set of options (one passphrase prompt per key) for the whole run; each transaction its own pool.
      const base = connectOptionsOf(o);
      const results = await recover({
        journal,
        topologyOf: async (h) => given ?? readTopology(resolve(h.begin!.topology)),
        connect: (h) => {
          const cfg = o.sshConfig ?? h.begin!.sshConfig;
          return cfg ? { ...base, sshConfigFile: cfg } : { ...base };
        },
        sessions: (opts) => {
          const { pool, managed } = connectors(opts);
          return { connector: managed, close: () => pool.closeAll() };
        },
        concurrency: concurrencyOf(o),
        ...(o.tx ? { only: o.tx } : {}),
      });
      const consistent = results.every((r) => r.outcome !== 'inconsistent');
      if (o.json) printJson({ journal: journal.file, consistent, transactions: results });
      else if (results.length === 0) process.stdout.write(`${c.green('consistent')}: no interrupted transaction in ${journal.file}\n`);
      else {
        for (const r of results) {
          const out = r.outcome === 'inconsistent' ? c.red(r.outcome) : c.green(r.outcome);
          process.stdout.write(`${c.bold(r.tx)} (${r.kind}, started ${r.started}): ${out}\n`);
          const rows = [['GATEWAY', 'FOUND', 'ACTION', 'STATE', 'DETAIL'].map((h) => c.bold(h))];
          for (const g of r.gateways) rows.push([g.gateway, g.found, g.action, g.state, g.detail ?? '']);
          process.stdout.write(table(rows).replace(/^/gm, '  ') + '\n');
        }
        process.stdout.write(consistent ? c.green('every gateway is consistent\n') : c.red('some gateways could not be reached: run natchain recover again\n'));
      }
      if (!consistent) throw new ExitCode(1);
    });
}
