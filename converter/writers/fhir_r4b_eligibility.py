"""Criteria → R4B ``Group.characteristic`` entries: each criterion's text, plus coded characteristics where R4B can say it.

R4B has no EvidenceVariable-based eligibility. A Group's characteristics all apply together (an
implicit AND); each is held or, with ``exclude: true``, not held; they cannot nest or say "or". So
the engine's findings (:func:`converter.eligibility.understand`) can be coded only where a criterion
*implies* a plain "has X" / "has not X".

Choice: **every criterion keeps its text-only characteristic** (``code.text`` = the criterion, a
child prefixed with its parent's words; ``valueBoolean: true``; ``exclude`` for exclusion items),
and **the coded characteristics it implies follow it**. The text carries the whole criterion,
including all nothing could code; each coded entry is a consequence of it, so AND-ing it on leaves
the Group's meaning unchanged, and a reader of codes alone gets a sound (if partial) screen.

Which literals are coded. A criterion is read as a Boolean formula over its findings — separate
findings AND-ed (as the R5 mapping reads them), "or" groups and several coded answers OR-ed, the
finding's own negation and an exclusion item's negation pushed down by De Morgan — and only
*necessary* literals (conjuncts of the result) become characteristics. So:

* an inclusion "A or B" codes nothing; an exclusion "A or B" ("Pregnant or lactating") is "not A
  and not B": two characteristics with ``exclude: true``; NYHA "class III or IV" likewise;
* an exclusion with several separate findings is "not (A and B)" and codes nothing;
* a finding next to an "or" the engine did not read ("ANC ≥ 1500/mm³ (or less if …)") is one of
  several alternatives, as are the findings of an item saying "any of" / "one of" / "either";
* a conditional value ("≤ 5 × ULN if liver metastases") and each plain threshold of the same test
  stay text only; so does any item whose words make a condition, an exception or a permission
  ("if", "when", "provided", "for patients with", "unless", "except", "allowed", "acceptable",
  "may be", "not required", "NOTE"): the engine does not always see which value such words
  qualify, and a threshold that does not bind every participant is not necessary;
* children are coded only under a plain parent: not under a conditional parent ("If
  HER2-positive:"), not as an inclusion's alternatives ("One of the following:"), not under a parent
  whose words may negate, except or merely permit ("No significant cardiac history, including:").

Polarity. ``exclude`` is true when the literal must not hold (exclusion item XOR the finding's
negation), with two cautions: a literal that must *hold* because of a negation inside an exclusion
item ("must not have …" in the exclusion list) is a double negative far more often than a
requirement, so it is not coded; and a condition that must hold is coded only in an inclusion item
with no word that may negate or permit it ("HIV ELISA negative", "… allowed if …"). Items of
neither list (category UNKNOWN, e.g. NCI "PATIENT CHARACTERISTICS:" outlines) are read as
requirements, as their text characteristic (``exclude: false``) already says, except that a
condition mentioned there without negation is not coded (mostly context or an exception).

Values. ``code`` is the finding's concept (LOINC/SNOMED CT coding) with ``code.text`` = the
(flattened) criterion, naming the criterion it came from. ``valueQuantity`` carries a UCUM code and
a comparator from R4B's Quantity set (< <= >= >; R4B has no ``ad``); a multiple of the upper limit
of normal is a Quantity with ``unit`` "× ULN" and no UCUM system/code (R4B has no ``offset``; the
unit text says it); a range is ``valueRange`` (SimpleQuantity ends, no comparator); one coded answer
is ``valueCodeableConcept``; a condition without value is ``valueBoolean: true``. A finding with a
warning (implausible value, unusual or missing unit) is not coded.

Time windows are **not** put in ``period``: R4B defines Group.characteristic.period as the period
over which the characteristic is tested (its example: an operation during the month of June) — a
calendar Period, not a span relative to an event such as randomisation. The window stays in
``code.text`` (the criterion's words name it). A code without its window is *broader* than the
criterion, so a windowed finding is coded only when it must hold ("diagnosed within 3 months":
the diagnosis is necessary); "no myocardial infarction within 6 months" as a bare "no myocardial
infarction" would exclude more than the text does and stays text only. Findings the engine marks
as qualified ("active hepatitis B") or as listing exceptions are treated the same way, and a
qualifier on one member of a combination is assumed to reach all members ("active hepatitis B or C").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Union

from ..eligibility import Finding, label_context, understand
from ..eligibility.findings import Concept
from ..model import Criterion
# The two patterns that decide how the R5 writer combines children; imported so both versions read
# a parent the same way.
from .fhir_eligibility import _ANY_OF, _CONDITIONAL_PARENT, codeable, quantity

# --- flattening -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlatItem:
    """One criterion as a flat Group characteristic sees it."""

    text: str  # the criterion's text, prefixed with its parents' ("Adequate organ function: Platelets …")
    criterion: Criterion
    context: Optional[str]  # the parent's short label ("Age"), read with a bare-value child
    codable: bool  # False when an ancestor makes the item an alternative or a consequence of a condition


#: Words after which a statement may be negated, excepted or merely permitted rather than required:
#: "No significant cardiac history, including:", "HIV ELISA negative", "Brain metastases allowed if …".
CAUTION = re.compile(
    r"\b(?:no|not|non|none|never|neither|nor|without|negative|absence|absent|free\s+of|except|unless|other\s+than"
    r"|exclude[ds]?|exclusion|ineligible|allowed|permitted|acceptable|eligible\s+(?:if|provided|as\s+long\s+as|when|unless))\b|n't\b",
    re.I,
)


#: Words by which an item makes exceptions to itself, applies only under a condition or merely permits
#: ("Bilirubin ≤ 1.5 × ULN unless Gilbert's syndrome", "AST ≤ 3 × ULN (5 × ULN if liver metastases)",
#: "≤ 5 × ULN is acceptable …", "Higher values may be allowed …"): such an item states nothing every
#: participant must satisfy, and the engine does not always see which value the words qualify.
QUALIFIED = re.compile(
    r"\b(?:unless|except|excepting|other\s+than|with\s+the\s+exception|if|when|whenever|provided|allowed|acceptable"
    r"|permitted|may\s+be|not\s+required|note|in\s+case\s+of|in\s+the\s+presence\s+of"
    r"|(?:for|in)\s+(?:patients?|subjects?|participants?|those|women|men|females?|males?)\s+(?:with|who|whose))\b",
    re.I,
)


def flatten(items: list[Criterion], prefix: str = "", context: Optional[str] = None, codable: bool = True) -> list[FlatItem]:
    """Group characteristics cannot nest, so a child carries its parent's text as context.

    A child is codable only when its parent's words make it a plain requirement: not under a
    conditional parent ("If HER2-positive:"), not one of an inclusion's alternatives ("One of the
    following:"; under an exclusion each alternative is itself excluded), and not under a parent
    whose words may negate, except or merely permit the children ("No significant cardiac history,
    including:", "Patients who are HIV-positive are eligible if:")."""
    out: list[FlatItem] = []
    for item in items:
        text = f"{prefix}{item.text}"
        conditional = bool(_CONDITIONAL_PARENT.match(item.text))
        out.append(FlatItem(text, item, context, codable and not (conditional and item.children)))
        if item.children:
            alternatives = bool(_ANY_OF.search(item.text)) and item.category != "EXCLUSION"
            cautious = bool(CAUTION.search(item.text) or QUALIFIED.search(item.text))
            out.extend(flatten(item.children, prefix=f"{text.rstrip(':')}: ", context=label_context(item.text),
                               codable=codable and not conditional and not alternatives and not cautious))
    return out


# --- findings as a Boolean formula ----------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """"The participant has ``finding`` (with ``value``)" — or, when ``holds`` is False, has not."""

    finding: Finding
    value: Optional[Concept]
    holds: bool
    narrowed: bool  # the criterion says less than the code (a window, a qualifier, listed exceptions)


@dataclass(frozen=True)
class Node:
    operator: str  # "AND" | "OR"
    members: tuple["Formula", ...]


class _Opaque:
    """Something the criterion says that cannot be coded; it implies no literal in either polarity."""

    def __repr__(self) -> str:
        return "OPAQUE"


OPAQUE = _Opaque()
Formula = Union[Literal, Node, _Opaque]


def node(operator: str, members: Iterable[Formula]) -> Formula:
    """AND/OR of the members; one member is itself, and a member with the same operator is merged."""
    flat: list[Formula] = []
    for member in members:
        flat.extend(member.members if isinstance(member, Node) and member.operator == operator else [member])
    return flat[0] if len(flat) == 1 else Node(operator, tuple(flat))


def negate(formula: Formula) -> Formula:
    """Not ``formula``, pushed down to the literals (De Morgan)."""
    if isinstance(formula, Literal):
        return Literal(formula.finding, formula.value, not formula.holds, formula.narrowed)
    if isinstance(formula, Node):
        return node("OR" if formula.operator == "AND" else "AND", (negate(m) for m in formula.members))
    return formula


def _narrowed(finding: Finding) -> bool:
    return finding.window is not None or finding.note is not None


def finding_formula(finding: Finding, narrowed: bool = False) -> Formula:
    """One finding (maybe a combination) as a formula; negation is the finding's own ("no HIV")."""
    if finding.condition or finding.warnings:
        return OPAQUE
    formula: Formula
    if finding.parts:
        if finding.window is not None:
            return OPAQUE
        narrowed = narrowed or any(_narrowed(leaf) for leaf in (finding, *finding.leaves()))
        formula = node(finding.operator or "AND", (finding_formula(part, narrowed) for part in finding.parts))
    elif finding.concept is None:
        return OPAQUE
    elif len(finding.values) > 1:
        formula = node("OR", (Literal(finding, value, True, narrowed or _narrowed(finding)) for value in finding.values))
    else:
        formula = Literal(finding, finding.values[0] if finding.values else None, True, narrowed or _narrowed(finding))
    return negate(formula) if finding.negated else formula


def _codes(finding: Finding) -> frozenset[str]:
    return frozenset(leaf.concept.code for leaf in finding.leaves() if leaf.concept is not None)


#: "or" right after a finding ("ANC ≥ 1500/mm3 (or less if …)") or right before it ("… or ECOG 0-1")
_OR_AFTER = re.compile(r"[\s,;:(\[]*(?:and\s*/\s*)?or\b", re.I)
_OR_BEFORE = re.compile(r"\bor(?:\s*/\s*and)?[\s,;:)\]]*$", re.I)


def _unread_alternative(text: str, finding: Finding) -> bool:
    """Whether the words around a finding offer an alternative the engine did not read (an "or"
    that did not become an OR group): then the finding holds *or* something else does."""
    at = text.find(finding.text) if finding.text else -1
    if at < 0:
        return False
    end = at + len(finding.text)
    return bool(_OR_AFTER.match(text, end) or _OR_BEFORE.search(text, 0, at))


def criterion_formula(findings: list[Finding], text: str = "") -> Formula:
    """A criterion's findings as a formula: separate findings all hold ("and"), as the R5 mapping reads them.

    Four readings are more cautious than that. A plain threshold with a conditional alternative for
    the same test ("≤ 3 × ULN, or ≤ 5 × ULN if liver metastases") and a finding read inside another
    finding's condition are opaque. A finding next to an "or" the engine did not read is "it, or
    something uncoded", and the findings of an item saying "any of" / "one of" / "either" are
    alternatives, uncoded ones included: under an inclusion neither is necessary; under an
    exclusion De Morgan makes each "not it", which is."""
    conditional = frozenset().union(*(_codes(f) for f in findings if f.condition)) if findings else frozenset()
    conditions = [f.condition for f in findings if f.condition]
    members: list[Formula] = []
    for finding in findings:
        # a finding read inside another's condition ("… for patients with creatinine above ULN") is part of that condition
        within_condition = bool(finding.text) and any(finding.text in condition for condition in conditions)
        formula = OPAQUE if _codes(finding) & conditional or within_condition else finding_formula(finding)
        if _unread_alternative(text, finding):
            formula = node("OR", (formula, OPAQUE))
        members.append(formula)
    if _ANY_OF.search(text):
        return node("OR", [*members, OPAQUE])  # the alternatives the engine did not read count too
    return node("AND", members)


def necessary(formula: Formula) -> list[Literal]:
    """Literals every participant satisfying ``formula`` satisfies, found without expanding "or"."""
    if isinstance(formula, Literal):
        # a narrowed literal that must not hold would, as a bare code, exclude more than the text does
        return [formula] if formula.holds or not formula.narrowed else []
    if isinstance(formula, Node) and formula.operator == "AND":
        return [literal for member in formula.members for literal in necessary(member)]
    return []


# --- literals as characteristics ------------------------------------------------------------------


def _value(literal: Literal) -> dict[str, Any]:
    finding = literal.finding
    if finding.quantity is not None:
        return {"valueQuantity": quantity(finding.quantity, finding.comparator, uln=finding.uln)}
    if finding.low is not None or finding.high is not None:
        ends = {end: quantity(q, uln=finding.uln) for end, q in (("low", finding.low), ("high", finding.high)) if q is not None}
        return {"valueRange": ends}
    if literal.value is not None:
        return {"valueCodeableConcept": codeable(literal.value)}
    if finding.value_text is not None:
        return {"valueCodeableConcept": {"text": finding.value_text}}
    return {"valueBoolean": True}


def literal_characteristic(literal: Literal, text: str) -> dict[str, Any]:
    assert literal.finding.concept is not None
    code = {**codeable(literal.finding.concept), "text": text}
    window = literal.finding.window
    if window is not None and window.text and window.text.lower() not in text.lower():
        code["text"] = f"{text} ({window.text})"
    return {"code": code, **_value(literal), "exclude": not literal.holds}


def _trusted(literal: Literal, category: str, text: str) -> bool:
    """Whether a literal's polarity can be trusted. Under an exclusion a literal that must *hold*
    comes from a negation inside an exclusion item ("Patients must not have …" in the exclusion
    list) — a double negative far more often than a requirement. Elsewhere a condition that must
    hold is kept only in an inclusion item none of whose words may negate or merely permit it
    ("HIV ELISA negative", "Prior malignancy allowed if …"); in items of neither list (NCI outlines)
    a condition mentioned without negation is mostly context or an exception, so it is not coded."""
    if not literal.holds:
        return True
    if category == "EXCLUSION":
        return False
    if literal.finding.kind != "condition":
        return True
    return category == "INCLUSION" and not CAUTION.search(text)


def coded_characteristics(item: FlatItem) -> list[dict[str, Any]]:
    """The coded characteristics one flattened criterion implies (none when it implies no literal).

    Items of neither list (category UNKNOWN, e.g. NCI "PATIENT CHARACTERISTICS:" outlines) are read
    as requirements, as their text-only characteristic (``exclude: false``) already states."""
    text = item.criterion.text
    if not item.codable or QUALIFIED.search(text) or _CONDITIONAL_PARENT.match(text):
        return []  # an item with exceptions, conditions or permissions implies no literal
    category = item.criterion.category
    formula = criterion_formula(understand(text, item.context), text)
    if category == "EXCLUSION":
        formula = negate(formula)
    out: list[dict[str, Any]] = []
    for literal in necessary(formula):
        if not _trusted(literal, category, text):
            continue
        char = literal_characteristic(literal, item.text)
        if char not in out:
            out.append(char)
    return out


def text_characteristic(item: FlatItem) -> dict[str, Any]:
    return {"code": {"text": item.text}, "valueBoolean": True, "exclude": item.criterion.category == "EXCLUSION"}


def characteristics(criteria: list[Criterion]) -> list[dict[str, Any]]:
    """Group.characteristic entries for the criteria: each criterion's text, then what it implies in codes."""
    out: list[dict[str, Any]] = []
    for item in flatten(criteria):
        out.append(text_characteristic(item))
        out.extend(coded_characteristics(item))
    return out


def coded(characteristics: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The coded entries among Group characteristics (those whose code has a coding)."""
    return (c for c in characteristics if c.get("code", {}).get("coding"))
