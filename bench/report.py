"""Turns raw benchmark output into the markdown tables of docs/benchmarks.md, with ratios.

One script for every executor; bench/run.sh and bench/run_mpi.sh call it:
  report.py threads THREADS.json PYTHON.json   fronta::thread_pool beside oneTBB, Boost.Asio,
                                               std::async and ThreadPoolExecutor
  report.py process PROCESS.json PYTHON.json   fronta::process_pool beside ProcessPoolExecutor and
                                               loky, then large values by value
  report.py large PROCESS.json PYTHON.json     only the large values by value
  report.py mpi LINES.txt [CORES]              fronta::mpi_pool beside mpi4py.futures, per worker count
  report.py data DIR                           billion_rows beside pandas, Dask, ProcessPoolExecutor
                                               and the read limit (bench/data/run.sh); checks every
                                               answer against fronta's and exits 1 if one differs
  report.py progress PROGRESS.json             map of 1,000,000 items with and without a progress
                                               bar (bench/threads/progress_bench.cpp: medians over
                                               pairs of runs)
  report.py server LINES.jsonl                 examples/14_async_server under load, per executor
                                               (bench/asio/server_load.cpp: one JSON line per round,
                                               mode and phase): cheap latency beside the idle
                                               server's, heavy throughput; median and spread
  report.py dataflow LINES.jsonl               task graphs (bench/dataflow/, Task Bench's method):
                                               METG(50%) per system and pattern, the ratios to
                                               every peer, the targets; exits 1 if a system's
                                               results differed from the serial reference
THREADS.json and PROCESS.json are Google Benchmark's --benchmark_out (JSON); PYTHON.json is what
the Python peer beside the benchmark printed; LINES.txt holds one JSON object per line per run
(other lines are ignored), CORES the machine's (default: this machine's).
"""
import json
import math
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


# bench/data/run.sh leaves in DIR one KEY.json (the program's JSON line) and one KEY.answer (its
# answer, `name=min/mean/max` per line) per program; absent ones (no MPI) are left out.
DATA_PROGRAMS = [
    ("fronta-threads", "fronta billion_rows, threads"),
    ("fronta-processes", "fronta billion_rows, processes"),
    ("fronta-mpi", "fronta billion_rows, MPI"),
    ("pandas", "pandas read_csv in chunks + groupby (1 process)"),
    ("dask-threads", "Dask dataframe, threads scheduler"),
    ("dask-processes", "Dask dataframe, processes scheduler"),
    ("ppe", "Python ProcessPoolExecutor, same chunks, pure Python"),
]
DATA_SHORT = {"fronta-threads": "threads", "fronta-processes": "processes", "fronta-mpi": "MPI"}
MEAN_TOLERANCE = 0.05  # fronta prints the mean rounded to one decimal; the peers print it unrounded


def read_answer(path):
    stations = {}
    for line in open(path, encoding="utf-8"):
        name, _, values = line.rstrip("\n").rpartition("=")
        low, mean, high = (float(v) for v in values.split("/"))
        stations[name] = (low, mean, high)
    return stations


def compare_answers(reference_path, path):
    """('identical' | 'equal ...' | what differs, ok): min and max exactly, the mean within 0.05."""
    if open(reference_path, "rb").read() == open(path, "rb").read():
        return "identical", True
    ref, got = read_answer(reference_path), read_answer(path)
    if set(ref) != set(got):
        return f"DIFFERS: {len(set(ref) ^ set(got))} stations not in both", False
    bad = [n for n in ref if abs(ref[n][0] - got[n][0]) > 1e-6 or abs(ref[n][2] - got[n][2]) > 1e-6
           or abs(ref[n][1] - got[n][1]) > MEAN_TOLERANCE + 1e-6]
    if bad:
        n = bad[0]
        return f"DIFFERS at {len(bad)} stations, e.g. {n}: {ref[n]} vs {got[n]}", False
    return f"equal: min, max; mean ± {MEAN_TOLERANCE}", True


def data(directory):
    results = {}
    for key in [k for k, _ in DATA_PROGRAMS] + ["read_limit"]:
        path = os.path.join(directory, key + ".json")
        if os.path.exists(path):
            results[key] = [json.loads(line) for line in open(path) if line.startswith("{")]
    limit = {r["threads"]: r for r in results.pop("read_limit", [])}
    # Several runs of a program (fronta's): the best time, and the best one-worker time.
    runs = {}
    for key, rs in results.items():
        if rs:
            runs[key] = dict(rs[0], seconds=min(r["seconds"] for r in rs))
            if all(r.get("baseline_seconds") for r in rs):
                runs[key]["baseline_seconds"] = min(r["baseline_seconds"] for r in rs)
    if "fronta-threads" not in runs or 2 not in limit:
        sys.exit("report.py data: fronta-threads.json and read_limit.json are needed")
    reference = os.path.join(directory, "fronta-threads.answer")
    rows_total, size = runs["fronta-threads"]["rows"], runs["fronta-threads"]["bytes"]
    limit2 = limit[2]["seconds"]
    print(f"{rows_total:,} rows, {size / 1e9:.2f} GB, in the page cache; {platform.platform()}, "
          f"{os.cpu_count()} CPUs.\n")

    def efficiency(key):
        r = runs.get(key)
        return r["baseline_seconds"] / (r["workers"] * r["seconds"]) if r and r.get("baseline_seconds") else NAN

    out, all_equal = [], True
    for key, label in DATA_PROGRAMS:
        r = runs.get(key)
        if not r:
            continue
        if key == "fronta-threads":
            verdict = "the reference"
        else:
            verdict, ok = compare_answers(reference, os.path.join(directory, key + ".answer"))
            all_equal &= ok
        if r["rows"] != rows_total:
            verdict += f"; **{r['rows']:,} rows counted**"
            all_equal = False
        eff = efficiency(key)
        out.append([label, f"{r['workers']}", f"{r['seconds']:.2f}", f"{r['rows'] / r['seconds'] / 1e6:.1f}",
                    f"{r['bytes'] / r['seconds'] / 1e9:.2f}", "n/a" if eff != eff else f"{eff * 100:.0f}%",
                    f"{r['seconds'] / limit2:.1f}×", verdict])
    for threads in sorted(limit):
        r = limit[threads]
        out.append([f"read limit: map, read every byte once ({threads} thread{'s' if threads > 1 else ''})",
                    f"{threads}", f"{r['seconds']:.3f}", f"{r['lines'] / r['seconds'] / 1e6:.0f}",
                    f"{r['bytes'] / r['seconds'] / 1e9:.2f}", "", f"{r['seconds'] / limit2:.1f}×",
                    f"mapping already touched: {r['bytes'] / r['prefaulted_seconds'] / 1e9:.2f} GB/s"])
    table(["program", "workers", "seconds", "M rows/s", "GB/s", "efficiency vs 1 worker", "÷ 2-thread read limit",
           "answer vs fronta threads"], ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"], out)

    fronta = [k for k, _ in DATA_PROGRAMS if k in DATA_SHORT and k in runs]
    peers = [(k, label) for k, label in DATA_PROGRAMS if k not in DATA_SHORT and k in runs]
    print()
    table(["peer's time ÷ fronta's"] + [f"fronta {DATA_SHORT[k]}" for k in fronta], ["---"] + ["---:"] * len(fronta),
          [[label] + [f"{runs[p]['seconds'] / runs[k]['seconds']:.1f}×" for k in fronta] for p, label in peers])

    dask_best = min((runs[k]["seconds"] for k in ("dask-threads", "dask-processes") if k in runs), default=NAN)

    def on_every_executor(measure, good, target):
        """The value on each of fronta's executors, the target; met when met on all of them."""
        values = [(DATA_SHORT[k], measure(runs[k]["seconds"])) for k in fronta]
        missed = [name for name, v in values if not good(v)]
        return (", ".join(f"{name} {v:.1f}×" for name, v in values), target,
                ("**no**: " + ", ".join(missed)) if missed else "yes")

    def met(ok):
        return "yes" if ok else "**no**"

    pandas_seconds = runs["pandas"]["seconds"] if "pandas" in runs else NAN
    targets = [
        ["parallel efficiency, threads", f"{efficiency('fronta-threads') * 100:.0f}%", "≥ 90%",
         met(efficiency("fronta-threads") >= 0.90)],
        ["parallel efficiency, processes", f"{efficiency('fronta-processes') * 100:.0f}%", "≥ 85%",
         met(efficiency("fronta-processes") >= 0.85)],
        ["pandas's time ÷ fronta's", *on_every_executor(lambda s: pandas_seconds / s, lambda v: v >= 10, "≥ 10×")],
        ["Dask dataframe's time (faster scheduler) ÷ fronta's",
         *on_every_executor(lambda s: dask_best / s, lambda v: v >= 20, "≥ 20×")],
        ["fronta's time ÷ 2-thread read limit", *on_every_executor(lambda s: s / limit2, lambda v: v <= 3, "≤ 3×")],
    ]
    print()
    table(["target (2 cores)", "measured", "target", "met"], ["---", "---:", "---:", "---"], targets)
    if not all_equal:
        print("\nreport.py data: an answer differs from fronta's (see the table)", file=sys.stderr)
        sys.exit(1)


def progress(path):
    """The cost of map_options::progress: medians over pairs of runs without and with a bar."""
    data = json.load(open(path))
    runs = {b["name"].split("/iterations")[0]: b for b in data["benchmarks"]}
    ctx = data.get("context", {})
    print(f"Machine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"{platform.platform()}; load average {os.getloadavg()[0]:.1f} at the end. Each cell: the median "
          "over pairs of runs back to back (without, with), ns per item, and the median of the pairs' "
          "ratios as the cost.")
    stderr_names = {"1": "/dev/null", "2": "a pipe", "3": "a pseudo-terminal"}
    worst = {}
    for bench, executor in (("map_1m_pairs", "thread_pool (2 workers)"), ("map_1m_pairs_inline", "inline_executor")):
        for clock, prefix in (("wall time", "wall"), ("CPU time of the process", "cpu")):
            rows = []
            for chunk in ("1", "1024"):
                for target, name in stderr_names.items():
                    run = runs.get(f"{bench}/chunk:{chunk}/stderr:{target}")
                    if not run:
                        continue
                    cost = (run[f"{prefix}_ratio"] - 1) * 100
                    key = f"{executor}, {clock}"
                    worst[key] = max(worst.get(key, -100.0), cost)
                    rows.append([chunk, name, f"{int(run['pairs'])}", f"{run[f'{prefix}_ns_without']:.2f}",
                                 f"{run[f'{prefix}_ns_with']:.2f}", f"{cost:+.1f}%"])
            print()
            print(f"**{executor}, {clock}**")
            print()
            table(["chunk_size", "stderr", "pairs", "ns/item without a bar", "with a bar", "cost"],
                  ["---:", "---", "---:", "---:", "---:", "---:"], rows)
    advance = runs.get("bar_advance")
    if advance:
        print()
        print(f"One `progress_bar::advance()` alone: {advance['real_time']:.1f} {advance.get('time_unit', 'ns')} "
              f"wall time, {advance['cpu_time']:.1f} {advance.get('time_unit', 'ns')} CPU time (stderr /dev/null).")
    print()
    for key, cost in worst.items():
        print(f"- largest cost, {key}: {cost:+.1f}% (target ≤ 5%: {'met' if cost <= 5 else '**not met**'})")


SERVER_MODES = [
    ("inline", "inline (heavy work on the io_context thread)"),
    ("async", "std::async per heavy request"),
    ("threads", "fronta::thread_pool"),
    ("processes", "fronta::process_pool"),
    ("connected", "the server at --connect"),
]


def server(lines_path):
    """Cheap requests' latency (open-loop, from the scheduled send time) under heavy load beside the
    same server idle, and heavy requests per second beside full parallelism (min(workers, cores,
    heavy clients) requests of the duration measured alone, back to back). Each cell: the median over rounds and,
    with several rounds, the spread (min–max)."""
    runs = {}
    for line in open(lines_path):
        if line.startswith("{"):
            r = json.loads(line)
            runs.setdefault(r["mode"], {}).setdefault(r["round"], {})[r["phase"]] = r
    cores = os.cpu_count()

    def med(values):
        v = sorted(values)
        n = len(v)
        return NAN if n == 0 else v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

    def cell(values, fmt):
        if not values:
            return "n/a"
        if len(values) == 1:
            return fmt(values[0])
        return f"{fmt(med(values))} ({fmt(min(values))}–{fmt(max(values))})"

    ms = lambda us: f"{us / 1000:.2f}" if us < 10_000 else f"{us / 1000:.0f}"
    ratio = lambda x: f"{x:.1f}×"
    per = {}
    for mode, rounds in runs.items():
        pairs = [(p["idle"], p["loaded"]) for p in rounds.values() if "idle" in p and "loaded" in p]
        if not pairs:
            continue
        loaded = pairs[0][1]
        ceiling = 1 if mode == "inline" else min(loaded["workers"], cores, loaded["heavy_clients"])
        per[mode] = {
            "idle_p50": [i["cheap_p50_us"] for i, _ in pairs],
            "idle_p99": [i["cheap_p99_us"] for i, _ in pairs],
            "p50": [l["cheap_p50_us"] for _, l in pairs],
            "p99": [l["cheap_p99_us"] for _, l in pairs],
            "max": [l["cheap_max_us"] for _, l in pairs],
            "p99_ratio": [l["cheap_p99_us"] / i["cheap_p99_us"] for i, l in pairs],
            "growth_ms": [(l["cheap_p99_us"] - i["cheap_p99_us"]) / 1000 for i, l in pairs],
            "alone_ms": [i["heavy_alone_ms"] for i, _ in pairs],
            "heavy_per_s": [l["heavy_per_s"] for _, l in pairs],
            "full": [l["heavy_per_s"] / (ceiling * 1000 / i["heavy_alone_ms"]) for i, l in pairs],
            "cheap_per_s": [l["cheap_per_s"] for _, l in pairs],
            "busy": [l["busy"] for _, l in pairs],
            "errors": sum(l["errors"] + i["errors"] for i, l in pairs),
            "late_p99": [l["late_p99_us"] for _, l in pairs],
            "cpu": [l["loadgen_cpu_percent"] for _, l in pairs],
            "rss_mib": [l["stats"]["rss_kib"] / 1024 for _, l in pairs if "rss_kib" in l.get("stats", {})],
            "rounds": len(pairs),
        }
    if not per:
        sys.exit("report.py server: no complete (idle and loaded) runs in " + lines_path)
    first = next(iter(next(iter(runs.values())).values()))["loaded"]
    loads = [p["load_average"][0] for rounds in runs.values() for r in rounds.values() for p in r.values()]
    print(f"{platform.platform()}, {cores} CPUs; {first['cheap_clients']} cheap clients (`ping` every "
          f"{first['interval_ms']:g} ms each, open loop), {first['heavy_clients']} heavy clients (`heavy "
          f"{first['heavy_units']}` back to back), {first['seconds']:g} s measured per phase, "
          f"{max(v['rounds'] for v in per.values())} round(s); {first['workers']} workers for the pools"
          f"{'; load generator at nice ' + str(first['loadgen_nice']) if first.get('loadgen_nice') else ''}"
          f"{'; server workers at nice ' + str(first['worker_nice']) if first.get('worker_nice') else ''}. "
          f"Load average (1 min) between phases: {min(loads):.1f}–{max(loads):.1f}. "
          "Latencies in ms from the scheduled send time; median over rounds (min–max).\n")
    order = [m for m, _ in SERVER_MODES if m in per] + sorted(m for m in per if m not in dict(SERVER_MODES))
    label = lambda m: dict(SERVER_MODES).get(m, m)
    table(["executor", "idle p50", "idle p99", "loaded p50", "loaded p99", "loaded max", "p99 ÷ idle p99",
           "p99 − idle p99", "one heavy alone", "heavy/s", "÷ full parallelism", "busy replies"],
          ["---"] + ["---:"] * 11,
          [[label(m), cell(v["idle_p50"], ms), cell(v["idle_p99"], ms), cell(v["p50"], ms), cell(v["p99"], ms),
            cell(v["max"], ms), cell(v["p99_ratio"], ratio), cell(v["growth_ms"], lambda x: f"{x:+.1f}"),
            cell(v["alone_ms"], lambda x: f"{x:.1f}"), cell(v["heavy_per_s"], lambda x: f"{x:.1f}"),
            cell(v["full"], lambda x: f"{x * 100:.0f}%"), cell(v["busy"], lambda x: f"{x:.0f}")]
           for m, v in ((m, per[m]) for m in order)])
    print()
    print("Full parallelism: min(workers, CPUs, heavy clients) heavy requests at once (1 for inline), each "
          "as long as one heavy request alone on the idle server.")
    print()
    table(["executor", "cheap replies/s", "load generator's timers late, p99 ms", "load generator CPU",
           "server RSS after, MiB", "errors"], ["---", "---:", "---:", "---:", "---:", "---:"],
          [[label(m), cell(v["cheap_per_s"], lambda x: f"{x:.0f}"), cell(v["late_p99"], ms),
            cell(v["cpu"], lambda x: f"{x:.0f}%"), cell(v["rss_mib"], lambda x: f"{x:.1f}"), str(v["errors"])]
           for m, v in ((m, per[m]) for m in order)])
    print()
    print("Late timers: how long after its scheduled time the load generator sent a request it was waiting "
          "to send (its own share of the latency, on the same 2 CPUs). Server RSS: the `stats` reply after "
          "the loaded phase (the server and its worker processes).")
    targets = []
    for m in ("threads", "processes"):
        if m in per:
            worst = max(per[m]["p99_ratio"])
            targets.append([f"{label(m)}: cheap p99 ÷ idle p99",
                            f"{med(per[m]['p99_ratio']):.1f}× (worst {worst:.1f}×)",
                            "≤ 2×", "yes" if worst <= 2 else "median only" if med(per[m]["p99_ratio"]) <= 2
                            else "**no**"])
            full = med(per[m]["full"])
            targets.append([f"{label(m)}: heavy/s ÷ full parallelism", f"{full * 100:.0f}%", "≈ 100% (≥ 90%)",
                            "yes" if full >= 0.9 else "**no**"])
    if "inline" in per:
        v = per["inline"]
        targets.append(["inline: cheap p99 − idle p99", f"{med(v['growth_ms']):+.0f} ms",
                        f"≈ one heavy request ({med(v['alone_ms']):.0f} ms) or more", "shown" if
                        med(v["growth_ms"]) >= 0.8 * med(v["alone_ms"]) else "**not shown**"])
    if targets:
        print()
        table(["target (2 cores)", "measured", "target", "met"], ["---", "---:", "---:", "---"], targets)


DATAFLOW_SYSTEMS = [
    ("fronta_threads", "fronta thread_pool(2), futures as arguments"),
    ("fronta_threads_waits", "fronta thread_pool(2), waits in the client"),
    ("fronta_processes", "fronta process_pool(2), futures as arguments"),
    ("fronta_processes_waits", "fronta process_pool(2), waits in the client"),
    ("fronta_mpi", "fronta mpi_pool (2 worker ranks), futures as arguments"),
    ("fronta_mpi_waits", "fronta mpi_pool (2 worker ranks), waits in the client"),
    ("openmp", "OpenMP tasks with depend (libgomp, 2 threads)"),
    ("tbb_flow_graph", "oneTBB flow_graph (arena of 2)"),
    ("mpi_spmd", "hand-written MPI, SPMD, Isend/Irecv (2 ranks)"),
]
DATAFLOW_PEERS = ["openmp", "tbb_flow_graph", "mpi_spmd"]
DATAFLOW_PATTERNS = ["trivial", "stencil_1d", "nearest"]


def dataflow_metg(curve):
    """METG(50%) from a curve {iterations: (efficiency, kernel_us)}: the kernel size where the
    efficiency crosses 50%, interpolated in log(iterations) between the smallest size still at or
    above 50% and the next smaller one; Task Bench's granularity there is kernel time / 0.5.
    Returns (metg_us, note): note '<=' when no size below crossed, '>' when none reached 50%."""
    sizes = sorted(curve, reverse=True)
    above = [n for n in sizes if curve[n][0] >= 0.5]
    if not above:
        return 2 * curve[sizes[0]][1], ">"
    n1 = min(above)
    smaller = [n for n in sizes if n < n1]
    if not smaller:
        return 2 * curve[n1][1], "<="
    n2 = max(smaller)
    (e1, k1), (e2, _) = curve[n1], curve[n2]
    x = math.log(n1) + (0.5 - e1) / (e2 - e1) * (math.log(n2) - math.log(n1)) if e1 != e2 else math.log(n1)
    return 2 * k1 * math.exp(x) / n1, ""


def dataflow_ratio(mine, theirs):
    """mine ÷ theirs for two (metg, note); a bound when either is one (`>`: at least, `<=`: at most)."""
    if not theirs:
        return "n/a"
    low = mine[1] == ">" or theirs[1] == "<="
    high = mine[1] == "<=" or theirs[1] == ">"
    if low and high:
        return "?"
    return ("≥" if low else "≤" if high else "") + f"{mine[0] / theirs[0]:.2f}×"


def dataflow(lines_path):
    peaks, points, probes, loads, failed = [], [], {}, [], []
    for line in open(lines_path):
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        kind = r.get("kind")
        if kind == "peak":
            peaks.append(r)
        elif kind == "point":
            (points if r["ok"] else failed).append(r)
        elif kind == "probe":
            probes[(r["binary"], r["round"], r["pattern"], r["iterations"])] = r
        elif kind == "load":
            loads.append(r)
    if not peaks or not points:
        sys.exit("report.py dataflow: no measurements in " + lines_path)
    # The highest serial rate seen in any process of the run: the most demanding peak.
    rate = max(p["flops_per_core"] for p in peaks)
    workers = points[0]["workers"]

    def global_eff(r):
        return r["efficiency"] * r["flops_per_core"] / rate

    # (mode, system, pattern) -> iterations -> [(efficiency, kernel_us)] over rounds. Dividing by
    # the probe's efficiency (a load-adjusted METG) was tried and dropped: on a loaded host the
    # probe moves as much as the systems, and the quotient said more about the noise than about
    # them. The probe says how loaded the host was.
    by = {"peak": {}}
    for r in points:
        eff = global_eff(r)
        kernel_us = eff * r["granularity_us"]  # the kernel's time at the peak rate: the same in every round
        by["peak"].setdefault((r["system"], r["pattern"]), {}).setdefault(r["iterations"], []).append((eff, kernel_us))
    probe_effs = [global_eff(p) for p in probes.values()]

    def med(values):
        v = sorted(values)
        return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2

    metg = {}
    for mode, curves in by.items():
        for key, sizes in curves.items():
            best = {n: max(runs) for n, runs in sizes.items()}
            median = {n: (med([e for e, _ in runs]), med([k for _, k in runs])) for n, runs in sizes.items()}
            metg[(mode, "best", key)] = dataflow_metg(best)
            metg[(mode, "median", key)] = dataflow_metg(median)
    rounds = sorted({r["round"] for r in points})
    width = points[0]["width"]
    load_text = ", ".join(f"{l['load1']:.1f}" for l in loads) if loads else "not recorded"
    print(f"{platform.platform()}, {os.cpu_count()} CPUs; width {width}, {workers} workers per system, "
          f"{len(rounds)} round(s); peak {rate * workers / 1e9:.1f} GFLOP/s ({workers} x the kernel's best serial "
          f"rate, {rate / 1e9:.2f} GFLOP/s); load average (1 min) before each launch: {load_text}."
          + (f" The probe (the same kernels, no dependencies, no runtime) reached {med(probe_effs) * 100:.0f}% "
             f"of the peak at the median size and round ({min(probe_effs) * 100:.0f}–{max(probe_effs) * 100:.0f}%): "
             "the share of the machine the benchmark had." if probe_effs else "") + "\n")
    systems = [(k, label) for k, label in DATAFLOW_SYSTEMS if any((k, p) in by["peak"] for p in DATAFLOW_PATTERNS)]
    patterns = [p for p in DATAFLOW_PATTERNS if any((k, p) in by["peak"] for k, _ in systems)]

    def cell(mode, which, key):
        if (mode, which, key) not in metg:
            return "n/a"
        v, note = metg[(mode, which, key)]
        return f"{note}{v:.2f}" if v < 10 else f"{note}{v:.1f}" if v < 100 else f"{note}{v:.0f}"

    for mode, title in (("peak", "METG(50%), µs"),):
        if not by[mode]:
            continue
        print()
        table([f"system ({title}: best of rounds (median of rounds))"] + patterns, ["---"] + ["---:"] * len(patterns),
              [[label] + [f"{cell(mode, 'best', (k, p))} ({cell(mode, 'median', (k, p))})" for p in patterns]
               for k, label in systems])
    print()
    print("Granularity as Task Bench defines it: wall time x workers / tasks; at 50% efficiency that is twice "
          "the kernel's own time. Best of rounds: at each size the round with the highest efficiency; median: "
          "the median efficiency over rounds. `<=`: still at 50% at the smallest size run; `>`: never at 50%.")
    ours = [k for k, _ in systems if k.startswith("fronta")]
    peers = [k for k in DATAFLOW_PEERS if any((k, p) in by["peak"] for p in patterns)]
    short = {"openmp": "OpenMP", "tbb_flow_graph": "oneTBB", "mpi_spmd": "MPI SPMD"}
    for mode in ("peak",):
        rows = []
        for k in ours:
            for p in patterns:
                mine = metg.get((mode, "best", (k, p)))
                if not mine:
                    continue
                row = [f"{k} ({p})"]
                for q in peers + [k + "_waits"]:
                    theirs = metg.get((mode, "best", (q, p)))
                    row.append(dataflow_ratio(mine, theirs) if q in peers or not k.endswith("_waits") else "")
                rows.append(row)
        if rows:
            print()
            table([f"{'load-adjusted ' if mode == 'adjusted' else ''}METG ÷ peer's (best of rounds; < 1: fronta finer)"]
                  + [short[q] for q in peers] + ["÷ same pool, waits"], ["---"] + ["---:"] * (len(peers) + 1), rows)

    def bounds(m):
        v, note = m
        return (v, math.inf) if note == ">" else (0.0, v) if note == "<=" else (v, v)

    def verdict(lo, hi, bound_lo, bound_hi):
        """Is a value in [lo, hi] at most one in [bound_lo, bound_hi]?"""
        return "yes" if hi <= bound_lo else "**no**" if lo > bound_hi else "undecided (the host was too loaded)"

    rows = []
    for p in patterns:
        mine, omp = metg.get(("peak", "best", ("fronta_threads", p))), metg.get(("peak", "best", ("openmp", p)))
        if mine and omp:
            rows.append([f"thread_pool METG ≤ OpenMP's ({p})", f"{cell('peak', 'best', ('fronta_threads', p))} µs",
                         f"OpenMP {cell('peak', 'best', ('openmp', p))} µs", verdict(*bounds(mine), *bounds(omp))])
    for k in ("fronta_processes", "fronta_mpi"):
        for p in ("stencil_1d", "nearest"):
            mine = metg.get(("peak", "best", (k, p)))
            if mine:
                rows.append([f"{k} METG ≤ 20 µs ({p})", f"{cell('peak', 'best', (k, p))} µs", "20 µs",
                             verdict(*bounds(mine), 20, 20)])
    if rows:
        print()
        table(["target (2 cores; best of rounds)", "METG", "bound", "met"], ["---", "---:", "---:", "---"], rows)
    if failed:
        print()
        for r in failed:
            print(f"**{r['system']} {r['pattern']} at {r['iterations']} iterations: results differ from the serial "
                  "reference (or it failed)**")
        sys.exit(1)

REPORTS = {"progress": progress, "threads": threads, "process": process, "large": large, "mpi": mpi, "data": data,
           "server": server, "dataflow": dataflow}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in REPORTS:
        sys.exit(__doc__)
    REPORTS[sys.argv[1]](*sys.argv[2:])
