#!/usr/bin/env bash
# `make demo`: a tour of the command line, end to end on embedded defaults.
# 1. Generates a story with the small trained TinyStories model (when ../shared is present).
# 2. Writes a DeepSeek-R1-Distill-Qwen-shaped model (real tokenizer when ../shared is present),
#    shows what is in it, renders a chat with its template, tokenizes it and round-trips it.
set -euo pipefail
sinan=${1:?path to the sinan binary}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/build/run"
mkdir -p "$work"
shared="$root/../shared/models"

if [ -f "$shared/stories260K.gguf" ]; then
  echo "== sinan run -m stories260K.gguf -p 'Once upon a time' -n 64 --temp 0"
  "$sinan" run -m "$shared/stories260K.gguf" -p "Once upon a time" -n 64 --temp 0
  echo
fi

vocab="$shared/ggml-vocab-deepseek-r1-qwen.gguf"
model="$work/demo-r1-qwen-tiny.gguf"
args=(model synth --shape tiny --type q8_0 -o "$model")
[ -f "$vocab" ] && args+=(--vocab "$vocab")
"$sinan" "${args[@]}"

echo
echo "== sinan model info $model"
"$sinan" model info "$model"

cat > "$work/messages.json" <<'JSON'
[
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "What is 17 * 23?"},
  {"role": "assistant", "content": "<think>17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391</think>391"},
  {"role": "user", "content": "用中文再说一遍。"}
]
JSON
echo
echo "== sinan template -m $model --messages $work/messages.json"
"$sinan" template -m "$model" --messages "$work/messages.json" | tee "$work/prompt.txt"
echo
echo
# The template already wrote the BOS token: --no-special adds no second one.
echo "== sinan tokenize -m $model --no-special --pieces < prompt.txt"
"$sinan" tokenize -m "$model" --no-special --pieces < "$work/prompt.txt"
echo
echo "== round trip: tokenize | detokenize"
"$sinan" tokenize -m "$model" --no-special < "$work/prompt.txt" | "$sinan" detokenize -m "$model" > "$work/roundtrip.txt"
if cmp -s "$work/prompt.txt" "$work/roundtrip.txt"; then echo "identical"; else echo "DIFFERENT"; exit 1; fi
