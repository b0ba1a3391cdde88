#!/usr/bin/env bash
# Long-context figures (issue 5): KV bytes per token of the model and cache type, and the speed and
# peak resident memory of a long prompt, without and with a sliding window, with an F16 and a Q8_0
# KV cache.
#
#   bench/long_context/run.sh SINAN [N_PROMPT] [SHAPE:TYPE] [WINDOW] [KV_TYPES]
#
# SHAPE:TYPE defaults to r1-distill-qwen-1.5b:q8_0: the shape with random weights, which
# `sinan bench --synthetic` writes to ~/.cache/sinan the first time. N_PROMPT defaults to 16384,
# WINDOW to 4096 (each prompt runs with full attention and with that window), KV_TYPES to
# "f16 q8_0". The prompt goes in batches of 512, as `sinan run` processes it, once (no warm-up);
# then decoding is timed after a prompt of that length (tg16@dN_PROMPT, `sinan bench -d`), which
# computes the prompt again. On 2 quiet cores a 16K prompt on the 1.5B shape takes about 27 minutes
# with full attention and 16 with the window, each twice: use a smaller N_PROMPT to iterate.
set -euo pipefail
sinan=${1:?usage: run.sh SINAN [N_PROMPT] [SHAPE:TYPE] [WINDOW] [KV_TYPES]}
n_prompt=${2:-16384}
synthetic=${3:-r1-distill-qwen-1.5b:q8_0}
window=${4:-4096}
kv_types=${5:-f16 q8_0}

for kv in $kv_types; do
    for w in 0 "$window"; do
        echo "== --synthetic $synthetic, pp$n_prompt, --kv-type $kv, --swa-window $w"
        "$sinan" bench --synthetic "$synthetic" -p "$n_prompt" -n 16 -r 1 --warmup 0 --kv-type "$kv" \
            --swa-window "$w" | grep -E '^(model|sliding|pp|tg)|resident memory'
        "$sinan" bench --synthetic "$synthetic" -p 0 -n 16 -d "$n_prompt" -r 1 --warmup 0 --kv-type "$kv" \
            --swa-window "$w" | grep -E '^tg|resident memory'
    done
done
file=${XDG_CACHE_HOME:-$HOME/.cache}/sinan/synth-${synthetic%%:*}-${synthetic##*:}.gguf
echo "== KV bytes per token ($file)"
"$sinan" model info "$file" | grep 'kv bytes/token'
