// Commands are defined eagerly (cheap: names, arguments, options, help) and implemented lazily: a
// command's module and everything it needs (ssh2, zod, yaml, graphology, inquirer...) is imported
// only when that command runs, so `--help`, `--version` and completion start at once.

/** A commander action that imports `load()` when the command runs and calls its export `name` with the action's arguments. */
export function lazy<M, K extends keyof M & string>(load: () => Promise<M>, name: K): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const action = (await load())[name] as (...a: unknown[]) => unknown;
    await action(...args);
  };
}
