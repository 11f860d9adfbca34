"""Reader-independent completion (issue 17): criterion categories from the NCI template, numbered
headings and item wording; one derived arm for a single-group study that lists no arm."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.api import convert
from converter.eligibility.categories import infer_categories, side_of
from converter.eligibility.criteria import flatten, parse_criteria
from converter.model import Criterion
from converter.normalize.completion import complete, single_group_reason
from converter.readers import read_source
from converter.writers.cdisc import build_datasets

from conftest import DATA

LEGACY = DATA / "legacy"


def _one(path: Path):
    [trial] = list(read_source(path))
    return trial


# ------------------------------------------------------------------------------------ headings


def test_nci_template_sections_are_inclusion_and_no_items_stay_inclusion() -> None:
    text = (
        "DISEASE CHARACTERISTICS: Histologically proven breast cancer\n\n"
        "PATIENT CHARACTERISTICS:\n  Age: 18 and over\n\n"
        "PRIOR CONCURRENT THERAPY:\n  No prior chemotherapy\n\n"
        "Exclusion criteria:\n- Pregnant"
    )
    items = {c.text: c.category for _, c in flatten(parse_criteria(text))}
    assert items["No prior chemotherapy"] == "INCLUSION"
    assert items["Age: 18 and over"] == "INCLUSION"
    assert items["Pregnant"] == "EXCLUSION"


def test_nci_sections_under_an_exclusion_heading_keep_it() -> None:
    items = parse_criteria("Exclusion criteria:\nPATIENT CHARACTERISTICS:\n  Pregnant")
    assert {c.category for _, c in flatten(items)} == {"EXCLUSION"}


def test_run_on_numbered_headings_are_recognised() -> None:
    text = "4.1 Inclusion Criteria 4.1.1 Age 18 or older 4.1.2 Signed consent 4.2 Exclusion Criteria 4.2.1 Pregnancy 4.2.2 Prior chemotherapy"
    got = [(c.category, c.text) for _, c in flatten(parse_criteria(text))]
    assert got == [("INCLUSION", "Age 18 or older"), ("INCLUSION", "Signed consent"), ("EXCLUSION", "Pregnancy"), ("EXCLUSION", "Prior chemotherapy")]


def test_numbers_in_a_sentence_are_not_an_outline() -> None:
    [item] = parse_criteria("Inclusion criteria:\n1.1 Age as defined in section 4.1 Eligibility of the protocol")
    assert item.text == "Age as defined in section 4.1 Eligibility of the protocol"


# ------------------------------------------------------------------------------------ wording


@pytest.mark.parametrize(
    "text, side",
    [
        ("Patients must have a histologic diagnosis of a solid tumor.", "INCLUSION"),
        ("No prior vinorelbine therapy.", "INCLUSION"),
        ("Not pregnant or nursing", "INCLUSION"),
        ("Patients who have received greater than 360mg/m2 of adriamycin as adjuvant therapy are ineligible.", "EXCLUSION"),
        ("Patients may not be treated if any of the following is present:", "EXCLUSION"),
        ("Brain metastases must be excluded by CT scan", "INCLUSION"),
        ("Pregnancy or lactation", None),
        ("Biological Mother Inclusion/Exclusion:", None),
        ("Platelet count greater than 100,000/mm3", None),  # a threshold alone is trusted only in a list of requirements
    ],
)
def test_side_of_wording(text: str, side: str | None) -> None:
    assert side_of(text) == side


def test_thresholds_count_only_in_a_list_of_requirements() -> None:
    requirements = [Criterion(text="Must be 18 or older"), Criterion(text="Platelets at least 100,000/mm3"), Criterion(text="No prior chemotherapy")]
    out, decided, unresolved = infer_categories(requirements)
    assert (decided, unresolved) == (3, []) and {c.category for c in out} == {"INCLUSION"}
    mixed = [*requirements, Criterion(text="Pregnancy or lactation")]  # a list that lost its headings
    out, decided, unresolved = infer_categories(mixed)
    assert [c.category for c in out] == ["INCLUSION", "UNKNOWN", "INCLUSION", "UNKNOWN"]
    assert unresolved == ["Platelets at least 100,000/mm3", "Pregnancy or lactation"]


def test_parent_decides_for_its_subtree() -> None:
    parent = Criterion(text="Patients may not be treated if any of the following is present:", children=[Criterion(text="Active infection")])
    [out], _, _ = infer_categories([parent])
    assert out.category == "EXCLUSION" and out.children[0].category == "EXCLUSION"


def test_headingless_legacy_record_reaches_ti_with_inferred_categories() -> None:
    trial = _one(LEGACY / "NCT00001269.xml")
    categories = {c.text: c.category for c in trial.eligibility.criteria}
    assert categories["Patients who have received greater than 360mg/m2 of adriamycin as adjuvant therapy are ineligible."] == "EXCLUSION"
    assert categories["No pregnant or lactacting women."] == "INCLUSION"
    assert "UNKNOWN" not in categories.values()
    assert any(entry.startswith("eligibility.criteria.category") for entry in trial.provenance.inferred)
    ti = build_datasets(trial)["TI"].rows
    assert len(ti) == len(trial.eligibility.criteria)
    assert [row["IETESTCD"] for row in ti if row["IECAT"] == "EXCLUSION"] == ["EXCL01"]


# ------------------------------------------------------------------------------------ arms


def test_single_group_record_without_arms_gets_one_derived_arm() -> None:
    trial = _one(LEGACY / "NCT00003041.xml")
    [arm] = trial.arms
    assert arm.derived is True
    assert arm.label == "Single group: pyrazoloacridine" and arm.intervention_names == ["pyrazoloacridine"]
    assert "Derived by trialconv" in (arm.description or "")
    assert any(entry.startswith("arms (one arm derived") for entry in trial.provenance.inferred)
    assert complete(trial) == trial  # completing again changes nothing
    assert trial.to_json()["arms"][0]["derived"] is True


def test_derived_arm_reaches_ta_r5_and_r4b() -> None:
    trial = _one(LEGACY / "NCT00003041.xml")
    result = build_datasets(trial)
    assert {row["ARMCD"] for row in result["TA"].rows} == {"SINGLEGROUP"}
    assert any("arm derived by trialconv" in note for note in result.notes)
    study = next(e["resource"] for e in convert(trial, "fhir-r5")["entry"] if e["resource"]["resourceType"] == "ResearchStudy")
    [group] = study["comparisonGroup"]
    assert group["name"] == "Single group: pyrazoloacridine" and group["intendedExposure"]
    assert "Derived by trialconv" in group["description"]
    study4 = next(e["resource"] for e in convert(trial, "fhir-r4b")["entry"] if e["resource"]["resourceType"] == "ResearchStudy")
    assert [arm["name"] for arm in study4["arm"]] == ["Single group: pyrazoloacridine"]
    assert "Derived by trialconv" in study4["arm"][0]["description"]


def test_randomised_or_multi_group_records_get_no_derived_arm() -> None:
    trial = _one(LEGACY / "NCT00003041.xml")
    design = trial.design
    randomised = trial.model_copy(update={"arms": [], "design": design.model_copy(update={"allocation": "RANDOMIZED"})})
    assert single_group_reason(randomised) is None and complete(randomised).arms == []
    versus = trial.model_copy(update={"arms": [], "official_title": "Pyrazoloacridine versus paclitaxel"})
    assert complete(versus).arms == []
    arms_named = trial.model_copy(update={"arms": [], "detailed_description": "Arm I: patients receive X. Arm II: patients receive Y."})
    assert single_group_reason(arms_named) is None
    assert [arm.label for arm in complete(arms_named).arms] == ["Arm I", "Arm II"]  # the named arms, not one
    stated = trial.model_copy(update={"arms": [], "design": design.model_copy(update={"intervention_model": "SINGLE_GROUP"}), "official_title": "X versus Y"})
    assert single_group_reason(stated) == "intervention model single group"


def test_arms_named_in_the_outline_become_derived_arms() -> None:
    """NCT00004125 (randomised, no arm_group): its outline names "Arm I" … "Arm IV"."""
    trial = _one(LEGACY / "NCT00004125.xml")
    assert [arm.label for arm in trial.arms] == ["Arm I", "Arm II", "Arm III", "Arm IV"]
    assert all(arm.derived for arm in trial.arms)
    assert trial.arms[0].description.endswith("Beginning at week 13, patients receive paclitaxel IV over 3 hours every 3 weeks for 4 courses.")
    assert trial.arms[2].intervention_names == ["cyclophosphamide", "docetaxel", "doxorubicin hydrochloride"]  # "doxorubicin" names the salt
    result = build_datasets(trial)
    assert sorted({row["ARMCD"] for row in result["TA"].rows}) == ["ARMI", "ARMII", "ARMIII", "ARMIV"]
    assert sum("arm derived by trialconv" in note for note in result.notes) == 4


@pytest.mark.parametrize(
    "text, labels",
    [
        ("Arm I: Patients receive X. Arm II: Patients receive Y. Arm I and II: All undergo surgery.", ["Arm I", "Arm II"]),
        ("Group 1: drug X daily. Group 2: drug Y weekly.\n\nPatients are followed yearly.", ["Group 1", "Group 2"]),
        ("Arm II: Patients receive Y. Arm III: Patients receive Z.", []),  # does not start at the first arm
        ("Arm I: Patients receive X.", []),  # one arm is no list of arms
        ("Patients in arm I: see the protocol", []),
    ],
)
def test_named_arms(text: str, labels: list[str]) -> None:
    from converter.normalize.arm_text import named_arms

    assert [label for label, _ in named_arms(text)] == labels


def test_a_sentence_about_several_arms_is_no_arm_s_own() -> None:
    from converter.normalize.arm_text import named_arms

    text = "Arm I: Patients receive X daily. Patients then receive Y. Arm II: Patients receive Z weekly. Patients in arms I and II continue for 6 months."
    assert named_arms(text) == [("Arm I", "Patients receive X daily. Patients then receive Y."), ("Arm II", "Patients receive Z weekly.")]
