#!/usr/bin/env bash
# The GPU check, on the machine with the GPU, from the repository root:
# unpacks .gpucheck/bundle.tar.xz (made by prepare.sh), then lists the
# devices, runs the GPU packages' conformance tests under the validation
# layer, nfvk bench's cases, one epoch of the default model, and
# dm_nfnet_f0's training step at 192 px in nfvk and in timm (PyTorch,
# eager fp32 and AMP) on the same GPU. Everything lands in $OUT (default
# ./gpu-check-out), at most 8 files, as the device tool brings back.
# Each stage has its own time limit and a failure does not stop the next:
# summary.txt says what passed. See README.md beside this file.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
OUT=${OUT:-$root/gpu-check-out}
mkdir -p "$OUT"
work=$(mktemp -d)
summary=$OUT/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
failed=0
fail() { note "FAIL $*"; failed=1; }
t0=$(date +%s)
since() { echo "$(($(date +%s) - t0)) s"; }

note "gpu-check $(date -u +%FT%TZ) on $(hostname)"
tar -xJf .gpucheck/bundle.tar.xz -C "$work" || { fail "cannot unpack .gpucheck/bundle.tar.xz (run tools/gpu-check/prepare.sh first)"; exit 1; }
note "revision: $(tr '\n' ' ' <"$work/REVISION")"
# The loader and the validation layer in a private prefix: the system's
# own packages are left alone.
for f in "$work"/debs/*.deb; do dpkg -x "$f" "$work/vk"; done
export LD_LIBRARY_PATH=$work/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_LAYER_PATH=$work/vk/usr/share/vulkan/explicit_layer.d
nfvk=$work/bin/nfvk

# Stage 1: devices. NVIDIA's ICD file may sit outside the loader's search
# path (the device machines keep it under /usr/local/nvidia).
listdev() { "$nfvk" devices -v 2>&1 || "$nfvk" devices 2>&1; }
listdev >"$OUT/devices.txt"
if ! grep -E '^#[0-9]+ ' "$OUT/devices.txt" | grep -vq '(cpu,'; then
	for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
		if [ -f "$icd" ]; then
			export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
			{ echo "== with VK_DRIVER_FILES=$icd"; listdev; } >>"$OUT/devices.txt"
			break
		fi
	done
fi
cat "$OUT/devices.txt"
grep -q '^selected' "$OUT/devices.txt" || { fail "no Vulkan device (devices.txt)"; exit 1; }
sel=$(sed -n 's/^selected[^#]*#\([0-9]*\).*/\1/p' "$OUT/devices.txt" | tail -1)
gpu=1
grep -q "^#$sel .*(cpu," "$OUT/devices.txt" && gpu=0
note "device: $(grep '^selected' "$OUT/devices.txt" | tail -1) ($(since))"
((gpu)) || note "the selected device is a CPU: GPU-sized stages run smaller and timm is not compared"

# Stage 2: conformance, every GPU package's tests under the validation layer
# (a CPU device needs far longer, the more so on a loaded machine).
tlimit=300
((gpu)) || tlimit=1200
: >"$OUT/tests.log"
for t in "$work"/bin/*.test; do
	name=$(basename "$t" .test)
	dir=${name//_//}
	start=$(date +%s)
	if (cd "$root/$dir" && NFVK_VALIDATE=1 timeout $tlimit "$t" -test.v -test.count=1 -test.timeout=$((tlimit - 10))s) >>"$OUT/tests.log" 2>&1; then
		note "PASS tests ./$dir ($(($(date +%s) - start)) s)"
	else
		fail "tests ./$dir ($(($(date +%s) - start)) s; tests.log)"
	fi
done

# Stage 3: the benchmark registry (make bench's cases).
quick=()
((gpu)) || quick=(--quick) # the whole registry takes minutes on a CPU
if timeout 240 "$nfvk" bench "${quick[@]}" --json "$OUT/bench.json" >"$OUT/bench.txt" 2>&1; then
	note "PASS bench ($(since); bench.txt, bench.json)"
else
	fail "bench (bench.txt)"
fi

# Stage 4: one epoch of the default model on Fashion-MNIST.
if timeout $((gpu ? 300 : 1200)) "$nfvk" train --data-dir "$work/fashion-mnist" --epochs 1 --runs "$work/runs" --run gpu-check >"$OUT/train.log" 2>&1; then
	note "PASS train one epoch ($(since)): $(grep -o '"test_acc[^,]*' "$work/runs/gpu-check/metrics.jsonl" | tail -1)"
else
	fail "train (train.log)"
fi
cp "$work/runs/gpu-check/metrics.jsonl" "$OUT/metrics.jsonl" 2>/dev/null

# Stage 5: dm_nfnet_f0's training step at 192 px, nfvk then timm (on a
# CPU device, the 64 px case once: a 192 px step takes minutes there).
f0case='TrainStep/f0-192px-b32' reps=5
((gpu)) || { f0case='TrainStep/f0-64px-b8' reps=1; }
echo "== nfvk $f0case" >"$OUT/f0.txt"
if timeout 240 "$nfvk" bench --heavy --filter "^$f0case\$" --reps $reps -v >>"$OUT/f0.txt" 2>&1; then
	note "PASS nfvk $f0case ($(since); f0.txt)"
else
	fail "nfvk $f0case (f0.txt)"
fi
if ((gpu)); then
	echo "== timm dm_nfnet_f0, batch 32, 192 px" >>"$OUT/f0.txt"
	if PYTHONUNBUFFERED=1 timeout 240 python3 tools/gpu-check/timm_f0.py --batch 32 --size 192 >>"$OUT/f0.txt" 2>&1; then
		note "PASS timm dm_nfnet_f0 ($(since); f0.txt)"
	else
		fail "timm dm_nfnet_f0 (f0.txt)"
	fi
fi
note "done in $(since)"
rm -rf "$work"
exit $failed
