import type { Command } from 'commander';
import { registerApply } from './apply.js';
import { registerCompletion } from './completion.js';
import { registerConfirm } from './confirm.js';
import { registerDiff } from './diff.js';
import { registerForward } from './forward.js';
import { registerGraph } from './graph.js';
import { registerInit } from './init.js';
import { registerLab } from './lab.js';
import { registerLock } from './lock.js';
import { registerPlan } from './plan.js';
import { registerProbe } from './probe.js';
import { registerRecover } from './recover.js';
import { registerRender } from './render.js';
import { registerRollback } from './rollback.js';
import { registerSolve } from './solve.js';
import { registerStatus } from './status.js';
import { registerLog } from './log.js';
import { registerValidate } from './validate.js';
import { registerWizard } from './wizard.js';

/** Every command, in the order `--help` lists them. Each module adds one command (or a group) to the program. */
export const commands: Array<(program: Command) => void> = [registerInit, registerWizard, registerValidate, registerSolve, registerRender, registerLock, registerDiff, registerForward, registerGraph, registerLab, registerPlan, registerApply, registerConfirm, registerRollback, registerRecover, registerStatus, registerLog, registerProbe, registerCompletion];
