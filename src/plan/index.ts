export * from './types.js';
export { diffModel } from './model.js';
export { diffChains, chainLines, hopText } from './chains.js';
export { diffRuleset, diffRulesets, ruleLineNumbers, type RulesetDiffOptions } from './rulesets.js';
export { buildState, renderAll, solvePartial, type Renderer, type StateSource } from './state.js';
export { diffStates } from './diff.js';
export { formatDiff, plain, type Paint } from './format.js';
