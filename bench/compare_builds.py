#!/usr/bin/python3
"""Two builds of fronta side by side, for "must not regress" checks of a change.

Usage: bench/compare_builds.py BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS] [MPI_WORKERS]

Runs the process-pool benchmarks (round trip, batched, chunked map) and, when both builds have
it, the MPI benchmark (round trip, batched, map) of each build in turn, ROUNDS times (default 3),
alternating before/after so that both see the same noise on a shared machine, and prints a
markdown table of the medians with the ratio after/before (below 1: faster after).
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
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    before, after = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    with_mpi = all(os.path.exists(os.path.join(b, "bench", "mpi_pool_bench")) for b in (before, after))
    samples = {"before": {}, "after": {}}
    for r in range(rounds):
        for which, build in (("before", before), ("after", after)):
            print(f"compare: round {r + 1}/{rounds}, {which} ({build}) ...", file=sys.stderr)
            values = process_run(build)
            if with_mpi:
                values.update(mpi_run(build, workers))
            for label, (value, unit) in values.items():
                samples[which].setdefault(label, []).append((value, unit))
    print(f"| benchmark | before | after | after/before |")
    print(f"|---|---:|---:|---:|")
    for label in samples["before"]:
        b = statistics.median(v for v, _ in samples["before"][label])
        a = statistics.median(v for v, _ in samples["after"].get(label, [(float("nan"), "")]))
        unit = samples["before"][label][0][1]
        print(f"| {label} | {b:.3g} {unit} | {a:.3g} {unit} | {a / b:.2f} |")
    print(f"\n(medians of {rounds} alternating rounds; MPI with {workers} workers)")


if __name__ == "__main__":
    main()
