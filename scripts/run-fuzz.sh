#!/usr/bin/env bash
# Fuzzes the GGUF reader, then the OpenAI routes' request parsers, each for a bounded time:
# scripts/run-fuzz.sh BUILD_DIR SECONDS (SECONDS per target).
# Seeds: for the reader, files written by gguf_make_seeds plus the reference GGUF files in
# ../shared when present (read-only); the parsers' fuzzer edits valid bodies it holds itself.
# New inputs go to BUILD_DIR/fuzz-corpus*. A crash stops the run with a non-zero exit and leaves
# the input in BUILD_DIR/fuzz-artifacts/: add a GGUF input to tests/data/gguf-regressions/ so the
# unit tests keep it, a request body as a case of ServerSafety.MalformedRequests... in
# tests/api/server_safety_test.cpp.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# fuzz NAME WHAT MAX_LEN DICT CORPUS SEED_DIR...: runs build/fuzz/NAME for $seconds.
fuzz() {
  local name=$1 what=$2 max_len=$3 dict=$4 corpus=$5
  shift 5
  mkdir -p "$corpus"
  echo "run-fuzz: fuzzing $what for ${seconds}s"
  local status=0
  "$build/fuzz/$name" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -dict="$dict" -artifact_prefix="$artifacts/" \
    "$corpus" "$@" 2>&1 | grep -vE '^(#[0-9]+|"|###|[[:space:]]+NEW_FUNC)' || true
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "run-fuzz: the fuzzer found a failing input in $what (exit $status); see $artifacts" >&2
    exit 1
  fi
  echo "run-fuzz: no crash in $what in ${seconds}s"
}

seeds="$build/fuzz-seeds"
mkdir -p "$seeds"
"$build/fuzz/gguf_make_seeds" "$seeds"
extra=()
shared="$root/../shared"
for d in "$shared/data/llamacpp-vocab-tests" "$shared/models"; do
  [ -d "$d" ] && extra+=("$d")
done
[ ${#extra[@]} -eq 0 ] && echo "run-fuzz: ../shared not found; fuzzing the GGUF reader from the generated seeds only"
fuzz gguf_reader_fuzz "the GGUF reader" 65536 "$root/fuzz/gguf.dict" "$build/fuzz-corpus" "$seeds" "${extra[@]}"
fuzz api_request_fuzz "the request parsers" 8192 "$root/fuzz/api.dict" "$build/fuzz-corpus-api"
