#!/usr/bin/env bash
# Runs every peer in one go and prints the side-by-side tables (markdown) for docs/benchmarks.md.
# Usage: bench/run.sh BUILD_DIR [threads|processes|all|large|progress]     (make bench does all)
#   threads:   bench/threads/: fronta, oneTBB, Boost.Asio, std::async, then Python's ThreadPoolExecutor
#   processes: bench/process/: fronta's process pool, then ProcessPoolExecutor and loky
#   large:     only the large values by value of the process pools, fronta then Python, back to back
#   progress:  map of 1,000,000 items with and without map_options::progress (bench/threads/)
set -euo pipefail
build=${1:-build-bench}
which=${2:-all}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
report() { /usr/bin/python3 "$here/report.py" "$@"; }

if [[ $which == all || $which == threads ]]; then
  echo "bench: thread pools: fronta, oneTBB, Boost.Asio, std::async ..." >&2
  "$build/bench/thread_pool_bench" --benchmark_format=json --benchmark_out="$out/threads.json" \
    --benchmark_out_format=json >/dev/null
  echo "bench: Python ThreadPoolExecutor (Debian's /usr/bin/python3) ..." >&2
  /usr/bin/python3 "$here/threads/python_thread_pool.py" >"$out/python_threads.json"
  echo "## Thread pools"
  report threads "$out/threads.json" "$out/python_threads.json"
fi
if [[ $which == all || $which == processes ]]; then
  echo "bench: process pools: fronta ..." >&2
  "$build/bench/process_pool_bench" --benchmark_format=json --benchmark_out="$out/process.json" \
    --benchmark_out_format=json >/dev/null
  echo "bench: Python ProcessPoolExecutor and loky ..." >&2
  /usr/bin/python3 "$here/process/python_process_pool.py" >"$out/python_process.json"
  echo
  echo "## Process pools"
  report process "$out/process.json" "$out/python_process.json"
fi
if [[ $which == all || $which == progress ]]; then
  echo "bench: map of 1,000,000 items with and without a progress bar ..." >&2
  "$build/bench/progress_bench" --benchmark_format=json --benchmark_out="$out/progress.json" \
    --benchmark_out_format=json >/dev/null
  echo
  echo "## Progress bars"
  report progress "$out/progress.json"
fi
if [[ $which == large ]]; then
  echo "bench: large values: fronta ..." >&2
  "$build/bench/process_pool_bench" --benchmark_filter='large_value' --benchmark_format=json \
    --benchmark_out="$out/process.json" --benchmark_out_format=json >/dev/null
  echo "bench: large values: Python ProcessPoolExecutor and loky ..." >&2
  /usr/bin/python3 "$here/process/python_process_pool.py" large >"$out/python_process.json"
  echo "## Large values by value"
  report large "$out/process.json" "$out/python_process.json"
fi
