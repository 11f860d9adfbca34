"""Measure the eligibility engine against the Leaf Clinical Trials (LCT) corpus, an outside yardstick.

The LCT corpus (University of Washington BioNLP group) annotates eligibility criteria of about a
thousand ClinicalTrials.gov studies in brat standoff: one ``NCTxxxxxxxx.txt`` and ``.ann`` pair per
trial. The corpus carries no licence, so it is never copied into this repository: point ``--lct`` (or
the ``LCT_DIR`` environment variable) at a copy outside it, and every output of this script that holds
corpus text (``--out``, ``--details``) must also live outside it. Only counts may be committed.

How the annotation scheme is read here
--------------------------------------
* ``Eq-Comparison`` events carry a numeric comparison. Their arguments are ``Operator`` (an
  ``Eq-Operator`` span normalised by the ``Eq-Operator-Value`` attribute to EQ, LT, LTEQ, GT, GTEQ,
  BETWEEN or PLUS-MINUS), ``Value``/``Value2``… (``Eq-Value`` spans, the numbers as written),
  ``Unit`` (``Eq-Unit``; its ``Eq-Unit-Value`` attribute ``ref-range-high`` marks "× ULN"),
  ``Temporal-Unit`` (``Eq-Temporal-Unit`` normalised by ``Eq-Temporal-Unit-Value`` to
  second … year), ``Per``, ``Temporal-Period`` (past/present/…) and ``Temporal-Recency``.
* Age limit: an ``Age`` event whose ``Numeric-Filter`` argument is an ``Eq-Comparison``.
* Numeric threshold: any other event (in practice ``Observation`` and a few ``Condition``) whose
  ``Numeric-Filter`` argument is an ``Eq-Comparison`` with an operator and a value.
* Time window: an ``Eq-Comparison`` with a ``Temporal-Unit`` that some event (``Condition``,
  ``Procedure``, ``Drug``, ``Observation``, …) holds as its ``Temporality`` argument, or that is the
  second argument of a ``During`` relation from such an event ("an anticoagulant taken during the 10 days before the visit"). The
  ``Duration`` argument ("for at least 6 months") is a length, not a window, and is not scored. The reference
  point ("before randomisation") is a separate ``Before``/``After``/``During`` relation from the
  comparison to another event.

Scoring is per text line: the engine reads each line on its own (list marker removed), and an
annotated item counts as found when some coded leaf on the same line has the same number and
direction (age, thresholds) or a window with the same number and unit (time windows). Every number the
engine emits must also be *supported*: some annotated ``Eq-Value`` on the same line has that number.

The trials are split once, by id only: a trial is blind when the first byte of
SHA-256("trialconv-lct-split:" + id) is below 64 (about a quarter). Blind lines are scored, never
inspected for tuning.

Usage::

    python -m benchmarks.lct_eval --lct /root/lct counts --part dev [--out /root/lct_counts_dev.json]
    python -m benchmarks.lct_eval --lct /root/lct score --part dev|blind [--details FILE] [--json FILE]
                                      [--engine auto|read_criterion|understand]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SALT = "trialconv-lct-split:"
Direction = Literal["lower", "upper", "eq", "any"]

#: LCT temporal units (``Eq-Temporal-Unit-Value``) → the UCUM codes the engine uses.
TEMPORAL_UCUM = {"second": "s", "minute": "min", "hour": "h", "day": "d", "week": "wk", "month": "mo", "year": "a"}
TIME_UNITS = set(TEMPORAL_UCUM.values())

_WORD_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "once": 1, "twice": 2, "single": 1, "half": 0.5, "½": 0.5, "a": 1, "an": 1,
}
_ULN_TEXT = re.compile(r"\buln\b|upper|maximum normal|highest reference|\bnormal\b", re.I)
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，", "0123456789.,")

#: A list marker at the start of a line: "-  ", "•", "1.", "(2)", "a)", "iv.".
_LIST_MARKER = re.compile(
    r"^\s*(?:[-+–—]\s+|[*•·◦○▪■□►➢✓§]+\s*|\(?(?:\d{1,2}|[a-zA-Z]|[ivxIVX]{1,4})[.)）]\s*(?=\S))"
)
_INCLUSION = re.compile(r"inclu(?:sion|tion)s?", re.I)  # no \b: LCT glues headings on ("- last itemInclusion Criteria:")
_EXCLUSION = re.compile(r"exclu(?:sion|tion)s?", re.I)
_HEADING = re.compile(r"(?:inclu|exclu)(?:sion|tion)s?(?:\s+criteria)?\s*(?:for\b[^:]*|\([^)]*\))?\s*:?\s*$", re.I)


# --------------------------------------------------------------------------------------------------
# brat standoff
# --------------------------------------------------------------------------------------------------


@dataclass
class Span:
    """A text-bound annotation (``T`` line): its type and character offsets in the trial text."""

    id: str
    type: str
    start: int
    end: int
    text: str


@dataclass
class Event:
    """An event (``E`` line): a type, its trigger span and (role, target id) arguments."""

    id: str
    type: str
    trigger: str
    args: list[tuple[str, str]]

    def role(self, name: str) -> list[str]:
        """Targets of a role, numbered repeats included ("Value", "Value2", …), in annotation order."""
        return [target for role, target in self.args if re.sub(r"\d+$", "", role) == name]


@dataclass
class Trial:
    """One LCT trial: its text, lines and annotations."""

    id: str
    text: str
    spans: dict[str, Span] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    relations: list[tuple[str, str, str]] = field(default_factory=list)
    line_starts: list[int] = field(default_factory=list)

    def line_of(self, offset: int) -> int:
        """Index of the text line holding a character offset."""
        low, high = 0, len(self.line_starts) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self.line_starts[mid] <= offset:
                low = mid
            else:
                high = mid - 1
        return low

    def lines(self) -> list[str]:
        """The text lines, without line ends."""
        return self.text.split("\n")

    def span_of(self, ident: str) -> Optional[Span]:
        """The span of a text-bound annotation, or of an event's trigger."""
        if ident in self.spans:
            return self.spans[ident]
        event = self.events.get(ident)
        return self.spans.get(event.trigger) if event else None


def load_trial(ann_path: Path) -> Trial:
    """Parse one ``.ann`` file and its ``.txt`` (offsets are code points, newlines kept as written)."""
    with open(ann_path.with_suffix(".txt"), encoding="utf-8", newline="") as handle:
        text = handle.read()
    trial = Trial(id=ann_path.stem, text=text)
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    trial.line_starts = starts
    for raw in ann_path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        fields = raw.split("\t")
        ident = fields[0]
        if ident.startswith("T") and len(fields) >= 3:
            kind, _, offsets = fields[1].partition(" ")
            segments = [tuple(int(n) for n in part.split()) for part in offsets.split(";")]
            trial.spans[ident] = Span(ident, kind, segments[0][0], segments[-1][1], fields[2])
        elif ident.startswith("E") and len(fields) >= 2:
            parts = fields[1].split()
            kind, _, trigger = parts[0].partition(":")
            args = [tuple(part.split(":", 1)) for part in parts[1:] if ":" in part]
            trial.events[ident] = Event(ident, kind, trigger, args)  # type: ignore[arg-type]
        elif ident.startswith("A") and len(fields) >= 2:
            parts = fields[1].split()
            if len(parts) >= 3:
                trial.attributes.setdefault(parts[1], {})[parts[0]] = parts[2]
        elif ident.startswith("R") and len(fields) >= 2:
            parts = fields[1].split()
            if len(parts) >= 3:
                trial.relations.append((parts[0], parts[1].split(":", 1)[-1], parts[2].split(":", 1)[-1]))
    return trial


def is_blind(trial_id: str) -> bool:
    """True when a trial belongs to the blind quarter (scored only, never used for tuning)."""
    return hashlib.sha256((SALT + trial_id).encode("utf-8")).digest()[0] < 64


def trial_paths(root: Path, part: str) -> list[Path]:
    """The ``.ann`` files of one part ("dev", "blind" or "all"), sorted by trial id."""
    paths = sorted(root.rglob("NCT*.ann"), key=lambda path: path.stem)
    if part == "all":
        return paths
    return [path for path in paths if is_blind(path.stem) == (part == "blind")]


# --------------------------------------------------------------------------------------------------
# Comparisons and gold items
# --------------------------------------------------------------------------------------------------


def parse_number(text: str) -> Optional[float]:
    """The number an ``Eq-Value`` span writes ("1.5", "1,500", "7,8", "three", "½"), or None."""
    cleaned = text.strip().translate(_FULLWIDTH).lower().rstrip(".")
    if cleaned in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[cleaned])
    cleaned = cleaned.replace(" ", "")
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", cleaned):
        cleaned = cleaned.replace(",", "")
    elif re.fullmatch(r"[-+]?\d+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(",", ".")
    if re.fullmatch(r"[-+]?(?:\d+\.?\d*|\.\d+)", cleaned):
        return float(cleaned)
    return None


def numbers_in(text: str) -> list[float]:
    """Every number written in a span's text (for values annotated with extra words)."""
    out = []
    for token in re.findall(r"\d[\d,]*(?:\.\d+)?|\b[a-zA-Z]+\b|½", text.translate(_FULLWIDTH)):
        if token.isalpha() and token.lower() in ("a", "an"):
            continue
        value = parse_number(token)
        if value is not None:
            out.append(value)
    return out


@dataclass
class Comparison:
    """An ``Eq-Comparison`` event read into numbers and directions."""

    id: str
    line: int
    text: str
    operators: list[str]
    values: list[float]
    unit: Optional[str]
    uln: bool
    temporal_unit: Optional[str]

    def items(self) -> list[tuple[float, Direction]]:
        """(value, direction) pairs: a range gives its low end as "lower" and its high end as "upper"."""
        if not self.values:
            return []
        directional = [op for op in self.operators if op in ("GT", "GTEQ", "LT", "LTEQ")]
        ranged = "BETWEEN" in self.operators or (not directional and len(self.values) >= 2 and "EQ" not in self.operators)
        if ranged and len(self.values) >= 2:
            return [(min(self.values), "lower"), (max(self.values), "upper")]
        if ranged:
            return [(self.values[0], "any")]
        if directional:
            if len(directional) == len(self.values) and len(self.values) > 1:
                return [(value, _direction(op)) for value, op in zip(self.values, directional)]
            return [(value, _direction(directional[0])) for value in self.values]
        if "EQ" in self.operators:
            return [(value, "eq") for value in self.values]
        return [(value, "any") for value in self.values]


def _direction(operator: str) -> Direction:
    return "lower" if operator in ("GT", "GTEQ") else "upper"


def read_comparison(trial: Trial, event: Event) -> Comparison:
    """Read one ``Eq-Comparison`` event: operators, numeric values, unit and temporal unit."""
    operators = [trial.attributes.get(target, {}).get("Eq-Operator-Value", "") for target in event.role("Operator")]
    values: list[float] = []
    value_lines: list[int] = []
    for target in event.role("Value"):
        span = trial.span_of(target)
        if span is None or span.type != "Eq-Value":
            continue
        number = parse_number(span.text)
        if number is not None:
            values.append(number)
            value_lines.append(trial.line_of(span.start))
    units = [trial.span_of(target) for target in event.role("Unit")]
    unit_text = " ".join(span.text for span in units if span is not None) or None
    uln = any(trial.attributes.get(target, {}).get("Eq-Unit-Value") in ("ref-range-high", "ref-range-normal") for target in event.role("Unit"))
    uln = uln or bool(unit_text and _ULN_TEXT.search(unit_text) and not re.search(r"\blower\b", unit_text, re.I))
    temporal = None
    for target in event.role("Temporal-Unit"):
        unit = trial.attributes.get(target, {}).get("Eq-Temporal-Unit-Value")
        if unit in TEMPORAL_UCUM:
            temporal = TEMPORAL_UCUM[unit]
            break
    trigger = trial.spans.get(event.trigger)
    line = value_lines[0] if value_lines else trial.line_of(trigger.start if trigger else 0)
    return Comparison(event.id, line, trigger.text if trigger else "", [op for op in operators if op], values, unit_text, uln, temporal)


@dataclass
class GoldItem:
    """One annotated age limit, threshold or time window value, on one line."""

    category: Literal["age", "threshold", "window"]
    trial: str
    line: int
    value: float
    direction: Direction
    temporal_unit: Optional[str]
    concept: str
    entity: str
    comparison: str
    link: str = "Numeric-Filter"  # windows: "Temporality" (an event argument) or "During" (a relation)


def _concept_text(trial: Trial, event: Event) -> str:
    """The lower-cased, space-normalised text of an event's name (or trigger)."""
    names = [trial.span_of(target) for target in event.role("Name")]
    span = next((s for s in names if s is not None), None) or trial.spans.get(event.trigger)
    return " ".join(span.text.lower().split()) if span else ""


@dataclass
class TrialAnnotations:
    """What one trial's annotations say, in the terms this benchmark scores."""

    trial: Trial
    comparisons: dict[str, Comparison]
    gold: list[GoldItem]
    unscored: Counter
    threshold_concepts: list[tuple[str, str, str]]  # (entity type, observation type, concept)
    window_concepts: list[tuple[str, str, str]]  # (entity type, concept, "4 wk"-style window)
    window_anchors: list[tuple[str, str]]  # (entity type, concept) of Before/After/During targets
    age_limits: list[str]


def annotate(trial: Trial) -> TrialAnnotations:
    """Collect comparisons, gold items and the frequencies ``counts`` reports for one trial."""
    comparisons = {ident: read_comparison(trial, event) for ident, event in trial.events.items() if event.type == "Eq-Comparison"}
    gold: list[GoldItem] = []
    unscored: Counter = Counter()
    thresholds: list[tuple[str, str, str]] = []
    windows: list[tuple[str, str, str]] = []
    anchors: list[tuple[str, str]] = []
    ages: list[str] = []
    window_ids: set[str] = set()

    def add_window(comparison: Comparison, holder_type: str, concept: str, relation: str) -> None:
        """A time window on an event (a Temporality argument or a During relation): counted, and scored when it has a number."""
        size = f"{comparison.values[0]:g} {comparison.temporal_unit}" if comparison.values else f"(no number) {comparison.temporal_unit}"
        windows.append((holder_type, concept, size))
        if not comparison.values:
            unscored["window without a number"] += 1
        for value in comparison.values:
            gold.append(GoldItem("window", trial.id, comparison.line, value, "any", comparison.temporal_unit, concept, holder_type, comparison.text, relation))

    for event in trial.events.values():
        if event.type == "Eq-Comparison":
            continue
        concept = _concept_text(trial, event)
        for target in event.role("Numeric-Filter"):
            comparison = comparisons.get(target)
            if comparison is None:
                continue
            if event.type == "Age":
                pairs = comparison.items()
                if not pairs:
                    unscored["age without a number"] += 1
                for value, direction in pairs:
                    gold.append(GoldItem("age", trial.id, comparison.line, value, direction, comparison.temporal_unit, concept, event.type, comparison.text))
                    ages.append(f"{direction} {value:g} {comparison.temporal_unit or 'a?'}")
                continue
            if not comparison.values:
                unscored["threshold without a number"] += 1
                continue
            if not comparison.operators:
                unscored["threshold without an operator"] += 1
                continue
            obs_type = trial.attributes.get(event.id, {}).get("Observation-Type-Value", "")
            thresholds.append((event.type, obs_type, concept))
            for value, direction in comparison.items():
                gold.append(GoldItem("threshold", trial.id, comparison.line, value, direction, comparison.temporal_unit, concept, event.type, comparison.text))
        for target in event.role("Temporality"):
            comparison = comparisons.get(target)
            if comparison is None or comparison.temporal_unit is None:
                continue
            window_ids.add(target)
            add_window(comparison, event.type, concept, "Temporality")
    for kind, arg1, arg2 in trial.relations:
        # "a drug taken during the N days before X": the window is a During relation's Arg2
        comparison = comparisons.get(arg2)
        holder = trial.events.get(arg1)
        if kind != "During" or comparison is None or comparison.temporal_unit is None or arg2 in window_ids:
            continue
        if holder is None or holder.type == "Eq-Comparison":
            continue
        window_ids.add(arg2)
        add_window(comparison, holder.type, _concept_text(trial, holder), "During")
    for kind, arg1, arg2 in trial.relations:
        if kind in ("Before", "After", "During") and arg1 in window_ids:
            other = trial.events.get(arg2)
            if other is not None and other.type != "Eq-Comparison":
                anchors.append((other.type, _concept_text(trial, other)))
    return TrialAnnotations(trial, comparisons, gold, unscored, thresholds, windows, anchors, ages)


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


def engine(choice: str = "auto") -> tuple[Any, str]:
    """The engine entry point.

    "auto": ``converter.eligibility.read_criterion`` when the package exports it, else ``understand``.
    "read_criterion": that function, from the package or its ``reading`` module. "understand": always it.
    """
    import converter.eligibility as eligibility

    if choice in ("auto", "read_criterion"):
        reader = getattr(eligibility, "read_criterion", None)
        if reader is None and choice == "read_criterion":
            from converter.eligibility import reading  # type: ignore[attr-defined]

            reader = getattr(reading, "read_criterion", None)
        if callable(reader):
            return reader, "read_criterion"
        if choice == "read_criterion":
            raise SystemExit("the engine has no read_criterion")
    return eligibility.understand, "understand"


def findings_of(result: Any) -> list[Any]:
    """The findings in whatever the entry point returned (a list, or an object with ``findings``)."""
    if result is None:
        return []
    if hasattr(result, "findings"):
        return list(result.findings or [])
    if isinstance(result, tuple) and result and isinstance(result[0], list):
        return list(result[0])
    return list(result)


def run_engine(function: Any, name: str, text: str, section: Optional[str]) -> tuple[list[Any], Optional[bool]]:
    """The leaves the engine reads in one line, and whether the reading was coded (None: not said).

    ``read_criterion`` gets the section as the converter names it (INCLUSION, EXCLUSION, UNKNOWN); its
    result's ``findings`` are everything recognised, and ``coded`` says whether the whole line was.
    """
    coded: Optional[bool] = None
    if name == "read_criterion":
        label = (section or "unknown").upper()
        try:
            result = function(text, section=label, context=None)
        except TypeError:
            result = function(text, section=label)
        flag = getattr(result, "coded", None)
        coded = bool(flag) if flag is not None else None
    else:
        result = function(text)
    leaves = []
    for finding in findings_of(result):
        leaves.extend(finding.leaves() if hasattr(finding, "leaves") else [finding])
    return leaves, coded


@dataclass
class Emission:
    """One number the engine emitted: a threshold, a range end, a window or an age."""

    value: float
    direction: Direction  # for windows: "any"
    role: Literal["value", "low", "high", "window"]
    kind: str
    unit: Optional[str]
    signature: str
    uln: bool = False


def emissions(leaves: Iterable[Any]) -> list[Emission]:
    """Every number in a line's leaves, with the direction it was given."""
    from converter.eligibility import signature

    out: list[Emission] = []
    for leaf in leaves:
        try:
            sig = signature(leaf)
        except Exception:  # noqa: BLE001 - a reviewer aid only
            sig = repr(leaf)
        quantity = getattr(leaf, "quantity", None)
        if quantity is not None:
            comparator = getattr(leaf, "comparator", None)
            direction: Direction = "lower" if comparator in (">=", ">") else "upper" if comparator in ("<=", "<") else "eq"
            out.append(Emission(float(quantity.value), direction, "value", leaf.kind, quantity.unit, sig, bool(getattr(leaf, "uln", False))))
        for role, bound in (("low", getattr(leaf, "low", None)), ("high", getattr(leaf, "high", None))):
            if bound is not None:
                out.append(Emission(float(bound.value), "lower" if role == "low" else "upper", role, leaf.kind, bound.unit, sig,  # type: ignore[arg-type]
                                    bool(getattr(leaf, "uln", False))))
        window = getattr(leaf, "window", None)
        if window is not None and getattr(window, "quantity", None) is not None:
            out.append(Emission(float(window.quantity.value), "any", "window", leaf.kind, window.quantity.unit, sig))
    return out


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _compatible(gold: Direction, emitted: Direction) -> bool:
    return gold == "any" or emitted == "any" or gold == emitted


def _units_agree(gold_unit: Optional[str], emitted_unit: Optional[str]) -> bool:
    """Temporal units must agree when both sides give one; other units are not compared."""
    if gold_unit and emitted_unit in TIME_UNITS:
        return gold_unit == emitted_unit
    return True


def matches(item: GoldItem, found: list[Emission]) -> bool:
    """Whether one gold item is among a line's emissions."""
    for emission in found:
        if not _same(item.value, emission.value):
            continue
        if item.category == "window":
            if emission.role == "window" and emission.unit == item.temporal_unit:
                return True
            continue
        if emission.role == "window":
            continue
        if item.category == "age" and emission.kind != "age":
            continue
        if _compatible(item.direction, emission.direction) and _units_agree(item.temporal_unit, emission.unit):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# Lines and sections
# --------------------------------------------------------------------------------------------------


def criterion_text(line: str) -> str:
    """A line without its list marker ("-  ", "1.", "a)"), as the converter hands criteria to the engine."""
    return _LIST_MARKER.sub("", line, count=1).strip()


def sections(lines: list[str]) -> list[Optional[str]]:
    """"inclusion"/"exclusion"/None for each line, from the headings LCT texts keep."""
    out: list[Optional[str]] = []
    current: Optional[str] = None
    for line in lines:
        inclusion = [m.start() for m in _INCLUSION.finditer(line)]
        exclusion = [m.start() for m in _EXCLUSION.finditer(line)]
        heading = bool(_HEADING.search(line)) and bool(inclusion or exclusion) and (
            "criteria" in line.lower() or line.rstrip().endswith(":") or len(criterion_text(line)) < 30)
        if heading:
            last_inc = max(inclusion, default=-1)
            last_exc = max(exclusion, default=-1)
            new = "inclusion" if last_inc > last_exc else "exclusion"
            position = max(last_inc, last_exc)
            before = criterion_text(line[:position])
            # "- last itemInclusion Criteria:" ends the previous list; the heading starts the next one
            out.append(current if len(before) > 12 else new)
            current = new
        else:
            out.append(current)
    return out


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95 % interval for a proportion."""
    if total == 0:
        return (0.0, 0.0)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(successes: int, total: int) -> str:
    """"123/456 = 27.0 % [23.1–31.2]"."""
    if total == 0:
        return "0/0"
    low, high = wilson(successes, total)
    return f"{successes}/{total} = {100 * successes / total:.1f} % [{100 * low:.1f}–{100 * high:.1f}]"


# --------------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------------


def iter_annotations(root: Path, part: str) -> Iterator[TrialAnnotations]:
    """Annotations of every trial in one part."""
    for path in trial_paths(root, part):
        yield annotate(load_trial(path))


def command_counts(root: Path, part: str, out: Path, top: int) -> dict[str, Any]:
    """Frequencies of thresholded concepts, windowed concepts and age limits; printed and written as JSON."""
    by_entity: dict[str, Counter] = defaultdict(Counter)
    by_obs_type: dict[str, Counter] = defaultdict(Counter)
    windowed: Counter = Counter()
    windowed_by_entity: dict[str, Counter] = defaultdict(Counter)
    window_sizes: Counter = Counter()
    anchors: Counter = Counter()
    ages: Counter = Counter()
    unscored: Counter = Counter()
    trials = 0
    for annotated in iter_annotations(root, part):
        trials += 1
        unscored.update(annotated.unscored)
        for entity, obs_type, concept in annotated.threshold_concepts:
            by_entity[entity][concept] += 1
            by_obs_type[obs_type or "(none)"][concept] += 1
        for entity, concept, size in annotated.window_concepts:
            windowed[concept] += 1
            windowed_by_entity[entity][concept] += 1
            window_sizes[size] += 1
        for entity, concept in annotated.window_anchors:
            anchors[f"{entity}: {concept}"] += 1
        ages.update(annotated.age_limits)

    def show(title: str, counter: Counter) -> None:
        print(f"\n## {title} ({sum(counter.values())} mentions, {len(counter)} distinct)")
        for name, count in counter.most_common(top):
            print(f"{count:5d}  {name}")

    print(f"LCT {part}: {trials} trials")
    for entity, counter in sorted(by_entity.items(), key=lambda kv: -sum(kv[1].values())):
        show(f"(a) numeric thresholds on {entity}", counter)
    for obs_type, counter in sorted(by_obs_type.items(), key=lambda kv: -sum(kv[1].values())):
        show(f"(a') numeric thresholds by Observation-Type-Value {obs_type}", counter)
    show("(b) concepts carrying a time window (Temporality or During, with a temporal unit)", windowed)
    for entity, counter in sorted(windowed_by_entity.items(), key=lambda kv: -sum(kv[1].values())):
        show(f"(b') windowed {entity}", counter)
    show("(b'') window sizes", window_sizes)
    show("(b''') window reference points (Before/After/During targets)", anchors)
    show("(c) age limits (direction value unit)", ages)
    if unscored:
        print("\nnot scored:", dict(unscored))
    result = {
        "part": part,
        "trials": trials,
        "thresholds_by_entity": {k: dict(v.most_common()) for k, v in by_entity.items()},
        "thresholds_by_observation_type": {k: dict(v.most_common()) for k, v in by_obs_type.items()},
        "windowed_concepts": dict(windowed.most_common()),
        "windowed_by_entity": {k: dict(v.most_common()) for k, v in windowed_by_entity.items()},
        "window_sizes": dict(window_sizes.most_common()),
        "window_reference_points": dict(anchors.most_common()),
        "age_limits": dict(ages.most_common()),
        "not_scored": dict(unscored),
    }
    _refuse_repo_path(out)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return result


def command_score(root: Path, part: str, details: Path, summary: Optional[Path], choice: str = "auto") -> dict[str, Any]:
    """Recall of age limits, thresholds and windows, and support of every emitted number, per line."""
    function, name = engine(choice)
    found: Counter = Counter()
    total: Counter = Counter()
    by_section: dict[str, Counter] = defaultdict(Counter)
    emitted = supported = strict = 0
    emitted_kind: Counter = Counter()
    unsupported_kind: Counter = Counter()
    unsupported: list[str] = []
    wrong_direction: list[str] = []
    missed: dict[str, list[str]] = defaultdict(list)
    trials = lines_scored = lines_coded = 0
    unscored: Counter = Counter()
    began = time.time()
    for annotated in iter_annotations(root, part):
        trial = annotated.trial
        trials += 1
        unscored.update(annotated.unscored)
        lines = trial.lines()
        line_sections = sections(lines)
        gold_by_line: dict[int, list[GoldItem]] = defaultdict(list)
        for item in annotated.gold:
            gold_by_line[item.line].append(item)
        numbers_by_line: dict[int, set[float]] = defaultdict(set)
        pairs_by_line: dict[int, list[tuple[float, Direction, Optional[str], Optional[bool]]]] = defaultdict(list)
        for span in trial.spans.values():
            if span.type == "Eq-Value":
                for number in [parse_number(span.text)] + numbers_in(span.text):
                    if number is not None:
                        numbers_by_line[trial.line_of(span.start)].add(number)
        for comparison in annotated.comparisons.values():
            for value, direction in comparison.items():
                # whether the value is a multiple of the upper limit of normal, when the annotation gives a unit
                uln_known = comparison.uln if comparison.unit else None
                pairs_by_line[comparison.line].append((value, direction, comparison.temporal_unit, uln_known))
            trigger = trial.spans.get(trial.events[comparison.id].trigger)
            if trigger is not None and not comparison.values:  # a number left without an Eq-Value span ("≥18 years")
                written = numbers_in(trigger.text)
                numbers_by_line[trial.line_of(trigger.start)].update(written)
                directional = [op for op in comparison.operators if op in ("GT", "GTEQ", "LT", "LTEQ")]
                for number in written:
                    guess: Direction = _direction(directional[0]) if len(directional) == 1 else "any"
                    pairs_by_line[trial.line_of(trigger.start)].append((number, guess, comparison.temporal_unit, None))
            if comparison.temporal_unit and not comparison.values:  # "within the past year" = 1 a
                numbers_by_line[comparison.line].add(1.0)
                pairs_by_line[comparison.line].append((1.0, "any", comparison.temporal_unit, None))
        for index, line in enumerate(lines):
            text = criterion_text(line)
            if not text:
                continue
            lines_scored += 1
            section = line_sections[index]
            leaves, coded = run_engine(function, name, text, section)
            found_here = emissions(leaves)
            if coded is not None:
                lines_coded += coded
            where = f"{trial.id}:{index + 1} [{section or '-'}]"
            for item in gold_by_line.get(index, []):
                if item.category == "window":
                    total["window via " + item.link] += 1
                    found["window via " + item.link] += matches(item, found_here)
                total[item.category] += 1
                by_section[section or "none"][item.category + " total"] += 1
                if coded is not None:
                    found[item.category + " coded"] += bool(coded) and matches(item, found_here)
                if matches(item, found_here):
                    found[item.category] += 1
                    by_section[section or "none"][item.category + " found"] += 1
                else:
                    missed[item.category].append(
                        f"{where}\t{item.direction} {item.value:g} {item.temporal_unit or ''}\t{item.entity}: {item.concept}\t"
                        f"{' | '.join(e.signature for e in found_here) or '(nothing)'}\t{text}")
            for emission in found_here:
                emitted += 1
                emitted_kind[emission.kind + ("-window" if emission.role == "window" else "")] += 1
                numbers = numbers_by_line.get(index, set())
                if not any(_same(emission.value, number) for number in numbers):
                    unsupported_kind[emission.kind + ("-window" if emission.role == "window" else "")] += 1
                    unsupported.append(f"{where}\t{emission.role} {emission.value:g}\t{emission.signature}\t{text}")
                    continue
                supported += 1
                ok = False
                for value, direction, unit, uln_known in pairs_by_line.get(index, []):
                    if not _same(value, emission.value):
                        continue
                    if emission.role == "window":
                        ok = unit is None or unit == emission.unit
                    else:
                        ok = _compatible(direction, emission.direction) and _units_agree(unit, emission.unit)
                        ok = ok and (uln_known is None or uln_known == emission.uln)
                    if ok:
                        break
                if ok:
                    strict += 1
                else:
                    wrong_direction.append(f"{where}\t{emission.role} {emission.direction} {emission.value:g}\t{emission.signature}\t{text}")
    elapsed = time.time() - began

    print(f"LCT {part}: {trials} trials, {lines_scored} non-empty lines, engine entry point {name}(), {elapsed:.1f} s")
    titles = {"age": "(a) age limits", "threshold": "(b) numeric thresholds", "window": "(c) time windows"}
    for category in ("age", "threshold", "window"):
        print(f"{titles[category]:28s} recall {rate(found[category], total[category])}")
    if name == "read_criterion":
        print(f"    lines coded whole: {lines_coded}/{lines_scored}; recall counting coded lines only:")
        for category in ("age", "threshold", "window"):
            print(f"    {category:10s} {rate(found[category + ' coded'], total[category])}")
    for link in ("Temporality", "During"):
        print(f"    window via {link:12s} {rate(found['window via ' + link], total['window via ' + link])}")
    for section in sorted(by_section):
        counter = by_section[section]
        parts = [f"{c} {counter[c + ' found']}/{counter[c + ' total']}" for c in ("age", "threshold", "window")]
        print(f"    section {section:10s} " + ", ".join(parts))
    print(f"{'(d) support':28s} numbers supported {rate(supported, emitted)}")
    print(f"{'':28s} number, direction, time unit and ×ULN supported {rate(strict, emitted)}")
    print("    emitted by kind:", dict(emitted_kind.most_common()), " unsupported:", dict(unsupported_kind.most_common()))
    if unscored:
        print("    annotated but not scored:", dict(unscored))
    _refuse_repo_path(details)
    with open(details, "w", encoding="utf-8") as out:
        out.write(f"# LCT {part}: engine {name}(); columns are tab-separated\n")
        out.write(f"\n## UNSUPPORTED emissions ({len(unsupported)}): where, emitted number, signature, line\n")
        out.write("\n".join(unsupported) + "\n")
        out.write(f"\n## number annotated but direction, time unit or ×ULN differs ({len(wrong_direction)})\n")
        out.write("\n".join(wrong_direction) + "\n")
        for category in ("age", "threshold", "window"):
            out.write(f"\n## MISSED {category} ({len(missed[category])}): where, annotated, concept, engine signatures, line\n")
            out.write("\n".join(missed[category]) + "\n")
    print(f"details: {details}")
    result = {
        "part": part, "engine": name, "trials": trials, "lines": lines_scored,
        "recall": {c: [found[c], total[c]] for c in ("age", "threshold", "window")},
        "recall_coded_lines_only": {c: [found[c + " coded"], total[c]] for c in ("age", "threshold", "window")} if name == "read_criterion" else None,
        "lines_coded": lines_coded if name == "read_criterion" else None,
        "support": {"emitted": emitted, "number": supported, "number_and_direction": strict},
        "by_section": {k: dict(v) for k, v in by_section.items()},
    }
    if summary is not None:
        _refuse_repo_path(summary)
        summary.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def _refuse_repo_path(path: Path) -> None:
    """Outputs that may hold corpus text must stay outside this repository."""
    try:
        path.resolve().relative_to(REPO)
    except ValueError:
        return
    raise SystemExit(f"refusing to write {path}: LCT-derived files must stay outside the repository")


def main(argv: Optional[list[str]] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lct", type=Path, default=Path(os.environ["LCT_DIR"]) if os.environ.get("LCT_DIR") else None,
                        help="the LCT ner/nic folder (batch*/NCT*.txt + .ann); default $LCT_DIR")
    commands = parser.add_subparsers(dest="command", required=True)
    counts = commands.add_parser("counts", help="frequencies on the development part")
    counts.add_argument("--part", choices=["dev"], default="dev", help="only the development part may be counted")
    counts.add_argument("--out", type=Path, default=Path("/root/lct_counts_dev.json"))
    counts.add_argument("--top", type=int, default=80)
    score = commands.add_parser("score", help="recall and support of the engine")
    score.add_argument("--part", choices=["dev", "blind"], required=True)
    score.add_argument("--details", type=Path, default=None, help="default /root/lct_details_<part>.txt")
    score.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    score.add_argument("--engine", choices=["auto", "read_criterion", "understand"], default="auto",
                       help="entry point (auto: read_criterion when converter.eligibility exports it)")
    args = parser.parse_args(argv)
    if args.lct is None or not args.lct.is_dir():
        parser.error("--lct (or LCT_DIR) must name the LCT ner/nic folder")
    outputs = [args.out] if args.command == "counts" else [args.details, args.json]
    for path in outputs:
        if path is not None:
            _refuse_repo_path(path)
    if args.command == "counts":
        command_counts(args.lct, args.part, args.out, args.top)
    else:
        command_score(args.lct, args.part, args.details or Path(f"/root/lct_details_{args.part}.txt"), args.json, args.engine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
