#!/usr/bin/env bash
# make deps: check for what nfvk needs on Debian/Ubuntu and install what is
# missing (as root, or through sudo). Elsewhere, print what to install.
set -euo pipefail

# Runtime: the Vulkan loader and lavapipe (the CPU driver, used when there
# is no GPU). Build/test: headers for the cgo shim, the shader compiler
# and validator, the validation layer the tests run under. Data: the
# Fashion-MNIST files `make train` uses; libjpeg-turbo's TurboJPEG API,
# which the streaming pipeline decodes JPEGs with (cgo). Cross build (make cross): the
# MinGW-w64 C compiler for the Windows CLI; the win32-threads flavour
# alone, since cgo needs no C++ and no POSIX threads from it. Desktop
# example (examples/desktop, Gio): the X11, Wayland, xkbcommon, EGL and
# GLES headers its cgo windowing code builds against, and Xvfb, the X
# server its test draws the window on. Data-parallel training: Open MPI
# (mpirun, and libmpi.so.40, which nfvk opens at run time).
PKGS=(mesa-vulkan-drivers libvulkan1 libvulkan-dev glslc spirv-tools vulkan-validationlayers gcc dataset-fashion-mnist
  libturbojpeg0-dev
  gcc-mingw-w64-x86-64-win32
  pkg-config libwayland-dev libx11-dev libx11-xcb-dev libxkbcommon-x11-dev libxcursor-dev libxfixes-dev
  libegl1-mesa-dev libgles2-mesa-dev libffi-dev xvfb
  openmpi-bin libopenmpi-dev)

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "deps: Go is not installed: get Go 1.26 or newer from https://go.dev/dl/" >&2
  exit 1
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: not a Debian-like system; install the equivalents of: ${PKGS[*]}" >&2
  echo "      (a Vulkan loader and driver, Vulkan headers, glslc, spirv-val, the Khronos validation layer)" >&2
  exit 1
fi

# The second driver make test runs the GPU tests on: Mesa 25.0 lavapipe
# from bookworm-backports, unpacked into a cache directory, not installed.
bash "$(dirname "$0")/../mesa25/fetch.sh"

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "deps: missing packages and no root: run" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
