"""The flagship's job with Python's own ProcessPoolExecutor: the file cut into the same byte ranges
as fronta::file_chunks (about --chunk-mb MiB each, each ending with a newline), one task per
range, each parsed in pure Python in a worker process (--workers, 2), the per-range dictionaries
merged on the client. Only (offset, size) travels to a worker and a small dictionary back. Run
by bench/data/run.sh with Debian's /usr/bin/python3:
    python3 ppe_rows.py FILE --output ANSWER [--workers 2] [--chunk-mb 16]"""
import mmap
import os
import sys
from concurrent.futures import ProcessPoolExecutor

from common import arguments, finish, timer


def byte_ranges(path, chunk_bytes):
    """(offset, size) pairs as fronta::file_chunks cuts them: a chunk ends with the first newline
    at or after its nominal last byte; the last one ends at the end of the file."""
    ranges = []
    size = os.path.getsize(path)
    if size == 0:
        return ranges
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = 0
        while start < size:
            end = size
            if size - start > chunk_bytes:
                at = data.find(b"\n", start + chunk_bytes - 1)
                end = size if at < 0 else at + 1
            ranges.append((start, end - start))
            start = end
    return ranges


def summarise(path, offset, size):
    """{station (bytes): [min, max, sum, count]} of the lines in bytes [offset, offset + size)."""
    with open(path, "rb") as f:
        data = os.pread(f.fileno(), size, offset)
    stations = {}
    for line in data.split(b"\n"):
        if not line:
            continue
        name, _, text = line.partition(b";")
        t = float(text)
        s = stations.get(name)
        if s is None:
            stations[name] = [t, t, t, 1]
        else:
            if t < s[0]:
                s[0] = t
            if t > s[1]:
                s[1] = t
            s[2] += t
            s[3] += 1
    return stations


def main():
    args = arguments("min/mean/max per station with ProcessPoolExecutor", workers=2)
    with timer() as t:
        merged = {}
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            ranges = byte_ranges(args.file, int(args.chunk_mb * (1 << 20)))
            futures = [pool.submit(summarise, args.file, offset, size) for offset, size in ranges]
            for future in futures:
                for name, (low, high, total, count) in future.result().items():
                    s = merged.get(name)
                    if s is None:
                        merged[name] = [low, high, total, count]
                    else:
                        s[0] = min(s[0], low)
                        s[1] = max(s[1], high)
                        s[2] += total
                        s[3] += count
    stations = {name.decode("utf-8"): tuple(s) for name, s in merged.items()}
    finish("ProcessPoolExecutor", args, stations, t.seconds)


if __name__ == "__main__":
    sys.exit(main())
