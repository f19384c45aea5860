#!/usr/bin/env bash
# Sets everything up, then runs the daemon with its built-in defaults (or the flags given).
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh"
exec "$here/../bin/containerd-ts" "$@"
