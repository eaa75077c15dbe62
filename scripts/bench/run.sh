#!/usr/bin/env bash
# Scale benchmark of the foundation issue: 1,000 sites each behind its own gateway, 1k/10k/100k
# forwards; validate + solve + render for every gateway, each size in a fresh process.
# Prints a Markdown table for docs/benchmarks.md. Usage: npm run bench [-- RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
npm run --silent build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| forwards | intents | YAML | validate+solve | render | total (wall) | CPU | peak RSS |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in 1000 10000 100000; do
  node -e "import('./scripts/bench/generate.mjs').then(m => process.stdout.write(m.generateTopology(1000, $n)))" > "$tmp/t.yaml"
  best=""
  for _ in $(seq "$runs"); do
    line=$(node scripts/bench/scale.mjs "$tmp/t.yaml")
    total=$(node -e "console.log(JSON.parse(process.argv[1]).totalMs)" "$line")
    if [ -z "$best" ] || [ "$total" -lt "$(node -e "console.log(JSON.parse(process.argv[1]).totalMs)" "$best")" ]; then best=$line; fi
  done
  node -e '
    const r = JSON.parse(process.argv[1]);
    const s = (ms) => (ms / 1000).toFixed(2) + " s";
    console.log(`| ${r.forwards} | ${r.intents} | ${r.yamlMiB} MiB | ${s(r.validateSolveMs)} | ${s(r.renderMs)} | ${s(r.totalMs)} | ${s(r.cpuMs)} | ${r.maxRssMiB} MiB |`);
  ' "$best"
done

# The CLI end to end at 100k forwards (Node start-up, reading, output included): wall time and peak RSS.
echo
echo "| command (100k forwards) | wall | peak RSS |"
echo "|---|---:|---:|"
for cmd in "validate" "solve" "solve --json" "render"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f '%e %M' -o "$tmp/time" node dist/cli/main.js $cmd "$tmp/t.yaml" > /dev/null
  read -r secs kib < "$tmp/time"
  echo "| \`natchain $cmd\` | ${secs} s | $((kib / 1024)) MiB |"
done
