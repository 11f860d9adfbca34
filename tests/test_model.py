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


@pytest.mark.parametrize("bad", ["2023-13", "2023-02-30", "2023-00-10"])
def test_dates_must_exist_on_the_calendar(bad: str) -> None:
    with pytest.raises(ValidationError):
        TrialDate(date=bad)


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "c1\x85", "lone \ud800 surrogate", "non\ufffe"])
def test_text_no_output_can_carry_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        Trial(id="NCT00000001", brief_title=text, provenance=Provenance(source_format="test"))


def test_enrollment_fits_fhir_unsigned_int() -> None:
    from converter.model import Enrollment

    assert Enrollment(count=2_147_483_647).count == 2_147_483_647
    with pytest.raises(ValidationError):
        Enrollment(count=2_147_483_648)
