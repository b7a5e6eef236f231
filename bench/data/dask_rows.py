"""The flagship's job in a Dask dataframe: dd.read_csv in blocks of --chunk-mb (16 MiB), one
groupby-aggregation, computed on Dask's local scheduler with --workers (2) workers: threads
(the default) or processes (--scheduler processes; forked, so a worker starts without
re-importing). Stations are read as a category, as in pandas_rows.py. Run by bench/data/run.sh
with Debian's /usr/bin/python3 and python3-dask:
    python3 dask_rows.py FILE --output ANSWER [--workers 2] [--scheduler threads|processes]"""
import csv
import sys

import dask
import dask.dataframe as dd

from common import arguments, finish, timer


def main():
    args = arguments("min/mean/max per station with a Dask dataframe", workers=2,
                     extra=[("--scheduler", dict(choices=["threads", "processes"], default="threads"))])
    dask.config.set({"multiprocessing.context": "fork"})
    with timer() as t:
        frame = dd.read_csv(args.file, sep=";", header=None, names=["station", "temperature"],
                            dtype={"station": "category", "temperature": "float64"},
                            blocksize=int(args.chunk_mb * (1 << 20)), quoting=csv.QUOTE_NONE, na_filter=False,
                            encoding="utf-8")
        result = frame.groupby("station", observed=True)["temperature"].agg(["min", "max", "sum", "count"])
        merged = result.compute(scheduler=args.scheduler, num_workers=args.workers)
    stations = {str(name): (row.min, row.max, row.sum, row.count) for name, row in zip(merged.index, merged.itertuples())}
    finish(f"dask ({args.scheduler})", args, stations, t.seconds)


if __name__ == "__main__":  # the processes scheduler's workers import this file too
    sys.exit(main())
