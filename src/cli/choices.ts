// Option values and names checked the same way by every command: a usage error that lists what is
// known and suggests the closest ("did you mean"). Cheap to import: command definitions use it.
import { InvalidArgumentError, type Option } from 'commander';
import { UsageError } from '../errors.js';
import { suggest } from '../suggest.js';

/** Restricts an option to fixed values, checked while parsing: the help lists them, a typo gets a suggestion. */
export function withChoices(option: Option, values: readonly string[]): Option {
  return option.choices(values).argParser((value: string) => {
    if (values.includes(value)) return value;
    throw new InvalidArgumentError(`It must be one of ${values.join(', ')}${suggest(value, values)}`);
  });
}

/** The usage error for a name (forward, gateway, lab...) that is not among `known`, e.g. `no forward "x" in f.yaml; did you mean "y"?`. */
export function unknownName(kind: string, name: string, known: readonly string[], where: string): UsageError {
  return new UsageError(`no ${kind} "${name}" in ${where}${suggest(name, known)}`, [`${kind}s: ${known.join(', ') || '(none)'}`]);
}
