#!/usr/bin/env bash
# make test-mesa25: the tests of every package that runs on the device
# (those whose tests depend on ./engine), under the validation layer, on a
# second driver: Mesa 25.0 lavapipe from bookworm-backports (fetch.sh),
# selected for these tests alone with VK_ICD_FILENAMES and LD_LIBRARY_PATH
# while the system keeps its own Mesa. Same go test parallelism as the
# main run. NFVK_MESA25_DIR overrides the cache directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
dir=${NFVK_MESA25_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nfvk/mesa-25.0}
bash tools/mesa25/fetch.sh "$dir"
# shellcheck source=/dev/null
. "$dir/env"
driver=$("$GO" run ./cmd/nfvk devices)
if ! grep -q "Mesa 25\.0" <<<"$driver"; then
  echo "mesa25: the selected driver is not Mesa 25.0:" >&2
  echo "$driver" >&2
  exit 1
fi
echo "mesa25: $(head -n1 <<<"$driver")"
# Which packages: every package whose tests use the device (MESA25_PKGS
# names others, e.g. "./engine/ ./graph/gpu/").
pkgs=()
if [ -z "${MESA25_PKGS:-}" ] || [ "${MESA25_PKGS}" = all ]; then
  for p in $("$GO" list ./...); do
    # Captured first: grep -q would end the pipe early, and go list's
    # SIGPIPE would then read as "not a device package" under pipefail.
    deps=$("$GO" list -test -deps "$p")
    if grep -qx github.com/nfvk/nfvk/engine <<<"$deps"; then
      pkgs+=("$p")
    fi
  done
else
  read -r -a pkgs <<<"${MESA25_PKGS}"
fi
echo "mesa25: ${pkgs[*]}"
# Mesa 25's llvmpipe compiles a kernel 5 to 20 times slower than 22.3's
# with its defaults (measured in user CPU seconds on a cold cache, this
# 2-core machine: the kernels' GEMM conformance table 67 s against 14 s,
# the reduction and WS tables 170 s): its new pass pipeline splits the
# compute coroutine on unoptimized IR and then generates code for 256-bit
# vectors (AVX2), where most of the time goes. Two documented llvmpipe
# switches, for this pass only, bring it back to 22.3's cost: 128-bit
# vectors (LP_NATIVE_VECTOR_WIDTH=128: a subgroup of 4 lanes, not 8, a
# shape real CPUs without AVX2 get anyway) and no IR optimization passes
# (GALLIVM_PERF=nopt: the shaders run slower, which these small tests do
# not notice). GEMM table 19 s, reductions and WS 9 s. README,
# Reliability.
export LP_NATIVE_VECTOR_WIDTH=${LP_NATIVE_VECTOR_WIDTH:-128}
export GALLIVM_PERF=${GALLIVM_PERF:-nopt}
# A cold shader cache every time (Mesa keeps compiled kernels in
# ~/.cache/mesa_shader_cache*): CI's time never depends on an earlier
# run. MESA_SHADER_CACHE_DIR set by the caller is kept.
if [ -z "${MESA_SHADER_CACHE_DIR:-}" ]; then
  MESA_SHADER_CACHE_DIR=$(mktemp -d)
  trap 'rm -rf "$MESA_SHADER_CACHE_DIR"' EXIT
  export MESA_SHADER_CACHE_DIR
fi
echo "mesa25: LP_NATIVE_VECTOR_WIDTH=$LP_NATIVE_VECTOR_WIDTH GALLIVM_PERF=$GALLIVM_PERF, shader cache $MESA_SHADER_CACHE_DIR"
NFVK_VALIDATE=1 "$GO" test -count=1 -timeout 60m "${pkgs[@]}"
