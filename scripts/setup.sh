#!/usr/bin/env bash
# Installs what containerd-ts needs on a fresh Debian machine with Node.js 20, then builds
# it. Idempotent: anything already present is left alone. One line per step, with its time;
# a step's own output goes to a log under .setup-logs/ and is shown only when the step fails.
#   scripts/setup.sh            everything the daemon and the test suite need
#   scripts/setup.sh --daemon   only what running the daemon needs
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$PWD
mode=${1:-all}
# shellcheck source=scripts/steps.sh
source "$repo/scripts/steps.sh"

# Debian packages: command or file that tells it is there -> package.
daemon_apt=(
  "containerd:containerd"         # containerd-shim-runc-v2 (runtime v2), ctr
  "runc:runc"
  "losetup:mount"
  # @containerd-ts/sys builds a small C addon (flock, getdents64, malloc_trim) so that an
  # idle daemon does not load koffi (~1.8 MB of RSS); without them koffi makes those calls.
  "cc:gcc"
  "/usr/include/stdio.h:libc6-dev"
  # zstd-napi (zstd layers) builds its addon with node-gyp when its prebuilt binary cannot be
  # downloaded (github.com is not always reachable): python3, make and a C++ compiler.
  "python3:python3"
  "make:make"
  "g++:g++"
)
test_apt=(
  "pigz:pigz"                     # the reference containerd decompresses with it
  "zstd:zstd"
  "mkfs.btrfs:btrfs-progs"
  "mkfs.ext4:e2fsprogs"
  "dmsetup:dmsetup"               # the devmapper plugin reports the kernel's answer through it
  "/usr/bin/docker-registry:docker-registry"
  "protoc:protobuf-compiler"
  "/usr/include/google/protobuf/any.proto:libprotobuf-dev"
  "/usr/share/gocode/src/github.com/containerd/containerd/api/services/content/v1/content.proto:golang-github-containerd-containerd-dev"
  "/usr/share/gocode/src/google.golang.org/grpc/debian/missing-sources/grpc/grpc-proto/master/grpc/health/v1/health.proto:golang-google-grpc-dev"
  "/bin/busybox:busybox-static"   # the runnable test image is built from it
  "go:golang-go"                  # `go tool pprof` reads the debug endpoint's profiles
  "openssl:openssl"               # the registry-auth tests make a CA and certificates
  "git:git"                       # the repository test lists the tracked files
  "/usr/lib/cni/bridge:containernetworking-plugins"  # ctr-ts run --cni against ctr's
)
wanted=("${daemon_apt[@]}")
[ "$mode" = --daemon ] || wanted+=("${test_apt[@]}")
need_apt=()
for entry in "${wanted[@]}"; do
  probe=${entry%%:*} pkg=${entry#*:}
  if [[ $probe == /* ]]; then [ -e "$probe" ] && continue; else command -v "$probe" >/dev/null && continue; fi
  need_apt+=("$pkg")
done
apt_install() {
  export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "$@"
}
if [ ${#need_apt[@]} -gt 0 ]; then
  step "Debian packages: ${need_apt[*]}" apt_install "${need_apt[@]}"
fi
# The packaged registry and containerd start themselves as services where systemd runs;
# the tests start their own on temporary directories, and containerd-ts uses its own paths.
for svc in docker-registry containerd; do
  if systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done

# pnpm, the exact version package.json names, installed with npm so that `pnpm` works in any
# directory (corepack's shim needs signature keys this registry does not serve).
want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
pnpm_version() { (cd / && pnpm --version 2>/dev/null </dev/null) || true; }
install_pnpm() {
  # A corepack shim left by an earlier setup would shadow (and block) npm's pnpm.
  case "$(readlink -f "$(command -v pnpm || true)" 2>/dev/null)" in
  *corepack*) corepack disable pnpm ;;
  esac
  npm install -g --no-fund --no-audit --loglevel=error "pnpm@$want_pnpm"
}
if [ "$(pnpm_version)" != "$want_pnpm" ]; then
  step "pnpm $want_pnpm" install_pnpm
  hash -r
  [ "$(pnpm_version)" = "$want_pnpm" ] || { echo "setup: pnpm --version does not print $want_pnpm after installing it" >&2; exit 1; }
fi

export npm_config_nodedir=/usr TURBO_TELEMETRY_DISABLED=1   # native addons build against Node's own headers
step "node modules (pnpm install)" pnpm install --frozen-lockfile --reporter=append-only
step "build (turbo)" pnpm exec turbo run build --concurrency=100% --output-logs=errors-only
