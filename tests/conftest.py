"""Shared test fixtures: paths to bundled test data and the read-only shared corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pytest

from converter.output import write_atomic
from converter.writers.cdisc import FORMATS
from converter.writers.targets import cdisc_files

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only real-record corpus beside the checkout; tests needing it skip when it is absent."""
    if not (SHARED / "ctgov").is_dir():
        pytest.skip("../shared corpus not present")
    return SHARED


def write_cdisc(result, folder: Path, formats: Sequence[str] = FORMATS, **options) -> list[Path]:
    """CDISC files of ``result`` through the live path (check, serialise, atomic write); the paths written."""
    return [write_atomic(folder, name, data) for name, data in cdisc_files(result, formats, **options).items()]
