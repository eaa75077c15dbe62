// Option values and names checked the same way by every command: a usage error that lists what is
// known and suggests the closest ("did you mean"). Cheap to import: command definitions use it.
// Names (forwards, gateways, labs...): unknownName, in src/suggest.ts since the lab library uses it too.
import { InvalidArgumentError, type Option } from 'commander';
import { suggest } from '../suggest.js';

/** Restricts an option to fixed values, checked while parsing: the help lists them, a typo gets a suggestion. */
export function withChoices(option: Option, values: readonly string[]): Option {
  return option.choices(values).argParser((value: string) => {
    if (values.includes(value)) return value;
    throw new InvalidArgumentError(`It must be one of ${values.join(', ')}${suggest(value, values)}`);
  });
}

export { unknownName } from '../suggest.js';
