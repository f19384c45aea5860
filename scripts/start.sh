#!/usr/bin/env bash
# Sets up what the daemon needs, then runs it in the foreground with its built-in defaults
# (or the flags given, e.g. --config FILE). Ctrl-C stops it.
set -euo pipefail
here="$(dirname "$(readlink -f "$0")")"
"$here/setup.sh" --daemon
echo "start: containerd-ts in the foreground (Ctrl-C stops it); from another terminal: ctr -a /run/containerd-ts/containerd-ts.sock version"
exec "$here/../bin/containerd-ts" "$@"
