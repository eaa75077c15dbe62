#!/usr/bin/env bash
# `npm test`: installs what is missing, type-checks, then runs every test (unit, kernel, lab end-to-end).
# The last line is always "N passed, N failed"; the exit code is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! bash scripts/install-deps.sh; then
  echo "0 passed, 1 failed"
  exit 1
fi
if ! npx tsc -p test/tsconfig.json --noEmit; then
  echo "type check failed"
  echo "0 passed, 1 failed"
  exit 1
fi
# Unit tests first (fast, pure), then real-kernel tests, then the lab end-to-end tests.
if [ $# -eq 0 ]; then
  set -- 'test/unit/**/*.test.ts' 'test/kernel/**/*.test.ts' 'test/e2e/**/*.test.ts'
fi
npx mocha "$@"
