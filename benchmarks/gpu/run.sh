#!/usr/bin/env bash
# Run ON a GPU machine (H100/H200) through the device tool, after benchmarks/gpu/prepare.sh here:
#   run(command="bash benchmarks/gpu/run.sh", carry=[".gpu"], timeout_s=600)
# Builds llama-cpp-python with CUDA (sm_90 only, no multimodal library), writes two synthetic
# GGUFs (SmolLM2-135M-shaped and Llama-3-8B-shaped, random Q4_0 weights: timing only), runs
# bench_generation.py --generation on the small one (cot / direct / turns at N = 1, 16, 64, the
# raw decode limit, context evaluations) and protocol_estimate.py on the 8B one (raw prefill,
# raw decode at N = 1, 16, 64, the leaderboard's estimated time in logprob and cot mode).
# Figures land in $OUT (figures.txt, estimate-8b.json, build.log). Each step has its own time
# limit so that one slow step leaves the others their figures.
# STICKROLE_GPU_DRYRUN=1 (on a CPU, with .venv): skip the build, tiny shapes, small N, to check
# the script itself.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
log() { echo "$*" | tee -a "$OUT/figures.txt"; }
dry=${STICKROLE_GPU_DRYRUN:-0}
if [ "$dry" = 1 ]; then
  PY=.venv/bin/python; LAYERS_GPU=0; N="1 4"; ITEMS=8; SMALL="--layers 2 --embd 128 --ff 256 --heads 4 --kv-heads 2 --vocab 49152"
  BIG="--layers 2 --embd 256 --ff 512 --heads 8 --kv-heads 2 --vocab 128256"
  export PYTHONPATH=$PWD
else
  PY=python3; LAYERS_GPU=-1; N="1 16 64"; ITEMS=64; SMALL="--layers 30 --embd 576 --ff 1536 --heads 9 --kv-heads 3 --vocab 49152"; BIG=""
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/figures.txt"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  t0=$(date +%s)
  CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAVA_BUILD=off" \
  CMAKE_BUILD_PARALLEL_LEVEL=16 timeout 420 "$PY" -m pip install --no-index --no-deps \
    --no-build-isolation --no-cache-dir --target /tmp/site .gpu/src/llama_cpp_python-*.tar.gz \
    > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
  log "llama-cpp-python CUDA build: $(( $(date +%s) - t0 )) s"
fi
"$PY" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'offload', llama_cpp.llama_supports_gpu_offload())" | tee -a "$OUT/figures.txt"
t0=$(date +%s)
# shellcheck disable=SC2086
"$PY" benchmarks/synthetic_gguf.py /tmp/synthetic-smol.gguf $SMALL --donor .gpu/donor.gguf | tee -a "$OUT/figures.txt"
# shellcheck disable=SC2086
"$PY" benchmarks/synthetic_gguf.py /tmp/synthetic-8b.gguf $BIG --donor .gpu/donor.gguf | tee -a "$OUT/figures.txt"
log "synthetic GGUFs written: $(( $(date +%s) - t0 )) s"
# shellcheck disable=SC2086
timeout 240 "$PY" benchmarks/bench_generation.py --generation --model /tmp/synthetic-smol.gguf \
  --n-gpu-layers $LAYERS_GPU --n $N --items $ITEMS --cot-tokens 64 --conv-units 2 \
  2>&1 | tee -a "$OUT/figures.txt"
# shellcheck disable=SC2086
timeout 150 "$PY" benchmarks/protocol_estimate.py measure .gpu/leaderboard-plan.json \
  --model /tmp/synthetic-8b.gguf --n-gpu-layers $LAYERS_GPU --n $N --prompt 1024 \
  --json "$OUT/estimate-8b.json" 2>&1 | tee -a "$OUT/figures.txt"
