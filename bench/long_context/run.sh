#!/usr/bin/env bash
# Long-context figures (issue 5): KV bytes per token of the model and cache type, and the speed and
# peak resident memory of a long prompt with an F16 and a Q8_0 KV cache.
#
#   bench/long_context/run.sh SINAN [N_PROMPT] [SHAPE:TYPE]
#
# SHAPE:TYPE defaults to r1-distill-qwen-1.5b:q8_0: the shape with random weights, which
# `sinan bench --synthetic` writes to ~/.cache/sinan the first time. N_PROMPT defaults to 16384.
# On 2 cores a 16K prompt on the 1.5B shape takes tens of minutes per cache type: run it under
# `nice`, once, and use a smaller N_PROMPT to iterate.
set -euo pipefail
sinan=${1:?usage: run.sh SINAN [N_PROMPT] [SHAPE:TYPE]}
n_prompt=${2:-16384}
synthetic=${3:-r1-distill-qwen-1.5b:q8_0}

for kv in f16 q8_0; do
    echo "== --synthetic $synthetic, pp$n_prompt, --kv-type $kv"
    "$sinan" bench --synthetic "$synthetic" -p "$n_prompt" -n 16 -r 1 --kv-type "$kv" |
        grep -E '^(model|pp|tg)|resident memory'
done
file=${XDG_CACHE_HOME:-$HOME/.cache}/sinan/synth-${synthetic%%:*}-${synthetic##*:}.gguf
echo "== KV bytes per token ($file)"
"$sinan" model info "$file" | grep 'kv bytes/token'
