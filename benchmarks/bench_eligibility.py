"""Cost of reading eligibility criteria text (run by hand, not in CI; not a timed test).

    python benchmarks/bench_eligibility.py [--corpus ../shared/ctgov] [--size 100000] [--repeat 3]

Measures, in CPU seconds of this process (``time.process_time``, best of ``--repeat``):

1. reading 100,000 characters as ONE criterion (a typical sentence repeated) and as ~1,000 ordinary
   criteria of ~100 characters each, with the whole-criterion reader (``read_criteria`` on the
   ``parse_criteria`` tree; parsing is timed apart) and with ``understand`` alone;
2. the mean CPU milliseconds per record of the eligibility reading (``read_criteria`` over each
   record's criteria tree, and ``understand`` over every criterion with its label context) over the
   shared corpus; records are read before timing starts;
3. a floor in the same run: the same texts through ``re.findall(r"\\w+", text)`` and ``json.dumps``.

Each figure is printed with its ratio to the floor of the same shape: the machine is shared and
noisy, so ratios compare better across runs than seconds. Issue 11 item 7 sets the budget: < 2 s
per 100,000 characters (both shapes) and ≤ 1.5 ms per record on the corpus.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable

from converter import read
from converter.eligibility import label_context, understand
from converter.model import Criterion

from converter.eligibility.criteria import parse_criteria
from converter.eligibility.reading import _read_split, read_criteria, read_criterion


SENTENCE = "Platelets ≥ 100 × 10^9/L and hemoglobin ≥ 9 g/dL; no brain metastases or HIV infection; ECOG 0-1. "

#: Ordinary criteria (~100 characters each) of the kinds registry text has; cycled with varying numbers.
ORDINARY = (
    "Absolute neutrophil count ≥ {n}.5 × 10^9/L and platelets ≥ 100 × 10^9/L within 14 days of enrolment",
    "Total bilirubin ≤ 1.5 × ULN (≤ 3 × ULN for patients with Gilbert's syndrome) at screening visit",
    "AST and ALT ≤ 2.5 × ULN (≤ 5 × ULN if liver metastases are present) measured within {n} days",
    "Known HIV infection, active hepatitis B or hepatitis C, or other uncontrolled infection requiring therapy",
    "Pregnant or breastfeeding women, or women of childbearing potential not using contraception",
    "Other malignancy within {n} years except adequately treated basal cell carcinoma of the skin",
    "Major surgery within {n} weeks prior to the first dose of study drug or not recovered from it",
    "Age ≥ 18 years at the time of signing the informed consent form; ECOG performance status 0-1",
    "Creatinine clearance ≥ {n}0 mL/min calculated by the Cockcroft-Gault formula or serum creatinine ≤ 1.5 mg/dL",
    "Symptomatic brain metastases or leptomeningeal disease; treated stable brain metastases are allowed",
    "Congestive heart failure NYHA class III or IV, myocardial infarction within {n} months, or unstable angina",
    "HER2-positive breast cancer confirmed by IHC 3+ or FISH amplification in a central laboratory",
)


def cpu(function: Callable[[], object], repeat: int) -> float:
    """Best-of-``repeat`` CPU seconds of ``function()``."""
    best = float("inf")
    for _ in range(repeat):
        read_criterion.cache_clear()  # repeated texts would otherwise be read once
        _read_split.cache_clear()
        started = time.process_time()
        function()
        best = min(best, time.process_time() - started)
    return best


def floor(texts: list[str]) -> None:
    for text in texts:
        re.findall(r"\w+", text)
        json.dumps(text)


def one_criterion(size: int) -> str:
    return (SENTENCE * (size // len(SENTENCE) + 1))[:size]


def many_criteria(size: int) -> list[str]:
    out: list[str] = []
    total = 0
    index = 0
    while total < size:
        text = ORDINARY[index % len(ORDINARY)].format(n=index % 7 + 2)
        out.append(text)
        total += len(text) + 4
        index += 1
    return out


def understand_tree(criteria: list[Criterion]) -> None:
    def walk(nodes: list[Criterion], context: object) -> None:
        for node in nodes:
            understand(node.text, context)  # type: ignore[arg-type]
            walk(node.children, label_context(node.text))

    walk(criteria, None)


def shape(name: str, criteria_text: str, texts: list[str], repeat: int) -> None:
    chars = sum(len(t) for t in texts)
    base = cpu(lambda: floor(texts), max(repeat, 5))
    print(f"\n{name}: {len(texts)} criteria, {chars:,} characters")
    print(f"  floor (re.findall \\w+ + json.dumps)     {base * 1000:9.2f} ms")
    seconds = cpu(lambda: [understand(t) for t in texts], repeat)
    print(f"  understand                              {seconds:9.3f} s   ×{seconds / base:,.0f} floor")
    tree = parse_criteria(criteria_text)
    parse_seconds = cpu(lambda: parse_criteria(criteria_text), repeat)
    seconds = cpu(lambda: read_criteria(tree), repeat)
    print(f"  parse_criteria (not eligibility/)       {parse_seconds:9.3f} s   ×{parse_seconds / base:,.0f} floor")
    print(f"  read_criteria                           {seconds:9.3f} s   ×{seconds / base:,.0f} floor   (budget 2 s)")


def corpus(folder: Path, repeat: int) -> None:
    trees: list[list[Criterion]] = []
    for path in sorted(p for sub in ("v2", "xml") for p in (folder / sub).glob("*") if p.is_file()):
        for trial in read(path):
            trees.append(trial.eligibility.criteria if trial.eligibility else [])
    texts: list[str] = []

    def collect(nodes: list[Criterion]) -> None:
        for node in nodes:
            texts.append(node.text)
            collect(node.children)

    for tree in trees:
        collect(tree)
    records = len(trees)
    base = cpu(lambda: floor(texts), max(repeat, 5))
    print(f"\ncorpus {folder}: {records} records, {len(texts)} criteria, {sum(map(len, texts)):,} characters")
    print(f"  floor (re.findall \\w+ + json.dumps)     {base * 1000 / records:9.4f} ms/record")
    seconds = cpu(lambda: [understand_tree(tree) for tree in trees], repeat)
    print(f"  understand (every criterion + context)  {seconds * 1000 / records:9.3f} ms/record   ×{seconds / base:,.0f} floor   (budget 1.5 ms)")
    seconds = cpu(lambda: [read_criteria(tree) for tree in trees], repeat)
    print(f"  read_criteria (whole reading)           {seconds * 1000 / records:9.3f} ms/record   ×{seconds / base:,.0f} floor")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "ctgov")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N (default 1: the machine is shared)")
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--skip-long", action="store_true", help="skip the single long criterion")
    args = parser.parse_args()

    understand("warm-up: platelets ≥ 100 × 10^9/L; no HIV")  # load the tables outside the timings
    if not args.skip_long:
        text = one_criterion(args.size)
        shape("one criterion", text, [text], args.repeat)
    texts = many_criteria(args.size)
    shape("~1,000 criteria", "Inclusion Criteria:\n" + "\n".join(f"{i + 1}. {t}" for i, t in enumerate(texts)), texts, args.repeat)
    if not args.skip_corpus:
        corpus(args.corpus, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
