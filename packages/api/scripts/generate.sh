#!/usr/bin/env bash
# Regenerates src/gen/ from proto/ with protoc and ts-proto. The output is committed,
# so building the package never needs protoc; run this after editing a .proto file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if ! command -v protoc >/dev/null 2>&1 || [ ! -f /usr/include/google/protobuf/any.proto ]; then
  echo "protoc or the well-known .proto files are missing; installing protobuf-compiler and libprotobuf-dev" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler libprotobuf-dev >/dev/null
fi

plugin="$here/node_modules/.bin/protoc-gen-ts_proto"
if [ ! -x "$plugin" ]; then
  echo "ts-proto is not installed: run pnpm install first" >&2
  exit 1
fi

opts=(
  outputServices=grpc-js
  esModuleInterop=true
  importSuffix=.js
  useDate=false
  env=both
  useExactTypes=false
  snakeToCamel=keys_json
  outputTypeAnnotations=static-only
  exportCommonSymbols=false
)

# API_GEN_OUT lets the freshness test generate into a scratch directory.
out="${API_GEN_OUT:-$here/src/gen}"
rm -rf "$out"
mkdir -p "$out"

# cgroup counters are uint64 and reach 2^63 and 2^64-1 ("no limit"), beyond what a
# JavaScript number holds exactly, so those files use bigint; the containerd API's
# 64-bit fields (sizes, offsets, pids) stay numbers.
mapfile -t api_files < <(cd proto && find . -name '*.proto' -not -path './github.com/containerd/cgroups/*' | sed 's|^\./||' | LC_ALL=C sort)
mapfile -t cgroups_files < <(cd proto && find ./github.com/containerd/cgroups -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)

run_protoc() {
  local long="$1"
  shift
  protoc \
    --plugin=protoc-gen-ts_proto="$plugin" \
    --ts_proto_out="$out" \
    --ts_proto_opt="$(IFS=,; echo "${opts[*]}"),forceLong=$long" \
    -I proto -I /usr/include \
    "$@"
}

run_protoc number "${api_files[@]}"
run_protoc bigint "${cgroups_files[@]}"

# The wire schema strict request decoding checks bodies against (field numbers, wire types,
# Go field names for containerd's error texts), from the same .proto files.
descriptors="$(mktemp)"
trap 'rm -f "$descriptors"' EXIT
protoc --descriptor_set_out="$descriptors" --include_imports -I proto -I /usr/include "${api_files[@]}"
node "$here/scripts/wire-schema.mjs" "$descriptors" "$out/wire-schema.ts"

echo "generated $(find "$out" -name '*.ts' | wc -l) files into $out from $(( ${#api_files[@]} + ${#cgroups_files[@]} )) .proto files"
