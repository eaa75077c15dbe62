export * from './types.js';
export { solve, EMPTY_LOCK } from './solve.js';
export { TopologyGraph, ifaceOn } from './graph.js';
export { parseLock, formatLock, formatLockSliced, lockPathFor } from './lock.js';
