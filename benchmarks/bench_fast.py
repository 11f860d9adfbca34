"""CPU per record and peak memory of whole conversions, next to an orjson floor on the same records
(run by hand, not in CI; issue 13).

    python benchmarks/bench_fast.py --records 1000            # from the checkout root
    python benchmarks/bench_fast.py --records 10000 --layers  # plus the in-process per-layer profile
    python benchmarks/bench_fast.py --only fhir-r5 --code /tmp/before   # an exported older revision

The records are ClinicalTrials.gov API v2 studies from ``../shared/ctgov/v2``, cycled to the number
asked for, each with a unique NCT id (``NCT9nnnnnnn``, a range the registry has not issued), in one
NDJSON dump. Every target runs as its own ``trialconv convert`` process (the real CLI: reading,
supervised worker, validation, writing, report); its CPU (user + system, the process and its
workers) and peak RSS come from ``wait4``. The floors, measured in the same run on the same dump:

* in-process: ``orjson.loads`` + ``orjson.dumps`` per record, CPU per record;
* whole-process: a Python process that reads the dump, parses and re-serialises each record with
  orjson and writes one file per record (temp file + rename, like trialconv): CPU per record,
  interpreter start included.

CPU time, not wall time: the machine is shared, and wall time measures the neighbours.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "ctgov" / "v2"

RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("fhir-r5", ("--to", "fhir-r5")),
    ("fhir-r5 --strict", ("--to", "fhir-r5", "--strict")),
    ("fhir-r4b", ("--to", "fhir-r4b")),
    ("cdisc", ("--to", "cdisc")),
    ("all", ("--to", "all")),
)

FLOOR = r"""
import os, sys, orjson
dump, out = sys.argv[1], sys.argv[2]
with open(dump, "rb") as handle:
    for number, line in enumerate(handle):
        data = orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2)
        temp = os.path.join(out, f".{number}.tmp")
        with open(temp, "wb") as target:
            target.write(data)
        os.replace(temp, os.path.join(out, f"{number}.json"))
"""


def make_dump(count: int, path: Path) -> None:
    """``count`` studies cycled from the shared corpus, each with its own NCT id."""
    studies = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SHARED.glob("*.json"))]
    with path.open("wb") as handle:
        for number in range(count):
            study = json.loads(json.dumps(studies[number % len(studies)]))
            study["protocolSection"]["identificationModule"]["nctId"] = f"NCT9{number:07d}"
            handle.write(orjson.dumps(study) + b"\n")


def run(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(CPU seconds of the process and its children, peak RSS in MB, exit code) via wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    print(f"    ({wall:.1f} s wall)", file=sys.stderr)
    return cpu, usage.ru_maxrss / 1024, process.returncode


def in_process_floor(dump: Path) -> float:
    lines = dump.read_bytes().splitlines()
    started = time.process_time()
    for line in lines:
        orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2)
    return (time.process_time() - started) / len(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--only", help="comma-separated run names (default: all runs)")
    parser.add_argument("--layers", action="store_true", help="also print the in-process per-layer profile")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose converter runs (e.g. an export of the revision before)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="trialconv-bench-"))
    env = {**os.environ, "PYTHONPATH": str(args.code.resolve()), "SOURCE_DATE_EPOCH": "1700000000"}
    try:
        dump = work / "dump.ndjson"
        make_dump(args.records, dump)
        floor_in = in_process_floor(dump)
        out = work / "floor"
        out.mkdir()
        cpu, rss, code = run([sys.executable, "-c", FLOOR, str(dump), str(out)], env)
        assert code == 0
        floor_whole = cpu / args.records
        print(f"records: {args.records} (cycled from {SHARED}, unique ids); code: {args.code}")
        print(f"floor in-process (orjson loads+dumps): {floor_in * 1000:.3f} ms/record")
        print(f"floor whole-process (read, orjson, one file each): {floor_whole * 1000:.3f} ms/record, peak RSS {rss:.0f} MB")
        print(f"{'run':18} {'CPU ms/rec':>10} {'x in-proc':>10} {'x whole':>8} {'peak RSS MB':>12}")
        wanted = set(args.only.split(",")) if args.only else None
        for name, options in RUNS:
            if wanted and name not in wanted:
                continue
            target = work / name.replace(" ", "_")
            command = [sys.executable, "-m", "converter.cli", "convert", str(dump), "--out", str(target), "-q", *options]
            if "--strict" in options and args.code != ROOT:
                continue  # the revision before has no --strict: its default path was the strict one
            cpu, rss, code = run(command, env)
            per = cpu / args.records
            print(f"{name:18} {per * 1000:10.2f} {per / floor_in:10.0f} {per / floor_whole:8.1f} {rss:12.0f}"
                  + ("" if code == 0 else f"  (exit {code})"), flush=True)
            shutil.rmtree(target, ignore_errors=True)
        if args.layers:
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_layers.py")], env=env, check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
