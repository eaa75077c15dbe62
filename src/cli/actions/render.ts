import { UsageError } from '../../errors.js';
import { parseIptablesSave, renderRuleset } from '../../render/index.js';
import type { Backend } from '../../topology/types.js';
import { loadProject, readStdin, readText } from '../io.js';
import { printJson } from '../output.js';
import { unknownName } from '../../suggest.js';

/** Runs `natchain render`. */
export async function run(file: string, opts: { gateway?: string; backend?: Backend; live?: string; json?: boolean }): Promise<void> {
  if (opts.live !== undefined && !opts.gateway) throw new UsageError('--live describes one gateway: give --gateway too');
  const live = opts.live === undefined ? undefined : parseIptablesSave(opts.live === '-' ? await readStdin() : await readText(opts.live));
  const p = await loadProject(file);
  const gateways = opts.gateway ? p.topology.gateways.filter((g) => g.name === opts.gateway) : p.topology.gateways;
  if (gateways.length === 0) throw unknownName('gateway', opts.gateway!, p.topology.gateways.map((g) => g.name), file);
  const rendered = gateways.map((g) => {
    const gw = opts.backend ? { ...g, backend: opts.backend } : g;
    const ropts = live && gw.backend === 'iptables' ? { presentJumps: live.jumps, ...(live.ahead ? { rulesAhead: live.ahead } : {}) } : {};
    return { gateway: g.name, backend: gw.backend, text: renderRuleset(gw, p.solution.intents[g.name] ?? [], ropts) };
  });
  if (opts.json) return printJson(Object.fromEntries(rendered.map((r) => [r.gateway, { backend: r.backend, text: r.text }])));
  const many = rendered.length > 1;
  for (const r of rendered) {
    if (many) process.stdout.write(`# ==== gateway ${r.gateway} (${r.backend}) ====\n`);
    process.stdout.write(r.text.endsWith('\n') ? r.text : r.text + '\n');
  }
}
