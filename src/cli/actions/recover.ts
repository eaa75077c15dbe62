import { resolve } from 'node:path';
import { Journal, stateDir } from '../../rollout/journal.js';
import { recover } from '../../rollout/recover.js';
import { ExitCode } from '../exit.js';
import { readTopology } from '../io.js';
import { c, printJson, table } from '../output.js';
import { concurrencyOf, connectOptionsOf, connectors } from '../remote.js';
import { type RemoteOptions } from '../options.js';

/** Runs `natchain recover`. */
export async function run(file: string | undefined, o: RemoteOptions & { tx?: string }): Promise<void> {
  const journal = new Journal(stateDir(o.stateDir));
  const given = file ? await readTopology(file) : undefined;
  // One set of options (one passphrase prompt per key) for the whole run; each transaction its own pool.
  const base = connectOptionsOf(o);
  const { transactions: results, unread } = await recover({
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
    // With a topology, its gateways are read too: a transaction another machine left half committed is found there.
    ...(given ? { scan: { topology: given, connect: base } } : {}),
  });
  // A gateway that could not be read may hold a transaction committed on some gateways only: not known consistent.
  const consistent = results.every((r) => r.outcome !== 'inconsistent') && unread.length === 0;
  if (o.json) printJson({ journal: journal.file, consistent, transactions: results, unread });
  else if (results.length === 0 && unread.length === 0) {
    const where = given ? `in ${journal.file} nor on the gateways of ${file}` : `in ${journal.file} (give the topology to look on its gateways too)`;
    process.stdout.write(`${c.green('consistent')}: no interrupted transaction ${where}\n`);
  }
  else if (results.length === 0) process.stdout.write(`no interrupted transaction in ${journal.file} nor on the gateways of ${file} that answered\n`);
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
  if (unread.length && !o.json) {
    process.stdout.write(c.red(`could not read ${unread.join(', ')}: ${unread.length === 1 ? 'it' : 'they'} may hold a transaction committed on some gateways only; run natchain recover ${file} again once ${unread.length === 1 ? 'it answers' : 'they answer'}\n`));
  }
  if (!consistent) throw new ExitCode(1);
}
