"""Precision and recall of coded findings against hand-judged gold files.

``tests/gold/eligibility_seeds.json`` covers every criterion of the five seed pages (precision must
be 100 %, recall at least 90 %). ``tests/gold/eligibility_ctgov.json`` holds at least 200 criteria
from real ClinicalTrials.gov records, many of them with nothing to code (precision at least 95 %).
Both were written by reading the criteria, not by running the engine. The numbers are printed
(run with ``-s`` to see them).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from converter.eligibility import label_context, signatures, understand
from converter.model import Criterion
from converter.eligibility.criteria import parse_criteria
from test_criteria import seed_criteria_block

GOLD = Path(__file__).resolve().parent / "gold"


@dataclass
class Score:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    mistakes: list[str] = field(default_factory=list)

    def add(self, where: str, text: str, predicted: list[str], expected: list[str]) -> None:
        got, want = Counter(predicted), Counter(expected)
        self.true_positive += sum((got & want).values())
        extra, missing = got - want, want - got
        self.false_positive += sum(extra.values())
        self.false_negative += sum(missing.values())
        if extra or missing:
            self.mistakes.append(f"{where}: {text[:90]!r} extra={sorted(extra.elements())} missing={sorted(missing.elements())}")

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0

    def report(self, name: str) -> str:
        return (
            f"{name}: precision {self.precision:.1%} ({self.true_positive}/{self.true_positive + self.false_positive}), "
            f"recall {self.recall:.1%} ({self.true_positive}/{self.true_positive + self.false_negative})"
        )


def _walk(items: list[Criterion], prefix: str, parent: Optional[str]) -> list[tuple[str, Criterion, Optional[str]]]:
    out = []
    for index, item in enumerate(items):
        path = f"{prefix}{index}"
        out.append((path, item, parent))
        out.extend(_walk(item.children, f"{path}.", item.text))
    return out


def _legacy_codes() -> set[str]:
    """The codes these gold files were written for (the concept set of ``concepts.json``); concepts
    added later (labs.json, conditions.json, events.json) are measured by the blind-5 benchmark."""
    from converter.eligibility.tables import concepts_table

    codes: set[str] = set()
    for group in concepts_table().values():
        if isinstance(group, dict):
            for entry in group.values():
                if isinstance(entry, dict) and "code" in entry:
                    codes |= {entry["code"], *(v["code"] for v in entry.get("variants", {}).values())}
    return codes


def predicted(text: str, parent: Optional[str]) -> list[str]:
    """The recogniser's raw readings (before the whole-criterion gate), on the legacy concept set."""
    legacy = _legacy_codes()
    return [s for s in signatures(understand(text, label_context(parent))) if s.split()[1] in legacy]


def test_seed_gold_precision_and_recall() -> None:
    gold = json.loads((GOLD / "eligibility_seeds.json").read_text(encoding="utf-8"))
    score = Score()
    judged = 0
    for seed, entry in gold["seeds"].items():
        if not entry["criteria"]:
            continue
        walked = {path: (item, parent) for path, item, parent in _walk(parse_criteria(seed_criteria_block(seed)), "", None)}
        assert set(walked) == {c["path"] for c in entry["criteria"]}, f"seed {seed}: parser output no longer matches the gold items"
        for criterion in entry["criteria"]:
            item, parent = walked[criterion["path"]]
            assert item.text == criterion["text"] and item.category == criterion["category"]
            score.add(f"{seed}/{criterion['path']}", item.text, predicted(item.text, parent), criterion["expected"])
            judged += 1
    print(f"\n{score.report(f'seeds ({judged} criteria)')}")
    for mistake in score.mistakes:
        print("  ", mistake)
    assert judged >= 100
    assert score.precision == 1.0, score.mistakes
    assert score.recall >= 0.90, score.mistakes


def score_gold(gold: dict, title: str, where: Callable[[dict], str]) -> tuple["Score", dict[str, "Score"]]:
    """Score every criterion of a gold file, overall and per set, and print the report with the
    history line of each set (shared by the tuned and the blind gold files)."""
    overall = Score()
    per_set: dict[str, Score] = {}
    for entry in gold["criteria"]:
        args = (where(entry), entry["text"], predicted(entry["text"], entry.get("parent")), entry["expected"])
        overall.add(*args)
        per_set.setdefault(entry["set"], Score()).add(*args)
    count = len(gold["criteria"])
    print(f"\n{overall.report(f'{title} ({count} criteria)')}")
    for name, score in per_set.items():
        print("  ", score.report(name), "|", gold["history"][name].split(". ")[1])
    for mistake in overall.mistakes:
        print("  ", mistake)
    return overall, per_set


def test_ctgov_gold_precision() -> None:
    gold = json.loads((GOLD / "eligibility_ctgov.json").read_text(encoding="utf-8"))
    overall, per_set = score_gold(gold, "ClinicalTrials.gov", lambda entry: entry["record"])
    count = len(gold["criteria"])
    assert count >= 200
    assert sum(1 for entry in gold["criteria"] if not entry["expected"]) >= 80, "the gold needs many criteria with nothing to code"
    assert overall.precision >= 0.95, overall.mistakes
