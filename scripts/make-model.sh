#!/usr/bin/env bash
# `make model`: writes a small DeepSeek-R1-Distill-Qwen-shaped model with random weights to
# ./models/ for trying the server (its answers are noise; the plumbing is real). With ../shared
# present it carries the real DeepSeek-R1 tokenizer and chat template.
set -euo pipefail
sinan=${1:?path to the sinan binary}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/models"
out="$root/models/r1-tiny.gguf"
args=(model synth --shape tiny --type q8_0 -o "$out")
vocab="$root/../shared/models/ggml-vocab-deepseek-r1-qwen.gguf"
[ -f "$vocab" ] && args+=(--vocab "$vocab")
"$sinan" "${args[@]}"
echo "make model: wrote $out; \`make run\` serves it"
