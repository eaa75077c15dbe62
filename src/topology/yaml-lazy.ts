// `yaml` (the position-keeping parser) costs ~35 ms to load; a valid topology never needs it
// (js-yaml reads the data), so it is loaded on first use: for an error's position, a syntax
// error's diagnostics, or writing a lock file. CommonJS build through require, so the call stays synchronous.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

const require = createRequire(import.meta.url);
let lib: typeof Yaml | undefined;

/** The `yaml` package, loaded when first asked for. */
export function yamlLib(): typeof Yaml {
  return (lib ??= require('yaml') as typeof Yaml);
}
