"""Peak memory and wall time of one ``trialconv convert`` run (run by hand, not in CI).

    python benchmarks/make_corpus.py 10000 --files /tmp/ctgov-10k
    python benchmarks/bench_scale.py /tmp/ctgov-10k --to cdisc --jobs 2 --out /tmp/out-10k
    python benchmarks/bench_scale.py /tmp/ctgov-10k --to cdisc --jobs 2 --out /tmp/out-10k --incremental

The run is a child process; its peak RSS is ``ru_maxrss`` from ``wait4``, which Linux reports as
the largest resident set of the child or of any process it waited for (the worker processes), so it
is the peak of the biggest single process, not a sum. One JSON line per run is appended
to ``--log`` (status counts from the run's report, records/s over the wall time).

``--floor`` instead times reading and parsing every input in one process, nothing converted or
written: the floor the conversion figures are a multiple of on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run(command: list[str]) -> tuple[int, float, float]:
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", type=Path)
    parser.add_argument("--to", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--label", default="")
    parser.add_argument("--log", type=Path, default=Path(__file__).with_name("scale-runs.ndjson"))
    parser.add_argument("--floor", action="store_true", help="time reading + parsing only (one process)")
    args = parser.parse_args()
    if args.floor:
        from converter.readers import read_source

        started = time.perf_counter()
        count = sum(1 for _ in read_source(str(args.input), on_error=lambda error: None))
        seconds = time.perf_counter() - started
        line = {"label": args.label, "input": str(args.input), "floor": "read+parse", "records": count, "wall_s": round(seconds, 1),
                "records_per_s": round(count / seconds, 1)}
        print(json.dumps(line))
        with open(args.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        return 0
    command = [sys.executable, "-m", "converter.cli", "convert", str(args.input), "--to", args.to, "--out", str(args.out),
               "--jobs", str(args.jobs), "--quiet"] + (["--incremental"] if args.incremental else [])
    code, seconds, peak_mb = run(command)
    report = args.out / "trialconv-report.ndjson"
    statuses: dict[str, int] = {}
    if report.exists():
        with open(report, encoding="utf-8") as handle:
            for line in handle:
                status = json.loads(line)["status"]
                statuses[status] = statuses.get(status, 0) + 1
    converted = statuses.get("converted", 0)
    line = {"label": args.label, "input": str(args.input), "to": args.to, "jobs": args.jobs, "incremental": args.incremental,
            "exit": code, "wall_s": round(seconds, 1), "peak_rss_mb": round(peak_mb), "statuses": statuses,
            "records_per_s": round(converted / seconds, 2) if seconds else None}
    print(json.dumps(line))
    with open(args.log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
