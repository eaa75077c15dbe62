#!/usr/bin/env bash
# Start-up benchmark (issue 11): `natchain --help`, `--version`, `validate` of an example and
# `__complete` (one TAB) against a bare `node -e 0`, on the compiled CLI. hyperfine runs each command
# RUNS times after warm-up; the table gives the median wall time and the mean CPU time (user +
# system, which load from other work on the machine disturbs less), each as a ratio to `node -e 0`.
# Prints a Markdown table for docs/benchmarks.md. Usage: bash scripts/bench/startup.sh [RUNS]
# Needs hyperfine (Debian: apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-40}
command -v hyperfine >/dev/null || { echo "startup.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
npm run --silent build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hyperfine -N --warmup 5 --runs "$runs" --export-json "$tmp/r.json" \
  -n 'node -e 0' 'node -e 0' \
  -n 'natchain --help' 'node dist/cli/main.js --help' \
  -n 'natchain --version' 'node dist/cli/main.js --version' \
  -n 'natchain validate topologies/seed-vpn.yaml' 'node dist/cli/main.js validate topologies/seed-vpn.yaml' \
  -n 'natchain __complete -- solve topologies/seed-vpn.yaml --forward ""' 'node dist/cli/main.js __complete -- solve topologies/seed-vpn.yaml --forward ""' \
  > /dev/null
node -e '
  const { results } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const cpu = (r) => (r.user + r.system) * 1000;
  const [base] = results;
  console.log(`| command | wall (median) | x node -e 0 | CPU (mean) | x node -e 0 |`);
  console.log(`|---|---:|---:|---:|---:|`);
  for (const r of results) {
    console.log(`| \`${r.command}\` | ${(r.median * 1000).toFixed(0)} ms | ${(r.median / base.median).toFixed(2)} | ${cpu(r).toFixed(0)} ms | ${(cpu(r) / cpu(base)).toFixed(2)} |`);
  }
' "$tmp/r.json"
