import type { Command } from 'commander';
import { NatchainError } from '../../errors.js';
import { runWizard } from '../../wizard/wizard.js';
import { readForEdit, saveAuthored } from '../author-io.js';
import { createTopology } from '../create-topology.js';
import { ExitCode } from '../exit.js';
import type { TxCliOptions } from '../options.js';
import { c } from '../output.js';
import { concurrencyOf, connectOptionsOf } from '../remote.js';

/** Runs `natchain wizard`: the wizard face, handing plan and apply to the commands' own code. */
export async function run(file: string, o: TxCliOptions, cmd: Command): Promise<void> {
  await runWizard(file, {
    paint: c,
    write: (text) => void process.stdout.write(text),
    readForEdit,
    save: saveAuthored,
    create: (f, discover) => createTopology(f, discover ? { discover, connect: connectOptionsOf(o), concurrency: concurrencyOf(o) } : {}),
    plan: (f) => handOver(() => import('../plan-run.js').then((m) => m.runPlan(f, { ...o, json: false }, cmd))),
    apply: (f) => handOver(() => import('../apply-run.js').then((m) => m.runApply(f, { ...o, json: false, yes: false }))),
  });
}

/** Runs plan or apply as the command would; the wizard goes on after plan's "changes pending" and after "no" at apply's question. Other failures end the wizard as they end the command. */
async function handOver(command: () => Promise<void>): Promise<void> {
  try {
    await command();
  } catch (e) {
    if (e instanceof ExitCode) return; // plan: 2 = changes pending, already printed
    if (e instanceof NatchainError && e.code === 'CANCELLED') {
      process.stdout.write(`${c.yellow('not applied')}: nothing was changed on any gateway\n`);
      return;
    }
    throw e;
  }
}
