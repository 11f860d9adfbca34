"""Hygiene for untrusted registry text where it leaves trialconv: links, spreadsheet cells, the terminal.

Registry records are written by anyone who can file a trial, so every value is treated as hostile at
the three places where text turns into something active: a link a browser may follow, a CSV cell a
spreadsheet may evaluate, and a terminal that interprets escape sequences. Each rule lives here once
so readers, writers and the CLI apply the same one.
"""

from __future__ import annotations

import re
from typing import Any, Optional

# Schemes a link written into FHIR or HTML may carry. ``javascript:``, ``data:``, ``file:``,
# ``vbscript:`` and friends can run code or read local files when a viewer follows the link, and a
# relative or scheme-less value resolves against whatever page shows it; neither is a registry link.
LINK_SCHEMES = ("http", "https", "ftp", "urn")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def link_scheme(url: str) -> Optional[str]:
    """The scheme of ``url`` in lower case, or None when it has none."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def is_safe_link(url: str) -> bool:
    """True for an absolute URL whose scheme is one a reader may follow safely (:data:`LINK_SCHEMES`)."""
    scheme = link_scheme(url)
    if scheme not in LINK_SCHEMES:
        return False
    rest = url[len(scheme) + 1:]
    return bool(rest) and (scheme not in ("http", "https", "ftp") or rest.startswith("//") and len(rest) > 2)


# A spreadsheet evaluates a cell that starts with one of these as a formula (OWASP "CSV Injection"):
# = + - @ begin formulas, and a leading tab or carriage return hides the sign from naive checks.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a formula-like string gets a leading apostrophe.

    Numbers (and strings that are plain numbers, such as ``-5``) cannot be formulas and stay as they
    are, so numeric columns keep their values.
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


# Characters a terminal interprets or that disguise text: C0/C1 controls (escape sequences start with
# ESC or CSI), bidirectional overrides and isolates (which reorder what is shown), zero-width
# characters and separators, and the byte-order mark.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")


def for_terminal(text: object) -> str:
    """``text`` with every control, bidi and zero-width character shown as a visible ``\\uXXXX`` escape."""
    return _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def has_unshowable(text: str) -> bool:
    """True when ``text`` holds a character :func:`for_terminal` would escape (or a line break/tab)."""
    return bool(_UNSHOWABLE.search(text)) or any(char in text for char in "\t\n")
