#!/usr/bin/env bash
# Error-path benchmark (issue 11, class 4): `natchain validate` of the scale topology when it is
# valid and when it has errors (one bad port at the end, one at the start, 1,000 bad ports, a
# syntax error near the end), at 100k forwards (5 MiB) and 200k forwards (10 MiB). An error must
# cost about what success costs. Prints a Markdown table for docs/benchmarks.md.
# Usage: bash scripts/bench/errors.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-2}
npm run --silent build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| forwards | YAML | file | exit | wall | CPU | peak RSS |"
echo "|---:|---:|---|---:|---:|---:|---:|"
for n in 100000 200000; do
  node --input-type=module -e "
    import { writeFileSync } from 'node:fs';
    import { generateTopology } from './scripts/bench/generate.mjs';
    const valid = generateTopology(1000, $n);
    const lines = valid.split('\n');
    const bad = (i) => lines[i].replace(/:(\d+)\"/, ':65536\"');
    const first = lines.findIndex((l) => l.startsWith('  f0:'));
    const last = lines.length - 2;
    const variant = (edit) => { const c = [...lines]; edit(c); return c.join('\n'); };
    writeFileSync('$tmp/valid.yaml', valid);
    writeFileSync('$tmp/bad-port-last.yaml', variant((c) => { c[last] = bad(last); }));
    writeFileSync('$tmp/bad-port-first.yaml', variant((c) => { c[first] = bad(first); }));
    writeFileSync('$tmp/1000-bad-ports.yaml', variant((c) => { for (let i = 0; i < 1000; i++) { const k = first + i * Math.floor($n / 1000); c[k] = bad(k); } }));
    writeFileSync('$tmp/syntax-error-last.yaml', variant((c) => { c[last] = c[last].replace(/\" }$/, ' }'); }));
  "
  size=$(du -m "$tmp/valid.yaml" | cut -f1)
  for f in valid bad-port-last bad-port-first 1000-bad-ports syntax-error-last; do
    best=""
    for _ in $(seq "$runs"); do
      set +e
      /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" node dist/cli/main.js validate "$tmp/$f.yaml" > /dev/null 2> "$tmp/err"
      code=$?
      set -e
      read -r wall user sys kib < <(tail -1 "$tmp/time")
      if [ -z "$best" ] || awk "BEGIN{exit !($wall < $(echo "$best" | cut -d' ' -f1))}"; then best="$wall $user $sys $kib $code"; fi
    done
    read -r wall user sys kib code <<< "$best"
    cpu=$(awk "BEGIN{printf \"%.2f\", $user + $sys}")
    echo "| $n | ${size} MiB | $f | $code | ${wall} s | ${cpu} s | $((kib / 1024)) MiB |"
  done
done
