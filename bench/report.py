"""Turns raw benchmark output into the markdown tables of docs/benchmarks.md, with ratios.

One script for every executor; bench/run.sh and bench/run_mpi.sh call it:
  report.py threads THREADS.json PYTHON.json   fronta::thread_pool beside oneTBB, Boost.Asio,
                                               std::async and ThreadPoolExecutor
  report.py process PROCESS.json PYTHON.json   fronta::process_pool beside ProcessPoolExecutor and
                                               loky, then large values by value
  report.py large PROCESS.json PYTHON.json     only the large values by value
  report.py mpi LINES.txt [CORES]              fronta::mpi_pool beside mpi4py.futures, per worker count
THREADS.json and PROCESS.json are Google Benchmark's --benchmark_out (JSON); PYTHON.json is what
the Python peer beside the benchmark printed; LINES.txt holds one JSON object per line per run
(other lines are ignored), CORES the machine's (default: this machine's).
"""
import json
import os
import platform
import sys

NAN = float("nan")
LARGE_MB = [8, 32, 128, 256]


def load_runs(path):
    """Google Benchmark iterations by name without its options: `round_trip<fronta::process_pool>`
    and, for benchmarks with an argument, `large_value<fronta::process_pool>/8` too."""
    data = json.load(open(path))
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        parts = b["name"].split("/")
        runs[parts[0]] = b
        if len(parts) > 1 and parts[1].isdigit():
            runs["/".join(parts[:2])] = b
    return data, runs


def value(runs, name, key, scale=1.0):
    run = runs.get(name)
    return run[key] * scale if run and key in run else NAN


def table(header, align, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(align) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def threads(cpp_path, python_path):
    data, runs = load_runs(cpp_path)
    py = json.load(open(python_path))
    peers = [
        ("fronta::thread_pool", "fronta"),
        ("oneTBB task_arena + packaged_task", "tbb"),
        ("Boost.Asio thread_pool + packaged_task", "asio"),
        ("std::async (a thread per task; batches of 1,000)", "std_async"),
    ]
    # Google Benchmark reports an inverted rate in seconds per task.
    batched = {label: value(runs, f"{key}_batched", "ns_per_task", 1e9) for label, key in peers}
    round_trip = {label: value(runs, f"{key}_round_trip", "median_ns") for label, key in peers}
    batched["Python ThreadPoolExecutor"] = py["batched_ns_per_task"]
    round_trip["Python ThreadPoolExecutor"] = py["round_trip_median_ns"]

    ctx = data["context"]
    print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, {platform.platform()}; "
          f"Python {py['python']}; all pools with 2 workers.\n")
    base_b = batched["fronta::thread_pool"]
    base_r = round_trip["fronta::thread_pool"]
    table(["executor", "batched ns/task (200,000 tasks, futures)", "× fronta", "round trip median ns", "× fronta"],
          ["---", "---:", "---:", "---:", "---:"],
          [[label, f"{batched[label]:.0f}", f"{batched[label] / base_b:.2f}", f"{round_trip[label]:.0f}",
            f"{round_trip[label] / base_r:.2f}"] for label in batched])

    ac = value(runs, "fronta_as_completed_1m", "real_time")  # ms per iteration
    mem = value(runs, "fronta_memory_per_pending_task", "bytes_per_task")
    print()
    table(["measure", "fronta", "target", "Python ThreadPoolExecutor"], ["---", "---:", "---:", "---:"], [
        ["batched cost per task", f"{base_b:.0f} ns", "≤ 150 ns", f"{py['batched_ns_per_task']:.0f} ns"],
        ["single round trip, median", f"{base_r / 1000:.2f} µs", "≤ 2 µs",
         f"{py['round_trip_median_ns'] / 1000:.2f} µs"],
        ["as_completed over 1,000,000 futures", f"{ac / 1000:.3f} s", "< 1 s", f"{py['as_completed_1m_s']:.3f} s"],
        ["library heap per pending task", f"{mem:.0f} B", "≤ 128 B", "n/a"],
    ])


def large_values(runs, py):
    """By value, argument and result of the same size: throughput = (argument + result bytes) /
    median round trip, in MB/s (10^6 bytes)."""
    rows = [("fronta::process_pool (std::vector<double>)",
             {mb: value(runs, f"large_value<fronta::process_pool>/{mb}", "median_ns") for mb in LARGE_MB})]
    for r in py["results"]:
        if "large_value_ns" in r:
            rows.append((f"Python {r['executor']} (numpy float64 array)",
                         {mb: r["large_value_ns"].get(str(mb), NAN) for mb in LARGE_MB}))

    def rate(mb, ns):
        return 2 * mb * 1e6 / (ns * 1e-9) / 1e6

    print()
    print("Large values by value (argument and result of the same size; throughput = (argument + result "
          "bytes) / median round trip, MB = 10^6 bytes):")
    print()
    table(["executor"] + [f"{mb} MB: ms, MB/s" for mb in LARGE_MB], ["---"] + ["---:"] * len(LARGE_MB),
          [[label] + [f"{v[mb] * 1e-6:.1f} ms, {rate(mb, v[mb]):.0f}" for mb in LARGE_MB] for label, v in rows])
    print()
    fronta = rows[0][1]
    table(["throughput ratio: fronta::process_pool ÷"] + [f"{mb} MB" for mb in LARGE_MB],
          ["---"] + ["---:"] * len(LARGE_MB),
          [[label] + [f"{v[mb] / fronta[mb]:.1f}×" for mb in LARGE_MB] for label, v in rows[1:]])
    print()
    print("Target: at least 4× loky's throughput at every size.")


def process(cpp_path, python_path):
    _, runs = load_runs(cpp_path)
    py = json.load(open(python_path))

    def fronta_row(pool):
        return {
            "start_ms": value(runs, "process_pool_start", "real_time") if pool == "process_pool" else NAN,
            "round_trip_us": value(runs, f"round_trip<fronta::{pool}>", "median_ns", 1e-3),
            "batched_us": value(runs, f"batched<fronta::{pool}>", "ns_per_task", 1e6),
            "map_ns": value(runs, f"chunked_map<fronta::{pool}>", "ns_per_item", 1e9),
            "handoff_us": value(runs, f"handoff_100mb<fronta::{pool}>", "median_ns", 1e-3),
        }

    fronta = fronta_row("process_pool")
    rows = [("fronta::process_pool", fronta),
            ("fronta::thread_pool (same machine, no isolation)", fronta_row("thread_pool"))]
    for r in py["results"]:
        rows.append((f"Python {r['executor']}", {
            "start_ms": r["start_s"] * 1e3 if r["start_s"] is not None else NAN,
            "round_trip_us": r["round_trip_median_ns"] * 1e-3,
            "batched_us": r["batched_ns_per_task"] * 1e-3,
            "map_ns": r["map_ns_per_item"],
            "handoff_us": r["handoff_100mb_ns"] * 1e-3,
        }))
    print(f"Python {py['python']}; 2 workers each.\n")
    table(["executor", "start 2 workers, ms", "round trip median, µs", "batched µs/task", "chunked map ns/item",
           "100 MB hand-off, µs"], ["---"] + ["---:"] * 5,
          [[label, f"{v['start_ms']:.1f}", f"{v['round_trip_us']:.1f}", f"{v['batched_us']:.2f}",
            f"{v['map_ns']:.1f}", f"{v['handoff_us']:.1f}"] for label, v in rows])
    print()
    keys = ("start_ms", "round_trip_us", "batched_us", "map_ns", "handoff_us")
    table(["ratio: Python ÷ fronta::process_pool", "start", "round trip", "batched", "chunked map", "100 MB hand-off"],
          ["---"] + ["---:"] * 5,
          [[label] + [f"{v[k] / fronta[k]:.1f}×" for k in keys] for label, v in rows[2:]])
    print()
    table(["target (2 cores)", "fronta::process_pool", "target"], ["---", "---:", "---:"], [
        ["start 2 workers", f"{fronta['start_ms']:.1f} ms", "≤ 50 ms"],
        ["single round trip", f"{fronta['round_trip_us']:.1f} µs", "≤ 10 µs"],
        ["batched submit + get", f"{fronta['batched_us']:.2f} µs/task", "≤ 2 µs"],
        ["chunked map", f"{fronta['map_ns']:.1f} ns/item", "≤ 50 ns"],
        ["100 MB shared-buffer hand-off", f"{fronta['handoff_us']:.1f} µs", "≤ 1000 µs"],
    ])
    large_values(runs, py)
    floor = value(runs, "socket_ping_pong_floor", "median_ns", 1e-3)
    print()
    print(f"Floor of a socket transport here: 8 bytes there and back over a Unix socket pair between two "
          f"blocking threads takes {floor:.1f} µs (median), with no work at all.")


def large(cpp_path, python_path):
    _, runs = load_runs(cpp_path)
    py = json.load(open(python_path))
    print(f"Python {py['python']}; 2 workers each.")
    large_values(runs, py)


def mpi(lines_path, cores=None):
    cores = int(cores) if cores else os.cpu_count()
    by = {}
    for line in open(lines_path):
        if line.startswith("{"):
            r = json.loads(line)
            by.setdefault(r["workers"], {})[r["impl"]] = r
    print("## MPI pools (mpirun, one rank per worker plus rank 0)\n")
    rows = []
    for n in sorted(by):
        f, p = by[n].get("fronta mpi_pool"), by[n].get("mpi4py.futures")
        if not f or not p:
            continue
        note = " (oversubscribed)" if n + 1 > cores else ""
        rows.append([
            f"{n}{note}",
            f"{f['round_trip_us']:.1f} µs / {p['round_trip_us']:.0f} µs ({p['round_trip_us'] / f['round_trip_us']:.0f}x)",
            f"{f['batched_us_per_task']:.2f} µs / {p['batched_us_per_task']:.0f} µs "
            f"({p['batched_us_per_task'] / f['batched_us_per_task']:.0f}x)",
            f"{f['map_ns_per_item']:.0f} ns / {p['map_ns_per_item']:.0f} ns "
            f"({p['map_ns_per_item'] / f['map_ns_per_item']:.1f}x)",
        ])
    table(["workers", "round trip median: fronta / mpi4py (x)", "batched per task: fronta / mpi4py (x)",
           "chunked map per item: fronta / mpi4py (x)"], ["---"] * 4, rows)


REPORTS = {"threads": threads, "process": process, "large": large, "mpi": mpi}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in REPORTS:
        sys.exit(__doc__)
    REPORTS[sys.argv[1]](*sys.argv[2:])
