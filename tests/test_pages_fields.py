"""Field-by-field comparison of trials, shared by the page-reader accuracy tests.

A "field" is a model path ("dates.start", "arms") with a projection that keeps what the compared
source can carry: MeSH terms without vocabulary ids, text with whitespace and markdown escapes
normalised (a page shows "≥ 3", the registry stores "\\>= 3" — the same text). Accuracy per field is
counted only over trials where either side has a value, so empty-equals-empty cannot inflate it.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional

Projection = Callable[[Any], Any]

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>~|=^$&%:;'\"])")
_BULLET = re.compile(r"(?m)^\s*(?:[-*•·]|\d{1,2}[.)])\s+")


def text(value: Any) -> Any:
    """Whitespace-collapsed, markdown-unescaped text (None stays None)."""
    if not isinstance(value, str):
        return value
    return " ".join(_ESCAPE.sub(r"\1", value).split()) or None


def block(value: Any) -> Any:
    """Criteria text: like :func:`text`, and list markers ("- ", "* ", "1. ") do not count."""
    if not isinstance(value, str):
        return value
    return text(_BULLET.sub("", _ESCAPE.sub(r"\1", value)))


def deep(value: Any) -> Any:
    """Normalise every string inside; drop empty members so absent and empty compare equal."""
    if isinstance(value, dict):
        out = {k: deep(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [deep(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return text(value)


def keep(*keys: str) -> Projection:
    """Project each dict (or list of dicts) onto ``keys``."""
    def project(value: Any) -> Any:
        if isinstance(value, list):
            return [project(v) for v in value]
        if isinstance(value, dict):
            return {k: value.get(k) for k in keys}
        return value
    return project


def terms(value: Any) -> Any:
    return [item.get("term") for item in value or []]


def criteria(value: Any) -> Any:
    return [{"text": block(c.get("text")), "category": c.get("category", "UNKNOWN"), "children": criteria(c.get("children"))} for c in value or []]


def as_set(value: Any) -> Any:
    return sorted(value or [])


def get(trial: dict[str, Any], path: str) -> Any:
    node: Any = trial
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


#: Default projection per path; paths not listed compare as-is (after :func:`deep`).
PROJECTIONS: dict[str, Projection] = {
    "condition_mesh": terms,
    "intervention_mesh": terms,
    "condition_mesh_ancestors": terms,
    "intervention_mesh_ancestors": terms,
    "eligibility.criteria_text": block,
    "eligibility.criteria": criteria,
    "provenance.inferred": as_set,
    "locations": keep("facility", "city", "state", "zip", "country", "status", "contacts"),
}


def field_equal(expected: dict[str, Any], actual: dict[str, Any], path: str, projection: Optional[Projection] = None) -> tuple[bool, bool, Any, Any]:
    """(counted, equal, expected value, actual value) for one field of one trial."""
    project = projection or PROJECTIONS.get(path, lambda v: v)
    want = deep(project(get(expected, path)))
    got = deep(project(get(actual, path)))
    counted = want not in (None, [], {}) or got not in (None, [], {})
    return counted, want == got, want, got


class Scores:
    """Per-field tallies over many trials, with the mismatches kept for the failure message."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = list(fields)
        self.counted = {f: 0 for f in self.fields}
        self.equal = {f: 0 for f in self.fields}
        self.misses: list[str] = []

    def add(self, name: str, expected: dict[str, Any], actual: dict[str, Any], projections: Optional[dict[str, Projection]] = None) -> None:
        for path in self.fields:
            counted, equal, want, got = field_equal(expected, actual, path, (projections or {}).get(path))
            if counted:
                self.counted[path] += 1
                self.equal[path] += int(equal)
                if not equal:
                    self.misses.append(f"{name} {path}:\n    expected {str(want)[:400]}\n    got      {str(got)[:400]}")

    def accuracy(self, path: Optional[str] = None) -> float:
        if path is not None:
            return self.equal[path] / self.counted[path] if self.counted[path] else 1.0
        total = sum(self.counted.values())
        return sum(self.equal.values()) / total if total else 1.0

    def table(self, title: str) -> str:
        rows = [f"{title}: overall {self.accuracy():.1%} ({sum(self.equal.values())}/{sum(self.counted.values())} field values)"]
        for path in self.fields:
            if self.counted[path]:
                rows.append(f"  {path:42s} {self.accuracy(path):7.1%}  ({self.equal[path]}/{self.counted[path]})")
        return "\n".join(rows)


# --- the comparer itself must be able to fail ------------------------------------------------


def test_text_normalisation_ignores_only_layout() -> None:
    assert text("a  \n b \\>= 3") == "a b >= 3"
    assert block("- one\n* two\n1. three") == block("one two three")
    assert text("Breast cancer") != text("Breast Cancer")


def test_scores_count_mismatches_and_skip_empty_pairs() -> None:
    scores = Scores(["brief_title", "acronym", "condition_mesh"])
    scores.add("t1", {"brief_title": "A", "condition_mesh": [{"term": "X", "id": "D1"}]}, {"brief_title": "B", "condition_mesh": [{"term": "X"}]})
    assert scores.counted == {"brief_title": 1, "acronym": 0, "condition_mesh": 1}
    assert scores.accuracy("brief_title") == 0.0
    assert scores.accuracy("condition_mesh") == 1.0
    assert scores.accuracy() == 0.5
    assert "t1 brief_title" in scores.misses[0]
