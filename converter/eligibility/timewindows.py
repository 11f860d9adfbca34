"""Time windows: "within 4 weeks prior to randomisation", "within the past six months", "< 1 year".

A window is kept as a quantity with a UCUM time unit (a, mo, wk, d, h), the direction relative to
the anchor event, and the anchor as written. Only phrases that name a number and a unit count; "recent"
or "prior" alone are not windows.
"""

from __future__ import annotations

import re
from typing import Optional

from .findings import Quantity, TimeWindow
from .tables import number_word, time_unit

_NUMBER = r"(?P<num>\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|eighteen|twenty|thirty|a|an)"
_UNIT = r"(?P<unit>years?|yrs?|months?|mos?|weeks?|wks?|days?|hours?|hrs?)"

WINDOW = re.compile(
    r"(?:(?P<within>within|in|during|over)\s+(?:the\s+)?(?:(?P<past>past|last|previous|preceding|prior|next|following|first)\s+)?"
    rf"(?:{_NUMBER}[\s-]*{_UNIT}|(?P<unit3>year|month|week)\b)(?:[\s-]+period)?"
    rf"|(?P<lt><|less\s+than|fewer\s+than)\s*{_NUMBER.replace('num', 'num2')}\s*{_UNIT.replace('unit', 'unit2')})"
    r"(?P<tail>\s+(?:(?P<before>prior\s+to|before|preceding|of)|(?P<after>after|following))\s+(?P<anchor>[^,;.()]{1,60}))?",
    re.I,
)


def _quantity(number: str, unit: str) -> Optional[Quantity]:
    value = number_word(number)
    if value is None:
        try:
            value = float(number)
        except ValueError:
            return None
    code = time_unit(unit.rstrip("s") if unit.lower() not in ("mos", "hrs", "yrs", "wks") else unit)
    if code is None:
        code = time_unit(unit)
    if code is None:
        return None
    return Quantity(value, code, unit)


def window_at(text: str, pos: int, *, reach: int = 90) -> Optional[tuple[TimeWindow, int, int]]:
    """The first time window starting within ``reach`` characters after ``pos`` in the same clause.

    Returns (window, start, end). The gap may not cross a sentence or clause break, so a window
    about a scan later in the sentence is not pinned on the condition mentioned before it.
    """
    for match in WINDOW.finditer(text, pos, min(len(text), pos + reach + 300)):
        gap = text[pos:match.start()]
        gap = re.sub(r"\s*\(\s*$", "", gap)  # "(within 6 months of enrollment)" right after the condition
        while re.search(r"\([^()]*\)", gap):
            gap = re.sub(r"\([^()]*\)", " ", gap)  # an explanation in brackets between condition and window
        if len(gap) > reach:
            return None
        gap = re.sub(r"\b(?:except|other\s+than)\s+(?:for\s+)?(?:\w+\s*){1,3}$", "", gap)  # "except for NSCLC within 3 years"
        if re.search(r"[;.:()\[\]]|\bexcept\b|\bunless\b|\bother than\b", gap):
            return None
        if match.group("unit3") and not match.group("past"):
            continue  # "in year" is not a window; "within the past year" is one year
        number = match.group("num") or match.group("num2") or "1"
        unit = match.group("unit") or match.group("unit2") or match.group("unit3")
        quantity = _quantity(number, unit)
        if quantity is None:
            continue
        direction = "after" if match.group("after") or (match.group("past") or "").lower() in ("next", "following", "first") else "before"
        anchor = match.group("anchor").strip() if match.group("anchor") else None
        return TimeWindow(quantity, direction, anchor, match.group(0).strip()), match.start(), match.end()
    return None


def windows(text: str) -> list[TimeWindow]:
    """Every time window in ``text``, in order (used by explanations and tests)."""
    found: list[TimeWindow] = []
    pos = 0
    while True:
        hit = window_at(text, pos, reach=len(text))
        if hit is None:
            return found
        found.append(hit[0])
        pos = hit[2]


#: "At least 14 days since prior myocardial infarction": the condition may not have happened in that period.
_SINCE = re.compile(
    rf"\b(?:at\s+least|more\s+than|over|greater\s+than|≥|>=?)\s*{_NUMBER}\s*{_UNIT}\s+(?:must\s+have\s+(?:passed|elapsed)\s+)?(?:have\s+(?:passed|elapsed)\s+)?since\s+"
    r"(?:(?:the|a|an|any|prior|previous|last|most\s+recent|their|an?\s+episode\s+of)\s+){0,3}$",
    re.I,
)
#: "… unless the participant has been free of the disease for ≥ 5 years", "disease-free for at least 3 years";
#: within the sentence, and not past the start of the next NCI run-on statement ("… No …").
_DISEASE_FREE = re.compile(
    r"(?:(?!\.\s|(?-i:[a-z0-9)]\s+(?:No|Not)\s))[^;]){0,300}?\b(?:(?:disease|cancer|tumou?r|relapse|recurrence)[- ]free|free\s+(?:of|from)\s+(?:the\s+|any\s+|that\s+|this\s+)?(?:disease|cancer|malignancy|tumou?r|it|recurrence)"
    r"|(?:in|achieved|achieving|attained|reached)\s+(?:an?\s+)?(?:complete\s+|continuous\s+)?remission|without\s+(?:evidence\s+of\s+)?(?:disease|recurrence))\s+(?:for\s+)?"
    rf"(?:(?:at\s+least|≥|>=|more\s+than|>|over|a\s+minimum\s+of|greater\s+than|longer\s+than)\s*)?(?:the\s+(?:past|last)\s+)?{_NUMBER}\s*{_UNIT}\b",
    re.I,
)


def since_window(text: str, start: int) -> Optional[TimeWindow]:
    """The period stated just before a condition with "since": "At least 14 days since prior MI"."""
    match = _SINCE.search(text[max(0, start - 80):start])
    if match is None:
        return None
    quantity = _quantity(match.group("num"), match.group("unit"))
    return TimeWindow(quantity, "before", None, match.group(0).strip()) if quantity else None


def disease_free_window(text: str, end: int) -> Optional[TimeWindow]:
    """A disease-free period later in the sentence: "malignancy … unless disease-free for ≥ 5 years"
    allows the disease only before that period, so the window is the period itself."""
    match = _DISEASE_FREE.match(text, end)
    if match is None:
        return None
    quantity = _quantity(match.group("num"), match.group("unit"))
    return TimeWindow(quantity, "before", None, text[end:match.end()].strip()) if quantity else None


_OPENING = "([（"
_CLOSING = ")]）"


def _closing_bracket(text: str, index: int, reach: int = 400) -> Optional[int]:
    depth = 0
    for position in range(index, min(len(text), index + reach)):
        if text[position] in _OPENING:
            depth += 1
        elif text[position] in _CLOSING:
            depth -= 1
            if depth == 0:
                return position
    return None


def bracket_window(text: str, pos: int) -> Optional[TimeWindow]:
    """A period that closes a bracketed list holding ``pos``: the period right after the bracket
    ("(CHF [NYHA class II or worse], MI, CVA or TIA) within 3 months") or ending it ("(including …
    congestive heart failure, or myocardial infarction, … within six months)") covers every item
    of the list. Brackets enclosing ``pos`` are tried from the innermost out."""
    depth = 0
    for index in range(pos - 1, max(0, pos - 300) - 1, -1):
        char = text[index]
        if char in _CLOSING:
            depth += 1
        elif char in _OPENING:
            if depth:
                depth -= 1
                continue
            close = _closing_bracket(text, index)
            if close is None or close < pos:
                return None
            after = window_at(text, close + 1, reach=2)
            if after is not None:
                return after[0]
            inner = text[pos:close]
            last, start = None, 0
            while (hit := window_at(inner, start, reach=len(inner))) is not None:
                last, start = hit, hit[2]
            if last is not None and re.fullmatch(r"[\s.,;]*", inner[last[2]:]):
                return last[0]
    return None
