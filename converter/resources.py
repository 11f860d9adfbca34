"""Locate bundled templates and schemas both in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .terminology import read_json

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    """The wheel puts ``templates``/``schemas`` under ``converter/_data``; a checkout has them at the top."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"trialconv data folder {name!r} not found (broken install?)")


def templates_dir() -> Path:
    return _data_dir("templates")


def schemas_dir() -> Path:
    return _data_dir("schemas")


def load_schema(relative: str) -> Any:
    """Load a vendored JSON file under ``schemas/`` once per process (the terminology loader's cache)."""
    return read_json(schemas_dir() / relative)
