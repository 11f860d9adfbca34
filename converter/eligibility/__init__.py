"""Computable eligibility: criterion text → coded findings (LOINC, SNOMED CT, UCUM), and a review aid.

``understand(text)`` is pure: text in, :class:`Finding` values out. It recognises age and sex,
ECOG/Karnofsky, common laboratory thresholds (with units and multiples of the upper limit of
normal), receptor status (HER2, ER, PR, triple-negative) and a short list of conditions with
time windows. Anything it does not recognise gives no finding: a missing code is recoverable, a
wrong code is not. Code tables live in ``data/`` and every code there was verified.

``explain(criteria)`` renders one line per criterion for a reviewer. The FHIR mapping lives in
:mod:`converter.writers.fhir_eligibility`.
"""

from __future__ import annotations

import re
from typing import Optional

from ..model import Criterion
from .biomarkers import understand_biomarkers
from .conditions import understand_conditions
from .demographics import understand_age, understand_sex
from .findings import Concept, Finding, Quantity, TimeWindow, combine, signature, signatures, value_text
from .labs import understand_labs
from .performance import understand_performance
from .tables import short_names
from .reading import label_context

__all__ = [
    "Concept", "Finding", "Quantity", "TimeWindow",
    "understand", "explain", "describe", "signature", "signatures", "label_context",
]

_EXCEPTION_LABEL = re.compile(r"\bexcept\b|\bother\s+than\b|\bunless\b|\bexcluding\b", re.I)


#: Full-width and compatibility forms of comparators and digits that registry text copies in from
#: East Asian input methods ("ＥＣＯＧ ＰＳ ０～１", "＜ 1.5 mg/dL"), read as their ASCII forms.
_WIDE = str.maketrans({"＜": "<", "＞": ">", "≦": "≤", "≧": "≥", "～": "-", "〜": "-", "：": ":", "，": ",", "％": "%",
                       "（": "(", "）": ")", "；": ";", "．": ".", "＝": "=", "／": "/", "＋": "+", "－": "-"})
_WIDE_ALNUM = {chr(0xFF10 + i): str(i) for i in range(10)}
_WIDE_ALNUM.update({chr(0xFF21 + i): chr(0x41 + i) for i in range(26)})
_WIDE_ALNUM.update({chr(0xFF41 + i): chr(0x61 + i) for i in range(26)})
_WIDE.update(str.maketrans(_WIDE_ALNUM))
#: "ECOG 0~2", "18~75 years": a tilde between numbers is a range.
_TILDE_RANGE = re.compile(r"(?<=\d)\s*~\s*(?=\d)")


def normalise(text: str) -> str:
    """Criterion text in the forms the recognisers read (full-width forms, tilde ranges); same length
    is not kept, so findings refer to the normalised text."""
    return _TILDE_RANGE.sub("-", text.translate(_WIDE))


def recognise(text: str, context: Optional[str] = None) -> tuple[str, list[Finding]]:
    """Everything the recognisers find in one criterion, before any logic: (text read, findings).

    Neighbours are not grouped here; a finding inside the bracket right after another qualifies
    it ("hepatitis B (HBsAg positive …)") and is joined to it with AND.
    """
    reading, found = _found(text, context)
    return reading, [finding for finding, _ in _attach_qualifiers(reading, found)]


def _found(text: str, context: Optional[str]) -> tuple[str, list[Finding]]:
    """Every recogniser's findings in reading order, repeats dropped: (text read, findings)."""
    if not text or not text.strip():
        return text, []
    if context and _EXCEPTION_LABEL.search(context):
        return text, []  # children of "Prior malignancies except:" are the exceptions, not requirements
    text = normalise(text)
    reading = f"{context}: {text}" if context else text
    assume_years = bool(context and context.strip().lower() == "age") or bool(re.match(r"\s*age\s*:", reading, re.I))
    found: list[Finding] = []
    found += understand_age(reading, assume_years=assume_years)
    found += understand_sex(reading)
    found += understand_performance(reading)
    found += understand_labs(reading)
    found += understand_biomarkers(reading)
    found += understand_conditions(reading)
    found.sort(key=lambda f: f.start)
    return reading, _dedupe(found)


def understand(text: str, context: Optional[str] = None) -> list[Finding]:
    """Findings in one criterion's text, grouped by the connectives between them.

    ``context`` is a parent label such as "Age" for NCI-style items whose text is a bare value
    ("18 and over"); it is read as if it preceded the text.
    """
    reading, found = _found(text, context)
    return _group_by_connectives(reading, found)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Drop a finding whose reading (all leaf signatures) was already made earlier in the text, and a
    condition that comes back with the opposite polarity ("No known HIV infection. Since NFV is used
    in HIV patients, …"): the first statement is the criterion, later ones are explanation."""
    seen: set[tuple[str, ...]] = set()
    polarity: dict[str, bool] = {}
    out: list[Finding] = []
    for finding in findings:
        key = tuple(signatures([finding]))
        if key in seen:
            continue
        if finding.kind == "condition" and finding.concept is not None and not finding.parts:
            earlier = polarity.get(finding.concept.code)
            if earlier is not None and earlier != finding.negated:
                continue
            polarity.setdefault(finding.concept.code, finding.negated)
        seen.add(key)
        out.append(finding)
    return out


def _span_end(text: str, finding: Finding) -> int:
    index = text.find(finding.text, finding.start) if finding.text else -1
    return index + len(finding.text) if index >= 0 else finding.start


def _attach_qualifiers(text: str, findings: list[Finding]) -> list[tuple[Finding, int]]:
    """A finding inside the bracket right after another qualifies it: "hepatitis B (HBsAg positive
    with HBV DNA ≥ 500 IU/mL)" is hepatitis B AND HBV DNA ≥ 500. Returns (finding, span end) pairs."""
    units: list[tuple[list[Finding], int]] = []
    for finding in findings:
        if units and not finding.condition:
            members, end = units[-1]
            opening = text[_span_end(text, members[0]):finding.start]
            if re.fullmatch(r"\s*[(（][^()（）]*", opening):
                close = min([i for i in (text.find(")", finding.start), text.find("）", finding.start)) if i != -1] or [len(text)])
                units[-1] = (members + [finding], close + 1)
                continue
        units.append(([finding], _span_end(text, finding)))
    out: list[tuple[Finding, int]] = []
    for members, end in units:
        if len(members) == 1:
            out.append((members[0], end))
        else:
            group = combine("AND", members, text[members[0].start:end], members[0].start)
            out.append((group.with_(kind=members[0].kind), end))
    return out


def _group_by_connectives(text: str, findings: list[Finding]) -> list[Finding]:
    """Join neighbours separated only by "or" into OR groups ("Pregnant or lactating"); the rest
    stay separate (the writer joins separate findings with all-of). Conditional findings
    ("≤ 5 × ULN if liver metastases") are alternatives the writer handles, so they are not grouped.

    An OR group whose members are all negated ("without HIV or hepatitis B") means none of
    them, so it becomes an AND of the negations.
    """
    out: list[Finding] = []
    run: list[tuple[Finding, int]] = []

    def flush() -> None:
        if not run:
            return
        members = [member for member, _ in run]
        if len(members) == 1:
            out.append(members[0])
        else:
            if members[0].negated:
                # "no history of congestive heart failure or ejection fraction < 40 %": the leading
                # negation covers the whole "or" list, so none of them may hold
                members = [member if member.negated else member.with_(negated=True) for member in members]
            operator = "AND" if all(member.negated for member in members) else "OR"
            kinds = {member.kind for member in members}
            group = combine(operator, members, text[members[0].start:run[-1][1]], members[0].start)
            out.append(group.with_(kind=members[0].kind if len(kinds) == 1 else "condition"))
        run.clear()

    for finding, end in _attach_qualifiers(text, findings):
        if run and not finding.condition and not run[-1][0].condition:
            between = text[run[-1][1]:finding.start]
            if re.search(r"\bor\b|\bnor\b", between, re.I) and not re.search(r"\band\b|[;.]", between, re.I) and len(between) < 40:
                run.append((finding, end))
                continue
        flush()
        run.append((finding, end))
    flush()
    return out


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


_CATEGORY = {"INCLUSION": "INCL", "EXCLUSION": "EXCL", "UNKNOWN": "????"}


def explain(criteria: list[Criterion]) -> str:
    """One line per criterion, indented by nesting: what was coded, or why it stays text (with the
    partial reading, which is never written to any output).

    Example line: ``INCL  Platelet count ≥80*10^9/L  → LOINC 777-3 Platelets … >= 80 10*9/L``.
    """
    from .logic import Opaque, describe_formula
    from .reading import read_criteria

    def name(lit) -> str:  # type: ignore[no-untyped-def]
        leaf = lit.finding if lit.value is None else lit.finding.with_(values=(lit.value,))
        return describe(leaf)

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

    walk(read_criteria(criteria), 0)
    return "\n".join(lines)
