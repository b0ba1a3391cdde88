#!/usr/bin/env bash
# Serving benchmark: starts `sinan serve` with one model and measures
#   1. streamed chat completions at 1, 4, 8 and 16 concurrent streams (stream_bench.py): aggregate
#      tokens/s and time-to-first-token P50/P99 (targets from the serving issue: 8 streams reach
#      at least 4x the tokens/s of one; TTFT P99 under 500 ms at 8 streams, 128-token prompts,
#      tiny model);
#   2. a short headless Locust run on POST /api/v1/chat (locustfile.py): requests/s, latency
#      P50/P99, and tokens/s from the server's own /metrics.
#
#   bench/serve/run.sh [SINAN_BINARY] [MODEL.gguf]
#
# Defaults: build/release/sinan; a tiny synthetic Q8_0 model with the DeepSeek-R1-Distill-Qwen
# vocabulary from ../shared (made once into a temp dir). The response cache is off so every
# request is generated. Knobs (environment): STREAMS (1,4,8,16), ROUNDS (3), MAX_TOKENS (64),
# PROMPT_WORDS (110), PARALLEL (16), THREADS (server threads per forward pass; default: the
# server's), LOCUST_USERS (8), LOCUST_TIME (20s), SHAPE (tiny; e.g. r1-distill-qwen-1.5b).
# Needs python3; the Locust part is skipped with a message when locust (Debian python3-locust)
# is absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sinan=${1:-$root/build/release/sinan}
model=${2:-}
[ -x "$sinan" ] || { echo "run.sh: no sinan binary at $sinan; build first (make build)" >&2; exit 2; }

work=$(mktemp -d /tmp/sinan-bench-serve.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$model" ]; then
  vocab="$root/../shared/models/ggml-vocab-deepseek-r1-qwen.gguf"
  model="$work/${SHAPE:-tiny}.gguf"
  args=(model synth --shape "${SHAPE:-tiny}" --type q8_0 -o "$model")
  if [ -f "$vocab" ]; then args+=(--vocab "$vocab"); else echo "run.sh: $vocab absent; synthetic vocabulary" >&2; fi
  "$sinan" "${args[@]}" >/dev/null
fi
model_id=$(basename "$model" .gguf)

serve_args=(serve -m "$model" --host 127.0.0.1 --port 0 --data-dir "$work/data" --cache off
            --parallel "${PARALLEL:-16}" --queue 256 --api-keys off)
[ -n "${THREADS:-}" ] && serve_args+=(-t "$THREADS")
"$sinan" "${serve_args[@]}" >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
url=
for _ in $(seq 1 600); do
  url=$(grep -o 'http://[0-9.:]*' "$work/serve.out" 2>/dev/null | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: sinan serve exited:" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "run.sh: sinan serve printed no listening line" >&2; exit 1; }

echo "== sinan serve $model_id at $url ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "== streamed chat completions, max_tokens ${MAX_TOKENS:-64}"
python3 "$root/bench/serve/stream_bench.py" --url "$url" --model "$model_id" --streams "${STREAMS:-1,4,8,16}" \
  --rounds "${ROUNDS:-3}" --max-tokens "${MAX_TOKENS:-64}" --prompt-words "${PROMPT_WORDS:-110}"

generated_tokens() {
  python3 - "$url" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode()
print(sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith("sinan_generated_tokens_total")))
EOF
}

if ! command -v locust >/dev/null 2>&1; then
  echo "== Locust not installed (Debian python3-locust): /api/v1/chat load run skipped"
  exit 0
fi
users=${LOCUST_USERS:-8}
duration=${LOCUST_TIME:-20s}
echo "== Locust, POST /api/v1/chat, $users users for $duration, max_tokens ${LOCUST_MAX_TOKENS:-32}"
tokens_before=$(generated_tokens)
t0=$(date +%s.%N)
SINAN_MAX_TOKENS=${LOCUST_MAX_TOKENS:-32} locust -f "$root/bench/serve/locustfile.py" --headless -u "$users" \
  -r "$users" -t "$duration" --host "$url" --csv "$work/locust" --only-summary >"$work/locust.log" 2>&1 ||
  { echo "run.sh: locust failed:" >&2; tail -20 "$work/locust.log" >&2; exit 1; }
t1=$(date +%s.%N)
tokens_after=$(generated_tokens)
python3 - "$work/locust_stats.csv" "$tokens_before" "$tokens_after" "$t0" "$t1" <<'EOF'
import csv, sys
rows = {r["Name"]: r for r in csv.DictReader(open(sys.argv[1]))}
r = rows["Aggregated"]
tokens = float(sys.argv[3]) - float(sys.argv[2])
wall = float(sys.argv[5]) - float(sys.argv[4])
print(f"requests {r['Request Count']}, failures {r['Failure Count']}, {float(r['Requests/s']):.2f} requests/s, "
      f"latency P50 {r['50%']} ms, P99 {r['99%']} ms; {tokens:.0f} tokens generated, {tokens / wall:.1f} tokens/s")
EOF
