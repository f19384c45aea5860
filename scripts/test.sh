#!/usr/bin/env bash
# Sets everything up, then runs every check: typecheck, lint, the unit tests of all
# packages, then the end-to-end tests against the real ctr, runc and registry. Needs root.
# Ends with one line for the whole run, `tests: N passed, N failed, N skipped`, after the
# names of whatever failed; exits non-zero when anything failed.
set -uo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh" || exit $?
cd "$here/.."
export TURBO_TELEMETRY_DISABLED=1

results=.test-results
rm -rf "$results" ./*/.test-results ./*/*/.test-results ./*/*/*/.test-results
mkdir -p "$results"
# Typecheck and lint print only their errors; a failure is recorded for the summary.
check() {
  local name=$1; shift
  echo "test: $name"
  if ! "$@" >"$results/$name.log" 2>&1; then
    grep -v '^\s*$' "$results/$name.log" | grep -v '^ *•' | tail -n 100
    echo "$name" >> "$results/steps.txt"
  fi
}
check typecheck pnpm exec turbo run typecheck --concurrency=100% --output-logs=errors-only
check lint pnpm exec biome lint --log-level=error .
# Each package's vitest writes a JSON report beside its compact output; the summary reads them.
echo "test: unit and end-to-end tests"
pnpm exec turbo run test --concurrency=1 --continue --output-logs=new-only \
  -- --reporter=dot --reporter=json --outputFile.json=.test-results/vitest.json
exec node scripts/test-summary.mjs "$PWD"
