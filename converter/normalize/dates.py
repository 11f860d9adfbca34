"""Registry dates → ISO 8601 partial dates, keeping the precision the source gave."""

from __future__ import annotations

import calendar
import re
from typing import Optional

from ..model import TrialDate
from .text import clean_line

MONTHS = {
    name: index
    for index, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
         ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for name in names
}

_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:T.*)?$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")  # April 15, 2010
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})$")  # 15 April 2010
_MONTH_YEAR = re.compile(r"^([A-Za-z]+)\.?,?\s+(\d{4})$")  # April 2010
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")  # 04/15/2010 (US order, as CT.gov pages use)
_YEAR = re.compile(r"^(\d{4})$")


def _fmt(year: int, month: Optional[int] = None, day: Optional[int] = None) -> Optional[str]:
    if not 1800 <= year <= 2200:
        return None
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:  # "April 31" and "2021-02-29" are no dates
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def parse_date(value: object) -> Optional[str]:
    """Return an ISO partial date (YYYY, YYYY-MM or YYYY-MM-DD), or None when unreadable."""
    text = clean_line(value)
    if text is None:
        return None
    text = text.strip().rstrip(".")
    if match := _ISO.match(text):
        year, month, day = match.groups()
        return _fmt(int(year), int(month) if month else None, int(day) if day else None)
    if match := _MONTH_DAY_YEAR.match(text):
        month = MONTHS.get(match.group(1).lower())
        return _fmt(int(match.group(3)), month, int(match.group(2))) if month else None
    if match := _DAY_MONTH_YEAR.match(text):
        month = MONTHS.get(match.group(2).lower())
        return _fmt(int(match.group(3)), month, int(match.group(1))) if month else None
    if match := _MONTH_YEAR.match(text):
        month = MONTHS.get(match.group(1).lower())
        return _fmt(int(match.group(2)), month) if month else None
    if match := _SLASH.match(text):
        return _fmt(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    if match := _YEAR.match(text):
        return _fmt(int(match.group(1)))
    return None


def date_type(value: object) -> Optional[str]:
    """Registry date type → ACTUAL / ESTIMATED ("Anticipated" is the legacy word for estimated)."""
    text = clean_line(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered.startswith("actual"):
        return "ACTUAL"
    if lowered.startswith(("estimate", "anticipated", "expected")):
        return "ESTIMATED"
    return None


def trial_date(value: object, kind: object = None) -> Optional[TrialDate]:
    """Build a TrialDate, or None when the date is missing or unreadable."""
    iso = parse_date(value)
    if iso is None:
        return None
    return TrialDate(date=iso, type=date_type(kind))
