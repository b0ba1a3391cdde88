#!/usr/bin/env bash
# `make run`: starts `sinan serve` on embedded defaults, in the foreground (Ctrl-C drains and stops).
#   MODEL=path.gguf   serve that model; otherwise every .gguf in ./models/ (loaded on first use);
#                     with neither, the server still starts (health, metrics, the chat page) and
#                     generation routes answer 503 saying how to get a model (`make model`).
#   HOST, PORT        where to listen (default 127.0.0.1:8080)
#   DATA_DIR          API keys, audit log, state (default ./sinan-data, where `sinan keys` looks too)
#   SERVE_ARGS        more `sinan serve` flags, e.g. SERVE_ARGS="--parallel 8 --api-keys on"
set -euo pipefail
sinan=${1:?path to the sinan binary}
root=$(cd "$(dirname "$0")/.." && pwd)
args=(serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8080}" --data-dir "${DATA_DIR:-$root/sinan-data}")
if [ -n "${MODEL:-}" ]; then
  args+=(-m "$MODEL")
elif compgen -G "$root/models/*.gguf" >/dev/null; then
  args+=(--models-dir "$root/models")
else
  echo "make run: no model yet (MODEL=path.gguf, or .gguf files in ./models/); starting without one."
  echo "          \`make model\` writes a small DeepSeek-R1-shaped test model to ./models/."
fi
# shellcheck disable=SC2206
args+=(${SERVE_ARGS:-})
exec "$sinan" "${args[@]}"
