#!/usr/bin/env bash
# Installs what containerd-ts needs on a fresh Debian machine with Node.js 20, then
# builds it. Idempotent: anything already present is left alone.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

need_apt=()
command -v containerd >/dev/null || need_apt+=(containerd)   # reference daemon, its ctr and shim
command -v runc >/dev/null || need_apt+=(runc)
command -v pigz >/dev/null || need_apt+=(pigz)
command -v mkfs.btrfs >/dev/null || need_apt+=(btrfs-progs)
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v losetup >/dev/null || need_apt+=(mount)
command -v zstd >/dev/null || need_apt+=(zstd)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The packaged registry starts itself on :5000; tests start their own on loopback.
if systemctl is-active --quiet docker-registry 2>/dev/null; then systemctl stop docker-registry || true; fi

# This registry serves no signatures, so corepack's integrity check is turned off;
# no download prompt: CI has no terminal.
export COREPACK_INTEGRITY_KEYS=0 COREPACK_ENABLE_DOWNLOAD_PROMPT=0
want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null </dev/null || true)" != "$want_pnpm" ]; then
  echo "setup: providing pnpm $want_pnpm"
  if ! corepack enable pnpm 2>/dev/null || [ "$(pnpm --version 2>/dev/null </dev/null)" != "$want_pnpm" ]; then
    npm install -g "pnpm@$want_pnpm" >/dev/null
  fi
fi
export npm_config_nodedir=/usr   # native addons build against Node's own headers
pnpm install --frozen-lockfile
pnpm build
