"""Python's ProcessPoolExecutor and loky (from Debian's python3-joblib) on the workloads of
bench/process/process_pool_bench.cpp, 2 workers each. Prints one JSON object per executor."""
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy
from joblib.externals import loky

WORKERS = 2
BATCH = 20_000
MAP_ITEMS = 1_000_000


def trivial(x):
    return x + 1


def middle(values):
    return values[len(values) // 2]


def start(make):
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        pool = make()
        a, b = pool.submit(trivial, 1), pool.submit(trivial, 2)
        a.result(), b.result()
        samples.append(time.perf_counter() - t0)
        pool.shutdown()
    return statistics.median(samples)


def round_trip(pool, count=5_000):
    samples = []
    for i in range(count):
        t0 = time.perf_counter_ns()
        pool.submit(trivial, i).result()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


def batched(pool):
    t0 = time.perf_counter_ns()
    futures = [pool.submit(trivial, i) for i in range(BATCH)]
    sum(f.result() for f in futures)
    return (time.perf_counter_ns() - t0) / BATCH


def chunked_map(pool):
    t0 = time.perf_counter_ns()
    sum(pool.map(trivial, range(MAP_ITEMS), chunksize=10_000))
    return (time.perf_counter_ns() - t0) / MAP_ITEMS


def echo(values):
    return values


LARGE_MB = (8, 32, 128, 256)


def large_value(pool):
    """By value: a numpy array of MB megabytes (10^6 bytes) of float64 goes to a task that returns
    it; the median round trip per size, as bench/process/process_pool_bench.cpp's large_value/MB."""
    out = {}
    for mb in LARGE_MB:
        data = numpy.full(mb * 1_000_000 // 8, 1.5)
        pool.submit(echo, data).result()  # warm
        samples = []
        for _ in range(max(5, min(20, 1000 // mb))):
            t0 = time.perf_counter_ns()
            back = pool.submit(echo, data).result()
            samples.append(time.perf_counter_ns() - t0)
            assert back.nbytes == data.nbytes
        out[str(mb)] = statistics.median(samples)
    return out


def handoff(pool, count=20):
    data = bytes(100_000_000)
    pool.submit(middle, b"warm").result()
    samples = []
    for _ in range(count):
        t0 = time.perf_counter_ns()
        pool.submit(middle, data).result()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


def measure(name, make, reusable=False):
    result = {"executor": name, "start_s": start(make) if not reusable else None}
    pool = make()
    result.update(round_trip_median_ns=round_trip(pool), batched_ns_per_task=batched(pool),
                  map_ns_per_item=chunked_map(pool), handoff_100mb_ns=handoff(pool),
                  large_value_ns=large_value(pool))
    pool.shutdown()
    return result


def measure_large(name, make):
    pool = make()
    result = {"executor": name, "large_value_ns": large_value(pool)}
    pool.shutdown()
    return result


if __name__ == "__main__":
    run = measure_large if sys.argv[1:] == ["large"] else measure
    results = [
        run("ProcessPoolExecutor", lambda: ProcessPoolExecutor(max_workers=WORKERS)),
        run("loky", lambda: loky.get_reusable_executor(max_workers=WORKERS, reuse=False)),
    ]
    print(json.dumps({"python": sys.version.split()[0], "results": results}))
