"""The flagship's job in pandas, as a pandas user writes it: read_csv in chunks (the file does not
fit comfortably in memory as a DataFrame), groupby per chunk, merge the per-chunk aggregates.
Stations are read as a category (a third faster here than as strings). One process: pandas
parses and groups in one thread. Run by bench/data/run.sh with Debian's
/usr/bin/python3 and python3-pandas:  python3 pandas_rows.py FILE --output ANSWER"""
import csv
import sys

import pandas as pd

from common import arguments, finish, timer

ROWS_PER_CHUNK = 5_000_000  # about 70 MB of the file, a few hundred MB as a DataFrame (--chunk-mb is not used)


def main():
    args = arguments("min/mean/max per station with pandas, read_csv in chunks")
    with timer() as t:
        parts = []
        reader = pd.read_csv(args.file, sep=";", header=None, names=["station", "temperature"],
                             dtype={"station": "category", "temperature": "float64"}, chunksize=ROWS_PER_CHUNK,
                             engine="c", quoting=csv.QUOTE_NONE, na_filter=False, encoding="utf-8")
        for chunk in reader:
            parts.append(chunk.groupby("station", observed=True)["temperature"].agg(["min", "max", "sum", "count"]))
        merged = pd.concat(parts).groupby(level=0).agg({"min": "min", "max": "max", "sum": "sum", "count": "sum"})
    stations = {name: (row.min, row.max, row.sum, row.count) for name, row in zip(merged.index, merged.itertuples())}
    finish("pandas", args, stations, t.seconds)


if __name__ == "__main__":
    sys.exit(main())
