import { confirmTransaction } from '../../rollout/confirm.js';
import { isTxId } from '../../rollout/ids.js';
import { Journal, stateDir } from '../../rollout/journal.js';
import { UsageError } from '../../errors.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import { c, printJson, table } from '../output.js';
import { concurrencyOf, connectOptionsOf, connectors } from '../remote.js';
import { type RemoteOptions } from '../options.js';

/** Runs `natchain confirm`. */
export async function run(file: string, tx: string | undefined, o: RemoteOptions): Promise<void> {
  if (tx !== undefined && !isTxId(tx)) throw new UsageError(`a transaction id looks like 20260101T120000Z-a1b2c3, not "${tx}"`);
  const p = await loadProject(file);
  const opts = connectOptionsOf(o);
  const { pool, managed } = connectors(opts);
  let r;
  try {
    r = await confirmTransaction({ topology: p.topology, ...(tx ? { tx } : {}), connector: managed, connect: opts, concurrency: concurrencyOf(o), journal: new Journal(stateDir(o.stateDir)) });
  } finally {
    await pool.closeAll().catch(() => undefined);
  }
  if (o.json) printJson(r);
  else {
    const rows = [['GATEWAY', 'STATE', 'TRIPS', 'DETAIL'].map((h) => c.bold(h))];
    for (const g of r.gateways) rows.push([g.gateway, g.state === 'committed' ? c.green(g.state) : c.red(g.state), String(g.roundTrips), g.detail ?? '']);
    process.stdout.write(table(rows) + '\n');
    process.stdout.write(r.outcome === 'committed' ? `${c.green('committed')} transaction ${r.tx}\n` : `${c.red(r.outcome)}: transaction ${r.tx} could not be committed everywhere\n`);
  }
  if (r.outcome !== 'committed') throw new ExitCode(1);
}
