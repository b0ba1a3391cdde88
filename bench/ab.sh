#!/usr/bin/env bash
# Alternates builds of bench_kernels on a noisy machine: runs every benchmark matching FILTER once
# per binary, the binaries in turn, ROUNDS times, and prints per benchmark each binary's median
# GB/s (bytes_per_second) with its range. Variants compared this way share the machine's slow and
# fast spells, which back-to-back blocks of runs do not (bench/NOTES.md).
#
#   bench/ab.sh FILTER ROUNDS BINARY...
#   e.g. bench/ab.sh 'Q6_K/avx512/packed/batch8/2threads' 5 /tmp/bench_kernels-before build/release/bench/bench_kernels
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/ab.sh FILTER ROUNDS BINARY..." >&2; exit 2; }
filter=$1 rounds=$2
shift 2
out=$(mktemp /tmp/sinan-ab.XXXXXX)
trap 'rm -f "$out"' EXIT
for _ in $(seq 1 "$rounds"); do
  for i in $(seq 1 $#); do
    "${!i}" --benchmark_filter="$filter" --benchmark_min_time=0.3 2>/dev/null |
      awk -v b="$i" '{for (k = 1; k <= NF; k++) if ($k ~ /^bytes_per_second=/) {
        v = substr($k, 18); g = v; sub(/[GMk]\/s$/, "", g)
        s = v ~ /G\/s$/ ? 1 : v ~ /M\/s$/ ? 1e-3 : 1e-6; print b, $1, g * s }}' >>"$out"
  done
done
python3 - "$out" "$@" <<'PY'
import collections, statistics, sys
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    b, name, v = line.split()
    rates[(name, int(b))].append(float(v))
for name in sorted({n for n, _ in rates}):
    cells = [f"[{b}] {statistics.median(r):6.2f} ({min(r):.1f}-{max(r):.1f})"
             for b in range(1, len(sys.argv) - 1) if (r := rates.get((name, b)))]
    print(f"{name}  " + "  ".join(cells))
print("GB/s, median (range); " + ", ".join(f"[{i}] {p}" for i, p in enumerate(sys.argv[2:], 1)))
PY
