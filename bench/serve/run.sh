#!/usr/bin/env bash
# Serving benchmark: starts `sinan serve` with one model and measures
#   1. streamed chat completions at 1, 4, 8 and 16 concurrent streams (stream_bench.py): aggregate
#      tokens/s, time-to-first-token P50/P99, the gaps between a stream's chunks (P99, longest)
#      the server's CPU time per token (what batching saves, whatever else the machine runs), and
#      the share of the wall time its engine computed (forward passes and sampling, from /metrics)
#      (targets from the serving issue: 8 streams reach at least 4x the tokens/s of one; TTFT P99
#      under 500 ms at 8 streams, 128-token prompts, tiny model);
#   2. a short headless Locust run on POST /api/v1/chat (locustfile.py): requests/s, latency
#      P50/P99, and tokens/s from the server's own /metrics;
#   and first the server time of a response-cache hit (target: well under a millisecond).
# What the model's own rates allow for the same streams (prompts and answers of the same lengths,
# without HTTP): `bench_batched_decode --model MODEL --steps 0 --sequences 1,8 --temperature 0.7
# --top-p 0.95` (its served cycle: forward pass and scheduler, in one process).
#
#   bench/serve/run.sh [SINAN_BINARY] [MODEL.gguf]
#
# Defaults: build/release/sinan; a tiny synthetic model (Q8_0; TYPE=q4_k_m for llama.cpp's mix)
# with the DeepSeek-R1-Distill-Qwen vocabulary from ../shared (made once into a temp dir). The
# response cache is off so every request is generated. Knobs (environment): STREAMS (1,4,8,16),
# ROUNDS (3), MAX_TOKENS (64), PROMPT_WORDS (110), TEMPERATURE (0.7; 0: greedy, to see what
# sampling costs), PARALLEL (16), THREADS (server threads per forward pass; default: the
# server's), BATCH, PROMPT_STEP_MS and STREAM_INTERVAL_MS (the server's --batch-size,
# --prompt-step-ms and --stream-interval; default: the server's), LOCUST_USERS (8), LOCUST_TIME
# (20s), SHAPE (tiny; e.g. r1-distill-qwen-1.5b), TYPE (q8_0) of the synthetic model.
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
  args=(model synth --shape "${SHAPE:-tiny}" --type "${TYPE:-q8_0}" -o "$model")
  if [ -f "$vocab" ]; then args+=(--vocab "$vocab"); else echo "run.sh: $vocab absent; synthetic vocabulary" >&2; fi
  "$sinan" "${args[@]}" >/dev/null
fi
model_id=$(basename "$model" .gguf)

# start_server NAME ARGS...: runs sinan serve with ARGS; sets url and server_pid, logs in $work/NAME.log.
start_server() {
  local name=$1; shift
  local args=(serve -m "$model" --host 127.0.0.1 --port 0 --data-dir "$work/data" --api-keys off "$@")
  [ -n "${THREADS:-}" ] && args+=(-t "$THREADS")
  [ -n "${BATCH:-}" ] && args+=(-b "$BATCH")
  [ -n "${PROMPT_STEP_MS:-}" ] && args+=(--prompt-step-ms "$PROMPT_STEP_MS")
  [ -n "${STREAM_INTERVAL_MS:-}" ] && args+=(--stream-interval "$STREAM_INTERVAL_MS")
  "$sinan" "${args[@]}" >"$work/$name.out" 2>"$work/$name.log" &
  server_pid=$!
  url=
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[0-9.:]*' "$work/$name.out" 2>/dev/null | head -1 || true)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: sinan serve exited:" >&2; cat "$work/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "run.sh: sinan serve printed no listening line" >&2; exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=; }

# Response cache: one greedy request, then 20 identical ones answered from the in-process cache;
# their server time is the latency_ms of the request log.
start_server cache --cache memory
python3 - "$url" "$model_id" <<'EOF'
import json, sys, urllib.request
body = json.dumps({"model": sys.argv[2], "messages": [{"role": "user", "content": "Cache me"}],
                   "max_tokens": 32, "temperature": 0}).encode()
for _ in range(21):
    req = urllib.request.Request(sys.argv[1] + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
EOF
stop_server
python3 - "$work/cache.log" <<'EOF'
import re, statistics, sys
ms = [float(m) for m in re.findall(r'route="POST /v1/chat/completions" status=200 .*?latency_ms=([0-9.]+)', open(sys.argv[1]).read())]
hits = ms[1:]
print(f"== response cache: first (generated) {ms[0]:.1f} ms; {len(hits)} hits: median {statistics.median(hits):.2f} ms, "
      f"max {max(hits):.2f} ms of server time")
EOF

start_server serve --cache off --parallel "${PARALLEL:-16}" --queue 256
echo "== sinan serve $model_id at $url ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "== $("$sinan" --version)"
echo "== streamed chat completions, max_tokens ${MAX_TOKENS:-64}"
python3 "$root/bench/serve/stream_bench.py" --url "$url" --model "$model_id" --streams "${STREAMS:-1,4,8,16}" \
  --rounds "${ROUNDS:-3}" --max-tokens "${MAX_TOKENS:-64}" --prompt-words "${PROMPT_WORDS:-110}" \
  --temperature "${TEMPERATURE:-0.7}" --server-pid "$server_pid"

# served_totals: "TOKENS REQUESTS" from the server's /metrics: tokens generated, and POST
# /api/v1/chat requests answered 200 (Locust 2.12 writes its CSV once a second and not at exit,
# so its own count misses up to the last second).
served_totals() {
  python3 - "$url" <<'EOF'
import sys, urllib.request
lines = urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode().splitlines()
tokens = sum(float(l.split()[-1]) for l in lines if l.startswith("sinan_generated_tokens_total"))
chat = sum(float(l.split()[-1]) for l in lines if l.startswith("sinan_http_requests_total{")
           and 'route="POST /api/v1/chat"' in l and 'code="200"' in l)
print(tokens, chat)
EOF
}

if ! command -v locust >/dev/null 2>&1; then
  echo "== Locust not installed (Debian python3-locust): /api/v1/chat load run skipped"
  exit 0
fi
users=${LOCUST_USERS:-8}
duration=${LOCUST_TIME:-20s}
echo "== Locust, POST /api/v1/chat, $users users for $duration, max_tokens ${LOCUST_MAX_TOKENS:-32}"
before=$(served_totals)
t0=$(date +%s.%N)
SINAN_MAX_TOKENS=${LOCUST_MAX_TOKENS:-32} locust -f "$root/bench/serve/locustfile.py" --headless -u "$users" \
  -r "$users" -t "$duration" --host "$url" --csv "$work/locust" --only-summary >"$work/locust.log" 2>&1 ||
  { echo "run.sh: locust failed:" >&2; tail -20 "$work/locust.log" >&2; exit 1; }
t1=$(date +%s.%N)
after=$(served_totals)
python3 - "$work/locust_stats.csv" "$before" "$after" "$t0" "$t1" <<'EOF'
import csv, sys
r = {row["Name"]: row for row in csv.DictReader(open(sys.argv[1]))}["Aggregated"]
(tokens0, chat0), (tokens1, chat1) = (map(float, a.split()) for a in sys.argv[2:4])
wall = float(sys.argv[5]) - float(sys.argv[4])
print(f"requests {chat1 - chat0:.0f} answered 200 by the server, {(chat1 - chat0) / wall:.2f} requests/s; "
      f"Locust's failures {r['Failure Count']}, latency P50 {r['50%']} ms, P99 {r['99%']} ms; "
      f"{tokens1 - tokens0:.0f} tokens generated, {(tokens1 - tokens0) / wall:.1f} tokens/s")
EOF
