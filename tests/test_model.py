"""The model contract: placeholders are refused, partial dates keep precision, the schema file is current."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from converter.model import Provenance, Trial, TrialDate
from scripts.gen_trial_schema import TARGET, render


def test_checked_in_schema_is_current() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "run: python scripts/gen_trial_schema.py"


@pytest.mark.parametrize("placeholder", ["None", "N/A", "", "Not Stopped", "  n/a "])
def test_placeholder_strings_are_refused(placeholder: str) -> None:
    with pytest.raises(ValidationError):
        Trial(id="NCT00000001", why_stopped=placeholder, provenance=Provenance(source_format="test"))


def test_partial_date_precision() -> None:
    assert TrialDate(date="2010-04").precision == "month"
    assert TrialDate(date="2010").precision == "year"
    with pytest.raises(ValidationError):
        TrialDate(date="April 2010")


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "a/b", "", "x" * 65])
def test_trial_id_must_be_file_name_safe(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        Trial(id=bad_id, provenance=Provenance(source_format="test"))
