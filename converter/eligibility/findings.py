"""What the eligibility engine understood, independent of FHIR or CDISC.

A :class:`Finding` is a small frozen value: one coded concept with its value (a quantity with a
comparator, a range, a multiple of the upper limit of normal, or coded answers), plus what a
careful reader keeps next to it — negation, a time window, a condition ("if liver metastases are
present") and warnings about the text. Several findings that share one value ("ALT and AST ≤ 3×ULN")
form a combination finding with ``operator`` and ``parts``.

Writers (FHIR EvidenceVariable today, maybe CDISC TI later) translate findings; the engine never
builds standard structures itself, so it stays testable on text alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Optional

Kind = Literal["lab", "performance", "biomarker", "condition", "treatment", "age", "sex"]
Comparator = Literal[">=", "<=", ">", "<"]
Operator = Literal["AND", "OR"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Concept:
    """A code from a real code system (LOINC, SNOMED CT, administrative-gender)."""

    system: str
    code: str
    display: str

    @property
    def label(self) -> str:
        """"LOINC 777-3" style prefix used in explanations and signatures."""
        name = {LOINC: "LOINC", SNOMED: "SNOMED"}.get(self.system, self.system.rsplit("/", 1)[-1])
        return f"{name} {self.code}"


@dataclass(frozen=True)
class Quantity:
    """A number with its UCUM unit code (``None`` when the text gave no unit) and the unit as written."""

    value: float
    unit: Optional[str] = None
    written: Optional[str] = None

    def as_text(self) -> str:
        number = _number_text(self.value)
        return f"{number} {self.unit}" if self.unit else number


@dataclass(frozen=True)
class TimeWindow:
    """"within 4 weeks prior to randomisation" → 4 wk before, anchored on "randomisation"."""

    quantity: Quantity
    direction: Literal["before", "after"] = "before"
    anchor: Optional[str] = None
    text: str = ""


@dataclass(frozen=True)
class Finding:
    """One understood statement about a participant; see the module docstring."""

    kind: Kind
    concept: Optional[Concept] = None
    comparator: Optional[Comparator] = None
    quantity: Optional[Quantity] = None
    low: Optional[Quantity] = None
    high: Optional[Quantity] = None
    uln: bool = False
    values: tuple[Concept, ...] = ()
    value_text: Optional[str] = None
    condition: Optional[str] = None
    window: Optional[TimeWindow] = None
    negated: bool = False
    operator: Optional[Operator] = None
    parts: tuple["Finding", ...] = ()
    warnings: tuple[str, ...] = ()
    note: Optional[str] = None
    text: str = ""
    start: int = field(default=0, compare=False)
    # The words that name the case a threshold is the default for ("in the absence of liver
    # metastases"): not a subgroup of its own, but read, so no condition inside them is a finding.
    default_case: Optional[str] = field(default=None, compare=False)
    # Words inside ``text`` between what was named and its value ("Platelets, unless transfused, ≥ 100"):
    # part of the span, not of the reading, so the whole-criterion gate reads them.
    gap: Optional[str] = field(default=None, compare=False)

    @property
    def is_combination(self) -> bool:
        return bool(self.parts)

    def leaves(self) -> list["Finding"]:
        """The coded findings inside a combination (itself when it is not one)."""
        if not self.parts:
            return [self]
        return [leaf for part in self.parts for leaf in part.leaves()]

    def with_(self, **changes: object) -> "Finding":
        """A copy with some fields changed (frozen dataclasses cannot be edited in place)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def combine(operator: Operator, parts: list[Finding], text: str, start: int = 0) -> Finding:
    """One finding for several that share a value: AND for "ALT and AST", OR for "ALT or AST"."""
    if len(parts) == 1:
        return parts[0]
    return Finding(kind=parts[0].kind, operator=operator, parts=tuple(parts), text=text, start=start)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def value_text(finding: Finding) -> str:
    """The value part of a leaf finding as a reviewer reads it: ">= 80 10*9/L", "<= 1.5 ULN", "0-1"."""
    if finding.quantity is not None:
        unit = "ULN" if finding.uln else (finding.quantity.unit or "")
        prefix = f"{finding.comparator} " if finding.comparator else "= "
        return f"{prefix}{_number_text(finding.quantity.value)}{(' ' + unit) if unit else ''}"
    if finding.low is not None or finding.high is not None:
        unit = "ULN" if finding.uln else ((finding.low or finding.high).unit or "")  # type: ignore[union-attr]
        low = _number_text(finding.low.value) if finding.low else ""
        high = _number_text(finding.high.value) if finding.high else ""
        return f"{low}-{high}{(' ' + unit) if unit else ''}"
    if finding.values:
        return "= " + " | ".join(value.display.replace("New York Heart Association Classification - ", "") for value in finding.values)
    if finding.value_text:
        return f"= {finding.value_text}"
    return ""


def signature(finding: Finding) -> str:
    """A compact, comparable string for one leaf finding; the gold files are written in it.

    Format: ``kind code [value] [not] [within N unit] [if]``, e.g. ``lab 777-3 >= 80 10*9/L``,
    ``lab 1742-6 <= 3 ULN``, ``performance 89247-1 0-1``, ``biomarker 48676-1 = 260385009``,
    ``condition 363346000 within 5 a``, ``condition 86406008 not``, ``lab 1742-6 <= 5 ULN if``.
    """
    parts = [finding.kind, finding.concept.code if finding.concept else "?"]
    if finding.values:
        parts.append("= " + "|".join(value.code for value in finding.values))
    elif finding.value_text is not None:
        parts.append(f"= '{finding.value_text}'")
    else:
        text = value_text(finding)
        if text:
            parts.append(text)
    if finding.negated:
        parts.append("not")
    if finding.window is not None:
        parts.append(f"within {_number_text(finding.window.quantity.value)} {finding.window.quantity.unit}")
    if finding.condition:
        parts.append("if")
    return " ".join(parts)


def signatures(findings: list[Finding]) -> list[str]:
    """Signatures of every leaf, in order; a combination's condition and negation pass to its parts."""
    out: list[str] = []
    for finding in findings:
        for leaf in finding.leaves():
            if finding.condition and not leaf.condition:
                leaf = leaf.with_(condition=finding.condition)
            if finding.negated and not leaf.negated:
                leaf = leaf.with_(negated=True)
            out.append(signature(leaf))
    return out
