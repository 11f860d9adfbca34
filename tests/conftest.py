"""Shared test fixtures: paths to bundled test data and the read-only shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only real-record corpus beside the checkout; tests needing it skip when it is absent."""
    if not (SHARED / "ctgov").is_dir():
        pytest.skip("../shared corpus not present")
    return SHARED
