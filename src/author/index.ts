// Authoring: topology text + an edit -> new text (every other byte kept), checked by compile.
export { author, compileBase, formatProblem, lookups, AuthorError, type Authored, type Base, type Compiled, type Edit } from './author.js';
export { addForwards, editForward, removeForward, specOf, MANAGED_FIELDS, type ForwardSpec } from './forwards.js';
export type { AllowEntry } from './yaml-map.js';
export { checkAllow, checkAllowPrefix, checkExpose, checkFrom, checkName, checkSource, checkSpec, checkTo, lookupsOf, siteOfHost, type Lookups, type Problem, type SpecField } from './fields.js';
export { parseImport, parseCsv, parseYamlForwards, type ImportProblem, type ImportRow } from './import.js';
export { chainSummary, chainText, diffOf, forwardSummaries, type ForwardSummary, lockChanges, networksCrossed, reportJson, reviewLines, ruleDiffText, sourceSeen, warningsOf } from './report.js';
