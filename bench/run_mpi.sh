#!/usr/bin/env bash
# mpi_pool beside mpi4py.futures, same number of ranks, for 1, 2, 4 and 8 workers; prints a
# markdown table for docs/benchmarks.md. On a 2-core machine 4 and 8 workers are oversubscribed.
# Usage: bench/run_mpi.sh BUILD_DIR [WORKER_COUNTS...]      (make bench-mpi does this)
set -euo pipefail
build=${1:-build-bench}
shift || true
counts=("${@:-1 2 4 8}")
read -r -a counts <<<"${counts[*]}"
here=$(cd "$(dirname "$0")" && pwd)
mpirun=$(command -v mpirun.openmpi || command -v mpirun)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for n in "${counts[@]}"; do
  echo "bench: $n workers: fronta mpi_pool ..." >&2
  timeout 600 "$mpirun" -n $((n + 1)) "$build/bench/mpi_pool_bench" >>"$out"
  echo "bench: $n workers: mpi4py.futures ..." >&2
  timeout 900 "$mpirun" -n $((n + 1)) /usr/bin/python3 -m mpi4py.futures "$here/mpi/mpi4py_futures.py" >>"$out"
done
/usr/bin/python3 - "$out" "$(nproc)" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
cores = int(sys.argv[2])
by = {}
for r in rows:
    by.setdefault(r["workers"], {})[r["impl"]] = r
print("## MPI pools (mpirun, one rank per worker plus rank 0)\n")
print("| workers | round trip median: fronta / mpi4py (x) | batched per task: fronta / mpi4py (x) | chunked map per item: fronta / mpi4py (x) |")
print("|---|---|---|---|")
for n in sorted(by):
    f, p = by[n].get("fronta mpi_pool"), by[n].get("mpi4py.futures")
    if not f or not p:
        continue
    note = " (oversubscribed)" if n + 1 > cores else ""
    print(f"| {n}{note} | {f['round_trip_us']:.1f} µs / {p['round_trip_us']:.0f} µs ({p['round_trip_us'] / f['round_trip_us']:.0f}x) "
          f"| {f['batched_us_per_task']:.2f} µs / {p['batched_us_per_task']:.0f} µs ({p['batched_us_per_task'] / f['batched_us_per_task']:.0f}x) "
          f"| {f['map_ns_per_item']:.0f} ns / {p['map_ns_per_item']:.0f} ns ({p['map_ns_per_item'] / f['map_ns_per_item']:.1f}x) |")
PY
