"""Writer registry: output target name → writer. A writer knows one standard and reads only the model."""

from __future__ import annotations

from .base import Writer, Written

__all__ = ["Writer", "Written", "writers"]


def _registry() -> dict[str, Writer]:
    from . import targets

    return {w.name: w for w in targets.WRITERS}


_WRITERS: dict[str, Writer] = {}


def writers() -> dict[str, Writer]:
    if not _WRITERS:
        _WRITERS.update(_registry())
    return _WRITERS
