#!/usr/bin/python3
"""Two builds of fronta side by side, for "must not regress" checks of a change.

Usage: bench/compare_builds.py [--only threads|processes|mpi] BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS] [MPI_WORKERS]

Runs the thread-pool benchmarks (fronta's batched and round trip, bench/threads/), the
process-pool benchmarks (round trip, batched, chunked map) and, when both builds have it, the MPI
benchmark (round trip, batched, map) of each build in turn, ROUNDS times (default 3), alternating
before/after (and which goes first) so that both see the same noise on a shared machine, and
prints a markdown table of the medians, the spread (min-max over rounds) and the ratio
after/before (below 1: faster after). --only runs one of the three.
Build each with `cmake -DCMAKE_BUILD_TYPE=Release -DFRONTA_BUILD_BENCH=ON` (as `make bench` does).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

# benchmark name prefix: (label, counter, scale to the unit, unit), the counters bench/report.py reads
PROCESS_BENCHMARKS = {
    "round_trip<fronta::process_pool>": ("process_pool round trip, median", "median_ns", 1e-3, "us"),
    "batched<fronta::process_pool>": ("process_pool batched, per task", "ns_per_task", 1e6, "us"),
    "chunked_map<fronta::process_pool>": ("process_pool chunked map, per item", "ns_per_item", 1e9, "ns"),
}
THREAD_BENCHMARKS = {
    "fronta_batched": ("thread_pool batched, per task", "ns_per_task", 1e9, "ns"),
    "fronta_round_trip": ("thread_pool round trip, median", "median_ns", 1e-3, "us"),
}
MPI_FIELDS = {
    "round_trip_us": ("mpi_pool round trip", "us"),
    "batched_us_per_task": ("mpi_pool batched, per task", "us"),
    "map_ns_per_item": ("mpi_pool map, per item", "ns"),
}


def process_run(build):
    binary = os.path.join(build, "bench", "process_pool_bench")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, "--benchmark_filter=(round_trip|batched|chunked_map)<fronta::process_pool>",
                        "--benchmark_out=" + out.name, "--benchmark_out_format=json"],
                       check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(out.name))
    values = {}
    for b in data["benchmarks"]:
        prefix = b["name"].split("/")[0]
        if prefix in PROCESS_BENCHMARKS:
            label, counter, scale, unit = PROCESS_BENCHMARKS[prefix]
            values[label] = (b[counter] * scale, unit)
    return values


def thread_run(build):
    binary = os.path.join(build, "bench", "thread_pool_bench")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, "--benchmark_filter=^fronta_(batched|round_trip)/",
                        "--benchmark_out=" + out.name, "--benchmark_out_format=json"],
                       check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(out.name))
    values = {}
    for b in data["benchmarks"]:
        prefix = b["name"].split("/")[0]
        if prefix in THREAD_BENCHMARKS:
            label, counter, scale, unit = THREAD_BENCHMARKS[prefix]
            values[label] = (b[counter] * scale, unit)
    return values


def mpi_run(build, workers):
    binary = os.path.join(build, "bench", "mpi_pool_bench")
    mpirun = shutil.which("mpirun.openmpi") or shutil.which("mpirun")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    out = subprocess.run([mpirun, "-n", str(workers + 1), binary], check=True, capture_output=True, text=True,
                         env=env, timeout=600).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    row = json.loads(line)
    return {label: (row[field], unit) for field, (label, unit) in MPI_FIELDS.items()}


def main():
    args = sys.argv[1:]
    only = None
    if len(args) >= 2 and args[0] == "--only":
        only, args = args[1], args[2:]
        if only not in ("threads", "processes", "mpi"):
            sys.exit(__doc__)
    if len(args) < 2:
        sys.exit(__doc__)
    before, after = args[0], args[1]
    rounds = int(args[2]) if len(args) > 2 else 3
    workers = int(args[3]) if len(args) > 3 else 2
    have = lambda name: all(os.path.exists(os.path.join(b, "bench", name)) for b in (before, after))
    with_threads = only in (None, "threads") and have("thread_pool_bench")
    with_processes = only in (None, "processes")
    with_mpi = only in (None, "mpi") and have("mpi_pool_bench")
    samples = {"before": {}, "after": {}}
    for r in range(rounds):
        order = (("before", before), ("after", after))
        for which, build in order if r % 2 == 0 else tuple(reversed(order)):
            print(f"compare: round {r + 1}/{rounds}, {which} ({build}) ...", file=sys.stderr)
            values = {}
            if with_threads:
                values.update(thread_run(build))
            if with_processes:
                values.update(process_run(build))
            if with_mpi:
                values.update(mpi_run(build, workers))
            for label, (value, unit) in values.items():
                samples[which].setdefault(label, []).append((value, unit))
    print(f"| benchmark | before | after | after/before | before, min-max | after, min-max |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for label in samples["before"]:
        bs = [v for v, _ in samples["before"][label]]
        as_ = [v for v, _ in samples["after"].get(label, [(float("nan"), "")])]
        b, a = statistics.median(bs), statistics.median(as_)
        unit = samples["before"][label][0][1]
        print(f"| {label} | {b:.3g} {unit} | {a:.3g} {unit} | {a / b:.2f} | "
              f"{min(bs):.3g}-{max(bs):.3g} | {min(as_):.3g}-{max(as_):.3g} |")
    print(f"\n(medians of {rounds} alternating rounds" + (f"; MPI with {workers} workers)" if with_mpi else ")"))


if __name__ == "__main__":
    main()
