# nfvk: the user's commands are `make train` and `make test`; both install
# what is missing first (make deps).
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)

# Packages with no Vulkan (run under the race detector): the model layer
# and the graph core build without a GPU.
PURE_PKGS := ./safetensors/ ./data/ ./agc/ ./kernels/ref/ ./nfnet/ ./graph/ ./internal/...

.PHONY: all deps shaders build test test-race fuzz bench vet train

all: build

deps:
	@bash tools/deps/deps.sh

# Rebuild the SPIR-V of every changed shader (needs glslc, spirv-val).
shaders:
	$(GO) run ./tools/glslc -dir shaders

# bin/nfvk runs alone, or data-parallel under mpirun/srun (README).
build:
	$(GO) build ./...
	$(GO) build -o bin/nfvk ./cmd/nfvk

vet:
	$(GO) vet ./...

# Cross builds, checked by `make test` and never run here: the CLI and the
# engine's tests for Windows through MinGW-w64 (make deps installs it),
# and the packages without cgo for macOS and Windows (the engine needs cgo,
# and there is no darwin C toolchain here). The shim's Vulkan headers are
# the host's (libvulkan-dev), in a directory MinGW searches after its own
# system headers (-idirafter): glibc's headers never mix in, and vulkan-go
# keeps its bundled ones (its -I comes first). Outputs go to a temp dir.
VULKAN_INCLUDE ?= /usr/include
CROSS_PURE := ./safetensors/ ./data/ ./agc/ ./kernels/ref/ ./graph/ ./nfnet/ ./mpi/
.PHONY: cross
cross:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/include"; \
	for d in vulkan vk_video; do \
		if [ -d "$(VULKAN_INCLUDE)/$$d" ]; then ln -s "$(VULKAN_INCLUDE)/$$d" "$$tmp/include/$$d"; fi; \
	done; \
	for os in darwin/arm64 darwin/amd64 windows/amd64; do \
		echo "cross: $$os, no cgo: $(CROSS_PURE)"; \
		GOOS=$${os%/*} GOARCH=$${os#*/} CGO_ENABLED=0 $(GO) vet $(CROSS_PURE); \
		GOOS=$${os%/*} GOARCH=$${os#*/} CGO_ENABLED=0 $(GO) build $(CROSS_PURE); \
	done; \
	export GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc \
		CGO_CFLAGS="-O2 -g -idirafter $$tmp/include"; \
	echo "cross: windows/amd64, cgo (MinGW-w64): ./engine/ tests, ./cmd/nfvk"; \
	$(GO) vet ./engine/; \
	$(GO) test -c -o "$$tmp/engine.test.exe" ./engine/; \
	$(GO) build -o "$$tmp/nfvk.exe" ./cmd/nfvk

# Train the default model (nano) on Fashion-MNIST on the best device with
# the default recipe (README, Training); the run lands in runs/<UTC time>/.
# Without a GPU it runs on Mesa 25.0's lavapipe, about twice as fast as
# the system's 22.3 (tools/mesa25/run.sh; NFVK_LAVAPIPE=system keeps the
# system driver). TRAIN_FLAGS passes extra flags, e.g. TRAIN_FLAGS="--epochs 20".
train: deps
	$(GO) build -o bin/nfvk ./cmd/nfvk
	bash tools/mesa25/run.sh ./bin/nfvk train $(TRAIN_FLAGS)

# Every test runs with the Vulkan validation layer (NFVK_VALIDATE=1) and
# fails on any message it reports.
test: deps
	$(GO) vet ./...
	$(MAKE) cross
	NFVK_VALIDATE=1 $(GO) test -count=1 ./...
	$(MAKE) test-gpu-paths
	$(MAKE) test-mesa25
	$(MAKE) test-race fuzz
	$(MAKE) desktop

# The desktop example, its own module (examples/desktop): vet, and its
# test, which opens the window on Xvfb (make deps installs it), trains,
# classifies and checks a screenshot.
.PHONY: desktop
desktop:
	cd examples/desktop && $(GO) vet ./... && NFVK_VALIDATE=1 $(GO) test -count=1 ./...

# A real GPU's code paths on lavapipe (README, Testing for real GPUs on
# lavapipe): the GPU packages with dispatches reordered, staging forced
# and a small GPU's limits; the graph compiler's tests with a second
# seed; and under GPU-assisted validation the engine tests and the kernel
# tests whose shaders llvmpipe compiles quickly once instrumented (the
# GEMM, conv, WS and optimizer kernels take minutes each).
GPU_PKGS := ./engine/... ./kernels/... ./graph/... ./nfnet/...
GPUAV_TESTS := TestFillCopyAxpby|TestCopyAxpby16|TestConvert|TestAxpbyInPlace|TestActivations|TestReductions|TestSoftmaxCrossEntropy$$|TestOptimEMA|TestAvgPool2D|TestGlobalAvgPool|TestResidual$$|TestDropPathAndDropoutBitExact|TestSEGate|TestLossScale
.PHONY: test-gpu-paths
test-gpu-paths:
	NFVK_VALIDATE=1 NFVK_SHUFFLE_DISPATCH=7 NFVK_FORCE_STAGING=1 NFVK_LIMITS=small $(GO) test -count=1 $(GPU_PKGS)
	NFVK_VALIDATE=1 NFVK_SHUFFLE_DISPATCH=11 $(GO) test -count=1 ./graph/gpu/
	NFVK_VALIDATE=gpu $(GO) test -count=1 ./engine/
	NFVK_VALIDATE=gpu $(GO) test -count=1 -run '$(GPUAV_TESTS)' ./kernels/

# Every tuning candidate (GEMM tiles, convolution choices, reductions of
# every tuning class) against every case of its conformance table, the
# convolutions in both storage types: what make test covers in one
# rotation (kernels TestTuneCandidatesConform). Long on lavapipe.
.PHONY: test-tune-full
test-tune-full: deps
	NFVK_VALIDATE=1 NFVK_TUNE_CONFORM=full $(GO) test -count=1 -timeout 3h -run 'TestTuneCandidatesConform' ./kernels/

# Data-parallel training alone (`make test` runs these within ./...):
# the mpi package's collectives on 3 ranks under mpirun, replicas in one
# process against one whole-batch process, and nfvk train on 2 ranks of
# lavapipe (1e-5 of one process, bit-identical reruns, accumulation,
# resume across rank counts, disagreeing ranks, a killed rank).
.PHONY: test-mpi
test-mpi: deps
	NFVK_VALIDATE=1 $(GO) test -count=1 -run 'Collectives|Launched|InitBadLibrary|Replicas|NewDist|Buckets|SplitPhase|Distributed' ./mpi/ ./graph/ ./nfnet/ ./train/ ./cmd/nfvk/

# Every device package's tests again on a second driver, Mesa 25.0
# lavapipe from bookworm-backports, unpacked into ~/.cache/nfvk/mesa-25.0
# (make deps fetches it) and selected for these tests alone, on a cold
# shader cache (tools/mesa25; MESA25_PKGS="./engine/ ..." a subset).
.PHONY: test-mesa25
test-mesa25:
	GO=$(GO) bash tools/mesa25/test.sh

test-race:
	$(GO) test -count=1 -race $(PURE_PKGS)
	$(GO) test -count=1 -race -run 'FreeList|SelectDevice|Errors' ./engine/

# A short fuzz run of the parsers that read user files: safetensors, idx,
# CIFAR-10, image headers, the streaming decoder, the folder index cache,
# tar shards, checkpoint metadata.
fuzz:
	$(GO) test -run '^$$' -fuzz=FuzzParse -fuzztime=20s ./safetensors/
	for f in FuzzReadIDX FuzzReadCIFAR10 FuzzDecodeImage FuzzDecodeSample FuzzReadIndexCache FuzzOpenShards; do \
		$(GO) test -run '^$$' -fuzz="^$$f\$$" -fuzztime=10s ./data/ || exit 1; \
	done
	$(GO) test -run '^$$' -fuzz='^FuzzDecodeCheckpoint$$' -fuzztime=10s ./train/

# Microbenchmarks timed with GPU timestamps; rewrites bench/RESULTS.md.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime=5x -timeout 60m ./bench/ | tee bench/last.txt
	$(GO) run ./bench/report < bench/last.txt > bench/RESULTS.md
	@echo "wrote bench/RESULTS.md"
