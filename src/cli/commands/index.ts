import type { Command } from 'commander';
import { registerLock } from './lock.js';
import { registerRender } from './render.js';
import { registerSolve } from './solve.js';
import { registerValidate } from './validate.js';

/** Every command, in the order `--help` lists them. Each module adds one command (or a group) to the program. */
export const commands: Array<(program: Command) => void> = [registerValidate, registerSolve, registerRender, registerLock];
