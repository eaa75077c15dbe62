/** `natchain plan` (the flow lives in plan-run.ts: the wizard runs it too). */
export { runPlan as run } from '../plan-run.js';
