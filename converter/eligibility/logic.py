"""The logic of a criterion as a small formula over coded findings — the one place polarity lives.

A criterion's *statement* is what its words say ("brain metastases", "platelets ≥ 100 and Hb ≥ 9",
"if HER2-positive, LVEF ≥ 50 %"). Whether it is a requirement or a reason to exclude comes from the
section it sits in, applied once, at the top (:func:`eligible_if`). The forms, written down once
(see ELIGIBILITY.md of the shared folder for the worked table):

=========================================  ===========================  ================================
text                                       inclusion: eligible when     exclusion: eligible when
=========================================  ===========================  ================================
A                                          A                            ¬A
no A                                       ¬A                           (ambiguous: not coded)
A or B / A and/or B / either A or B        any(A, B)                    ¬any(A, B)
A and B (requirements)                     all(A, B)                    —
A, B and C (a list of reasons to exclude)  —                            ¬any(A, B, C)
co-infection with A and B / both A and B   all(A, B)                    ¬all(A, B)
if A: B / B for patients with A            any(¬A, B)                   ¬all(A, B)
X ≤ a (≤ b with A)                         any(all(¬A, X≤a), all(A, X≤b))   (same, negated)
A (B) — B defines A                        all(A, B)                    ¬all(A, B)
A except B / A unless B                    not coded unless B is read   ¬all(A, ¬B)
score items ("1 point each: …")            not coded                    not coded
=========================================  ===========================  ================================

R5 writes these trees as nested ``definitionByCombination``; R4B can only hold literals every eligible
participant satisfies (:func:`necessary`), so both versions derive from the same formula and cannot
disagree on meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Literal, Optional, Union

from .findings import Concept, Finding

Operator = Literal["all", "any"]


@dataclass(frozen=True)
class Lit:
    """One coded finding that holds (``holds``) or must not hold. ``finding`` is a leaf without
    negation; ``value`` picks one coded answer when the finding lists several."""

    finding: Finding
    holds: bool = True
    value: Optional[Concept] = None

    def negate(self) -> "Lit":
        return Lit(self.finding, not self.holds, self.value)


@dataclass(frozen=True)
class Node:
    """all-of / any-of over members."""

    operator: Operator
    members: tuple["Formula", ...]
    text: str = ""


@dataclass(frozen=True)
class Opaque:
    """Something stated but not coded (an uncoded item): its truth is unknown. ``parts`` keeps the
    words of its sub-items (also uncoded) so that no text is lost; ``operator`` is how a list of
    that section reads (all for requirements, any for reasons to exclude), for display only."""

    text: str = ""
    parts: tuple["Opaque", ...] = ()
    operator: Operator = "all"


Formula = Union[Lit, Node, Opaque]


def node(operator: Operator, members: Iterable[Formula], text: str = "") -> Formula:
    """all/any of the members; one member is itself; a member with the same operator is merged."""
    flat: list[Formula] = []
    for member in members:
        if isinstance(member, Node) and member.operator == operator and not member.text:
            flat.extend(member.members)
        else:
            flat.append(member)
    if len(flat) == 1:
        return flat[0]
    return Node(operator, tuple(flat), text)


def negate(formula: Formula) -> Formula:
    """¬formula, pushed down to the literals (De Morgan); an opaque part stays opaque."""
    if isinstance(formula, Lit):
        return formula.negate()
    if isinstance(formula, Node):
        return Node("any" if formula.operator == "all" else "all", tuple(negate(m) for m in formula.members), formula.text)
    return formula


def implies(condition: Formula, consequence: Formula) -> Formula:
    """A → B as any(¬A, B): those with A must have B; everyone else is unaffected."""
    return node("any", [negate(condition), consequence])


def from_finding(finding: Finding) -> Formula:
    """A recognised finding (maybe a combination, maybe negated, maybe with several answers) as a formula."""
    if finding.parts:
        formula = node("all" if finding.operator == "AND" else "any", [from_finding(part) for part in finding.parts])
    elif len(finding.values) > 1:
        bare = finding.with_(negated=False)
        formula = node("any", [Lit(bare, True, value) for value in finding.values])
    else:
        formula = Lit(finding.with_(negated=False), True, finding.values[0] if finding.values else None)
    return negate(formula) if finding.negated else formula


def eligible_if(statement: Formula, section: str) -> Formula:
    """The condition for eligibility a criterion sets: its statement under an inclusion heading (or
    none), the negation of it under an exclusion heading."""
    return negate(statement) if section == "EXCLUSION" else statement


def literals(formula: Formula) -> Iterator[Lit]:
    """Every literal in the formula, in order."""
    if isinstance(formula, Lit):
        yield formula
    elif isinstance(formula, Node):
        for member in formula.members:
            yield from literals(member)


def necessary(formula: Formula) -> list[Lit]:
    """Literals every participant who satisfies ``formula`` satisfies (the conjuncts), without
    expanding "any": what a flat list of characteristics (R4B Group) can hold."""
    if isinstance(formula, Lit):
        return [formula]
    if isinstance(formula, Node) and (formula.operator == "all" or len(formula.members) == 1):
        return [lit for member in formula.members for lit in necessary(member)]
    return []


def satisfiable(formula: Formula) -> bool:
    """False when an all-of holds two bounds on one test and unit that cannot both hold
    ("creatinine < 1 ULN" and "creatinine > 1 ULN"): such a reading is wrong, whatever the text."""
    if isinstance(formula, Node):
        if not all(satisfiable(m) for m in formula.members):
            return False
        if formula.operator == "all":
            bounds = [m for m in formula.members if isinstance(m, Lit)]
            for i, a in enumerate(bounds):
                for b in bounds[i + 1:]:
                    if _contradict(a, b):
                        return False
    return True


def _interval(lit: Lit) -> Optional[tuple[str, str, float, bool, float, bool]]:
    """(code, unit, low, low-inclusive, high, high-inclusive) a literal allows, for plain thresholds."""
    f = lit.finding
    if f.concept is None or f.window is not None or f.quantity is None or f.comparator is None:
        return None
    unit = "ULN" if f.uln else (f.quantity.unit or "")
    inf = float("inf")
    v = f.quantity.value
    cmp = f.comparator
    if not lit.holds:
        cmp = {">=": "<", ">": "<=", "<=": ">", "<": ">="}[cmp]
    if cmp in (">=", ">"):
        return (f.concept.code, unit, v, cmp == ">=", inf, False)
    return (f.concept.code, unit, -inf, False, v, cmp == "<=")


def _same_statement(a: Lit, b: Lit) -> bool:
    """The same coded statement (concept, answer, window, threshold), whatever the words it was read from."""
    fa, fb = a.finding, b.finding
    return (fa.concept == fb.concept and a.value == b.value and fa.window == fb.window and fa.comparator == fb.comparator
            and fa.quantity == fb.quantity and fa.low == fb.low and fa.high == fb.high and fa.values == fb.values)


def _contradict(a: Lit, b: Lit) -> bool:
    if a.finding.concept is not None and a.holds != b.holds and _same_statement(a, b):
        return True  # "X and not X" (a condition read both ways in one branch)
    if (a.holds and b.holds and a.finding.concept is not None and a.finding.concept == b.finding.concept
            and a.finding.kind == "sex" and a.value != b.value):
        return True  # one person, one sex
    ia, ib = _interval(a), _interval(b)
    if ia is None or ib is None or ia[:2] != ib[:2]:
        return False
    low = max((ia[2], ia[3]), (ib[2], ib[3]), key=lambda x: (x[0], not x[1]))
    high = min((ia[4], ia[5]), (ib[4], ib[5]), key=lambda x: (x[0], x[1]))
    return low[0] > high[0] or (low[0] == high[0] and not (low[1] and high[1]))


def describe_formula(formula: Formula, name: "callable[[Lit], str]") -> str:  # type: ignore[valid-type]
    """A formula as a reviewer reads it: ``any(NOT HER2 = Positive, LVEF >= 50 %)``."""
    if isinstance(formula, Lit):
        text = name(formula)
        return text if formula.holds else f"NOT {text}"
    if isinstance(formula, Node):
        if len(formula.members) == 1:
            return describe_formula(formula.members[0], name)
        return f"{formula.operator}(" + ", ".join(describe_formula(m, name) for m in formula.members) + ")"
    return f"text({formula.text[:40]!r})"
