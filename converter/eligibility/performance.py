"""Performance status: ECOG ("ECOG 0-1", "ECOG PS ≤ 2", "ECOG performance status of 0, 1, or 2") and
Karnofsky ("KPS ≥ 70", "Karnofsky 70%-100%").

The scale must be named: "Performance status 0-1" alone could be ECOG, WHO or Zubrod, so it is
not coded (precision first). ECOG scores are integers 0-5; Karnofsky scores 0-100 in steps of 10.
"""

from __future__ import annotations

import re
from typing import Optional

from .findings import Comparator, Finding, Quantity
from .tables import concept
from .units import comparator_at, skip_space

ECOG_UNIT = "{score}"

# Zubrod is the ECOG scale under its author's name (same 0-5 grades), so it takes the ECOG code.
# The WHO performance status is the same 0-5 scale with the same grades (WHO/ECOG/Zubrod), so it takes
# the ECOG code too; "WHO" must be followed by the words of a performance status ("WHO grade" is not one).
_ECOG = re.compile(
    r"\bECOG\b|Eastern\s+Cooperative\s+Oncology\s+Group|Eastern\s+Oncology\s+(?:Consortium|Group)|\bZubrod\b"
    r"|\bWHO(?=\s*(?:\(\s*World\s+Health\s+Organi[sz]ation\s*\)\s*)?(?:performance\s+(?:status|score)|PS)\b)"
    r"|\bWorld\s+Health\s+Organi[sz]ation(?=\s*(?:\(WHO\)\s*)?(?:performance\s+(?:status|score)|PS)\b)",
    re.I,
)
_KARNOFSKY = re.compile(r"\bKarnofsky\b|\bKPS\b", re.I)
# Words that may sit between the scale's name and its value.
_FILLER = re.compile(
    r"(?:\s|\(ECOG\)|\(KPS\)|\(PS\)|\(WHO\)|performance|status|scale|score|scores|grade|of|PS|is|was|were|must|be|should|\(|\)|:|=|-|–|,|at|a|an|the|physical|index|value|level|equal|to)*",
    re.I,
)
_RANGE = re.compile(r"(?P<low>\d{1,3})\s*%?\s*(?:-|–|to|through)\s*(?P<high>\d{1,3})\s*%?", re.I)
_LIST = re.compile(r"(?P<items>\d(?:\s*,\s*\d)*(?:\s*,?\s*(?:or|and)\s*\d))(?!\s*(?:%|\d|-|–|to))", re.I)
_SINGLE = re.compile(r"(?P<value>\d{1,3})\s*(?P<pct>%)?(?!\s*(?:\d|-|–|to\b))", re.I)
_POSTFIX = re.compile(r"\s*%?\s*(?:or|and)\s+(?:(?P<ge>above|higher|greater|more|over|better)|(?P<le>below|lower|less|fewer|under))\b", re.I)


def _value(text: str, pos: int, scale_max: int) -> Optional[dict[str, object]]:
    """Read the score expression after the scale's name (and filler words)."""
    filler = _FILLER.match(text, pos)
    start = filler.end() if filler else pos
    if start - pos > 60:
        return None
    found = comparator_at(text, start)
    if found:
        comparator, after = found
        single = _SINGLE.match(text, skip_space(text, after))
        if single and int(single.group("value")) <= scale_max:
            return {"comparator": comparator, "value": int(single.group("value")), "end": single.end()}
        return None
    for pattern in (_RANGE, _LIST):
        match = pattern.match(text, start)
        if match:
            if pattern is _RANGE:
                low, high = int(match.group("low")), int(match.group("high"))
                if low <= high <= scale_max:
                    return {"low": low, "high": high, "end": match.end()}
                return None
            items = sorted(int(x) for x in re.findall(r"\d", match.group("items")))
            if items[-1] <= scale_max and items == list(range(items[0], items[-1] + 1)):
                return {"low": items[0], "high": items[-1], "end": match.end()}
            if items[-1] <= scale_max:
                return {"values": items, "end": match.end()}
            return None
    single = _SINGLE.match(text, start)
    if single and int(single.group("value")) <= scale_max:
        postfix = _POSTFIX.match(text, single.end())
        if postfix:
            comparator: Comparator = ">=" if postfix.group("ge") else "<="
            return {"comparator": comparator, "value": int(single.group("value")), "end": postfix.end()}
        return {"value": int(single.group("value")), "end": single.end()}
    return None


def _finding(key: str, parsed: dict[str, object], text: str, start: int, unit: str) -> Finding:
    scale = concept("performance", key)
    span = text[start:int(parsed["end"])].strip()  # type: ignore[arg-type]
    if "values" in parsed:
        parts = tuple(
            Finding(kind="performance", concept=scale, quantity=Quantity(float(v), unit), text=span, start=start)
            for v in parsed["values"]  # type: ignore[union-attr]
        )
        return Finding(kind="performance", operator="OR", parts=parts, text=span, start=start)
    if "low" in parsed:
        return Finding(
            kind="performance", concept=scale,
            low=Quantity(float(parsed["low"]), unit), high=Quantity(float(parsed["high"]), unit),  # type: ignore[arg-type]
            text=span, start=start,
        )
    return Finding(
        kind="performance", concept=scale, comparator=parsed.get("comparator"),  # type: ignore[arg-type]
        quantity=Quantity(float(parsed["value"]), unit), text=span, start=start,  # type: ignore[arg-type]
    )


def understand_performance(text: str) -> list[Finding]:
    """ECOG and Karnofsky findings in one criterion."""
    findings: list[Finding] = []
    for key, pattern, scale_max, unit in (("ecog", _ECOG, 5, ECOG_UNIT), ("karnofsky", _KARNOFSKY, 100, "%")):
        for match in pattern.finditer(text):
            parsed = _value(text, match.end(), scale_max)
            if parsed is None:
                continue
            finding = _finding(key, parsed, text, match.start(), unit)
            if key == "karnofsky" and not _karnofsky_plausible(finding):
                continue
            findings.append(finding)
            break  # one finding per scale and criterion; repeats restate the same threshold
    return findings


def _karnofsky_plausible(finding: Finding) -> bool:
    """Karnofsky scores are multiples of 10; "KPS ≥ 7" is a typo we should not code."""
    values = [q.value for q in (finding.quantity, finding.low, finding.high) if q is not None]
    values += [part.quantity.value for part in finding.parts if part.quantity is not None]
    return all(value % 10 == 0 and value >= 10 for value in values)
