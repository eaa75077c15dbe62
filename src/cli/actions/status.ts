import { resolve } from 'node:path';
import { formatAge } from '../../rollout/exec.js';
import { Journal, outcomeOf, stateDir } from '../../rollout/journal.js';
import { statusLive, type GatewayStatus } from '../../rollout/live.js';
import { stillRunning } from '../../rollout/recover.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import { c, printJson, table } from '../output.js';
import { concurrencyOf, connectOptionsOf, connectors, knownRecorder, noteSplit, noteUnfinished } from '../remote.js';
import { type RemoteOptions } from '../options.js';

/** Runs `natchain status`. */
export async function run(file: string, o: RemoteOptions & { counters?: boolean }): Promise<void> {
  const p = await loadProject(file);
  const named = await noteUnfinished(o);
  const opts = connectOptionsOf(o);
  const { pool, managed } = connectors(opts);
  const known = knownRecorder(o, 'status');
  let view;
  try {
    view = await statusLive(p.topology, p.solution.intents, managed, opts, concurrencyOf(o), { counters: Boolean(o.counters), seen: known.seen });
  } finally {
    await pool.closeAll().catch(() => undefined);
  }
  await known.save();
  const gws = view.gateways;
  noteSplit(view.split, file, named);
  const journal = new Journal(stateDir(o.stateDir));
  const mine = (await journal.transactionsSliced()).filter((h) => h.begin && resolve(h.begin.topology) === resolve(file) && outcomeOf(h) !== 'noop');
  const last = mine[mine.length - 1];
  const lastLocal = last ? { tx: last.tx, kind: last.begin!.kind, time: last.begin!.time, outcome: outcomeOf(last) ?? (last.end?.outcome === 'armed' ? 'armed' : stillRunning(last) ? 'running' : 'interrupted') } : null;
  if (o.json) printJson({ topology: file, journal: journal.file, lastTransaction: lastLocal, gateways: gws, split: view.split });
  else {
    const rows = [['GATEWAY', 'BACKEND', 'SYNC', 'LAST TX', 'LOCK', 'TIMER', 'DETAIL'].map((h) => c.bold(h))];
    for (const g of gws) {
      const sync = g.sync === 'in-sync' ? c.green(g.sync) : g.sync === 'pending' || g.sync === 'unmanaged' ? c.yellow(g.sync) : c.red(g.sync);
      const lock = g.lock ? `${g.lock.tx} ${g.lock.owner} ${formatAge(g.lock.ageSec)}` : '-';
      const timer = g.armed.length ? g.armed.map((a) => `${a.tx} fires in ${formatAge(a.inSec)}`).join(', ') : '-';
      rows.push([g.gateway, g.backend, sync, g.lastTx ?? '-', lock, timer, g.detail ?? '']);
    }
    process.stdout.write(table(rows) + '\n');
    if (o.counters) process.stdout.write('\n' + countersTable(gws) + '\n');
    if (lastLocal) {
      const warn = lastLocal.outcome === 'interrupted' ? c.red(' (interrupted: run natchain recover)') : '';
      process.stdout.write(`last transaction here: ${lastLocal.tx} ${lastLocal.kind} ${lastLocal.outcome}${warn}\n`);
    }
  }
  if (!gws.every((g) => g.sync === 'in-sync')) throw new ExitCode(1);
}

/** FORWARD GATEWAY PACKETS BYTES, one row per forward with rules on a gateway. */
function countersTable(gws: GatewayStatus[]): string {
  const rows = [['FORWARD', 'GATEWAY', 'PACKETS', 'BYTES'].map((h) => c.bold(h))];
  const all = gws.flatMap((g) => (g.counters ?? []).map((x) => ({ ...x, gateway: g.gateway })));
  all.sort((a, b) => (a.forward < b.forward ? -1 : a.forward > b.forward ? 1 : 0));
  for (const x of all) rows.push([x.forward, x.gateway, x.packets === null ? c.dim('no rule') : String(x.packets), x.bytes === null ? '-' : String(x.bytes)]);
  return table(rows);
}
