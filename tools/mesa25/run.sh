#!/usr/bin/env bash
# Runs an nfvk command (make train's) on Mesa 25.0's lavapipe when the
# machine has no GPU: on the CPUs measured here its compute code trains
# nano about twice as fast as Debian bookworm's Mesa 22.3 (README,
# Training), on the same LLVM. Usage: run.sh NFVK ARGS...; NFVK is also
# asked for the device list. The system's drivers are kept when a GPU (any
# device that is not a CPU) is there, when the user picked a device or
# driver (NFVK_DEVICE, VK_ICD_FILENAMES, VK_DRIVER_FILES), when
# NFVK_LAVAPIPE=system, or when Mesa 25.0 cannot be fetched (fetch.sh,
# which make deps runs). One line says which driver runs and why.
set -euo pipefail
nfvk=$1
if [ -n "${NFVK_DEVICE:-}${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] || [ "${NFVK_LAVAPIPE:-}" = system ]; then
  exec "$@"
fi
if ! devices=$("$nfvk" devices 2>/dev/null); then
  exec "$@" # nfvk says why there is no device
fi
listed=$(grep -E '^#[0-9]+ ' <<<"$devices" || true)
if [ -z "$listed" ] || grep -qv '(cpu, ' <<<"$listed"; then
  exec "$@"
fi
dir=${NFVK_MESA25_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nfvk/mesa-25.0}
if ! bash "$(dirname "$0")/fetch.sh" "$dir" >&2; then
  echo "lavapipe: Mesa 25.0 could not be fetched; training on the system's driver" >&2
  exec "$@"
fi
# shellcheck source=/dev/null
. "$dir/env"
echo "lavapipe: no GPU here; training on Mesa 25.0's lavapipe from $dir (NFVK_LAVAPIPE=system keeps the system's)" >&2
exec "$@"
