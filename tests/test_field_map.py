"""docs/field-map.md is generated from the writers' section functions; the committed copy must be current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("field_map", ROOT / "scripts" / "field_map.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_field_map_is_current() -> None:
    expected = _script().render()
    assert (ROOT / "docs" / "field-map.md").read_text(encoding="utf-8") == expected, "run: python scripts/field_map.py"


def test_every_section_says_where_its_fields_go() -> None:
    from converter.writers.cdisc.ts import TS_SECTIONS
    from converter.writers.fhir import r4b, r5

    for section in (*r5.STUDY_SECTIONS, *r4b.STUDY_SECTIONS):
        assert "→" in (section.__doc__ or ""), section.__name__
    assert all(section.__doc__ for section in TS_SECTIONS)
