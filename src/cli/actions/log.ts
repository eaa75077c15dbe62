import { mergeLog } from '../../rollout/fleetlog.js';
import { readGatewayHistories } from '../../rollout/history.js';
import { Journal, stateDir } from '../../rollout/journal.js';
import { RolloutLog } from '../../rollout/rollouts.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import type { RemoteOptions } from '../options.js';
import { c, printJson, table } from '../output.js';
import { concurrencyOf, connectOptionsOf, connectors } from '../remote.js';

/** Runs `natchain log`. */
export async function run(file: string, o: RemoteOptions): Promise<void> {
  const p = await loadProject(file);
  const opts = connectOptionsOf(o);
  const { pool, managed } = connectors(opts);
  let histories;
  try {
    histories = await readGatewayHistories(p.topology, p.topology.gateways, managed, opts, concurrencyOf(o));
  } finally {
    await pool.closeAll().catch(() => undefined);
  }
  const dir = stateDir(o.stateDir);
  const entries = mergeLog(histories, await new Journal(dir).transactionsSliced(), new RolloutLog(dir).rollouts());
  const unreachable = [...histories].flatMap(([gateway, h]) => (h instanceof Error ? [{ gateway, error: h.message }] : []));
  if (o.json) printJson({ topology: file, transactions: entries, unreachable });
  else {
    const rows = [['TX', 'TIME', 'KIND', 'OUTCOME', 'OWNER', 'GATEWAYS', 'SOURCE'].map((h) => c.bold(h))];
    for (const e of entries) {
      const gws = e.outcome === 'mixed' ? e.gateways.map((g) => `${g.gateway}:${g.outcome}`).join(' ') : e.gateways.map((g) => g.gateway).join(' ');
      rows.push([e.tx, e.time, e.kind + (e.rollout ? ` (rollout ${e.rollout})` : ''), e.outcome, e.owner, gws, e.source]);
    }
    process.stdout.write(table(rows) + '\n');
    for (const u of unreachable) process.stdout.write(c.yellow(`${u.gateway}: unreachable, its history is not included: ${u.error}\n`));
  }
  if (unreachable.length) throw new ExitCode(1);
}
