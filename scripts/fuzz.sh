#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, no libtorch needed) in build-fuzz/ and runs each
# for SECONDS (default 60):  scripts/fuzz.sh [SECONDS] [TARGET...]  (default: every target).
#   safetensors_header  the safetensors header parser
#   config              data.json and FSDP2 yaml through their typed readers
#   data_row            one dataset row through every row format
# Exit status non-zero on any crash or sanitizer report. New interesting inputs go to build-fuzz/corpus/<target>
# (the seeds in fuzz/corpus/<target> stay untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors_header config data_row)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOMNITUNE_WITH_TORCH=OFF -DOMNITUNE_BUILD_TESTS=OFF -DOMNITUNE_FUZZ=ON -DOMNITUNE_SANITIZE=ON >/dev/null
for target in "${targets[@]}"; do
  cmake --build build-fuzz --target "${target}_fuzz"
  mkdir -p "build-fuzz/corpus/$target"
  echo "== $target: ${seconds}s"
  "./build-fuzz/fuzz/${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "build-fuzz/corpus/$target" "fuzz/corpus/$target" 2>&1 | tail -n 15
done
