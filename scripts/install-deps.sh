#!/usr/bin/env bash
# Installs exactly what sinan's build, tests and benchmarks need, from Debian's packages.
# Idempotent: does nothing (and needs no network) when everything is already installed.
# Works as root or through sudo. Each package's reason is in docs/dependencies.md.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # toolchain
  clang libclang-rt-14-dev                      # libFuzzer target for the GGUF reader
  libcli11-dev                                  # command line
  nlohmann-json3-dev                            # JSON (model info --json, golden files)
  libpcre2-dev                                  # pre-tokenizer regular expressions (Unicode classes)
  libutf8proc-dev                               # Unicode normalisation (NFD/NFKC) for WordPiece
  libcpp-httplib-dev                            # HTTP server of `sinan serve` (and the client in its tests)
  libssl-dev                                    # SHA-256 (OpenSSL libcrypto) for API keys and cache keys
  libhiredis-dev                                # Redis client for `sinan serve --cache redis://...`
  redis-server                                  # real Redis for the response-cache tests
  libicu-dev                                    # ICU word breaking (Chinese/Japanese) for knowledge-base retrieval
  libstemmer-dev                                # Snowball English stemming for knowledge-base retrieval
  libsqlite3-dev                                # the embedded knowledge-base store (src/store/, SQLite in the data directory)
  libpq-dev                                     # the shared knowledge-base store, `--store postgres://...` (libpq)
  postgresql                                    # real PostgreSQL server for the store tests (initdb + pg_ctl in a temp dir)
  libhnswlib-dev                                # HNSW vector index (header-only) for dense knowledge-base retrieval
  libpoppler-cpp-dev                            # PDF text layer and page rendering for knowledge-base ingestion
  libtesseract-dev libleptonica-dev             # OCR of images and scanned PDF pages (ingestion)
  tesseract-ocr-eng tesseract-ocr-chi-sim       # OCR models: English and simplified Chinese
  libzip-dev libxml2-dev                        # DOCX (zip + XML) and HTML parsing (ingestion)
  libcairo2-dev                                 # PDF/PNG test fixtures and the ingestion benchmark's input
  fonts-dejavu-core fonts-wqy-zenhei            # real fonts for the rendered test fixtures (Latin, Chinese)
  prometheus                                    # promtool checks the /metrics text in tests
  libgtest-dev libgmock-dev                     # unit tests
  libbenchmark-dev                              # benchmarks
  python3 python3-jinja2                        # golden chat-template renders (tests/data generator)
  python3-numpy                                 # independent reranker reference (tests/golden-gen/reranker_reference.py)
  python3-locust                                # Locust load run on POST /api/v1/chat (bench/serve, tests/api/locust_test.py)
  chromium                                      # the real browser of the web tests (tests/web: chat page, CORS)
  curl                                          # the README's curl example, run as written (api_readme_examples)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 2
  fi
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
