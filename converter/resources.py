"""Locate bundled templates and schemas both in a checkout and in an installed wheel."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

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


@lru_cache(maxsize=None)
def load_schema(relative: str) -> Any:
    """Load a vendored JSON file under ``schemas/`` once per process."""
    with open(schemas_dir() / relative, encoding="utf-8") as handle:
        return json.load(handle)
