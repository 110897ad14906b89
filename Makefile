# nfvk: the user's commands are `make train` and `make test`; both install
# what is missing first (make deps).
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)

# Packages with no Vulkan (run under the race detector), and the pure-Go
# tests of packages that also drive the GPU.
PURE_PKGS := ./safetensors/ ./data/ ./agc/ ./kernels/ref/
NFNET_PURE := 'Config|Layout|Param|Variant|MAC|Pad|Init|Gamma|Beta|DropPath|F0Blocks|Stem|Validate|Spatial|Spec|Names|RegBlocks|NoFinal|MakeDivisible|StdConv'

.PHONY: all deps shaders build test test-race fuzz bench vet train

all: build

deps:
	@bash tools/deps/deps.sh

# Rebuild the SPIR-V of every changed shader (needs glslc, spirv-val).
shaders:
	$(GO) run ./tools/glslc -dir shaders

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# Train the default model (nano) on Fashion-MNIST on the best device with
# the default recipe (README, Training); the run lands in runs/<UTC time>/.
# TRAIN_FLAGS passes extra flags, e.g. TRAIN_FLAGS="--epochs 20".
train: deps
	$(GO) build -o bin/nfvk ./cmd/nfvk
	./bin/nfvk train $(TRAIN_FLAGS)

# Every test runs with the Vulkan validation layer (NFVK_VALIDATE=1) and
# fails on any message it reports.
test: deps
	$(GO) vet ./...
	NFVK_VALIDATE=1 $(GO) test -count=1 ./...
	$(MAKE) test-race fuzz

test-race:
	$(GO) test -count=1 -race $(PURE_PKGS)
	$(GO) test -count=1 -race -run $(NFNET_PURE) ./nfnet/
	$(GO) test -count=1 -race -run 'FreeList|SelectDevice|Errors' ./engine/

# A short fuzz run of the parsers that read user files.
fuzz:
	$(GO) test -run '^$$' -fuzz=FuzzParse -fuzztime=20s ./safetensors/

# Microbenchmarks timed with GPU timestamps; rewrites bench/RESULTS.md.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime=5x -timeout 60m ./bench/ | tee bench/last.txt
	$(GO) run ./bench/report < bench/last.txt > bench/RESULTS.md
	@echo "wrote bench/RESULTS.md"
