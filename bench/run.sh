#!/usr/bin/env bash
# Runs every peer in one go and prints the side-by-side tables (markdown) for docs/benchmarks.md.
# Usage: bench/run.sh BUILD_DIR     (make bench does this)
set -euo pipefail
build=${1:-build-bench}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "bench: C++ peers (fronta, oneTBB, Boost.Asio, std::async) ..." >&2
"$build/bench/thread_pool_bench" --benchmark_format=json --benchmark_out="$out/cpp.json" \
  --benchmark_out_format=json >/dev/null
echo "bench: Python ThreadPoolExecutor (Debian's /usr/bin/python3) ..." >&2
/usr/bin/python3 "$here/peers/python_thread_pool.py" >"$out/python.json"
/usr/bin/python3 "$here/report.py" "$out/cpp.json" "$out/python.json"
