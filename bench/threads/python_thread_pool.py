"""Python's ThreadPoolExecutor on the workloads of bench/threads/thread_pool_bench.cpp, 2 workers.

Prints one JSON object: batched ns per task, median round trip ns, as_completed over 1,000,000.
Run with Debian's python3 (/usr/bin/python3), as bench/run.sh does.
"""
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

BATCH = 200_000
WORKERS = 2


def trivial(x):
    return x + 1


def batched(pool, repeats=3):
    best = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        futures = [pool.submit(trivial, i) for i in range(BATCH)]
        total = sum(f.result() for f in futures)
        best.append((time.perf_counter_ns() - start) / BATCH)
        assert total == sum(range(1, BATCH + 1))
    return statistics.median(best)


def round_trip(pool, count=20_000):
    samples = []
    for i in range(count):
        start = time.perf_counter_ns()
        pool.submit(trivial, i).result()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples)


def as_completed_million(pool, n=1_000_000):
    futures = [pool.submit(trivial, i) for i in range(n)]
    start = time.perf_counter()
    total = sum(f.result() for f in as_completed(futures))
    elapsed = time.perf_counter() - start
    assert total == sum(range(1, n + 1))
    return elapsed


def main():
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        result = {
            "python": sys.version.split()[0],
            "batched_ns_per_task": batched(pool),
            "round_trip_median_ns": round_trip(pool),
            "as_completed_1m_s": as_completed_million(pool),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
