#!/usr/bin/env bash
# Builds, on this machine, everything the GPU check runs on a machine with
# a GPU and no Go toolchain or network: the nfvk binary, the test binaries
# of the GPU packages, the Vulkan loader and validation layer (Debian
# .debs), and Fashion-MNIST. Writes one archive, .gpucheck/bundle.tar.xz
# (ignored by git), which the device tool carries; tools/gpu-check/run.sh
# unpacks and runs it there. See README.md beside this file.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
out=.gpucheck
# What travels: the working tree and the carried archive, 64 MiB together.
limit=$((64 << 20))
# The packages whose tests are the GPU conformance: the engine, every
# kernel against its CPU reference, the compiled graph, timm parity of the
# models and the training session.
pkgs=(engine kernels graph/gpu nfnet train)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out" "$stage/bin" "$stage/debs" "$stage/fashion-mnist"

echo "gpu-check: building bin/nfvk and the test binaries (${pkgs[*]})"
# -s -w: no symbol tables; the archive must fit beside the working tree.
# -buildvcs=true: nfvk version names the commit even where GOFLAGS
# turns VCS stamping off.
"$GO" build -buildvcs=true -ldflags='-s -w' -o "$stage/bin/nfvk" ./cmd/nfvk
for p in "${pkgs[@]}"; do
	"$GO" test -c -ldflags='-s -w' -o "$stage/bin/${p//\//_}.test" "./$p"
done
git rev-parse HEAD >"$stage/REVISION" 2>/dev/null || echo unknown >"$stage/REVISION"
git status --porcelain | grep -q . && echo "(with uncommitted changes)" >>"$stage/REVISION" || true

echo "gpu-check: fetching the Vulkan loader and validation layer, and Fashion-MNIST"
(cd "$stage/debs" && apt-get download libvulkan1 vulkan-validationlayers dataset-fashion-mnist 2>/dev/null)
fm=$(ls "$stage"/debs/dataset-fashion-mnist_*.deb)
dpkg -x "$fm" "$stage/fm"
# Raw idx files compress better under xz than as the package's gzip.
for f in "$stage"/fm/usr/share/datasets/fashion-mnist/*.gz; do
	gzip -dc "$f" >"$stage/fashion-mnist/$(basename "$f" .gz)"
done
rm -rf "$stage/fm" "$fm"

echo "gpu-check: compressing"
tar -C "$stage" -cf - . | xz -9 -T0 >"$out/bundle.tar.xz.tmp"
mv "$out/bundle.tar.xz.tmp" "$out/bundle.tar.xz"

tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
bundle=$(stat -c %s "$out/bundle.tar.xz")
total=$((tree + bundle))
printf 'gpu-check: working tree %.1f MiB + bundle %.1f MiB = %.1f MiB of the 64 MiB a device call carries\n' \
	"$(echo "$tree/1048576" | bc -l)" "$(echo "$bundle/1048576" | bc -l)" "$(echo "$total/1048576" | bc -l)"
if ((total > limit)); then
	echo "gpu-check: too large for one device call: trim the bundle (fewer test binaries) or the tree" >&2
	exit 1
fi
