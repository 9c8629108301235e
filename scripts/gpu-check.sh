#!/usr/bin/env bash
# The GPU check, offline, from the device kit (`deno task gpu-kit` builds it in .gpu-kit/):
# unpacks Deno, the npm modules and (where the machine lacks it) the Vulkan loader, then prints
# `deno task doctor`, the WebGPU adapter, clip-tiny parity on TF.js webgpu and on ONNX Runtime's
# GPU providers, and ViT-B/16 figures (images/s, the training step at batch 32, peak memory) into
# results/bench/gpu.json (bench/gpu.ts). A software adapter (llvmpipe, lavapipe) is named as such.
#
#   scripts/gpu-check.sh [--kit DIR] [--reduced] [--reps N]
#
# --reduced: clip-tiny at batch 4 (the check of the check on a machine without a GPU).
# Needs bash, tar and xz (or python3); nothing from the network.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
kit="$repo/.gpu-kit"
bench_args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --kit) kit="$(cd "$2" && pwd)"; shift 2 ;;
    --reduced) bench_args+=(--reduced); shift ;;
    --reps) bench_args+=(--reps "$2"); shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for file in deno.xz node_modules.tar.xz manifest.json; do
  if [ ! -f "$kit/$file" ]; then
    echo "gpu-check: $kit/$file missing: build the kit with 'deno task gpu-kit' and copy it here" >&2
    exit 2
  fi
done
started=$SECONDS
unpacked="$kit/unpacked"
mkdir -p "$unpacked"

# xz -dc, or python3's lzma where xz is not installed.
unxz_to() {
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" >"$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1" >"$2"
  fi
}

if [ ! -x "$unpacked/deno" ]; then
  unxz_to "$kit/deno.xz" "$unpacked/deno.tmp"
  chmod +x "$unpacked/deno.tmp"
  mv "$unpacked/deno.tmp" "$unpacked/deno"
fi
export PATH="$unpacked:$PATH"

# The npm modules, unless this checkout has its own.
if [ ! -d "$repo/node_modules/.deno" ]; then
  unxz_to "$kit/node_modules.tar.xz" "$unpacked/node_modules.tar"
  tar -xf "$unpacked/node_modules.tar" -C "$repo"
  rm "$unpacked/node_modules.tar"
fi

# Deno's WebGPU opens libvulkan.so.1; a compute-only image may have the driver's ICD without it.
has_vulkan_loader() {
  local ldconfig
  for ldconfig in ldconfig /sbin/ldconfig /usr/sbin/ldconfig; do
    if "$ldconfig" -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then return 0; fi
  done
  return 1
}
if ! has_vulkan_loader; then
  deb="$(ls "$kit"/libvulkan1_*.deb | head -n1)"
  mkdir -p "$unpacked/vulkan"
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$deb" "$unpacked/vulkan"
  else
    (cd "$unpacked/vulkan" && ar x "$deb" && tar -xf data.tar.*)
  fi
  export LD_LIBRARY_PATH="$unpacked/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "Vulkan loader: from the kit ($(basename "$deb"))"
fi

export DENO_DIR="$unpacked/deno-dir"
export DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
export DENO_WEBGPU_BACKEND="${DENO_WEBGPU_BACKEND:-vulkan}"
# Each Vulkan adapter request probes Wayland, which complains without a session runtime directory.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
fixture=()
[ -d "$kit/fixtures/clip-tiny" ] && fixture=(--fixture "$kit/fixtures/clip-tiny")

cd "$repo"
echo "== deno $(deno --version | head -n1 | cut -d' ' -f2), kit built $(sed -n 's/.*"built": "\(.*\)".*/\1/p' "$kit/manifest.json")"
echo "== deno task doctor"
# The task's command with --cached-only: `deno task` itself would ask the registry about each import.
deno run -A --cached-only src/cli/main.ts doctor
echo "== bench/gpu.ts ${bench_args[*]}"
status=0
deno run -A --cached-only bench/gpu.ts "${bench_args[@]}" "${fixture[@]}" || status=$?
echo "== gpu check: $((SECONDS - started)) s, exit $status"
exit "$status"
