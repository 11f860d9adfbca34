"""Numbers, comparators, UCUM units and multiples of the upper limit of normal, as written in criteria.

Registry text writes the same threshold a dozen ways ("≥ 1.5 × 10^9/L", ">/= 1.5x109/l",
"at least 1,500/mm3", "1.5*10^9/L or above"). This module reads one such value expression at a
given position and returns what it says, keeping the unit as written next to its UCUM code.
Nothing here knows which test the value belongs to; plausibility against the test is checked in
:mod:`converter.eligibility.labs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .findings import Comparator, Quantity
from .tables import unit_patterns

#: Comparator phrases, longest and most specific first; each maps to a FHIR Quantity comparator.
COMPARATOR_PHRASES: tuple[tuple[Comparator, str], ...] = (
    (">=", r"≥\s*/?\s*=?|⩾|≧|>\s*/\s*=|>\s*=|=\s*>|\+\s*/?\s*=|>\s*or\s*=(?!\s*[<>])"),
    (">=", r"(?:greater|more|higher|larger)\s+than\s+or\s+equal(?:s)?(?:\s+to)?|equal\s+(?:to\s+)?or\s+(?:greater|more|higher|above|over)(?:\s+than)?"),
    (">=", r"at\s+least|not\s+less\s+than|no\s+less\s+than|not\s+lower\s+than|no\s+lower\s+than|not\s+below|minimum(?:\s+of)?|min\.?(?=\s*\d)"),
    ("<=", r"≤\s*/?\s*=?|⩽|≦|<\s*/\s*=|<\s*=|=\s*<|<\s*or\s+equal(?:\s+to)?|<\s*or\s*=(?!\s*[<>])"),
    ("<=", r"(?:less|lower|smaller)\s+than\s+or\s+equal(?:s)?(?:\s+to)?|equal\s+(?:to\s+)?or\s+(?:less|lower|smaller|below|under)(?:\s+than)?"),
    ("<=", r"no\s+more\s+than|not\s+more\s+than|no\s+greater\s+than|not\s+greater\s+than|no\s+higher\s+than|not\s+higher\s+than|not\s+above|not\s+(?:to\s+)?exceed(?:ing)?|up\s+to|maximum(?:\s+of)?|max\.?(?=\s*\d)"),
    (">", r">|greater\s+than|more\s+than|higher\s+than|above|over|exceed(?:s|ing)?|in\s+excess\s+of"),
    ("<", r"<|less\s+than|lower\s+than|below|under|fewer\s+than"),
)

COMPARATOR = re.compile("|".join(f"(?P<c{i}>{pattern})" for i, (_, pattern) in enumerate(COMPARATOR_PHRASES)), re.I)

#: "18 years or older", "1.5 x 10^9/L or above": a trailing phrase that turns a number into a bound.
POSTFIX_COMPARATOR = re.compile(
    r"\s*(?:or|and)\s+(?:(?P<ge>more|greater|higher|above|over|older|larger)|(?P<le>less|lower|below|fewer|younger|under|smaller))\b",
    re.I,
)

NUMBER = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:[.,·]\d+)?|\.\d+)")

ULN = re.compile(
    r"\s*(?:[x×*X]|times(?:\s+of)?|-?\s*fold)?\s*(?:the\s+)?(?:institutional\s+|site\s+|local\s+)?"
    r"(?:upper\s+limits?\s+of\s+(?:the\s+)?(?:institutional\s+)?normal(?:\s+(?:range|value|limit)s?)?(?:\s*\((?:ULN|IULN)\))?"
    r"|upper\s+normal\s+limits?(?:\s*\((?:ULN|UNL)\))?|I?ULN|UNL|ULRR)(?!\w)"
    # "2 times normal", "1.5 x the upper limit", "3 x normal": NCI shorthand for multiples of ULN
    r"|\s*(?:[x×X]|times)\s*(?:the\s+)?(?:institutional\s+)?(?:upper\s+limit(?!\s+of\s+(?!normal))|normal)(?!\s+(?:range|limits))(?!\w)",
    re.I,
)
#: "within (the) upper limit(s) of normal" is at most 1 × ULN ("within normal limits" is a range, not read).
WITHIN_ULN = re.compile(r"(?:within|at\s+or\s+below|not\s+above)\s+(?:the\s+)?(?:institutional\s+)?(?:upper\s+limits?\s+of\s+(?:the\s+)?normal|ULN)(?:\s*\(ULN\))?(?!\w)", re.I)
#: "twice normal", "twice the ULN": 2 × ULN spelled out.
TWICE_ULN = re.compile(r"\s*twice\s+(?:the\s+)?(?:institutional\s+)?(?:upper\s+limit\s+of\s+normal|ULN|normal|upper\s+limit)(?:\s*\(ULN\))?(?!\w)", re.I)
#: "≤ ULN", "below the upper limit of normal": a bound at 1 × ULN without a number.
BARE_ULN = re.compile(
    r"\s*(?:the\s+)?(?:institutional\s+|site\s+|local\s+)?(?:upper\s+limits?\s+of\s+(?:the\s+)?(?:institutional\s+)?normal(?:\s+(?:range|value|limit)s?)?"
    r"(?:\s*\((?:ULN|IULN)\))?|I?ULN|UNL)(?!\w)",
    re.I,
)


@dataclass(frozen=True)
class Value:
    """A value expression read from text: comparator + quantity, or a low-high range; maybe × ULN."""

    comparator: Optional[Comparator]
    quantity: Optional[Quantity]
    low: Optional[Quantity]
    high: Optional[Quantity]
    uln: bool
    start: int
    end: int


def skip_space(text: str, pos: int) -> int:
    """``pos`` moved past the whitespace there: ``pos + len(text[pos:]) - len(text[pos:].lstrip())``
    without copying the rest of the text (which made long criteria quadratic)."""
    end = len(text)
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


def comparator_at(text: str, pos: int) -> Optional[tuple[Comparator, int]]:
    """The comparator phrase starting exactly at ``pos`` (after spaces), with where it ends."""
    match = COMPARATOR.match(text, pos)
    if not match or match.end() == pos:
        return None
    if match.group(0)[-1:].isalpha() and text[match.end():match.end() + 1].isalpha():
        return None  # "over" in "overall", "under" in "understand"
    index = next(i for i, group in enumerate(match.groups()) if group is not None)
    return COMPARATOR_PHRASES[index][0], match.end()


def parse_number(raw: str) -> float:
    """"1,500" → 1500, "1,5" → 1.5 (decimal comma), "1·5" → 1.5."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw):
        return float(raw.replace(",", ""))
    return float(raw.replace(",", ".").replace("·", "."))


def number_at(text: str, pos: int) -> Optional[tuple[float, int, int]]:
    """A number starting at ``pos`` after optional spaces: (value, start, end)."""
    match = NUMBER.match(text, skip_space(text, pos))
    if not match:
        return None
    return parse_number(match.group(1)), match.start(), match.end()


def unit_at(text: str, pos: int) -> Optional[tuple[str, str, int]]:
    """A unit right after a number: (UCUM code, as written, end). Longest table forms come first."""
    for pattern, ucum in unit_patterns():
        match = pattern.match(text, pos)
        if match:
            return ucum, match.group(0).strip(), match.end()
    return None


def uln_at(text: str, pos: int) -> Optional[int]:
    """End of a "× ULN" / "times the upper limit of normal" suffix at ``pos``, if there is one."""
    match = ULN.match(text, pos)
    return match.end() if match else None


def value_at(text: str, pos: int) -> Optional[Value]:
    """Read "COMP NUMBER [UNIT | × ULN]" or "COMP ULN" (meaning 1 × ULN) starting at ``pos``.

    Also "NUMBER UNIT or above" and "between N and M UNIT". Returns None when the text at ``pos``
    is not a value expression, so callers can stay silent.
    """
    start = skip_space(text, pos)
    within_uln = WITHIN_ULN.match(text, start)
    if within_uln:
        return Value("<=", Quantity(1.0, None, "ULN"), None, None, True, start, within_uln.end())
    between = re.compile(r"between\s+", re.I).match(text, start)
    if between:
        return _range_at(text, between.end(), start)
    found = comparator_at(text, start)
    if found is None:
        return _postfix_value_at(text, start) or _bare_range_at(text, start)
    comparator, after = found
    twice = TWICE_ULN.match(text, after)
    if twice:
        return Value(comparator, Quantity(2.0, None, "ULN"), None, None, True, start, twice.end())
    number = number_at(text, after)
    if number is None:
        bare = BARE_ULN.match(text, after)
        if bare:
            return Value(comparator, Quantity(1.0, None, "ULN"), None, None, True, start, bare.end())
        return None
    value, _, end = number
    uln_end = uln_at(text, end)
    if uln_end is not None:
        return Value(comparator, Quantity(value, None, "ULN"), None, None, True, start, uln_end)
    # a Range holds its ends: only "≥ … and ≤ …" is one; "> 9 and < 16" stays two comparisons (see second_bound)
    bounded = _upper_bound_after(text, end) if comparator == ">=" else None
    first_unit = unit_at(text, end) if bounded is None and comparator == ">=" else None
    if first_unit is not None:
        # "≥ 55.0 kg and ≤ 90.0 kg": the unit written after each bound, the same on both
        bounded = _upper_bound_after(text, first_unit[2])
        if bounded is not None and bounded[1] is not None and bounded[1][0] != first_unit[0]:
            bounded = None
        elif bounded is not None and bounded[1] is None:
            bounded = (bounded[0], first_unit, bounded[2])
    if bounded is not None:
        # "≥ 12.0 and ≤ 16.5 g/dL": both bounds share the unit written after the second
        high, high_unit, high_end = bounded
        if high > value:
            ucum, written = (high_unit[0], high_unit[1]) if high_unit else (None, None)
            return Value(None, None, Quantity(value, ucum, written), Quantity(high, ucum, written), False, start, high_end)
    unit = unit_at(text, end)
    if unit is not None:
        ucum, written, end = unit
        return Value(comparator, Quantity(value, ucum, written), None, None, False, start, end)
    return Value(comparator, Quantity(value), None, None, False, start, end)


def _upper_bound_after(text: str, pos: int) -> Optional[tuple[float, Optional[tuple[str, str, int]], int]]:
    joiner = re.compile(r"\s*(?:and|to|-|–)\s*", re.I).match(text, pos)
    if joiner is None:
        return None
    found = comparator_at(text, joiner.end())
    if found is None or found[0] != "<=":
        return None
    number = number_at(text, found[1])
    if number is None:
        return None
    unit = unit_at(text, number[2])
    return number[0], unit, unit[2] if unit else number[2]


def _postfix_value_at(text: str, start: int) -> Optional[Value]:
    """"1.5 x 10^9/L or above" / "18 or older": number first, bound word after."""
    number = number_at(text, start)
    if number is None or number[1] != start:
        return None
    value, _, end = number
    uln_end = uln_at(text, end)
    quantity: Quantity
    uln = False
    if uln_end is not None:
        quantity, end, uln = Quantity(value, None, "ULN"), uln_end, True
    else:
        unit = unit_at(text, end)
        if unit is not None:
            quantity, end = Quantity(value, unit[0], unit[1]), unit[2]
        else:
            quantity = Quantity(value)
    postfix = POSTFIX_COMPARATOR.match(text, end)
    if postfix is None:
        return None
    comparator: Comparator = ">=" if postfix.group("ge") else "<="
    return Value(comparator, quantity, None, None, uln, start, postfix.end())


_BARE_RANGE_JOINER = re.compile(r"\s*(?:-|–|to)\s*", re.I)
#: After a bare range, what shows the numbers are not the test's value ("2-3 times", "1-2 weeks").
_NOT_A_VALUE_AFTER = re.compile(r"\s*(?:[x×*]|times\b|fold\b|%\s*of\b|(?:days?|weeks?|months?|years?|hours?|cycles?|times|doses?)\b)", re.I)


def _bare_range_at(text: str, start: int) -> Optional[Value]:
    """"10-16 g/dL", "30 to 40 kg/m2" right after a test name: a range with no comparator word.
    The high end must be above the low one, and what follows must not make the numbers counts or
    durations."""
    number = number_at(text, start)
    if number is None or number[1] != start:
        return None
    joiner = _BARE_RANGE_JOINER.match(text, number[2])
    if joiner is None:
        return None
    value = _range_at(text, start, start)
    if value is None or value.low is None or value.high is None or not value.low.value < value.high.value:
        return None
    if value.low.unit is None and _NOT_A_VALUE_AFTER.match(text, value.end):
        return None
    return value


def second_bound(text: str, first: Value) -> Optional[tuple[str, Value]]:
    """A bound in the other direction right after ``first``: "< 20 or > 35 kg/m2" (either one) or
    "> 3 and < 10" (both). Returns ("OR" | "AND", the second value); the two must face apart for "or"
    (below the lower, above the higher) and enclose a range for "and"."""
    if first.comparator is None or first.uln:
        return None
    joiner = _SECOND_JOINER.match(text, first.end)
    if joiner is None:
        return None
    second = value_at(text, joiner.end())
    if second is None or second.comparator is None or second.uln or first.quantity is None or second.quantity is None:
        return None
    low_first = first.comparator in (">", ">=")
    if low_first == (second.comparator in (">", ">=")):
        return None
    lower, upper = (first, second) if low_first else (second, first)
    operator = joiner.group("op").upper()
    if operator == "AND" and not lower.quantity.value < upper.quantity.value:  # type: ignore[union-attr]
        return None
    if operator == "OR" and not upper.quantity.value < lower.quantity.value:  # type: ignore[union-attr]
        return None
    units = {first.quantity.unit, second.quantity.unit} - {None}
    if len(units) > 1:
        return None
    return operator, second


_SECOND_JOINER = re.compile(r"\s*,?\s*(?P<op>or|and)\s+", re.I)


def _range_at(text: str, pos: int, start: int) -> Optional[Value]:
    low = number_at(text, pos)
    if low is None:
        return None
    joiner = re.compile(r"\s*(?:and|to|-|–)\s*", re.I).match(text, low[2])
    if joiner is None:
        return None
    high = number_at(text, joiner.end())
    if high is None:
        return None
    end = high[2]
    unit = unit_at(text, end)
    ucum, written = (unit[0], unit[1]) if unit else (None, None)
    if unit:
        end = unit[2]
    return Value(None, None, Quantity(low[0], ucum, written), Quantity(high[0], ucum, written), False, start, end)
