// `natchain apply`'s flow, shared by the apply command and the wizard's "apply now" (commands do not import each other).
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { jumpMoves } from '../gateway/shadow.js';
import type { RolloutReport } from '../rollout/fleet.js';
import { stateDir } from '../rollout/journal.js';
import { parseSavedPlan, sha256 } from '../rollout/planfile.js';
import { RolloutLog } from '../rollout/rollouts.js';
import { TimeSlice } from '../timeslice.js';
import { parseTopology } from '../topology/index.js';
import type { ApplyOptions } from './commands/apply.js';
import { loadProject, readText, writeLock } from './io.js';
import { runRolloutCommand, type RolloutSetup } from './rollout.js';

/** Runs `natchain apply`: a topology, a saved plan, or the rest of a stopped rollout. */
export async function runApply(file: string | undefined, o: ApplyOptions): Promise<void> {
  if (o.testFault) process.env.NATCHAIN_TEST_FAULT = o.testFault;
  const log = new RolloutLog(stateDir(o.stateDir));
  const setup = o.plan ? await fromSavedPlan(o.plan, file, log) : await fromTopology(file, log);
  if (o.resume) resumeSettings(o, setup);
  await runRolloutCommand(o, setup);
}
/** The rollout of a topology file as it is now. */
async function fromTopology(file: string | undefined, log: RolloutLog): Promise<RolloutSetup> {
  if (!file) throw new UsageError('apply needs a topology file (or --plan <file>)');
  const p = await loadProject(file);
  return {
    topology: { ...p.topology, file: resolve(p.topology.file) },
    topologyText: await readText(file),
    intents: p.solution.intents,
    chains: p.solution.chains,
    log,
    after: async (r) => {
      const notes = await jumpNotes(r);
      if (!p.lockChanged || !r.waves.some((w) => w.status === 'committed' || w.status === 'noop')) return notes;
      await writeLock(p.lockFile, p.solution.lock);
      return [...notes, `wrote ${p.lockFile} (hop ports now in use; commit it beside the topology)`];
    },
  };
}

/** The rollout of a saved plan: its topology, its intents, and the states it was made against. */
async function fromSavedPlan(planFile: string, file: string | undefined, log: RolloutLog): Promise<RolloutSetup> {
  const plan = parseSavedPlan(await readText(planFile), planFile);
  if (file !== undefined && sha256(await readText(file)) !== plan.topology.sha256) {
    throw new UsageError(`${file} is not the topology ${planFile} was made from (${plan.topology.path}); make a new plan`);
  }
  const topology = parseTopology(plan.topology.text, plan.topology.path);
  return {
    topology,
    topologyText: plan.topology.text,
    intents: Object.fromEntries(plan.gateways.map((g) => [g.gateway, g.intents])),
    chains: plan.chains,
    saved: new Map(plan.gateways.map((g) => [g.gateway, g.live])),
    log,
    after: async (r) => {
      const notes = await jumpNotes(r);
      if (!plan.lockChanged || !r.waves.some((w) => w.status === 'committed')) return notes;
      await writeLock(plan.lockFile, plan.lock);
      return [...notes, `wrote ${plan.lockFile} (hop ports now in use; commit it beside the topology)`];
    },
  };
}

/** --resume: the stopped rollout's settings, checked against this topology (the rest is planned again from the live state). */
function resumeSettings(o: ApplyOptions, setup: RolloutSetup): void {
  const h = setup.log.find(o.resume!);
  if (!h) throw new UsageError(`no rollout ${o.resume} in ${setup.log.file}`);
  if (h.start.topologySha256 !== sha256(setup.topologyText)) {
    throw new UsageError(`the topology changed since rollout ${h.id} started (${h.start.topology}); run a new apply instead of --resume`);
  }
  const s = h.start.settings;
  o.canary ??= h.waves.some((w) => w.status === 'committed') ? undefined : s.canary;
  o.waveSize ??= s.waveSize;
  o.maxFail = o.maxFail === '0' && s.maxFail ? s.maxFail : o.maxFail;
  o.limit ??= s.limit;
  setup.resumes = h.id;
}

/** Shadowing repaired (docs/rollout.md): which jumps went back to the front, on the gateways of committed waves (sliced: a fleet's states). */
async function jumpNotes(r: RolloutReport): Promise<string[]> {
  const slice = new TimeSlice();
  const out: string[] = [];
  for (const w of r.waves) {
    if (w.status !== 'committed' || !w.report) continue;
    for (const g of w.report.plan) {
      await slice.turn();
      if (g.changed) for (const m of jumpMoves(g.before, g.after)) out.push(`${g.gateway}: ${m}`);
    }
  }
  return out;
}
