// One measurement in a fresh process: read the topology file, validate + solve (compile), render
// every gateway's ruleset. Prints one JSON line. Usage: node scripts/bench/scale.mjs FILE
import { readFileSync } from 'node:fs';
import { compile } from '../../dist/compile.js';
import { renderRuleset } from '../../dist/render/index.js';

const file = process.argv[2];
const t0 = performance.now();
const text = readFileSync(file, 'utf8');
const { topology, solution } = compile(text, file);
const t1 = performance.now();
let bytes = 0;
let intents = 0;
for (const g of topology.gateways) {
  bytes += renderRuleset(g, solution.intents[g.name] ?? []).length;
  intents += solution.intents[g.name].length;
}
const t2 = performance.now();
const ms = (x) => Math.round(x);
process.stdout.write(
  JSON.stringify({
    gateways: topology.gateways.length,
    forwards: topology.forwards.length,
    intents,
    yamlMiB: +(text.length / 2 ** 20).toFixed(1),
    renderedMiB: +(bytes / 2 ** 20).toFixed(1),
    validateSolveMs: ms(t1 - t0),
    renderMs: ms(t2 - t1),
    totalMs: ms(t2 - t0),
    cpuMs: ms((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }) + '\n',
);
