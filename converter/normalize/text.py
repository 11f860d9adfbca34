"""Text cleaning shared by readers: registry text is messy and placeholders must become missing values."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional

from ..model import PLACEHOLDERS

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean(value: object) -> Optional[str]:
    """Strip, normalise whitespace and line endings, drop control characters; placeholders become None.

    Line breaks are kept (criteria and descriptions are structured by them); runs of spaces are not.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if text.lower() in PLACEHOLDERS:
        return None
    return text


def clean_line(value: object) -> Optional[str]:
    """Like :func:`clean` but joins everything onto one line (titles, names, places)."""
    text = clean(value)
    if text is None:
        return None
    return _SPACES.sub(" ", text.replace("\n", " ")).strip() or None


def clean_list(values: Iterable[object]) -> list[str]:
    """Clean each value, drop missing ones and exact duplicates, keep the source order."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        text = clean_line(value)
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def enum_key(value: object) -> Optional[str]:
    """Registry enumeration key: "Active, not recruiting" → "ACTIVE_NOT_RECRUITING"."""
    text = clean_line(value)
    if text is None:
        return None
    key = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return key or None


def parse_bool(value: object) -> Optional[bool]:
    """Yes/No/True/False in any case; anything else is missing."""
    if isinstance(value, bool):
        return value
    text = clean_line(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in {"yes", "true", "y", "accepts healthy volunteers"}:
        return True
    if lowered in {"no", "false", "n"}:
        return False
    return None
