"""Shared by the Python peers of bench/data/run.sh: the command line, the timer, the answer file.

Every peer is run as   python3 PEER.py FILE --output ANSWER [--workers N] [--chunk-mb M]
and prints one JSON line {"program", "workers", "rows", "bytes", "seconds"} on stdout. "seconds"
runs from the first read of FILE to the merged answer (the interpreter's start and the imports
are not counted, nor writing ANSWER). ANSWER has one line per station, sorted by name (bytes of
its UTF-8 name), `name=min/mean/max`: min and max with one decimal as in the file, the mean
unrounded (6 decimals), so that report.py can check fronta's rounded mean against it."""
import argparse
import json
import os
import time


def arguments(description, workers=1, extra=()):
    parser = argparse.ArgumentParser(description=description)
    for flag, options in extra:
        parser.add_argument(flag, **options)
    parser.add_argument("file")
    parser.add_argument("--output", required=True, help="where to write the answer")
    parser.add_argument("--workers", type=int, default=workers)
    parser.add_argument("--chunk-mb", type=float, default=16, help="bytes per chunk or block, in MiB")
    return parser.parse_args()


class timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def finish(program, args, stations, seconds):
    """stations: {name (str): (min, max, sum, count)}. Writes the answer, prints the JSON line."""
    rows = 0
    with open(args.output, "w", encoding="utf-8") as out:
        for name in sorted(stations, key=lambda s: s.encode("utf-8")):
            low, high, total, count = stations[name]
            rows += count
            out.write(f"{name}={low:.1f}/{total / count:.6f}/{high:.1f}\n")
    print(json.dumps({"program": program, "workers": args.workers, "rows": int(rows),
                      "bytes": os.path.getsize(args.file), "seconds": seconds}), flush=True)
