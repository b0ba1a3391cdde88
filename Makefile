# The two commands a fresh Debian 12 / Ubuntu machine needs: `make run` and `make test`.
# Everything else here is what they are built from.
.PHONY: all deps build build-debug run demo model test test-debug test-tsan fuzz bench format clean

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-debug: deps
	cmake --preset debug >/dev/null
	cmake --build --preset debug -j $(JOBS)

# The main job: the OpenAI-compatible server on embedded defaults (MODEL=path.gguf or ./models/).
run: build
	@bash scripts/run-serve.sh build/release/sinan

# A small R1-shaped test model in ./models/ for `make run`.
model: build
	@bash scripts/make-model.sh build/release/sinan

# The command-line tour: write a model, show what is in it, template, tokenize, generate.
demo: build
	@bash scripts/run-demo.sh build/release/sinan

test: build
	ctest --preset release -j $(JOBS)

test-debug: build-debug
	ctest --preset debug -j $(JOBS)

# The threaded parts' tests (thread pool, scheduler, the server binary, caches, retrieval) under
# ThreadSanitizer; any race report fails it (scripts/run-tsan.sh).
test-tsan: deps
	cmake --preset tsan >/dev/null
	@bash scripts/run-tsan.sh build/tsan $(JOBS)

# Coverage-guided fuzzing of the GGUF reader, then of the request parsers, FUZZ_SECONDS each (CI: 60 s).
fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	@bash scripts/run-fuzz.sh build/fuzz $(FUZZ_SECONDS)

bench: build
	@bash scripts/run-bench.sh build/release

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
