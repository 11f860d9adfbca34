"""Registry age limits ("18 Years", "6 Months", "N/A") → Age."""

from __future__ import annotations

import re
from typing import Optional

from ..model import Age
from .text import clean_line

_UNITS = {
    "year": "YEARS", "years": "YEARS", "yr": "YEARS", "yrs": "YEARS", "y": "YEARS",
    "month": "MONTHS", "months": "MONTHS", "mo": "MONTHS", "mos": "MONTHS",
    "week": "WEEKS", "weeks": "WEEKS", "wk": "WEEKS", "wks": "WEEKS",
    "day": "DAYS", "days": "DAYS",
    "hour": "HOURS", "hours": "HOURS", "hr": "HOURS", "hrs": "HOURS",
    "minute": "MINUTES", "minutes": "MINUTES", "min": "MINUTES",
}
_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]+)?\.?$")


def parse_age(value: object, default_unit: str = "YEARS") -> Optional[Age]:
    """"18 Years" → Age(18, YEARS); a bare number takes ``default_unit``; "N/A" and garbage → None."""
    text = clean_line(value)
    if text is None:
        return None
    match = _AGE.match(text.strip())
    if not match:
        return None
    number, unit = match.groups()
    unit_key = _UNITS.get(unit.lower()) if unit else default_unit
    if unit_key is None:
        return None
    return Age(value=float(number), unit=unit_key)
