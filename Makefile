# OmniTune: the two commands of the README and a few developer targets. Each installs what is
# missing first (scripts/setup.sh: Debian packages, the project venv with the pinned torch wheel).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: test build setup configure format fuzz bench-gemm bench-thinker bench-chunked-loss test-asan clean

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The end-to-end demo: tiny model, real-media dataset, fine-tune, resume, Hugging Face export. Builds only
# the two programs it runs (not the tests and benchmarks).
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target omnitune make_demo_data
	scripts/demo.sh $(BUILD)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

configure: setup
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMNITUNE_WERROR=ON

setup:
	@scripts/setup.sh

# Rewrites every tracked C++ file in the house style (.clang-format); `make test` checks it.
format:
	scripts/format.sh

# libFuzzer + ASan/UBSan on the parsers of outside input (safetensors header, data.json + FSDP2 yaml, dataset
# rows); FUZZ_SECONDS bounds each run.
FUZZ_SECONDS ?= 60
fuzz: setup
	scripts/fuzz.sh $(FUZZ_SECONDS)

# This machine's GEMM roofline (fp32 and bf16; CUDA devices too when present).
bench-gemm: build
	$(BUILD)/bench/gemm_peak

# Forward+backward of the thinker, OmniTune vs transformers eager, same weights and batch.
bench-thinker: build
	.venv/bin/python bench/thinker_vs_transformers.py --build $(BUILD)

# Peak memory of lm_head + loss, forward+backward: full logits vs the chunked fused loss (and their equality).
bench-chunked-loss: build
	$(BUILD)/bench/chunked_loss_memory

# The C++ unit tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: setup
	@test -f build-asan/build.ninja || cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOMNITUNE_SANITIZE=ON
	cmake --build build-asan -j $(JOBS) --target omnitune_tests
	ASAN_OPTIONS=detect_leaks=0 build-asan/tests/omnitune_tests

clean:
	rm -rf $(BUILD) build-fuzz build-asan
