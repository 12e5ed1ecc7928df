#!/usr/bin/env bash
# make demo: OmniTune end to end on this machine. Creates a tiny random Qwen3-Omni, a small multimodal
# dataset with real media (pictures, 44.1 kHz speech-like audio, videos with a sound track, text and
# tool-call rows), fine-tunes it on 2 ranks (omnitune launch, FSDP2 sharding) until the loss has clearly fallen, saves,
# resumes for a few more steps from the checkpoint on 1 process while a validation loss is logged, exports a
# Hugging Face checkpoint, checks that it loads, and lets the fine-tuned model answer a few prompts.
#   scripts/demo.sh [BUILD_DIR]   (outputs under $DEMO_DIR, default BUILD_DIR/demo-run)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OMNITUNE=$BUILD/src/omnitune/omnitune
D=${DEMO_DIR:-$BUILD/demo-run}
FIRST=${DEMO_STEPS:-90}
MORE=${DEMO_MORE_STEPS:-20}
PORT=${DEMO_MASTER_PORT:-29533}
rm -rf "$D"
mkdir -p "$D"
start=$(date +%s)
step() { echo; echo "== $* ($(($(date +%s) - start))s)"; }

step "1/7 a tiny random Qwen3-Omni (init-model) with the Qwen3-Omni tokenizer"
$OMNITUNE init-model --config assets/configs/tiny-qwen3-omni --out "$D/model" --seed 1
cp assets/tokenizer/qwen3-omni/tokenizer.json assets/tokenizer/qwen3-omni/tokenizer_config.json "$D/model/"

step "2/7 a multimodal dataset with real media files (8 rows held out for validation)"
"$BUILD/demo/make_demo_data" --out "$D/data" --tokenizer "$D/model" --rows 56 --val-rows 8 --seed 0
cat > "$D/model.json" <<JSON
{
  "model_id": "qwen3_omni_moe",
  "init_from_hf_path": "$D/model",
  "image_encoder": {"vision_encoder": {"freeze": false, "attn_implementation": "sdpa"},
                    "vision_projector": {"freeze": false}},
  "audio_encoder": {"audio_encoder": {"freeze": false, "attn_implementation": "sdpa"}},
  "text_decoder": {"freeze": false, "attn_implementation": "sdpa"},
  "loss_cfg": {"loss_type": "per_token_loss", "compute_mode": "dynamic_chunk", "chunk_size": 4096}
}
JSON
$OMNITUNE data preview --mm-data "$D/data/data.json" --index 0 | head -n 20

cat > "$D/fsdp2.yaml" <<YAML
sharding_size: auto      # on 2 ranks each keeps half of every parameter, gradient and AdamW moment
param_dtype: fp32
reduce_dtype: fp32
YAML

TRAIN=(train --mm-data "$D/data/data.json" --mm-model "$D/model.json" --fsdp2-config "$D/fsdp2.yaml"
       --micro-batch-size 2 --global-batch-size 4
       --lr 1e-2 --min-lr 1e-3 --lr-decay-style cosine --lr-warmup-fraction 0.05 --weight-decay 0.01 --clip-grad 1.0
       --lr-decay-iters $((FIRST + MORE)) --seed 42 --log-interval 5 --eval-interval 10
       --save "$D/save" --tensorboard-dir "$D/save/tensorboard")

step "3/7 fine-tune for $FIRST steps on 2 ranks, parameters sharded (global batch 4 = micro-batch 2 x 2 ranks)"
$OMNITUNE launch --nproc-per-node 2 --master-port "$PORT" -- "${TRAIN[@]}" --train-iters "$FIRST" \
  --save-interval $((FIRST / 2))

step "4/7 resume from the checkpoint for $MORE more steps, on 1 process (micro-batch 2 x 2 accumulation steps)"
$OMNITUNE "${TRAIN[@]}" --load "$D/save" --train-iters $((FIRST + MORE))

step "5/7 export a Hugging Face checkpoint"
$OMNITUNE convert dcp-to-hf --hf-dir "$D/model" --dcp-dir "$D/save" --save-dir "$D/hf-export"
$OMNITUNE inspect "$D/hf-export" --summary

step "6/7 check: the loss fell, and the export and the checkpoint give the same loss on a sample"
losses=$(grep -o '"loss": *[-0-9.eE+]*' "$D/save/metrics.jsonl" | sed 's/.*: *//')
first=$(head -n 1 <<<"$losses")
last=$(tail -n 1 <<<"$losses")
echo "logged loss: first $first, last $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.75 * a) }' || { echo "error: the loss did not fall clearly" >&2; exit 1; }
$OMNITUNE data dump --mm-data "$D/data/data.json" --index 0 --out "$D/sample.safetensors"
loss_on() { $OMNITUNE forward --model "$1" --batch "$D/sample.safetensors" --out "$2" | sed -n 's/^loss //p'; }
export_loss=$(loss_on "$D/hf-export" "$D/out-hf.safetensors")
checkpoint_loss=$(loss_on "$D/save" "$D/out-ckpt.safetensors")
echo "loss on sample 0: Hugging Face export $export_loss, training checkpoint $checkpoint_loss"
[[ -n "$export_loss" && "$export_loss" == "$checkpoint_loss" ]] || { echo "error: the export and the checkpoint differ" >&2; exit 1; }
eval_losses=$(grep -o '"eval_loss": *[-0-9.eE+]*' "$D/save/metrics.jsonl" | sed 's/.*: *//')
[[ -n "$eval_losses" ]] || { echo "error: no validation loss was logged" >&2; exit 1; }
echo "validation loss (8 held-out rows): first $(head -n 1 <<<"$eval_losses"), last $(tail -n 1 <<<"$eval_losses")"

step "7/7 the fine-tuned model answers (omnitune generate: greedy, the training template and media processing)"
ask() { echo "> ${*: -1}"; $OMNITUNE generate --max-new-tokens 40 "$@" 2>&1; }
ask --model "$D/hf-export" --mm-data "$D/data/data.json" --image "$D/data/media/image_4.png" --prompt $'<image>\nDescribe this picture.'
ask --model "$D/save" --prompt "What is 3 plus 4?"
ask --model "$D/save" --audio "$D/data/media/voice_0.wav" --prompt $'<audio>\nWhat do you hear?'

echo
echo "== done in $(($(date +%s) - start))s"
echo "model (random init):     $D/model"
echo "dataset:                 $D/data/data.json"
echo "checkpoints:             $D/save (iter_*, latest_checkpointed_iteration.txt)"
echo "metrics:                 $D/save/metrics.jsonl, TensorBoard: $D/save/tensorboard"
echo "loss curve:              $D/save/loss_curve.svg"
echo "Hugging Face export:     $D/hf-export"
