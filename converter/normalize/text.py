"""Text cleaning shared by readers: registry text is messy and placeholders must become missing values."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from typing import Iterable, Optional

from ..model import PLACEHOLDERS

# Not text: C0/C1 control characters, lone UTF-16 surrogates (a JSON \ud800 escape decodes to one;
# UTF-8 cannot encode it) and the noncharacters U+FFFE/U+FFFF (XML, hence XHTML narrative, refuses
# them). Unicode's other line breaks become "\n" first, so they still break lines.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean(value: object) -> Optional[str]:
    """Strip, normalise whitespace and line endings, drop control characters; placeholders become None.

    Line breaks are kept (criteria and descriptions are structured by them); runs of spaces are not.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isprintable() and "  " not in value and value == value.strip():
        text = value  # already clean: printable ASCII has no control, break or odd space to fix, NFC is itself
    else:
        text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", str(value)))
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
    """Registry enumeration key: "Active, not recruiting" → "ACTIVE_NOT_RECRUITING".

    Placeholders are missing values, also when they only appear once punctuation is gone
    ("[null]" → "NULL"): the model refuses such keys in every free-text field.
    """
    text = clean_line(value)
    if text is None:
        return None
    key = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return key if key and key.lower() not in PLACEHOLDERS else None


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


_INNER_SPACES = re.compile(r"[ \t\u00a0]+")


def _clean_block_line(line: str) -> str:
    """Collapse spaces inside a line but keep its indentation, which carries list nesting."""
    content = _INNER_SPACES.sub(" ", line.strip())
    if not content:
        return ""
    indent = len(line) - len(line.lstrip(" \u00a0"))
    return " " * indent + content


def clean_block(value: object) -> Optional[str]:
    """Like ``normalize.text.clean`` but keeps relative indentation of lines.

    Eligibility criteria nest items by indentation ("* Organ function:" then "  * Platelets ≥ …");
    ``clean`` strips every line and would flatten that structure before the criteria parser sees it.
    """
    if value is None:
        return None
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", str(value)))
    text = _CONTROL.sub("", text.expandtabs(4))
    lines = [_clean_block_line(line) for line in text.split("\n")]
    text = textwrap.dedent("\n".join(lines)).strip("\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    if text.strip().lower() in PLACEHOLDERS:
        return None
    return text


def code_key(value: object) -> Optional[str]:
    """Registry code key ("Active, not recruiting" → ACTIVE_NOT_RECRUITING) with no placeholder rule.

    ``normalize.text.enum_key`` cleans first, and cleaning turns "None" into a missing value — right
    for free text, wrong for codes, where masking "NONE" (open label) is a real answer.
    """
    if value is None:
        return None
    key = re.sub(r"[^A-Za-z0-9]+", "_", unicodedata.normalize("NFC", str(value))).strip("_").upper()
    return key or None
