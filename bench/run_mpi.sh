#!/usr/bin/env bash
# bench/mpi/: mpi_pool beside mpi4py.futures, same number of ranks, for 1, 2, 4 and 8 workers;
# prints a markdown table for docs/benchmarks.md (bench/report.py mpi). On a 2-core machine 4 and
# 8 workers are oversubscribed.
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
/usr/bin/python3 "$here/report.py" mpi "$out" "$(nproc)"
