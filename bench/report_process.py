"""Markdown table for the process pools: fronta next to ProcessPoolExecutor and loky, with ratios."""
import json
import sys


def large_table(runs, py):
    """By value, argument and result of the same size: throughput = (argument + result bytes) /
    median round trip, in MB/s (10^6 bytes)."""
    sizes = [8, 32, 128, 256]
    rows = [("fronta::process_pool (std::vector<double>)",
             {mb: runs.get(f"large_value<fronta::process_pool>/{mb}", {}).get("median_ns", float("nan")) for mb in sizes})]
    for r in py["results"]:
        if "large_value_ns" in r:
            rows.append((f"Python {r['executor']} (numpy float64 array)",
                         {mb: r["large_value_ns"].get(str(mb), float("nan")) for mb in sizes}))

    def rate(mb, ns):
        return 2 * mb * 1e6 / (ns * 1e-9) / 1e6

    print()
    print("Large values by value (argument and result of the same size; throughput = (argument + result "
          "bytes) / median round trip, MB = 10^6 bytes):")
    print()
    print("| executor | " + " | ".join(f"{mb} MB: ms, MB/s" for mb in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for label, v in rows:
        print(f"| {label} | " + " | ".join(f"{v[mb] * 1e-6:.1f} ms, {rate(mb, v[mb]):.0f}" for mb in sizes) + " |")
    print()
    print("| throughput ratio: fronta::process_pool ÷ | " + " | ".join(f"{mb} MB" for mb in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    fronta = rows[0][1]
    for label, v in rows[1:]:
        print(f"| {label} | " + " | ".join(f"{v[mb] / fronta[mb]:.1f}×" for mb in sizes) + " |")
    print()
    print("Target: at least 4× loky's throughput at every size.")


def main(cpp_path, python_path):
    cpp = json.load(open(cpp_path))
    py = json.load(open(python_path))
    iterations = [b for b in cpp["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    runs = {b["name"].split("/")[0]: b for b in iterations}
    # Benchmarks with an argument (large_value/MB) by name and argument.
    runs.update({"/".join(b["name"].split("/")[:2]): b for b in iterations if b["name"].startswith("large_value")})

    def get(name, key, scale=1.0):
        run = runs.get(name)
        return run[key] * scale if run and key in run else float("nan")

    if len(sys.argv) > 3 and sys.argv[3] == "large":
        print(f"Python {py['python']}; 2 workers each.")
        large_table(runs, py)
        return
    fronta = {
        "start_ms": get("process_pool_start", "real_time"),
        "round_trip_us": get("round_trip<fronta::process_pool>", "median_ns", 1e-3),
        "batched_us": get("batched<fronta::process_pool>", "ns_per_task", 1e6),
        "map_ns": get("chunked_map<fronta::process_pool>", "ns_per_item", 1e9),
        "handoff_us": get("handoff_100mb<fronta::process_pool>", "median_ns", 1e-3),
    }
    threads = {
        "start_ms": float("nan"),
        "round_trip_us": get("round_trip<fronta::thread_pool>", "median_ns", 1e-3),
        "batched_us": get("batched<fronta::thread_pool>", "ns_per_task", 1e6),
        "map_ns": get("chunked_map<fronta::thread_pool>", "ns_per_item", 1e9),
        "handoff_us": get("handoff_100mb<fronta::thread_pool>", "median_ns", 1e-3),
    }
    rows = [("fronta::process_pool", fronta), ("fronta::thread_pool (same machine, no isolation)", threads)]
    for r in py["results"]:
        rows.append((f"Python {r['executor']}", {
            "start_ms": r["start_s"] * 1e3 if r["start_s"] is not None else float("nan"),
            "round_trip_us": r["round_trip_median_ns"] * 1e-3,
            "batched_us": r["batched_ns_per_task"] * 1e-3,
            "map_ns": r["map_ns_per_item"],
            "handoff_us": r["handoff_100mb_ns"] * 1e-3,
        }))
    print(f"Python {py['python']}; 2 workers each.\n")
    print("| executor | start 2 workers, ms | round trip median, µs | batched µs/task | chunked map ns/item | 100 MB hand-off, µs |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, v in rows:
        print(f"| {label} | {v['start_ms']:.1f} | {v['round_trip_us']:.1f} | {v['batched_us']:.2f} | "
              f"{v['map_ns']:.1f} | {v['handoff_us']:.1f} |")
    print()
    print("| ratio: Python ÷ fronta::process_pool | start | round trip | batched | chunked map | 100 MB hand-off |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, v in rows[2:]:
        ratios = [v[k] / fronta[k] for k in ("start_ms", "round_trip_us", "batched_us", "map_ns", "handoff_us")]
        print(f"| {label} | " + " | ".join(f"{x:.1f}×" for x in ratios) + " |")
    print()
    print("| target (2 cores) | fronta::process_pool | target |")
    print("|---|---:|---:|")
    print(f"| start 2 workers | {fronta['start_ms']:.1f} ms | ≤ 50 ms |")
    print(f"| single round trip | {fronta['round_trip_us']:.1f} µs | ≤ 10 µs |")
    print(f"| batched submit + get | {fronta['batched_us']:.2f} µs/task | ≤ 2 µs |")
    print(f"| chunked map | {fronta['map_ns']:.1f} ns/item | ≤ 50 ns |")
    print(f"| 100 MB shared-buffer hand-off | {fronta['handoff_us']:.1f} µs | ≤ 1000 µs |")
    large_table(runs, py)
    floor = get("socket_ping_pong_floor", "median_ns", 1e-3)
    print()
    print(f"Floor of a socket transport here: 8 bytes there and back over a Unix socket pair between two "
          f"blocking threads takes {floor:.1f} µs (median), with no work at all.")


if __name__ == "__main__":
    main(*sys.argv[1:3])
