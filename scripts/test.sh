#!/usr/bin/env bash
# Sets everything up, then runs every test: unit tests of all packages, then the
# end-to-end tests against the real ctr, runc and registry. Needs root.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
cd "$here/.."
export COREPACK_INTEGRITY_KEYS=0
pnpm typecheck
pnpm lint
pnpm test
