"""Reader-independent completion (issue 17): criterion categories from the NCI template, numbered
headings and item wording; one derived arm for a single-group study that lists no arm, and the arms
the record's text names when it lists none (outline forms, randomisation statements, listed groups,
placebo, crossover orders), in TA, R5, R4B and USDM alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.api import convert
from converter.eligibility.categories import infer_categories, side_of
from converter.eligibility.criteria import flatten, parse_criteria
from converter.model import Criterion
from converter.normalize.completion import complete, single_group_reason, why_no_arm
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


# ------------------------------------------------------------------------------------ arms the text names


@pytest.mark.parametrize(
    "text, labels",
    [
        ("Patients in arm I receive X IV. Patients in arm II receive Y IV. All patients receive Z.", ["Arm I", "Arm II"]),
        ("Group A will receive acupuncture. Group B will receive therapy. Group C is a control group. Patients in Groups A and B undergo tests.",
         ["Group A", "Group B", "Group C"]),
        ("Arm I: X daily.\n* Arms II and III: Y weekly.\nAll patients have surgery.", ["Arm I", "Arm II", "Arm III"]),
        ("Arms I and II: X daily. Arm I: Y. Arm II: Z.", ["Arm I", "Arm II"]),  # own headings win over the common part
        ("Patients in arm II receive Y.", []),
    ],
)
def test_named_arms_sentence_and_shared_forms(text: str, labels: list[str]) -> None:
    from converter.normalize.arm_text import named_arms

    assert [label for label, _ in named_arms(text)] == labels


@pytest.mark.parametrize(
    "text, labels",
    [
        ("The first group receives nothing. Then second group receives X. The final group receives Y. All patients are followed.",
         ["First group", "Second group", "Final group"]),
        ("One treatment arm receives 8 courses of CMF. The other arm receives epirubicin.", ["One treatment arm", "Other arm"]),
        ("The second group receives X. The third group receives Y.", []),  # does not start at the first
        ("The first group receives X.", []),
    ],
)
def test_ordinal_arms(text: str, labels: list[str]) -> None:
    from converter.normalize.arm_text import ordinal_arms

    assert [label for label, _ in ordinal_arms(text)] == labels


@pytest.mark.parametrize(
    "text, alternatives",
    [
        ("Patients are then randomized to receive either oral tamoxifen or a placebo once daily for 5 years, beginning soon.",
         ["Oral tamoxifen", "Placebo once daily for 5 years"]),
        ("Responders are randomized either to no further therapy or to receive intensification chemotherapy.",
         ["No further therapy", "Intensification chemotherapy"]),
        ("Subjects were randomized in a 1:1 ratio to receive study medication: Rosiglitazone (4mg od) or Glyburide (5mg od), both with Metformin > or = 1g.",
         ["Rosiglitazone (4mg od)", "Glyburide (5mg od)"]),
        ("Patients are randomized to receive chemotherapy with or without radiotherapy, given daily.",
         ["Chemotherapy with radiotherapy", "Chemotherapy without radiotherapy"]),
        ("Patients are randomized to receive X, Y, or Z.", ["X", "Y", "Z"]),
        ("Patients are randomized to receive tamoxifen for 2 or 5 years.", None),  # the split would lose words
        ("Patients are randomized to receive X or Y or Z.", None),
        ("Patients randomized to surgery undergo a scan or a biopsy.", None),  # about one group, not the randomisation
        ("Phase I: randomized to receive either A or placebo. Phase II: randomized to receive either B or placebo.", None),  # two randomisations
    ],
)
def test_randomised_alternatives(text: str, alternatives: list[str] | None) -> None:
    from converter.normalize.arm_text import randomised_alternatives

    found = randomised_alternatives(text)
    assert (found[1] if found else None) == alternatives


@pytest.mark.parametrize(
    "text, labels",
    [
        ("Patients are randomized to 1 of 3 dosing times (0000, 0800, or 1600).",
         ["Dosing times: 0000", "Dosing times: 0800", "Dosing times: 1600"]),
        ("Randomized to 1 of 3 dosing times (0000 or 0800).", None),  # the count does not match
        ("46 patients will be accrued in each group (high-dose rate vs low-dose rate).", ["High-dose rate", "Low-dose rate"]),
        ("The study will comprise two treatment arms: the standard therapy group and the enhanced therapy group The latter …",
         ["Standard therapy group", "Enhanced therapy group"]),
        ("The study will comprise three treatment arms: the standard therapy group and the enhanced therapy group.", None),
    ],
)
def test_listed_groups(text: str, labels: list[str] | None) -> None:
    from converter.normalize.arm_text import listed_groups

    found = listed_groups(text)
    assert (found[1] if found else None) == labels


def _targets(trial) -> tuple[list[str], list[str], list[str], list[str]]:
    """Arm labels as TA, R5 comparisonGroup, R4B arm and USDM StudyArm give them."""
    ta = list(dict.fromkeys(row["ARM"] for row in build_datasets(trial)["TA"].rows))
    r5 = next(e["resource"] for e in convert(trial, "fhir-r5")["entry"] if e["resource"]["resourceType"] == "ResearchStudy")
    r4b = next(e["resource"] for e in convert(trial, "fhir-r4b")["entry"] if e["resource"]["resourceType"] == "ResearchStudy")
    usdm = convert(trial, "usdm")["study"]["versions"][0]["studyDesigns"][0]["arms"]
    assert all("Derived by trialconv" in group["description"] for group in [*r5["comparisonGroup"], *r4b["arm"], *usdm])
    assert all("Derived by trialconv" in arm["notes"][0]["text"] for arm in usdm)
    return ta, [g["name"] for g in r5["comparisonGroup"]], [a["name"] for a in r4b["arm"]], [a["label"] for a in usdm]


def test_a_heading_for_several_arms_names_each_and_reaches_every_target() -> None:
    """NCT00003013 (randomised, no arm_group): "Arm I: … Arms II and III: …"."""
    trial = _one(LEGACY / "NCT00003013.xml")
    labels = ["Arm I", "Arm II", "Arm III"]
    assert [arm.label for arm in trial.arms] == labels and all(arm.derived for arm in trial.arms)
    assert trial.arms[1].description == trial.arms[2].description
    assert trial.arms[2].description.endswith("(the description gives this text to Arm II, Arm III together)")
    assert "paclitaxel" in trial.arms[2].intervention_names and "paclitaxel" not in trial.arms[0].intervention_names
    assert _targets(trial) == (labels, labels, labels, labels)


def test_placebo_controlled_record_gets_treatment_and_placebo_arms() -> None:
    """NCT00501514: randomised, placebo-controlled, two arms stated, one intervention listed."""
    trial = _one(LEGACY / "NCT00501514.xml")
    assert [(arm.label, arm.intervention_names) for arm in trial.arms] == [("Growth hormone", ["Growth hormone"]), ("Placebo", [])]
    assert _targets(trial)[1] == ["Growth hormone", "Placebo"]


def test_two_treatment_crossover_gets_its_two_orders() -> None:
    """NCT00500864: randomised crossover, two arms, magnesium against placebo."""
    trial = _one(LEGACY / "NCT00500864.xml")
    assert [arm.label for arm in trial.arms] == ["Magnesium Sulfate 2 grams, then placebo", "Placebo, then Magnesium Sulfate 2 grams"]
    assert all(arm.derived and arm.intervention_names == ["Magnesium Sulfate 2 grams"] for arm in trial.arms)
    single = trial.model_copy(update={"arms": [], "design": trial.design.model_copy(update={"number_of_arms": 3})})
    assert complete(single).arms == []  # three arms stated: not the two orders
    assert why_no_arm(complete(single)) == "a crossover design whose treatment sequences the record does not state"


def test_two_randomisations_give_no_arm_and_the_notes_say_why() -> None:
    """NCT00005886: two successive randomisations (each against placebo); which arms they make is not stated."""
    trial = _one(LEGACY / "NCT00005886.xml")
    assert trial.arms == []
    reason = "the record describes more than one randomisation, and which arms they make together is not stated"
    assert why_no_arm(trial) == reason
    assert any(reason in note and "no arm could be derived" in note for note in build_datasets(trial).notes)


def test_one_arm_stated_counts_even_with_a_parallel_model() -> None:
    trial = _one(LEGACY / "NCT00003041.xml")
    design = trial.design.model_copy(update={"intervention_model": "PARALLEL", "number_of_arms": 1, "allocation": "NON_RANDOMIZED"})
    assert single_group_reason(trial.model_copy(update={"design": design})) == "one arm stated"
    randomised = design.model_copy(update={"allocation": "RANDOMIZED"})
    assert single_group_reason(trial.model_copy(update={"design": randomised})) is None
    uncontrolled = design.model_copy(update={"intervention_model": None, "number_of_arms": None})
    assert single_group_reason(trial.model_copy(update={"design": uncontrolled})) is None  # non-randomised says nothing alone
    said = trial.model_copy(update={"design": uncontrolled, "detailed_description": "This is an uncontrolled, nonrandomized study."})
    assert single_group_reason(said) == "non-randomised, called uncontrolled or single-arm, and no second group named in the record"
