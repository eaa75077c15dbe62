/** `natchain apply` (the flow lives in apply-run.ts: the wizard runs it too). */
export { runApply as run } from '../apply-run.js';
