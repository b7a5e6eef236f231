#!/usr/bin/env bash
# Runs every peer in one go and prints the side-by-side tables (markdown) for docs/benchmarks.md.
# Usage: bench/run.sh BUILD_DIR [threads|processes|tracing|progress|server|dataflow|all|large]  (make bench: all)
#   threads:   bench/threads/: fronta, oneTBB, Boost.Asio, std::async, then Python's ThreadPoolExecutor
#   processes: bench/process/: fronta's process pool, then ProcessPoolExecutor and loky
#   tracing:   bench/observe/: what a trace costs (thread_pool batched, process_pool round trip, off
#              and on in one run), then the writer for 1,000,000 tasks (close time, sizes, peak RSS)
#   large:     only the large values by value of the process pools, fronta then Python, back to back
#   progress:  map of 1,000,000 items with and without map_options::progress (bench/threads/)
#   server:    bench/asio/server_load against examples/14_async_server with heavy work inline, on
#              std::async, a thread_pool and a process_pool (SERVER_ROUNDS rounds, default 3;
#              SERVER_ARGS: more server_load flags); needs Asio (libasio-dev)
#   dataflow:  bench/dataflow/: task graphs, Task Bench's METG(50%): OpenMP, oneTBB, hand-written MPI
#              and fronta's thread_pool, process_pool, mpi_pool (DATAFLOW_ROUNDS rounds, default 3;
#              DATAFLOW_ARGS: more task_bench flags); raw lines kept in BUILD_DIR/dataflow.jsonl
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
if [[ $which == all || $which == server ]]; then
  if [[ -x $build/bench/server_load ]]; then
    echo "bench: examples/14_async_server under load: inline, std::async, thread_pool, process_pool ..." >&2
    # shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
    "$build/bench/server_load" --rounds "${SERVER_ROUNDS:-3}" ${SERVER_ARGS:-} >"$out/server.jsonl" || {
      echo "bench: server_load failed (its lines above say why)" >&2
    }
    echo
    echo "## An Asio server offloading heavy requests"
    echo
    report server "$out/server.jsonl"
  else
    echo "bench: no $build/bench/server_load (Asio not found): server benchmark skipped" >&2
  fi
fi
if [[ $which == all || $which == tracing ]]; then
  echo "bench: tracing off and on (bench/observe/tracing_bench, ${TRACING_ROUNDS:-5} rounds) ..." >&2
  echo
  echo "## Tracing"
  echo
  "$build/bench/tracing_bench" "${TRACING_ROUNDS:-5}"
  echo "bench: the trace writer, ${TRACING_TASKS:-1000000} tasks: off, on, on-unflushed ..." >&2
  for mode in off on on-unflushed; do
    "$build/bench/tracing_bench" writer "${TRACING_TASKS:-1000000}" "$mode" >>"$out/writer.jsonl"
  done
  echo
  /usr/bin/python3 - "$out/writer.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
off = next(r for r in rows if r["mode"] == "off")
n = off["tasks"]
print(f"### The writer: {n:,} trivial thread_pool tasks in one process\n")
print("| trace | tasks run | close | run.json | run.jsonl | peak RSS | RSS over off |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    t = r["tasks"]
    size = lambda b: f"{b / t:.0f} B/task" if r["mode"] != "off" else "-"
    close = f'{r["close_ms"]:.0f} ms ({r["close_ms"] * 1e6 / t:.0f} ns/task)' if r["mode"] != "off" else "-"
    extra = (r["peak_rss_kb"] - off["peak_rss_kb"]) * 1024 / t
    print(f'| {r["mode"]} | {r["run_ms"]:.0f} ms | {close} | {size(r["json_bytes"])} | {size(r["jsonl_bytes"])} | '
          f'{r["peak_rss_kb"] / 1024:.0f} MiB | {extra:+.0f} B/task |')
print("\n(on: flush every 1 s; on-unflushed: flush_interval 1 h, every record held until close)")
PY
fi
if [[ $which == all || $which == dataflow ]]; then
  # Rounds of: task_bench (OpenMP, oneTBB, fronta threads and processes, one size at a time side by
  # side), task_bench_spmd (mpirun -n 2) and task_bench_mpi_pool (mpirun -n 3), their order rotating
  # from round to round so the machine's load falls on all of them alike.
  rounds=${DATAFLOW_ROUNDS:-3}
  lines=$build/dataflow.jsonl  # kept: the raw measurements behind the table
  : >"$lines"
  mpirun=$(command -v mpirun.openmpi || command -v mpirun || true)
  launches=(local)
  if [[ -n $mpirun && -x $build/bench/task_bench_spmd ]]; then
    launches+=(spmd pool)
  else
    echo "bench: no MPI build: the MPI task graphs are skipped" >&2
  fi
  status=0
  load() { echo "{\"kind\": \"load\", \"round\": $1, \"load1\": $(cut -d' ' -f1 /proc/loadavg)}" >>"$lines"; }
  for ((r = 1; r <= rounds; r++)); do
    for ((k = 0; k < ${#launches[@]}; k++)); do
      launch=${launches[$(((k + r - 1) % ${#launches[@]}))]}
      load "$r"
      echo "bench: task graphs, round $r/$rounds: $launch ..." >&2
      # shellcheck disable=SC2086  # DATAFLOW_ARGS is a list of flags
      case $launch in
        local) OMP_NUM_THREADS=2 timeout 900 "$build/bench/task_bench" --round "$r" ${DATAFLOW_ARGS:-} >>"$lines" || status=1 ;;
        spmd) OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
          timeout 600 "$mpirun" -n 2 "$build/bench/task_bench_spmd" --round "$r" ${DATAFLOW_ARGS:-} >>"$lines" || status=1 ;;
        pool) OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
          timeout 600 "$mpirun" -n 3 "$build/bench/task_bench_mpi_pool" --round "$r" ${DATAFLOW_ARGS:-} >>"$lines" || status=1 ;;
      esac
    done
  done
  load "$rounds"
  echo
  echo "## Task graphs (Task Bench)"
  echo
  report dataflow "$lines" || status=1
  [[ $status == 0 ]] || echo "bench: a task graph run failed or differed from the serial reference (see above)" >&2
  dataflow_status=$status
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
# A task graph whose results differed from the serial reference fails the run (after every table).
exit "${dataflow_status:-0}"
