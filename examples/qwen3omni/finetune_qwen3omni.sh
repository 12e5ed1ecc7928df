#!/bin/bash
# Fine-tunes Qwen3-Omni with OmniTune: the seed's finetune_qwen3omni.sh, same files, flags and launch
# variables. Run it on every node with that node's NODE_RANK (MASTER_ADDR = node 0's address). The seed's
# Megatron/NPU switches are accepted and listed as ignored; TP/PP other than 1 are rejected; CP > 1 is Ulysses
# context parallelism (long sequences: e.g. CP=8 SEQ_LEN=32768).
# One process: NPUS_PER_NODE=1 NNODES=1.
set -euo pipefail

NPUS_PER_NODE=${NPUS_PER_NODE:-8}
MASTER_ADDR=${MASTER_ADDR:-localhost}
MASTER_PORT=${MASTER_PORT:-6000}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
WORLD_SIZE=$(($NPUS_PER_NODE * $NNODES))

OMNITUNE=${OMNITUNE:-build/src/omnitune/omnitune}
MM_DATA="./examples/qwen3omni/data.json"
MM_MODEL="./examples/qwen3omni/model.json"
LOAD_PATH="ckpt/hf_path/Qwen3-Omni-30B-A3B-Instruct"   # a Hugging Face directory or a converted/saved checkpoint
SAVE_PATH="save_dir"
# FSDP2 as the seed: parameters, gradients and AdamW state sharded over all ranks (sharding_size auto).
FSDP2_PATH="./examples/qwen3omni/fsdp2_config.yaml"

TP=1
PP=1
CP=${CP:-1}
MBS=1
GRAD_ACC_STEP=1
SEQ_LEN=${SEQ_LEN:-2048}
DP=$(($WORLD_SIZE/$TP/$PP/$CP))
GBS=$(($MBS*$GRAD_ACC_STEP*$DP))

DISTRIBUTED_ARGS="
    --nproc-per-node $NPUS_PER_NODE \
    --nnodes $NNODES \
    --node-rank $NODE_RANK \
    --master-addr $MASTER_ADDR \
    --master-port $MASTER_PORT
"

GPT_ARGS="
    --use-mcore-models \
    --tensor-model-parallel-size ${TP} \
    --pipeline-model-parallel-size ${PP} \
    --context-parallel-size ${CP} \
    --context-parallel-algo ulysses_cp_algo \
    --micro-batch-size ${MBS} \
    --global-batch-size ${GBS} \
    --tokenizer-type NullTokenizer \
    --vocab-size 152064 \
    --seq-length ${SEQ_LEN} \
    --make-vocab-size-divisible-by 1 \
    --normalization RMSNorm \
    --use-fused-rmsnorm \
    --swiglu \
    --use-fused-swiglu \
    --no-masked-softmax-fusion \
    --lr 1.0e-5 \
    --lr-decay-style cosine \
    --weight-decay 0 \
    --train-iters 5000 \
    --lr-warmup-fraction 0.1 \
    --clip-grad 0.0 \
    --adam-beta1 0.9 \
    --adam-beta2 0.999 \
    --no-gradient-accumulation-fusion \
    --seed 1234 \
    --load $LOAD_PATH \
    --no-load-optim \
    --no-load-rng \
    --no-save-optim \
    --no-save-rng \
    --num-workers 8 \
    --use-torch-fsdp2 \
    --untie-embeddings-and-output-weights \
    --ckpt-format torch_dcp \
    --fsdp2-config-path $FSDP2_PATH \
    --optimizer-selection fused_torch_adamw \
    --use-cpu-initialization \
    --distributed-timeout-minutes 60 \
"

MM_ARGS="
    --mm-data $MM_DATA \
    --mm-model $MM_MODEL
"

OUTPUT_ARGS="
    --log-interval 1 \
    --save-interval 10000 \
    --eval-interval 10000 \
    --eval-iters 5000 \
    --save $SAVE_PATH \
    --tensorboard-dir $SAVE_PATH/tensorboard \
"

mkdir -p logs
logfile=logs/train_$(date +%Y%m%d)_$(date +%H%M%S).log
# NCCL as the seed (not yet run on a GPU by the project: DISTRIBUTED_BACKEND=gloo carries GPU jobs through host memory).
$OMNITUNE launch $DISTRIBUTED_ARGS -- train $GPT_ARGS $MM_ARGS $OUTPUT_ARGS \
    --distributed-backend "${DISTRIBUTED_BACKEND:-nccl}" 2>&1 | tee "$logfile"
