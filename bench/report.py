"""Turns the benchmark outputs into the markdown tables of docs/benchmarks.md, with ratios."""
import json
import os
import platform
import sys


def main(cpp_path, python_path):
    cpp = json.load(open(cpp_path))
    py = json.load(open(python_path))
    runs = {b["name"].split("/")[0]: b for b in cpp["benchmarks"] if b.get("run_type", "iteration") == "iteration"}

    def counter(name, key):
        return runs[name][key] if name in runs and key in runs[name] else float("nan")

    peers = [
        ("fronta::thread_pool", "fronta"),
        ("oneTBB task_arena + packaged_task", "tbb"),
        ("Boost.Asio thread_pool + packaged_task", "asio"),
        ("std::async (a thread per task; batches of 1,000)", "std_async"),
    ]
    # Google Benchmark reports an inverted rate in seconds per task.
    batched = {label: counter(f"{key}_batched", "ns_per_task") * 1e9 for label, key in peers}
    round_trip = {label: counter(f"{key}_round_trip", "median_ns") for label, key in peers}
    batched["Python ThreadPoolExecutor"] = py["batched_ns_per_task"]
    round_trip["Python ThreadPoolExecutor"] = py["round_trip_median_ns"]

    ctx = cpp["context"]
    print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, {platform.platform()}; "
          f"Python {py['python']}; all pools with 2 workers.\n")
    base_b = batched["fronta::thread_pool"]
    base_r = round_trip["fronta::thread_pool"]
    print("| executor | batched ns/task (200,000 tasks, futures) | × fronta | round trip median ns | × fronta |")
    print("|---|---:|---:|---:|---:|")
    for label in batched:
        print(f"| {label} | {batched[label]:.0f} | {batched[label] / base_b:.2f} | "
              f"{round_trip[label]:.0f} | {round_trip[label] / base_r:.2f} |")

    ac = runs["fronta_as_completed_1m"]["real_time"]  # ms per iteration
    mem = counter("fronta_memory_per_pending_task", "bytes_per_task")
    print()
    print("| measure | fronta | target | Python ThreadPoolExecutor |")
    print("|---|---:|---:|---:|")
    print(f"| batched cost per task | {base_b:.0f} ns | ≤ 150 ns | {py['batched_ns_per_task']:.0f} ns |")
    print(f"| single round trip, median | {base_r / 1000:.2f} µs | ≤ 2 µs | {py['round_trip_median_ns'] / 1000:.2f} µs |")
    print(f"| as_completed over 1,000,000 futures | {ac / 1000:.3f} s | < 1 s | {py['as_completed_1m_s']:.3f} s |")
    print(f"| library heap per pending task | {mem:.0f} B | ≤ 128 B | n/a |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
