"""Text rules for SDTM character values: one line, at most 200 bytes, split or shortened at words.

SAS XPORT v5 measures character variables in bytes, not characters, so every limit here is a UTF-8
byte count: a 190-character criterion with a few "≥" signs can be over 200 bytes.
"""

from __future__ import annotations

import re

MAX_BYTES = 200
ELLIPSIS = "…"
# SAS XPORT v5 dataset and variable names: 1-8 upper-case letters, digits or underscores, starting with a letter.
XPT_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
_SPACE = re.compile(r"\s+")


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def one_line(text: str) -> str:
    """Collapse line breaks and runs of whitespace: SDTM values are single-line strings."""
    return _SPACE.sub(" ", text).strip()


def _fit(text: str, limit: int) -> int:
    """Largest character count whose UTF-8 encoding fits in ``limit`` bytes."""
    encoded = text.encode("utf-8")[:limit]
    return len(encoded.decode("utf-8", errors="ignore"))


def split_text(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Split into chunks of at most ``limit`` bytes, breaking at the last space that fits.

    The space at a break is dropped (SAS would drop a trailing one anyway), so ``" ".join(chunks)``
    restores the text; only a single word longer than half a chunk is cut inside the word.
    """
    chunks: list[str] = []
    rest = text
    while nbytes(rest) > limit:
        cut = _fit(rest, limit)
        space = rest.rfind(" ", 0, cut + 1)
        if space > cut // 2:
            chunks.append(rest[:space])
            rest = rest[space + 1 :]
        else:
            chunks.append(rest[:cut])
            rest = rest[cut:]
    chunks.append(rest)
    return chunks


def shorten(text: str, limit: int = MAX_BYTES) -> str:
    """Cut to ``limit`` bytes at a word boundary and mark the cut with "…" (for IETEST, ARM, …)."""
    if nbytes(text) <= limit:
        return text
    room = limit - nbytes(ELLIPSIS)
    cut = _fit(text, room)
    space = text.rfind(" ", 0, cut + 1)
    head = text[:space] if space > cut // 2 else text[:cut]
    return head.rstrip(" ,;:.-(") + ELLIPSIS


def strip_type_prefix(name: str) -> str:
    """Arm intervention names may read "Drug: Pembrolizumab"; compare on the plain name."""
    return re.sub(r"^[A-Za-z ]+:\s*", "", name).strip()
