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
# Which packages. By default those a cold shader cache can afford in CI:
# the engine and the graph compiler (every op lowered and run against the
# CPU executor): about 75 s cold here. MESA25_PKGS=all runs every package whose tests use the device;
# the kernels' conformance table alone then compiles for about 27 minutes
# on a cold cache on a 2-core machine, the training session's tests over 8 (its hundreds of specializations go
# through Mesa 25's slow compile, below), past what CI can spend.
pkgs=()
if [ "${MESA25_PKGS:-}" = all ]; then
  for p in $("$GO" list ./...); do
    # Captured first: grep -q would end the pipe early, and go list's
    # SIGPIPE would then read as "not a device package" under pipefail.
    deps=$("$GO" list -test -deps "$p")
    if grep -qx github.com/nfvk/nfvk/engine <<<"$deps"; then
      pkgs+=("$p")
    fi
  done
else
  read -r -a pkgs <<<"${MESA25_PKGS:-./engine/ ./graph/gpu/}"
fi
echo "mesa25: ${pkgs[*]}"
# Mesa 25's lavapipe compiles a kernel many times slower than 22.3's (its
# LLVM coroutine pass, on kernels with barriers: minutes for the largest),
# and keeps the result in Mesa's shader cache (~/.cache/mesa_shader_cache*):
# the first run on a machine compiles every kernel, later ones reuse them.
# Hence the longer per-package timeout.
NFVK_VALIDATE=1 "$GO" test -count=1 -timeout 60m "${pkgs[@]}"
