"""Crafted eligibility text end to end: the two shapes that once took 46 s and 69 s (issue 15 item 8).

    python benchmarks/bench_crafted.py [--targets fhir-r5,fhir-r4b,cdisc,synopsis] [--timeout 10]

Builds a ClinicalTrials.gov v2 record (a real one from tests/data with its criteria replaced) holding

* ``long``:   one criterion of 100,000 characters of repeated lab clauses, and
* ``nested``: 6,000 numbered items (1,000 numbered items with five numbered sub-items each),

and converts each through the public API (read → model → every target → validation), printing wall
and CPU seconds. Exits 1 when either takes 10 CPU seconds or more (the issue's budget; CPU, because
the conversion is single-threaded, so on an idle machine wall ≈ CPU, while on a shared one wall
time mostly measures the neighbours). ``crafted()`` is shared with ``tests/test_attacks.py``, which
checks that doubling the input at most doubles the work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_RECORD = ROOT / "tests" / "data" / "ctgov" / "v2" / "NCT02513394.json"
LAB_CLAUSE = "hemoglobin ≥ 9 g/dL and platelets ≥ 100 × 10^9/L and creatinine ≤ 1.5 × ULN within {n} days, "


def long_criterion(chars: int = 100_000, salt: int = 0) -> str:
    """Inclusion criteria whose one item is ``chars`` characters of lab clauses. Every clause carries
    its own number (and ``salt`` shifts them), so no clause is answered from a cache: the figure is
    the cost of reading, and two runs of different sizes compare fairly."""
    clauses, size, n = [], 0, salt * 1_000_000
    while size < chars:
        n += 1
        clauses.append(LAB_CLAUSE.format(n=n))
        size += len(clauses[-1])
    body = "".join(clauses)[:chars]
    return f"Inclusion Criteria:\n\n* {body}\n\nExclusion Criteria:\n\n* Pregnancy\n"


def nested_items(items: int = 6_000, salt: int = 0) -> str:
    """Inclusion criteria of ``items`` numbered items: groups of one item and five numbered sub-items,
    each with its own numbers (no two items alike, so none is read from a cache)."""
    lines, base = ["Inclusion Criteria:", ""], salt * 1_000_000
    for group in range(1, items // 6 + 1):
        lines.append(f"{group}. Adequate organ function at screening visit {base + group}:")
        lines.extend(f"   {group}.{sub}. platelets ≥ {100 + sub} × 10^9/L within {base + group * 10 + sub} days" for sub in range(1, 6))
    return "\n".join(lines) + "\n\nExclusion Criteria:\n\n1. Pregnancy\n"


def crafted(criteria: str) -> bytes:
    """The base record with ``criteria`` as its eligibility text, as v2 JSON bytes."""
    study = json.loads(BASE_RECORD.read_bytes())
    study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = criteria
    return json.dumps(study).encode("utf-8")


def run(data: bytes, targets: list[str]) -> tuple[float, float, bool]:
    """Wall and CPU seconds of converting ``data`` to ``targets``, and whether it converted."""
    from converter.api import iter_convert

    wall, cpu = time.perf_counter(), time.process_time()
    results = list(iter_convert(data, targets))
    return time.perf_counter() - wall, time.process_time() - cpu, all(r.ok for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="fhir-r5,fhir-r4b,cdisc,synopsis")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    targets = args.targets.split(",")
    run(crafted("Inclusion Criteria:\n\n* Adults\n"), targets)  # load writers and tables outside the timing
    worst = 0.0
    for name, text in (("long 100,000-character criterion", long_criterion()), ("6,000 nested numbered items", nested_items())):
        wall, cpu, ok = run(crafted(text), targets)
        worst = max(worst, cpu if ok else float("inf"))
        print(f"{name:34} {len(text):>8} chars  {wall:6.2f} s wall  {cpu:6.2f} s CPU  {'converted' if ok else 'FAILED'}")
    return 0 if worst < args.timeout else 1


if __name__ == "__main__":
    sys.exit(main())
