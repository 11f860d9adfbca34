"""Criteria → R4B ``Group.characteristic`` entries: each criterion's text, plus coded characteristics where R4B can say it.

R4B has no EvidenceVariable-based eligibility. A Group's characteristics all apply together (an
implicit AND); each is held or, with ``exclude: true``, not held; they cannot nest or say "or". So
**every criterion keeps its text-only characteristic** (``code.text`` = the criterion, a child
prefixed with its parent's words; ``valueBoolean: true``; ``exclude`` for exclusion items), and
**the coded characteristics it implies follow it**.

Which literals are coded: the writer reads no text. It takes the statement the R5 writer uses
(:func:`converter.eligibility.reading.read_criteria`), turns it into the condition for eligibility
(:func:`converter.eligibility.logic.eligible_if`: an exclusion item's statement negated) and codes
only the *necessary* literals (:func:`converter.eligibility.logic.necessary`: the conjuncts) — every
eligible participant satisfies each of them, so AND-ing them on the Group is sound. "A or B" under
an inclusion codes nothing; under an exclusion it is "not A and not B"; an implication
any(¬A, B) codes nothing. R4B and R5 therefore never disagree on meaning (a test compares them).

Values: ``code`` is the finding's concept with ``code.text`` = the (flattened) criterion;
``valueQuantity`` with a UCUM code and a comparator (R4B Quantity); a multiple of the upper limit
of normal is a Quantity with ``unit`` "× ULN" and no UCUM system/code (R4B has no ``offset``);
a range is ``valueRange``; one coded answer ``valueCodeableConcept``; a condition ``valueBoolean``.

Time windows are **not** put in ``period``: R4B defines Group.characteristic.period as a calendar
period over which the characteristic is tested, not a span relative to an event such as
randomisation. A code without its window is *broader* than the criterion, so a windowed literal is
coded only when it must hold (the window then stays in ``code.text``); "no myocardial infarction
within 6 months" as a bare "no myocardial infarction" would exclude more than the text does and is
not coded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from ...eligibility.logic import Lit, eligible_if, necessary
from ...eligibility.reading import Item, read_criteria
from ...model import Criterion
from .eligibility import codeable, literal_value


@dataclass(frozen=True)
class FlatItem:
    """One criterion as a flat Group characteristic sees it."""

    text: str  # the criterion's text, prefixed with its parents' ("Adequate organ function: Platelets …")
    criterion: Criterion


def flatten(items: list[Criterion], prefix: str = "") -> list[FlatItem]:
    """Group characteristics cannot nest, so a child carries its parent's text as context."""
    out: list[FlatItem] = []
    for item in items:
        text = f"{prefix}{item.text}"
        out.append(FlatItem(text, item))
        out.extend(flatten(item.children, prefix=f"{text.rstrip(':')}: "))
    return out


def literal_characteristic(lit: Lit, text: str) -> dict[str, Any]:
    assert lit.finding.concept is not None
    code = {**codeable(lit.finding.concept), "text": text}
    window = lit.finding.window
    if window is not None and window.text and window.text.lower() not in text.lower():
        code["text"] = f"{text} ({window.text})"
    return {"code": code, **literal_value(lit), "exclude": not lit.holds}


def coded_literals(item: Item) -> list[Lit]:
    """The literals a top-level criterion implies for every eligible participant (see the module docstring)."""
    out: list[Lit] = []
    for lit in necessary(eligible_if(item.statement, item.criterion.category)):
        if lit.finding.window is not None and not lit.holds:
            continue  # a window R4B cannot hold: the bare code would exclude more than the text does
        if lit not in out:
            out.append(lit)
    return out


def characteristics(criteria: list[Criterion], studied: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Group.characteristic entries: each criterion's text (children flattened), then what it implies in codes."""
    out: list[dict[str, Any]] = []
    for criterion, item in zip(criteria, read_criteria(criteria, studied)):
        flat = flatten([criterion])
        out.extend(text_characteristic(entry) for entry in flat)
        for lit in coded_literals(item):
            # name the (flattened) item the literal was read from: the deepest one holding its words
            source = [entry.text for entry in flat if lit.finding.text and lit.finding.text in entry.text]
            char = literal_characteristic(lit, source[-1] if source else criterion.text)
            if char not in out:
                out.append(char)
    return out


def text_characteristic(item: FlatItem) -> dict[str, Any]:
    return {"code": {"text": item.text}, "valueBoolean": True, "exclude": item.criterion.category == "EXCLUSION"}


def coded(characteristics: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The coded entries among Group characteristics (those whose code has a coding)."""
    return (c for c in characteristics if c.get("code", {}).get("coding"))
