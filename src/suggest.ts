// "Did you mean": one edit-distance suggestion, shared by the topology's messages and the CLI's.
import { UsageError } from './errors.js';
import { quote } from './escape.js';

/** `; did you mean "x"?` when a known name is close to the given one. */
export function suggest(name: string, names: Iterable<string>): string {
  const known = [...names];
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3))) return `; did you mean ${quote(best)}?`;
  // An abbreviation ("nft" for "nftables") is further by edit distance but as clear a hint, when only one name starts so.
  const longer = name.length >= 2 ? known.filter((k) => k.startsWith(name)) : [];
  return longer.length === 1 ? `; did you mean ${quote(longer[0])}?` : '';
}

/**
 * The usage error for a name (forward, gateway, lab...) that is not among `known`, with what
 * exists and the closest: `no forward "x" in f.yaml; did you mean "y"?` (CLI and library alike).
 */
export function unknownName(kind: string, name: string, known: readonly string[], where: string): UsageError {
  return new UsageError(`no ${kind} ${quote(name)} in ${where}${suggest(name, known)}`, [`${kind}s: ${known.join(', ') || '(none)'}`]);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
