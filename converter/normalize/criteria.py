"""Placeholder until the criteria parser lands: criteria text → ordered Criterion items."""

from __future__ import annotations

from ..model import Criterion


def parse_criteria(text: str | None) -> list[Criterion]:
    """Split eligibility text into ordered items with category and nesting."""
    if not text:
        return []
    return [Criterion(text=line.strip(" -*•")) for line in text.splitlines() if line.strip(" -*•")]
