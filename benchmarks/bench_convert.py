"""Throughput and memory of read → build → validate over a corpus (run by hand, not in CI).

    python benchmarks/bench_convert.py ../shared/ctgov --to fhir-r5

Prints records/second per stage and peak RSS so regressions are visible; results go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from converter.api import iter_convert
from converter.readers import read_source


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("--to", default="fhir-r5")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    trials = sum(1 for _ in read_source(args.source, on_error=lambda e: None))
    read_seconds = time.perf_counter() - started

    started = time.perf_counter()
    converted = failed = 0
    for result in iter_convert(args.source, args.to.split(","), jobs=args.jobs):
        converted += result.ok
        failed += not result.ok
    total_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records read: {trials} in {read_seconds:.2f}s ({trials / read_seconds:.0f}/s)")
    print(f"converted to {args.to} with {args.jobs} job(s): {converted} ok, {failed} failed in {total_seconds:.2f}s ({converted / total_seconds:.1f}/s incl. validation)")
    print(f"peak RSS: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
