// natchain as a library: the pure core (topology -> solve -> render -> plan), pictures, and the
// effectful edges (the lab, SSH transport, the rollout transaction). The CLI in src/cli is one user.
export * from './errors.js';
export { compile } from './compile.js';
export * from './topology/index.js';
export * from './solve/index.js';
export * from './render/index.js';
export * from './plan/index.js';
export * from './graph/index.js';
export * as lab from './lab/index.js';
export * as transport from './transport/index.js';
export { runTransaction, TransactionError } from './rollout/transaction.js';
export type { TransactionOptions, TransactionReport, GatewayReport } from './rollout/transaction.js';
export { Journal, stateDir } from './rollout/journal.js';
