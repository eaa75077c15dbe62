// `natchain plan`'s flow, shared by the plan command and the wizard's "plan now" (commands do not import each other).
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatShadow } from '../gateway/shadow.js';
import { planLive } from '../rollout/live.js';
import { changeToIntents, formatForwardChanges } from '../rollout/owned.js';
import { serializePlan, sha256, type SavedGateway, type SavedPlan } from '../rollout/planfile.js';
import { ExitCode } from './exit.js';
import { loadProject, readText, type Project } from './io.js';
import { c, ChunkedWriter, printJson } from './output.js';
import { colourDiff, concurrencyOf, connectOptionsOf, connectors, knownRecorder, noteSplit, noteUnfinished } from './remote.js';
import type { Command } from 'commander';
import { repeatOptions, shellWord, type RemoteOptions } from './options.js';

/** Runs `natchain plan`. */
export async function runPlan(file: string, o: RemoteOptions & { out?: string }, cmd: Command): Promise<void> {
  const p = await loadProject(file);
  const named = await noteUnfinished(o);
  const opts = connectOptionsOf(o);
  const { pool, managed } = connectors(opts);
  const known = knownRecorder(o, 'plan');
  let plan;
  try {
    plan = await planLive(p.topology, p.solution.intents, managed, opts, concurrencyOf(o), { seen: known.seen });
  } finally {
    await pool.closeAll().catch(() => undefined);
  }
  await known.save();
  noteSplit(plan.split, file, named);
  // A gateway apply would refuse (mismatch) or cannot repair (an nftables table running first) is an error, not a pending change.
  const errors = plan.gateways.filter((g) => g.status === 'error' || g.status === 'mismatch' || (g.status === 'shadowed' && g.shadowed.some((h) => !h.repairable)));
  const code = errors.length ? 1 : plan.inSync ? 0 : 2;
  const { states, ...view } = plan;
  if (o.out) await writeSavedPlan(o.out, p, await readText(file), states);
  if (o.json) {
    printJson({ ...view, exitCode: code, ...(o.out ? { out: o.out } : {}) });
  } else {
    // A fleet's plan is megabytes of diff: written in chunks, the event loop served between them.
    const out = new ChunkedWriter();
    for (const g of plan.gateways) {
      const head = `${c.bold(g.gateway)} (${g.backend})`;
      if (g.status === 'error') {
        await out.write(`${head}: ${c.red('error')}: ${g.error}\n`);
        continue;
      }
      if (g.status === 'mismatch') {
        await out.write(`${head}: ${c.red('mismatch')}: the gateway is not what the topology says (apply refuses it)\n`);
        for (const m of g.mismatches) await out.write(`    ${m}\n`);
        continue;
      }
      if (g.status === 'shadowed') {
        const fix = g.shadowed.every((h) => h.repairable)
          ? "apply moves natchain's jumps back to the front"
          : g.backend === 'iptables'
            ? "apply cannot change other tables: remove or narrow the rule named"
            : "apply cannot change another table's chains: give that chain a later priority, or let it accept the forwards";
        await out.write(`${head}: ${c.red('shadowed')}: foreign rules can catch forwards before natchain's (${fix})\n`);
        for (const h of g.shadowed) await out.write(`    ${formatShadow(h)}\n`);
      }
      const lock = g.lock ? c.yellow(`  [locked by ${g.lock.tx} of ${g.lock.owner}]`) : '';
      if (g.status === 'in-sync' || (g.status === 'shadowed' && !g.diff)) {
        if (g.status === 'shadowed') continue;
        await out.write(`${head}: ${c.green('in sync')}${lock}\n`);
        continue;
      }
      const f = g.forwards;
      const parts = formatForwardChanges(f, { added: c.green, removed: c.red, changed: c.yellow });
      await out.write(`${head}: ${c.yellow('changes')}: ${parts.join(' ') || 'rules'} (${g.rulesAdded} rule(s) added, ${g.rulesRemoved} removed)${lock}\n`);
      if (g.ipForward === '0') await out.write(c.yellow('    net.ipv4.ip_forward is 0 (apply needs --enable-ip-forward)\n'));
      for (const l of colourDiff(g.diff)) await out.write(l + '\n');
    }
    const n = plan.gateways.filter((g) => g.status === 'changes' || g.status === 'shadowed').length;
    await out.write(
      errors.length
        ? c.red(`${errors.length} gateway(s) could not be read, are not what the topology says, or are shadowed beyond what apply repairs\n`)
        : plan.inSync
          ? c.green(`in sync: ${plan.gateways.length} gateway(s) hold exactly what the topology says\n`)
          : `${n} gateway(s) to change: run ${['natchain apply', o.out ? `--plan ${shellWord(o.out)}` : shellWord(file), repeatOptions(cmd, ['json', 'out'])].filter(Boolean).join(' ')}\n`,
    );
    if (o.out) await out.write(`saved the plan to ${o.out}${errors.length ? ' (gateways that could not be read are recorded as unknown: apply --plan refuses to change them)' : ''}\n`);
    await out.flush();
  }
  if (code !== 0) throw new ExitCode(code);
}

/** Writes the saved plan: the topology, the intents per gateway, and each gateway's live state (and its hash) now. */
async function writeSavedPlan(out: string, p: Project, text: string, states: Map<string, string>): Promise<void> {
  const gateways = p.topology.gateways.map((g): SavedGateway => {
    const live = states.get(g.name) ?? null;
    const intents = p.solution.intents[g.name] ?? [];
    const desired = changeToIntents(g, intents).expected;
    return { gateway: g.name, backend: g.backend, intents, desired, live, liveHash: live === null ? null : sha256(live), changed: live !== desired };
  });
  const plan: SavedPlan = {
    format: 'natchain-plan',
    version: 1,
    created: new Date().toISOString(),
    topology: { path: resolve(p.file), sha256: sha256(text), text },
    lockFile: resolve(p.lockFile),
    lock: p.solution.lock,
    lockChanged: p.lockChanged,
    chains: p.solution.chains,
    gateways,
  };
  await writeFile(out, serializePlan(plan), { mode: 0o600 });
}
