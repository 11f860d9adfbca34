"""The recognisers run over one criterion, before any logic: what each of them found, in order.

``recognise`` is what the whole-criterion reading (:mod:`.reading`) starts from; ``understand``
groups the same findings by the connectives between them (the raw reading that the LCT benchmark and
the tuned gold sets measure).
"""

from __future__ import annotations

import re
from typing import Optional

from .biomarkers import understand_biomarkers
from .conditions import understand_conditions
from .demographics import understand_age, understand_sex
from .findings import Finding, combine, signatures
from .labs import understand_labs
from .performance import understand_performance

_EXCEPTION_LABEL = re.compile(r"\bexcept\b|\bother\s+than\b|\bunless\b|\bexcluding\b", re.I)


#: Full-width and compatibility forms of comparators and digits that registry text copies in from
#: East Asian input methods ("ＥＣＯＧ ＰＳ ０～１", "＜ 1.5 mg/dL"), read as their ASCII forms.
_WIDE = str.maketrans({"＜": "<", "＞": ">", "≦": "≤", "≧": "≥", "～": "-", "〜": "-", "：": ":", "，": ",", "％": "%",
                       "（": "(", "）": ")", "；": ";", "．": ".", "＝": "=", "／": "/", "＋": "+", "－": "-",
                       "˂": "<", "˃": ">"})
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


#: A bracket that opens with a condition ("(if liver metastases are present, ALT ≤ 5 × ULN)") holds an
#: alternative for a subgroup, not a qualifier of the finding before it.
_CONDITION_OPENING = re.compile(r"\s*[(（]\s*(?:if|when|for|unless|except|in\s+(?:case|patients|subjects|those|the\s+(?:presence|absence|case)))\b", re.I)


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
            if re.fullmatch(r"\s*[(（][^()（）]*", opening) and not _CONDITION_OPENING.match(opening):
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


