import { UsageError } from '../../errors.js';
import { labEchoStart, labEchoStop, labTraffic, openLab, parseServiceSpec, type TrafficReport } from '../../lab/index.js';
import { ExitCode } from '../exit.js';
import { loadProject } from '../io.js';
import { c, printJson, table } from '../output.js';
import { unknownName } from '../../suggest.js';

/** Runs `natchain lab test`. */
export async function test(name: string, o: { forward?: string[]; topology?: string; json?: boolean }): Promise<void> {
  const lab = await openLab(name);
  const p = await loadProject(o.topology ?? lab.topologyFile);
  const wanted = o.forward?.flatMap((f) => f.split(',')).filter(Boolean);
  const unknown = (wanted ?? []).find((f) => !p.topology.forwards.some((x) => x.name === f));
  if (unknown !== undefined) throw unknownName('forward', unknown, p.topology.forwards.map((x) => x.name), p.file);
  const report = await labTraffic(lab, p.solution, wanted ? { forwards: wanted } : {});
  if (o.json) printJson({ topology: p.file, ...report });
  else process.stdout.write(formatTraffic(report) + '\n');
  if (!report.ok) throw new ExitCode(1);
}

function formatTraffic(r: TrafficReport): string {
  const rows = [['FORWARD', 'SOURCE', 'CLIENT', 'DIAL', 'TARGET', 'SAW', 'EXPECTED', 'RESULT'].map((h) => c.bold(h))];
  for (const x of r.results) {
    const client = x.client ? `${x.client} (${x.clientAddress})` : '-';
    const result = x.ok ? c.green('ok') : c.red(`fail: ${x.error ?? ''}`);
    rows.push([x.forward, x.source, client, `${x.proto} ${x.dial}`, x.target, x.sawPeer ?? '-', x.expectedPeer ?? '-', result]);
  }
  const bad = r.results.filter((x) => !x.ok).length;
  const tail = bad ? c.red(`${bad} of ${r.results.length} failed (natchain plan shows whether natchain's rules are applied; natchain probe names the failing hop)`) : c.green(`${r.results.length} connection(s) ok: every target saw the source the solve predicts`);
  return table(rows) + '\n' + tail;
}

/** Runs `natchain lab echo stop|start`. */
export async function echo(action: string, name: string, host: string, services: string[], o: { json?: boolean }): Promise<void> {
  if (action !== 'stop' && action !== 'start') throw new UsageError(`lab echo: the action is stop or start, not "${action}"`);
  const which = services.length ? services.map(parseServiceSpec) : 'all';
  const done = action === 'stop' ? await labEchoStop(name, host, which) : await labEchoStart(name, host, which);
  if (o.json) return printJson({ lab: name, host, action, services: done });
  const verb = action === 'stop' ? 'stopped' : 'started';
  process.stdout.write(done.length ? `${verb} the echo service(s) of ${host}: ${done.join(', ')}\n` : `nothing to do: no such echo service is ${action === 'stop' ? 'running' : 'stopped'} on ${host}\n`);
}
