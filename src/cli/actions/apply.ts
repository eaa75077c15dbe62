import { jumpMoves } from '../../gateway/shadow.js';
import { changeToIntents } from '../../rollout/owned.js';
import { loadProject, writeLock } from '../io.js';
import { runTxCommand } from '../remote.js';
import { type TxCliOptions } from '../options.js';

/** Runs `natchain apply`. */
export async function run(file: string, o: TxCliOptions & { testFault?: string }): Promise<void> {
  if (o.testFault) process.env.NATCHAIN_TEST_FAULT = o.testFault;
  const p = await loadProject(file);
  const intents = p.solution.intents;
  await runTxCommand(
    o,
    'apply',
    p.topology,
    {
      target: (g) => changeToIntents(g, intents[g.name] ?? []),
      needsForwarding: (g) => (intents[g.name] ?? []).length > 0,
    },
    async (r) => {
      if (r.outcome !== 'committed' && r.outcome !== 'noop') return [];
      // Shadowing repaired (docs/rollout.md): say which jumps went back to the front.
      const notes = r.plan.filter((g) => g.changed).flatMap((g) => jumpMoves(g.before, g.after).map((m) => `${g.gateway}: ${m}`));
      if (!p.lockChanged) return notes;
      await writeLock(p.lockFile, p.solution.lock);
      return [...notes, `wrote ${p.lockFile} (hop ports now in use; commit it beside the topology)`];
    },
  );
}
