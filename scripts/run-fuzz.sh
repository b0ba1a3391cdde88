#!/usr/bin/env bash
# Fuzzes the GGUF reader for a bounded time: scripts/run-fuzz.sh BUILD_DIR SECONDS
# Seeds: files written by gguf_make_seeds, plus the reference GGUF files in ../shared when
# present (read-only; new inputs go to BUILD_DIR/fuzz-corpus). A crash stops the run with a
# non-zero exit and leaves the input in BUILD_DIR/fuzz-artifacts/: add it to
# tests/data/gguf-regressions/ so the unit tests keep it.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
corpus="$build/fuzz-corpus"
seeds="$build/fuzz-seeds"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$seeds" "$artifacts"
"$build/fuzz/gguf_make_seeds" "$seeds"
extra=()
shared="$root/../shared"
for d in "$shared/data/llamacpp-vocab-tests" "$shared/models"; do
  [ -d "$d" ] && extra+=("$d")
done
[ ${#extra[@]} -eq 0 ] && echo "run-fuzz: ../shared not found; fuzzing from the generated seeds only"
echo "run-fuzz: fuzzing the GGUF reader for ${seconds}s"
"$build/fuzz/gguf_reader_fuzz" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 -dict="$root/fuzz/gguf.dict" -artifact_prefix="$artifacts/" \
  "$corpus" "$seeds" "${extra[@]}" 2>&1 | grep -vE '^(#[0-9]+|"|###)' || true
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "run-fuzz: the fuzzer found a failing input (exit $status); see $artifacts" >&2
  exit 1
fi
echo "run-fuzz: no crash in ${seconds}s"
