"""Computable eligibility: criterion text → coded findings (LOINC, SNOMED CT, UCUM), and a review aid.

``understand(text)`` is pure: text in, :class:`Finding` values out. It recognises age and sex,
ECOG/Karnofsky, common laboratory thresholds (with units and multiples of the upper limit of
normal), receptor status (HER2, ER, PR, triple-negative) and a short list of conditions with
time windows. Anything it does not recognise gives no finding: a missing code is recoverable, a
wrong code is not. Code tables live in ``data/`` and every code there was verified.

``explain(criteria)`` renders one line per criterion for a reviewer. The FHIR mapping lives in
:mod:`converter.writers.fhir.eligibility`.
"""

from __future__ import annotations

from typing import Sequence

from ..model import Criterion
from .findings import Concept, Finding, Quantity, TimeWindow, signature, signatures, value_text
from .logic import Lit, Opaque, describe_formula
from .reading import label_context, read_criteria
from .recognise import normalise, recognise, understand
from .tables import short_names

__all__ = [
    "Concept", "Finding", "Quantity", "TimeWindow",
    "understand", "recognise", "normalise", "explain", "understood", "describe", "describe_literal", "signature", "signatures", "label_context",
]

def describe(finding: Finding) -> str:
    """One finding as a reviewer reads it: "LOINC 777-3 Platelets >= 80 10*9/L"."""
    if finding.parts:
        joiner = " AND " if finding.operator == "AND" else " OR "
        inner = joiner.join(describe(part) for part in finding.parts)
        text = f"({inner})"
    else:
        assert finding.concept is not None
        name = short_names().get((finding.concept.system, finding.concept.code), finding.concept.display)
        text = f"{finding.concept.label} {name} {value_text(finding)}".rstrip()
    if finding.negated:
        text = f"NOT {text}"
    if finding.window is not None:
        text += f" within {finding.window.quantity.as_text()}"
        if finding.window.anchor:
            text += f" {finding.window.direction} {finding.window.anchor}"
    if finding.condition:
        text += f" [only {finding.condition}]"
    for warning in finding.warnings:
        text += f" [warning: {warning}]"
    return text


def describe_literal(lit: Lit) -> str:
    """One literal of a statement as a reviewer reads it (the one coded answer it holds, if any)."""
    return describe(lit.finding if lit.value is None else lit.finding.with_(values=(lit.value,)))


_CATEGORY = {"INCLUSION": "INCL", "EXCLUSION": "EXCL", "UNKNOWN": "????"}


def explain(criteria: list[Criterion], studied: Sequence[str] = ()) -> str:
    """One line per criterion, indented by nesting: what was coded, or why it stays text (with the
    partial reading, which is never written to any output).

    Example line: ``INCL  Platelet count ≥80*10^9/L  → LOINC 777-3 Platelets … >= 80 10*9/L``.
    """
    name = describe_literal
    lines: list[str] = []

    def walk(items, depth: int) -> None:  # type: ignore[no-untyped-def]
        for item in items:
            criterion = item.criterion
            if item.reading.coded and not item.children:
                understood = describe_formula(item.statement, name)
            elif item.reason and item.reason not in ("nothing recognised", "a label for the sub-items"):
                understood = item.reason
                if item.reading.findings and not item.reading.coded:
                    understood += " [partial reading: " + "; ".join(describe(f) for f in item.reading.findings) + "]"
            elif item.children and not isinstance(item.statement, Opaque):
                understood = describe_formula(item.statement, name)
            else:
                understood = "(text only)"
            lines.append(f"{'  ' * depth}{_CATEGORY[criterion.category]}  {criterion.text}  → {understood}")
            walk(item.children, depth + 1)

    walk(read_criteria(criteria, studied), 0)
    return "\n".join(lines)


def understood(criteria: list[Criterion], studied: Sequence[str] = ()) -> list[tuple[str | None, list[tuple[Criterion, str | None]]]]:
    """Per top-level criterion, what was coded (in ``explain``'s words) or None where it stays text,
    with the same for each of its leaf sub-items (a parent is marked only through its items).

    The synopsis marks the coded criteria with this, so a reader sees what a machine will act on.
    """
    def meaning(item) -> str | None:  # type: ignore[no-untyped-def]
        return describe_formula(item.statement, describe_literal) if item.reading.coded and not item.children else None

    def leaves(items) -> list:  # type: ignore[no-untyped-def]
        found = []
        for item in items:
            found.extend(leaves(item.children) if item.children else [(item.criterion, meaning(item))])
        return found

    return [(meaning(item), leaves(item.children)) for item in read_criteria(criteria, studied)]
