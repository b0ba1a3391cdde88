#!/usr/bin/env bash
# Runs every benchmark: scripts/run-bench.sh BUILD_DIR
# Full-size models are synthesized once into BUILD_DIR/bench-models (no downloads):
# an r1-distill-qwen-1.5b-shaped Q8_0 model, with the real DeepSeek-R1-Distill-Qwen vocabulary
# when ../shared is present. Each benchmark prints its figure and the limit it is measured
# against; medians of repeated runs are what to quote.
set -euo pipefail
build=${1:?build dir}
root=$(cd "$(dirname "$0")/.." && pwd)
models="$build/bench-models"
mkdir -p "$models"

vocab="$root/../shared/models/ggml-vocab-deepseek-r1-qwen.gguf"
model="$models/r1-distill-qwen-1.5b-q8_0.gguf"
if [ ! -f "$model" ]; then
  args=(model synth --shape r1-distill-qwen-1.5b --type q8_0 -o "$model")
  [ -f "$vocab" ] && args+=(--vocab "$vocab")
  "$build/sinan" "${args[@]}"
fi
export SINAN_BENCH_MODEL="$model"

for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_counters_tabular=true
done
