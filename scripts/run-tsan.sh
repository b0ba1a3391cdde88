#!/usr/bin/env bash
# Builds and runs the tests of the threaded parts under ThreadSanitizer:
# scripts/run-tsan.sh BUILD_DIR [JOBS] (BUILD_DIR configured by the tsan preset; `tests` below is
# the one list of what runs). The thread pool (base_tests), the scheduler and continuous
# batching (engine_tests), the server through the real `sinan serve` binary built with TSan, 16
# streams at once, cancellation, SIGTERM drains (api_server_tests), the rate limiter and response
# cache (api_support_tests), the vector index and retriever (knowledge_retrieval_tests), the knowledge
# base service and its ingestion worker on SQLite and PostgreSQL (knowledge_base_tests,
# knowledge_base_dense_tests) and knowledge bases through the served routes (e2e_kb_ask_tests).
# A race makes the process that saw it exit 66 (TSan's exit code): an in-process test binary
# fails, and a server test fails on the server's exit status; the reports are kept in
# BUILD_DIR/tsan-reports/ and printed. Suppressions: tests/tsan.supp (why each one).
set -euo pipefail
build=${1:?build dir}
jobs=${2:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
tests=(base/base_tests engine/engine_tests api/api_server_tests api/api_support_tests
       knowledge/knowledge_retrieval_tests knowledge/knowledge_base_tests
       knowledge/knowledge_base_dense_tests knowledge/e2e_kb_ask_tests)
# The server tests start the sinan binary of the same build.
cmake --build "$build" -j "$jobs" --target sinan "${tests[@]##*/}"

reports="$build/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp log_path=$reports/report second_deadlock_stack=1"

failed=()
for t in "${tests[@]}"; do
  echo "run-tsan: $t"
  start=$SECONDS
  if ! "$build/tests/$t" --gtest_brief=1 >"$reports/$(basename "$t").out" 2>&1; then
    failed+=("$t")
    tail -40 "$reports/$(basename "$t").out" >&2
  fi
  echo "run-tsan: $t done in $((SECONDS - start)) s"
done
if compgen -G "$reports/report.*" >/dev/null; then
  echo "run-tsan: ThreadSanitizer reports:" >&2
  cat "$reports"/report.* >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-tsan: failed under ThreadSanitizer: ${failed[*]} (output in $reports)" >&2
  exit 1
fi
echo "run-tsan: no data race and no failure"
