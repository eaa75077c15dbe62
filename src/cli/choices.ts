// Option values and names checked the same way by every command: a usage error that lists what is
// known and suggests the closest ("did you mean"). Cheap to import: command definitions use it.
// Names (forwards, gateways, labs...): unknownName, in src/suggest.ts since the lab library uses it too.
import { InvalidArgumentError, type Argument, type Option } from 'commander';
import { suggest } from '../suggest.js';

/** Restricts an option or argument to fixed values, checked while parsing: the help lists them, a typo gets a suggestion. */
export function withChoices<T extends Option | Argument>(option: T, values: readonly string[]): T {
  // Option and Argument share these two methods (commander types them apart).
  const o = option as unknown as { choices(v: readonly string[]): unknown; argParser(f: (v: string) => string): unknown };
  o.choices(values);
  o.argParser((value: string) => {
    if (values.includes(value)) return value;
    throw new InvalidArgumentError(`It must be one of ${values.join(', ')}${suggest(value, values)}`);
  });
  return option;
}

export { unknownName } from '../suggest.js';
