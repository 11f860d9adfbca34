"""Registry text pages: the readers for web pages saved as plain text, in registry order.

Each layout has its own module (``page_*.py``) because each loses different structure when saved as
text; they share the value parsing in :mod:`page_common`. Detection is by content only: every
specific reader looks for its own landmarks and scores high, while :mod:`page_generic` scores low so
it only reads what nothing else recognises.
"""

from __future__ import annotations

from . import page_ctgov_classic, page_ctgov_fields, page_finder, page_generic, page_medpath

READERS: list = [
    page_ctgov_classic.READER,
    page_ctgov_fields.READER,
    page_medpath.READER,
    page_finder.READER,
    page_generic.READER,
]

__all__ = ["READERS"]
