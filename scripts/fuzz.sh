#!/usr/bin/env bash
# Builds the safetensors header fuzz target with clang (libFuzzer + ASan + UBSan, no libtorch needed)
# in build-fuzz/ and runs it for SECONDS (default 60). Exit status non-zero on any crash or sanitizer
# report. New interesting inputs go to build-fuzz/corpus (the seeds in fuzz/corpus stay untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOMNITUNE_WITH_TORCH=OFF -DOMNITUNE_BUILD_TESTS=OFF -DOMNITUNE_FUZZ=ON -DOMNITUNE_SANITIZE=ON >/dev/null
cmake --build build-fuzz --target safetensors_header_fuzz
mkdir -p build-fuzz/corpus
# Seeds: fuzz/corpus/safetensors_header (small valid and invalid files).
./build-fuzz/fuzz/safetensors_header_fuzz -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
  build-fuzz/corpus fuzz/corpus/safetensors_header 2>&1 | tail -n 15
