// Names are data (DESIGN.md, invariant 8): a table keyed by user-chosen names must not inherit
// `toString`, `constructor` or a `__proto__` setter from Object.prototype.

/** An empty object without a prototype, for tables keyed by names (`constructor` is just a key). */
export function nameTable<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A copy of a name-keyed object as a null-prototype table (own keys only, `__proto__` included). */
export function toNameTable<T>(obj: Record<string, T> | undefined | null): Record<string, T> {
  const out = nameTable<T>();
  if (obj) for (const k of Object.keys(obj)) out[k] = obj[k]!;
  return out;
}
