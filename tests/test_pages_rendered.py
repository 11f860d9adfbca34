"""Real ClinicalTrials.gov records rendered into the two page layouts, read back and scored.

tests/render_pages.py renders 25 records of the shared corpus into layout 1 (classic record page,
like seeds/001) and layout 2 (field dump, like seeds/004) and stores each source record as trial
JSON beside them. Here every page is read through the registry (so detection is tested too) and
compared field by field with its source. Only fields a layout prints are scored; the scores are
printed per field and the overall accuracy must be at least 95 %.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converter.readers import detect, read_source
from test_pages_fields import Scores, keep, text

RENDERED = Path(__file__).resolve().parent / "data" / "rendered"
IDS = (RENDERED / "SOURCES.txt").read_text(encoding="utf-8").split()
THRESHOLD = 0.95

COMMON = [
    "id", "brief_title", "official_title", "acronym", "overall_status", "last_known_status", "phases", "study_type",
    "design.allocation", "design.intervention_model", "design.intervention_model_description", "design.masking", "design.who_masked",
    "design.masking_description", "design.primary_purpose", "design.observational_model", "design.time_perspective",
    "design.patient_registry", "conditions", "keywords", "condition_mesh", "intervention_mesh", "brief_summary", "detailed_description",
    "sponsor", "collaborators", "responsible_party", "officials", "contacts", "dates.start", "dates.primary_completion", "dates.completion",
    "dates.first_posted", "dates.last_update_posted", "dates.results_first_posted", "dates.status_verified", "enrollment", "arms",
    "interventions", "outcomes", "eligibility.sex", "eligibility.gender_based", "eligibility.minimum_age", "eligibility.maximum_age",
    "eligibility.std_ages", "eligibility.healthy_volunteers", "eligibility.criteria_text", "eligibility.criteria",
    "eligibility.study_population", "eligibility.sampling_method", "locations", "oversight.has_dmc", "oversight.fda_regulated_drug",
    "oversight.fda_regulated_device",
]
CLASSIC = COMMON + ["identifiers"]
FIELDS = COMMON + ["identifiers", "why_stopped", "has_expanded_access", "dates.first_submitted", "references", "oversight.unapproved_device", "oversight.us_export"]


def _date_only(value: Any) -> Any:
    return value.get("date") if isinstance(value, dict) else value


def _responsible_classic(value: Any) -> Any:
    """The classic page prints "Name, Title, Affiliation" — or the sponsor — never the party's type word."""
    if not isinstance(value, dict):
        return value
    return {"type": "SPONSOR"} if value.get("type") == "SPONSOR" else {k: value.get(k) for k in ("name", "title", "affiliation")}


def _interventions(value: Any) -> Any:
    """Arm labels as a set: the classic page lists interventions under arms, so their order is the arms' order."""
    return [{**i, "arm_labels": sorted(i.get("arm_labels") or [])} for i in value or []]


#: What layout 1 can carry: no id types or issuers, no sponsor class, posted dates without type.
CLASSIC_PROJECTIONS = {
    "identifiers": lambda v: [i.get("value") for i in v or []],
    "sponsor": keep("name"),
    "collaborators": keep("name"),
    "responsible_party": _responsible_classic,
    "officials": keep("name", "role", "affiliation"),
    "interventions": _interventions,
    "dates.first_posted": _date_only, "dates.last_update_posted": _date_only, "dates.results_first_posted": _date_only,
    "dates.status_verified": _date_only,
}
#: Layout 2 prints posted dates without their type too.
FIELDS_PROJECTIONS = {
    "identifiers": keep("value", "kind", "type", "issuer"),
    "officials": keep("name", "role", "affiliation"),
    "dates.first_posted": _date_only, "dates.last_update_posted": _date_only, "dates.results_first_posted": _date_only,
    "dates.status_verified": _date_only, "dates.first_submitted": _date_only,
}

LAYOUTS = {
    "classic": ("page-ctgov-classic", CLASSIC, CLASSIC_PROJECTIONS),
    "fields": ("page-ctgov-fields", FIELDS, FIELDS_PROJECTIONS),
}


def source(nct: str) -> dict[str, Any]:
    return json.loads((RENDERED / "source" / f"{nct}.json").read_text(encoding="utf-8"))


def test_enough_records_rendered() -> None:
    assert len(IDS) >= 20
    for layout in LAYOUTS:
        assert sorted(p.stem for p in (RENDERED / layout).glob("*.txt")) == sorted(IDS)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_rendered_pages_read_back(layout: str) -> None:
    reader_name, fields, projections = LAYOUTS[layout]
    scores = Scores(fields)
    for nct in IDS:
        page = RENDERED / layout / f"{nct}.txt"
        reader = detect(page.read_bytes()[:65536])
        assert reader is not None and reader.name == reader_name, f"{page}: detected as {reader and reader.name}"
        trials = list(read_source(page))
        assert len(trials) == 1
        scores.add(f"{layout}/{nct}", source(nct), trials[0].to_json(), projections)
    print("\n" + scores.table(f"layout {layout}: {len(IDS)} rendered records vs source"))
    if scores.accuracy() < THRESHOLD:
        pytest.fail(f"{scores.accuracy():.1%} < {THRESHOLD:.0%}\n" + "\n".join(scores.misses[:40]))


def test_text_projection_is_not_lenient() -> None:
    assert text("Phase 2 trial") != text("Phase 3 trial")
