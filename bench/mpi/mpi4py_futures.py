"""The MPI benchmark's peer: mpi4py.futures (Debian's python3-mpi4py), measured like
bench/mpi/mpi_pool_bench.cpp. Run as: mpirun -n N+1 python3 -m mpi4py.futures mpi4py_futures.py
(rank 0 runs this script, the other ranks are the pool's workers)."""
import json
import statistics
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def trivial(x):
    return x + 1


def best_of(runs, f):
    return min(f() for _ in range(runs))


def main():
    with MPIPoolExecutor() as pool:
        workers = MPI.COMM_WORLD.Get_size() - 1
        for i in range(500):
            pool.submit(trivial, 1.0).result()
        trips = []
        for i in range(5000):
            start = time.perf_counter()
            pool.submit(trivial, float(i)).result()
            trips.append((time.perf_counter() - start) * 1e6)
        round_trip_us = statistics.median(trips)

        batch = 5000

        def batched():
            start = time.perf_counter()
            futures = [pool.submit(trivial, float(i)) for i in range(batch)]
            total = sum(f.result() for f in futures)
            assert total > 0
            return (time.perf_counter() - start) * 1e6 / batch

        batched_us = best_of(3, batched)

        items = 2_000_000
        inputs = [1.0] * items

        def mapped():
            start = time.perf_counter()
            total = sum(pool.map(trivial, inputs, chunksize=10_000))
            assert total == 2.0 * items
            return (time.perf_counter() - start) * 1e9 / items

        map_ns = best_of(2, mapped)
    print(json.dumps({"impl": "mpi4py.futures", "workers": workers, "round_trip_us": round(round_trip_us, 2),
                      "batched_us_per_task": round(batched_us, 3), "map_ns_per_item": round(map_ns, 1)}))


if __name__ == "__main__":
    main()
