import { probeForwards, type ProbeReport } from '../../gateway/probe.js';
import { unknownName } from '../../suggest.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import { c, printJson, table } from '../output.js';
import { concurrencyOf, connectOptionsOf, connectors } from '../remote.js';
import { type RemoteOptions } from '../options.js';

/** Runs `natchain probe`. */
export async function run(file: string, o: RemoteOptions & { forward?: string[] }): Promise<void> {
  const p = await loadProject(file);
  const wanted = o.forward?.flatMap((f) => f.split(',')).filter(Boolean);
  const unknown = (wanted ?? []).find((f) => !p.topology.forwards.some((x) => x.name === f));
  if (unknown !== undefined) throw unknownName('forward', unknown, p.topology.forwards.map((x) => x.name), file);
  const opts = connectOptionsOf(o);
  const { pool, managed } = connectors(opts);
  let report: ProbeReport;
  try {
    report = await probeForwards(p.topology, p.solution, managed, opts, { concurrency: concurrencyOf(o), ...(wanted ? { forwards: wanted } : {}) });
  } finally {
    await pool.closeAll().catch(() => undefined);
  }
  if (o.json) printJson(report);
  else process.stdout.write(formatProbe(report) + '\n');
  if (!report.ok) throw new ExitCode(1);
}

/** One row per forward and source: ok, or the hop and check that failed and why. */
function formatProbe(r: ProbeReport): string {
  const rows = [['FORWARD', 'SOURCE', 'RESULT', 'HOPS', 'DETAIL'].map((h) => c.bold(h))];
  for (const f of r.forwards) {
    for (const ch of f.chains) {
      const hops = ch.hops.map((h) => h.gateway).join(' > ');
      const skipped = ch.hops.flatMap((h) => h.steps.filter((s) => s.ok === null).map((s) => s.detail));
      if (ch.failure) rows.push([f.forward, ch.source, c.red('fail'), hops, `${ch.failure.gateway}: ${ch.failure.check}: ${ch.failure.detail}`]);
      else rows.push([f.forward, ch.source, c.green('ok'), hops, skipped.join('; ')]);
    }
  }
  const bad = r.forwards.filter((f) => !f.ok).length;
  return table(rows) + '\n' + (bad ? c.red(`${bad} of ${r.forwards.length} forward(s) fail`) : c.green(`${r.forwards.length} forward(s) ok`));
}
