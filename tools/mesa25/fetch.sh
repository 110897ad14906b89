#!/usr/bin/env bash
# Fetches Mesa 25.0's lavapipe from Debian bookworm-backports into a cache
# directory (argument 1; default $NFVK_MESA25_DIR, else
# ~/.cache/nfvk/mesa-25.0), without installing anything: apt-get download
# with a sources list of its own (the machine's apt sources need not list
# backports), dpkg -x to unpack. The packages: the driver, and the libdrm
# it needs newer than bookworm's. Writes DIR/lvp_icd.json, an ICD manifest
# with the driver's absolute path, and DIR/env, the variables that select
# it (VK_ICD_FILENAMES, LD_LIBRARY_PATH). A complete cache is reused.
set -euo pipefail
dir=${1:-${NFVK_MESA25_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nfvk/mesa-25.0}}
if [ -f "$dir/env" ]; then
  exit 0
fi
for tool in apt-get dpkg; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "mesa25: needs $tool (Debian bookworm or a derivative)" >&2
    exit 1
  fi
done
PKGS=(mesa-vulkan-drivers libdrm2 libdrm-amdgpu1)
mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
cat > "$work/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
SRC
opts=(-qq -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)
if [ "$(id -u)" -eq 0 ]; then
  opts+=(-o APT::Sandbox::User=root) # the _apt user cannot write to $work
fi
echo "mesa25: fetching ${PKGS[*]} from bookworm-backports into $dir"
apt-get "${opts[@]}" update
(cd "$work/debs" && apt-get "${opts[@]}" download "${PKGS[@]/%//bookworm-backports}")
for deb in "$work"/debs/*.deb; do
  dpkg -x "$deb" "$work/root"
done
lvp=$(find "$work/root" -name libvulkan_lvp.so | head -n1)
if [ -z "$lvp" ]; then
  echo "mesa25: no libvulkan_lvp.so in ${PKGS[*]}" >&2
  exit 1
fi
rm -rf "$dir/root"
mv "$work/root" "$dir/root"
lib=$(dirname "${lvp/$work\/root/$dir/root}")
ls "$work"/debs > "$dir/packages"
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$lib/libvulkan_lvp.so\"#" \
  "$dir"/root/usr/share/vulkan/icd.d/lvp_icd.json > "$dir/lvp_icd.json"
printf 'export VK_ICD_FILENAMES=%q\nexport LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n' "$dir/lvp_icd.json" "$lib" > "$dir/env.tmp"
mv "$dir/env.tmp" "$dir/env"
echo "mesa25: $(cat "$dir/packages" | tr '\n' ' ')"
