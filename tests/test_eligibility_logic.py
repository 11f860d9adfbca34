"""The whole-criterion gate and the logic forms, one rule at a time, plus the criteria issue 11 named
on the flagship records (samples/NCT02513394.json, samples/001 = NCT01387295), in R5 and R4B."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converter import convert, read
from converter.eligibility import describe_literal as _name
from converter.eligibility.logic import describe_formula
from converter.eligibility.reading import read_criterion
from converter.writers.fhir.eligibility_r4b import characteristics as r4b_characteristics
from converter.writers.fhir.eligibility_r4b import coded
from converter.writers.fhir.eligibility import characteristics as r5_characteristics

ROOT = Path(__file__).resolve().parents[1]


def reading(text: str, section: str = "INCLUSION") -> str:
    r = read_criterion(text, section)
    return describe_formula(r.statement, _name) if r.statement is not None else f"TEXT: {r.reason}"


@pytest.mark.parametrize(("text", "section", "expected"), [
    # polarity: the section is applied once, at the top; a negation in an exclusion item is ambiguous
    ("No brain metastases", "INCLUSION", "NOT SNOMED 94225005 Secondary malignant neoplasm of brain"),
    ("Known HIV infection", "EXCLUSION", "SNOMED 86406008 Human immunodeficiency virus infection"),
    ("HIV negative", "EXCLUSION", "TEXT: not coded: a negated statement under an exclusion heading is ambiguous"),
    # or / either / and-or, and a list closing an "or" run
    ("Pregnant or breastfeeding women", "EXCLUSION", "any(SNOMED 77386006 Pregnancy, SNOMED 413712001 Breastfeeding (mother))"),
    ("ER+ and/or PR+, HER2-", "INCLUSION",
     "all(any(LOINC 16112-5 ER = Positive, LOINC 16113-3 PR = Positive), LOINC 48676-1 HER2 = Negative)"),
    # both together only when the text says so
    ("Co-infection with HBV and HCV", "EXCLUSION", "all(SNOMED 66071002 Viral hepatitis type B, SNOMED 50711007 Viral hepatitis type C)"),
    # implication: inclusion any(¬A, B)
    ("If HER2-positive, LVEF ≥ 50%", "INCLUSION", "any(NOT LOINC 48676-1 HER2 = Positive, LOINC 10230-1 LVEF >= 50 %)"),
    ("For patients with HBV infection, HBV DNA must be < 500 IU/mL", "INCLUSION",
     "any(NOT SNOMED 66071002 Viral hepatitis type B, LOINC 42595-9 HBV DNA < 500 [IU]/mL)"),
    # per-sex thresholds
    ("Hb < 11 g/dL for males or < 10 g/dL for females", "INCLUSION",
     "any(all(LOINC 46098-0 Sex = Male, LOINC 718-7 Hemoglobin < 11 g/dL [only for males]), "
     "all(LOINC 46098-0 Sex = Female, LOINC 718-7 Hemoglobin < 10 g/dL [only for females]))"),
    # exceptions, qualifiers, score items and unread words keep the criterion as text
    ("Other current or prior malignant disease except adequately treated carcinoma in situ of the cervix", "EXCLUSION", "TEXT:"),
    ("Symptomatic brain metastases", "EXCLUSION", "TEXT:"),
    ("1 point each: age > 67, female sex", "INCLUSION", "TEXT:"),
    ("Age ≥18 years (or per national guidelines)", "INCLUSION", "TEXT:"),
    # a time window on a treatment class; "at least N since" is none within N
    ("Chemotherapy within 4 weeks prior to randomization", "EXCLUSION", "SNOMED 367336001 Chemotherapy within 4 wk before randomization"),
    ("At least 4 weeks since prior chemotherapy", "INCLUSION", "NOT SNOMED 367336001 Chemotherapy within 4 wk"),
    # a window closing a list of conditions in one clause belongs to each of them
    ("History of stroke or transient ischemic attack within 6 months", "EXCLUSION",
     "any(SNOMED 230690007 Cerebrovascular accident within 6 mo, SNOMED 266257000 Transient ischemic attack within 6 mo)"),
    # full-width forms and tilde ranges
    ("ＥＣＯＧ ＰＳ ０～１", "INCLUSION", "LOINC 89247-1 ECOG 0-1 {score}"),
])
def test_logic_forms(text: str, section: str, expected: str) -> None:
    got = reading(text, section)
    assert got.startswith(expected) if expected.endswith(":") else got == expected


def test_unsatisfiable_all_of_is_refused() -> None:
    r = read_criterion("Serum creatinine < 1 x ULN and serum creatinine > 1 x ULN", "INCLUSION")
    assert r.statement is None and "cannot both hold" in (r.reason or "")


def _flagship() -> list:
    return next(iter(read(ROOT / "samples" / "NCT02513394.json"))).eligibility.criteria


def test_nct02513394_receptor_status_is_er_or_pr_and_her2_negative() -> None:
    item = next(c for c in _flagship() if "ER+ and/or PR+" in c.text)
    r = read_criterion(item.text, item.category)
    # the criterion also names the disease ("early invasive breast cancer"): not every word is read, so text only
    assert r.statement is None or "any(" in describe_formula(r.statement, _name)


def test_nct02513394_creatinine_alternative_is_satisfiable() -> None:
    item = next(c for c in _flagship() if c.text.startswith("Serum creatinine below"))
    got = reading(item.text, item.category)
    assert got.startswith("any(LOINC 2160-0 Creatinine < 1 ULN, all(LOINC 2160-0 Creatinine > 1 ULN, LOINC 33558-8 Creatinine clearance >= 60")


def test_nct02513394_endocrine_therapy_is_not_malignancy() -> None:
    item = next(c for c in _flagship() if "endocrine therapy within 5" in c.text)
    r = read_criterion(item.text, item.category)
    assert r.statement is None  # the recogniser's partial reading ("malignancy") never reaches an output
    chars = r5_characteristics([item])
    assert "363346000" not in json.dumps(chars)
    assert "363346000" not in json.dumps(r4b_characteristics([item]))


def test_nct01387295_malignancy_exception_and_her2_exclusion_stay_text() -> None:
    trial = next(iter(read(ROOT / "samples" / "001_699d8be317e90364.txt")))
    chars = r5_characteristics(trial.eligibility.criteria)
    malignancy = next(c for c in chars if c["description"].startswith("Other current or prior malignant disease"))
    assert set(malignancy) == {"description", "exclude"}
    her2 = [c for c in chars if c["description"] == "If the patient is HER2-positive:"]
    inclusion, exclusion = her2
    assert inclusion["definitionByCombination"]["code"] == "any-of" and "exclude" not in inclusion
    assert "definitionByTypeAndValue" not in json.dumps(exclusion)  # the exclusion's consequence is not understood
    r4b = list(coded(r4b_characteristics(trial.eligibility.criteria)))
    assert not any(c["code"]["coding"][0]["code"] in ("363346000", "48676-1") for c in r4b)


# --- R4B and R5 agree ------------------------------------------------------------------------------


def _r5_formula(char: dict, negate: bool = False):  # type: ignore[no-untyped-def]
    """Read an R5 characteristic back into a formula of (code, value, holds) literals."""
    exclude = bool(char.get("exclude")) != negate
    if "definitionByTypeAndValue" in char:
        d = char["definitionByTypeAndValue"]
        value = {k: v for k, v in d.items() if k.startswith("value")}
        return ("lit", d["type"]["coding"][0]["code"], json.dumps(value, sort_keys=True), not exclude)
    if "definitionByCombination" in char:
        op = char["definitionByCombination"]["code"]
        members = [_r5_formula(m, exclude) for m in char["definitionByCombination"]["characteristic"]]
        if any(m is None for m in members):
            members = [m for m in members if m is not None] + [None]
        op = {"all-of": "any-of", "any-of": "all-of"}[op] if exclude else op
        return (op, members)
    return None


def _necessary(f) -> set:  # type: ignore[no-untyped-def]
    if f is None:
        return set()
    if f[0] == "lit":
        return {f[1:]}
    if f[0] == "all-of" or len(f[1]) == 1:
        return set().union(*(_necessary(m) for m in f[1]))
    return set()


@pytest.mark.parametrize("name", ["samples/NCT02513394.json", "samples/NCT00496288.xml", "samples/000_c680d2a7bcdf8e98.txt",
                                  "samples/001_699d8be317e90364.txt", "samples/002_e8d3faca6c80e329.txt"])
def test_r4b_codes_exactly_what_r5_makes_necessary(name: str) -> None:
    _agree(next(iter(read(ROOT / name))).eligibility.criteria)


def test_r4b_and_r5_agree_on_every_shared_record(shared_dir: Path) -> None:
    records = sorted((shared_dir / "ctgov" / "v2").glob("NCT*.json")) + sorted((shared_dir / "ctgov" / "xml").glob("NCT*.xml"))
    assert len(records) > 400
    coded_literals = sum(_agree(next(iter(read(path))).eligibility.criteria) for path in records)
    assert coded_literals > 500  # the comparison is not vacuous


def _agree(criteria) -> int:  # type: ignore[no-untyped-def]
    """Check R4B against R5 for one record's criteria; the number of R4B coded literals."""
    r5 = r5_characteristics(criteria)
    expected: set = set()
    for char in r5:
        for code, value, holds in _necessary(_r5_formula(char)):
            expected.add((code, value, holds))
    got = set()
    for char in coded(r4b_characteristics(criteria)):
        value = {k: v for k, v in char.items() if k.startswith("value")}
        got.add((char["code"]["coding"][0]["code"], json.dumps(value, sort_keys=True), not char["exclude"]))
    # R4B leaves out windowed literals that must not hold (it cannot carry the window); everything else agrees
    assert got <= expected
    missing = expected - got
    windowed_r5 = {c["definitionByTypeAndValue"]["type"]["coding"][0]["code"] for c in _walk(r5) if "timeFromEvent" in c and "definitionByTypeAndValue" in c}
    assert all(code in windowed_r5 for code, _, _ in missing), missing
    return len(got)


def _walk(chars: list) -> list:
    out = []
    for c in chars:
        out.append(c)
        out += _walk(c.get("definitionByCombination", {}).get("characteristic", []))
    return out


def test_a_run_of_statements_is_read_one_by_one() -> None:
    text = ("PATIENT CHARACTERISTICS: Cardiovascular: LVEF at least 50% (baseline MUGA) No history of uncontrolled congestive heart "
            "failure At least 6 months since prior myocardial infarction No uncontrolled hypertension")
    got = reading(text, "UNKNOWN")
    assert got.startswith("all(LOINC 10230-1 LVEF >= 50 %, text('No history of uncontrolled congestive he')")
    assert "NOT SNOMED 22298006 Myocardial infarction within 6 mo" in got and "text('No uncontrolled hypertension')" in got


def test_a_run_with_a_permission_is_not_split() -> None:
    assert reading("Brain metastases. Patients with treated brain metastases are allowed.", "EXCLUSION").startswith("TEXT:")


def test_labels_inside_an_item_are_context_not_findings() -> None:
    assert reading("Chemotherapy: No prior chemotherapy", "INCLUSION") == "NOT SNOMED 367336001 Chemotherapy"
    assert read_criterion("Chemotherapy: See Disease Characteristics", "INCLUSION").statement is None


def test_a_unit_is_assumed_only_where_the_number_allows_one() -> None:
    assert reading("Platelet count greater than 100,000", "INCLUSION") == "LOINC 777-3 Platelets > 100000 /uL"
    assert reading("BMI < 30", "INCLUSION") == "LOINC 39156-5 BMI < 30 kg/m2"
    assert reading("Hemoglobin ≥ 9", "INCLUSION").startswith("TEXT:")  # g/dL or mmol/L: not guessed


def test_a_window_closing_a_list_belongs_to_each_member_of_one_clause() -> None:
    got = reading("Had a cerebrovascular accident or transient ischemic attack within 6 months prior to enrolment.", "EXCLUSION")
    assert got == ("any(SNOMED 230690007 Cerebrovascular accident within 6 mo before enrolment, "
                   "SNOMED 266257000 Transient ischemic attack within 6 mo before enrolment)")
    assert reading("Myocardial infarction; stroke within 6 months", "EXCLUSION").startswith("TEXT:")


def test_a_combination_span_does_not_hide_unread_words() -> None:
    # the bracket holds a second threshold nobody read: not all(AST ≤ 3 × ULN, liver metastases)
    assert reading("AST no greater than 3 times ULN (5 times ULN if liver metastases present)", "INCLUSION").startswith("TEXT:")


def test_a_run_is_not_split_where_a_piece_continues_the_one_before() -> None:
    text = ("Total serum bilirubin ≤ ULN; or total bilirubin ≤ 3.0 × ULN with direct bilirubin within normal range in patients "
            "with documented Gilbert's Syndrome.")
    assert reading(text, "INCLUSION").startswith("TEXT:")


def test_with_joins_what_must_hold_together() -> None:
    got = reading("positive HBsAg with positive HBV DNA (i.e., copy number ≥ 2000 copies/ml)", "EXCLUSION")
    assert got == "all(SNOMED 66071002 Viral hepatitis type B, LOINC 42595-9 HBV DNA >= 2000 {copies}/mL)"
    assert reading("Incontinence associated with sexual activity Prior to surgery", "EXCLUSION").startswith("TEXT:")


def test_examples_of_a_term_are_not_requirements() -> None:
    # "(e.g. HIV)" names an instance of the term, not a second condition that must also hold
    assert reading("Known immunodeficiency (e.g. HIV infection)", "EXCLUSION").startswith("TEXT:")
    assert reading("No underlying immunodeficiency (e.g. HIV)", "EXCLUSION").startswith("TEXT:")  # never split after "e.g."


def test_who_performance_status_is_the_ecog_scale() -> None:
    assert reading("WHO performance status 0 or 1", "INCLUSION") == "LOINC 89247-1 ECOG 0-1 {score}"
    assert reading("WHO grade 3 tumour", "INCLUSION").startswith("TEXT:")


def test_a_per_sex_subgroup_keeps_which_sex() -> None:
    from converter.model import Criterion

    [char] = r5_characteristics([Criterion(text="Hb < 11 g/dL for males or < 10 g/dL for females", category="INCLUSION")])
    sexes = [member["definitionByCombination"]["characteristic"][0]["definitionByTypeAndValue"] for member in char["definitionByCombination"]["characteristic"]]
    assert [s["valueCodeableConcept"]["coding"][0]["code"] for s in sexes] == ["male", "female"]
    assert all("valueBoolean" not in s for s in sexes)


def _item_reading(parent: str, section: str, children: list[str]) -> str:
    from converter.eligibility.reading import read_item
    from converter.model import Criterion

    item = read_item(Criterion(text=parent, category=section, children=[Criterion(text=c, category=section) for c in children]))
    return f"TEXT: {item.reason}" if item.reason else describe_formula(item.statement, _name)


def test_a_treatment_heading_is_the_topic_of_its_sub_items_not_a_requirement() -> None:
    # NCI outline "PRIOR CONCURRENT THERAPY: Chemotherapy: Not specified" once required chemotherapy
    assert _item_reading("Chemotherapy", "UNKNOWN", ["Not specified"]) == "text('Not specified')"
    assert _item_reading("Chemotherapy", "UNKNOWN", ["At least 4 weeks since prior chemotherapy"]) == "NOT SNOMED 367336001 Chemotherapy within 4 wk"
    assert _item_reading("Asthmatic Subjects", "INCLUSION", ["FEV1 ≥ 60 %"]).startswith("TEXT:")  # a cohort, maybe


def test_subgroup_and_example_parents() -> None:
    got = _item_reading("In the absence of liver metastases:", "UNKNOWN", ["AST ≤ 2.5 × ULN"])
    assert got == "any(SNOMED 94381002 Secondary malignant neoplasm of liver, LOINC 1920-8 AST <= 2.5 ULN)"
    assert _item_reading("Women with systemic autoimmune disease, including:", "INCLUSION", ["Lupus"]).startswith("TEXT:")


@pytest.mark.parametrize(("text", "section", "expected"), [
    # the age forms the issue names, read in both directions (criteria from real registry records)
    ("Patients of both genders older than 6 months and younger than 80 years", "INCLUSION",
     "all(LOINC 30525-0 Age > 6 mo, LOINC 30525-0 Age < 80 a)"),
    ("Patients younger than 6 months and older than 80 years", "EXCLUSION",
     "any(LOINC 30525-0 Age < 6 mo, LOINC 30525-0 Age > 80 a)"),
    ("Patients no older than 17 years of age", "INCLUSION", "LOINC 30525-0 Age <= 17 a"),
    ("Patients 11 to no older than 17 years of age", "INCLUSION", "TEXT:"),  # the 11 is not read: text, never "> 17"
    # a criterion that is nothing but an age; comparators written out; the unit on the second bound
    ("18 - 45 years", "INCLUSION", "LOINC 30525-0 Age 18-45 a"),
    ("Under age 18", "EXCLUSION", "LOINC 30525-0 Age < 18 a"),
    ("Age > or = 40 years", "INCLUSION", "LOINC 30525-0 Age >= 40 a"),
    ("Patients<18y and >90y", "EXCLUSION", "any(LOINC 30525-0 Age < 18 a, LOINC 30525-0 Age > 90 a)"),
    ("Age ≥18 years old and ≤75 years old, both male and female;", "INCLUSION",
     "all(LOINC 30525-0 Age >= 18 a, LOINC 30525-0 Age <= 75 a)"),
    ("Minimum age: 18 years old", "INCLUSION", "LOINC 30525-0 Age >= 18 a"),
    ("Women >18 yo", "INCLUSION", "all(LOINC 46098-0 Sex = Female, LOINC 30525-0 Age > 18 a)"),
    ("Men >50-year-old", "INCLUSION", "all(LOINC 46098-0 Sex = Male, LOINC 30525-0 Age > 50 a)"),
    ("Age: > 8 - 40 years", "INCLUSION", "all(LOINC 30525-0 Age > 8 a, LOINC 30525-0 Age <= 40 a)"),
    # a sex word is a requirement, not filler: dropping it would apply the bound to everyone
    ("Be female and at least 18 years and less than 51 years of age.", "INCLUSION", "TEXT:"),
    ("Women with BMI>37", "EXCLUSION", "TEXT:"),
    # … except beside pregnancy or breastfeeding, which already say who
    ("Woman who are pregnant or lactating.", "EXCLUSION", "any(SNOMED 77386006 Pregnancy, SNOMED 413712001 Breastfeeding (mother))"),
])
def test_age_forms_and_sex_words(text: str, section: str, expected: str) -> None:
    got = reading(text, section)
    assert got.startswith(expected) if expected.endswith(":") else got == expected


@pytest.mark.parametrize(("text", "expected"), [
    # an inclusion comma list of separate requirements: each must hold, the unread ones stay words
    ("Male and Female, between 18 and 80 years, ASA 1-3, Scheduled for open thoracotomy",
     "all(text('Male and Female'), LOINC 30525-0 Age 18-80 a, text('ASA 1-3'), text('Scheduled for open thoracotomy'))"),
    # a modifier that reaches over the list: "negative" belongs to every item, so no item stands alone
    ("A negative pre-study Hepatitis B, Hepatitis C, and HIV antibody result at screening.", "TEXT:"),
    # items that are alternatives; lab names sharing the threshold after the last comma (read whole)
    ("Patients with breast cancer, age over 18 years or ECOG 0-1", "TEXT:"),
    ("Coagulation: APTT, INR, prothrombin time (PT) ≤1.5×ULN",
     "all(LOINC 3173-2 aPTT <= 1.5 ULN, LOINC 6301-6 INR <= 1.5 ULN, LOINC 5902-2 PT <= 1.5 ULN)"),
    # a condition item may share words with its neighbours: never split off
    ("Heart, lung, liver and kidney function can tolerate surgery, ECOG 0-1", "TEXT:"),
])
def test_comma_lists_are_split_only_into_standalone_items(text: str, expected: str) -> None:
    got = reading(text, "INCLUSION")
    assert got.startswith(expected) if expected.endswith(":") else got == expected


@pytest.mark.parametrize(("text", "section", "expected"), [
    # a bare range after the test name; a Range holds its ends, so only inclusive bounds make one
    ("Body mass index (BMI) 19 - 25 kg/m2.", "INCLUSION", "LOINC 39156-5 BMI 19-25 kg/m2"),
    ("Body mass index > 19 and < 28.5 Kg/m2", "INCLUSION", "all(LOINC 39156-5 BMI > 19 kg/m2, LOINC 39156-5 BMI < 28.5 kg/m2)"),
    ("Body weight of ≥ 55.0 kg and ≤ 90.0 kg", "INCLUSION", "LOINC 29463-7 Body weight 55-90 kg"),
    # two bounds facing apart are alternatives; the unit after the second is the first one's too
    ("Systolic blood pressure < 80 mmHg or > 180 mmHg", "EXCLUSION",
     "any(LOINC 8480-6 Systolic BP < 80 mm[Hg], LOINC 8480-6 Systolic BP > 180 mm[Hg])"),
    ("BMI of <22 or >43 kg/m2.", "EXCLUSION", "any(LOINC 39156-5 BMI < 22 kg/m2, LOINC 39156-5 BMI > 43 kg/m2)"),
    # numbers that count or time something are not the test's value
    ("Platelet transfusion 2-3 times", "EXCLUSION", "TEXT:"),
])
def test_lab_ranges_and_two_bounds(text: str, section: str, expected: str) -> None:
    got = reading(text, section)
    assert got.startswith(expected) if expected.endswith(":") else got == expected


def test_a_defined_term_is_its_thresholds_and_keeps_its_sign() -> None:
    # the term a threshold defines is not a second requirement: coding "diabetes" would exclude every diabetic
    assert reading("Uncontrolled diabetes (HbA1c > 9%)", "EXCLUSION") == "LOINC 4548-4 HbA1c > 9 %"
    assert reading("Renal insufficiency (creatinine > 1.5 mg/dL)", "EXCLUSION") == "LOINC 2160-0 Creatinine > 1.5 mg/dL"
    # a negated term must not hand its threshold over without the sign: text, never "creatinine > 1.5 required"
    assert reading("No renal insufficiency (creatinine > 1.5 mg/dL)", "INCLUSION").startswith("TEXT:")


def test_a_window_closing_a_list_of_treatments_belongs_to_each_of_them() -> None:
    """The window after the last member of a list was read as that member's; the earlier members
    are kept (not dropped as "a time nobody read") so that the list decides — each gets the window."""
    assert reading("Chemotherapy or radiotherapy within 4 weeks prior to entering the study", "EXCLUSION") == (
        "any(SNOMED 367336001 Chemotherapy within 4 wk before entering the study, "
        "SNOMED 108290001 Radiation oncology AND/OR radiotherapy within 4 wk before entering the study)")
    assert reading("No chemotherapy, radiotherapy or immunotherapy within 4 weeks prior to the first dose", "INCLUSION") == (
        "all(NOT SNOMED 367336001 Chemotherapy within 4 wk before the first dose, "
        "NOT SNOMED 108290001 Radiation oncology AND/OR radiotherapy within 4 wk before the first dose, "
        "NOT SNOMED 76334006 Immunotherapy within 4 wk before the first dose)")
    # separate clauses: the window is the last one's, and the first stays unknown
    assert reading("Chemotherapy; radiotherapy within 4 weeks prior to the first dose", "EXCLUSION").startswith("TEXT:")
    # two names with nothing between them are one thing, not a list: never "any surgery within 3 months"
    assert reading("Autologous transplantation surgery within 3 months prior to the first dose", "EXCLUSION").startswith("TEXT:")


@pytest.mark.parametrize("text", [
    "Patients receiving anticoagulants",
    "Current use of systemic corticosteroids",
    "Taking anticoagulants",
    "No concurrent chemotherapy",
    "Patients currently receiving chemotherapy",
])
def test_current_use_of_a_treatment_without_a_window_stays_text(text: str) -> None:
    """A windowless treatment reads "ever had"; "receiving", "current use" mean now — coding them
    would exclude everyone treated in the past, so the criterion stays text with the reason."""
    for section in ("INCLUSION", "EXCLUSION"):
        assert reading(text, section).startswith("TEXT: not coded: current use of a treatment"), (text, section)


def test_past_use_and_use_within_a_window_are_coded() -> None:
    assert reading("No prior chemotherapy", "INCLUSION") == "NOT SNOMED 367336001 Chemotherapy"
    assert reading("Use of anticoagulants within 7 days", "EXCLUSION") == "SNOMED 182764009 Anticoagulant therapy within 7 d"
    # a section heading that says "concurrent" is a label, not the item's time
    item = read_criterion("No prior chemotherapy or radiotherapy", "INCLUSION", "PRIOR CONCURRENT THERAPY")
    assert item.coded, item.reason


def test_a_bracket_between_a_condition_and_its_window_is_read_on_its_own() -> None:
    """NCT05821933: the window after the bracket once made the whole bracket part of the finding, so
    its exceptions went unread and every patient with any cancer in 5 years (the trial's own
    included) was excluded."""
    text = ("Other malignancies (except non-melanoma skin cancer, cervical carcinoma in situ or other tumors that have "
            "been effectively treated and are considered cured) within 5 years prior to signing the informed consent form.")
    assert reading(text, "EXCLUSION").startswith("TEXT:")
    assert reading("Myocardial infarction within 6 months prior to enrollment", "EXCLUSION") == (
        "SNOMED 22298006 Myocardial infarction within 6 mo before enrollment")


def test_the_default_case_of_a_threshold_is_not_an_alternative_of_its_own() -> None:
    """NCT02175381: "AST and ALT < 2.5 × ULN in the absence of liver metastases, or < 5 × ULN in the
    presence of liver metastases" once read any(labs, NOT liver metastases, …): any patient without
    liver metastases met it whatever the labs. The absence phrase only names the default case."""
    text = ("Aspartate Aminotransferase and Alanine Aminotransferase less than 2.5 times the upper normal limit in the "
            "absence of demonstrable liver metastases, or less than 5 times the upper normal limit in the presence of liver metastases")
    assert reading(text, "INCLUSION") == (
        "any(all(LOINC 1920-8 AST < 2.5 ULN, LOINC 1742-6 ALT < 2.5 ULN), all(SNOMED 94381002 Secondary malignant neoplasm "
        "of liver, LOINC 1920-8 AST < 5 ULN, LOINC 1742-6 ALT < 5 ULN))")


def test_a_negation_over_an_or_list_with_a_measurement_stays_text() -> None:
    """"no history of angina, MI, CHF or ejection fraction < 40 %" was any(¬angina, ¬MI, ¬CHF, LVEF < 40):
    met by anyone without angina. Only conditions carry the negation, so the scope cannot be kept."""
    text = "Normal cardiac function: no history of angina pectoris, myocardial infarction, congestive heart failure or ejection fraction less than 40 percent."
    assert reading(text, "INCLUSION").startswith("TEXT: not coded: a negation over an 'or' list")
    assert reading("No history of angina, myocardial infarction or congestive heart failure", "INCLUSION") == (
        "all(NOT SNOMED 194828000 Angina, NOT SNOMED 22298006 Myocardial infarction, NOT SNOMED 42343007 Congestive heart failure)")


def test_other_malignancy_stays_text_in_a_trial_of_a_malignancy(shared_dir: Path) -> None:
    """In a cancer trial the generic malignancy code cannot tell "other malignancy" from the studied
    cancer: coded, "history of other malignancies in the past 5 years, exclude" excludes every
    participant. In a trial of something else the same words are coded."""
    from converter.eligibility.reading import read_criteria, studies_malignancy
    from converter.eligibility.logic import literals

    assert studies_malignancy(["NSCLC"]) and studies_malignancy(["Untreated Advanced or Recurrent Thymic Carcinomas"])
    assert not studies_malignancy(["Common Wart"]) and not studies_malignancy(["Asthmatic"])

    def malignancy_items(name: str) -> tuple[list[str], list[str]]:
        trial = next(iter(read(shared_dir / "ctgov" / "v2" / name)))
        items = read_criteria(trial.eligibility.criteria, trial.conditions)
        coded = [i.criterion.text for i in items for lit in literals(i.statement) if lit.finding.concept and lit.finding.concept.code == "363346000"]
        refused = [i.criterion.text for i in items if "trial studies a malignancy" in (i.reason or "")]
        return coded, refused

    coded, refused = malignancy_items("NCT06924710.json")  # NSCLC
    assert coded == [] and "Patients with a history of other malignancies in the past 5 years" in refused
    coded, refused = malignancy_items("NCT05896215.json")  # common warts
    assert any("history of malignant tumor within 5 years" in text for text in coded) and refused == []
    bundle = json.dumps(convert(shared_dir / "ctgov" / "v2" / "NCT06924710.json", to="fhir-r5"))
    assert "363346000" not in bundle


def test_per_sex_thresholds_under_an_exclusion_heading_are_each_a_reason_to_exclude() -> None:
    """"AST > 155 U/L for females and > 200 U/L for males" (exclusion) was all(female, AST > 155,
    male, AST > 200): no one is both sexes, so it excluded no one."""
    assert reading("AST >155 U/L for females and >200 U/L for males.", "EXCLUSION") == (
        "any(all(LOINC 46098-0 Sex = Female, LOINC 1920-8 AST > 155 U/L [only for females]), "
        "all(LOINC 46098-0 Sex = Male, LOINC 1920-8 AST > 200 U/L [only for males]))")
    assert reading("Aspartate aminotransferase (AST) ≥47 U/L for females and ≥60 U/L for males", "INCLUSION") == (
        "all(any(NOT LOINC 46098-0 Sex = Female, LOINC 1920-8 AST >= 47 U/L [only for females]), "
        "any(NOT LOINC 46098-0 Sex = Male, LOINC 1920-8 AST >= 60 U/L [only for males]))")


@pytest.mark.parametrize(("text", "section"), [
    ("Chemotherapy for other indications than NSCLC within the last 5 years", "EXCLUSION"),  # an exception before a window
    ("Radiation with curative intent < 30 days before randomization.", "EXCLUSION"),          # a narrowing purpose
    ("Stroke or spinal cord injury within 6 months before registration.", "EXCLUSION"),      # an unread alternative
    ("Platelets, unless transfused, ≥ 100,000/mm3", "INCLUSION"),                # was all(platelets, transfusion)
    ("Creatinine (except patients on dialysis) ≤ 1.5 mg/dL", "INCLUSION"),        # an exception before a value
    ("Creatinine in patients without renal disease ≤ 1.5 mg/dL", "INCLUSION"),    # a subgroup before a value
])
def test_words_between_a_name_and_its_window_or_value_are_read(text: str, section: str) -> None:
    """The window or value once made every word before it part of the finding, so the gate never read them."""
    assert reading(text, section).startswith("TEXT:")


def test_filler_between_a_lab_and_its_value_is_still_coded() -> None:
    assert reading("Absolute neutrophil count (ANC) ≥ 1,500/mm3", "INCLUSION") == "LOINC 751-8 ANC >= 1500 /mm3"
    assert reading("Hemoglobin level of at least 9 g/dL", "INCLUSION") == "LOINC 718-7 Hemoglobin >= 9 g/dL"
    assert reading("Body mass index within the range 18.0 to 30.0 kg/m2.", "INCLUSION") == "LOINC 39156-5 BMI 18-30 kg/m2"


def test_a_class_and_the_condition_it_grades_are_one_compound_term() -> None:
    """"Class III or IV congestive heart failure" under an exclusion heading was any(III, IV, CHF): every
    heart-failure patient out. Nothing between the two findings makes them one term, both at once;
    negated ("No NYHA class III or IV heart disease") the whole term is negated, not each part."""
    assert reading("New York Heart Association class III or IV heart disease", "EXCLUSION") == (
        "all(any(LOINC 88020-3 Functional capacity NYHA = Class III, LOINC 88020-3 Functional capacity NYHA = Class IV), "
        "SNOMED 49601007 Disorder of cardiovascular system)")
    assert reading("No New York Heart Association class III or IV heart disease", "INCLUSION") == (
        "any(all(NOT LOINC 88020-3 Functional capacity NYHA = Class III, NOT LOINC 88020-3 Functional capacity NYHA = Class IV), "
        "NOT SNOMED 49601007 Disorder of cardiovascular system)")
    # labs run together without punctuation (old NCI outlines) are still a list
    assert reading("Hemoglobin ≥9 g/dL Absolute neutrophil count (ANC) ≥1.5 × 10^9/L Platelet count ≥100 × 10^9/L", "INCLUSION").startswith("all(LOINC 718-7")


def test_tests_sharing_a_limit_under_an_exclusion_heading_are_each_a_reason() -> None:
    """"ALT, AST > 2.5 × ULN" (exclusion) was all(ALT, AST): a patient with one test far out stayed in."""
    assert reading("Serum alanine transaminase (ALT), aspartate transaminase (AST) > 2.5 x ULN", "EXCLUSION") == (
        "any(LOINC 1742-6 ALT > 2.5 ULN, LOINC 1920-8 AST > 2.5 ULN)")
    assert reading("AST and ALT ≤ 2.5 × ULN", "INCLUSION") == "all(LOINC 1920-8 AST <= 2.5 ULN, LOINC 1742-6 ALT <= 2.5 ULN)"
    # a term defined by both values keeps "both"
    assert reading("liver failure (AST and ALT > 250 U/L)", "EXCLUSION") == "all(LOINC 1920-8 AST > 250 U/L, LOINC 1742-6 ALT > 250 U/L)"


def test_a_bracket_opening_with_a_condition_is_an_alternative_not_a_qualifier() -> None:
    """Seed 000 (samples/000_…): "ALT and AST ≤ 3 ULN (if liver metastases are present, ALT and AST ≤ 5 ULN)"
    once put the liver metastases inside the default branch too — any(all(¬LM, …, LM), all(LM, …)) — so
    only patients with liver metastases could meet it."""
    trial = next(iter(read(ROOT / "samples" / "000_c680d2a7bcdf8e98.txt")))
    item = next(c for parent in trial.eligibility.criteria for c in parent.children if c.text.startswith("ALT and AST"))
    assert reading(item.text, "INCLUSION") == (
        "any(all(NOT SNOMED 94381002 Secondary malignant neoplasm of liver, LOINC 1742-6 ALT <= 3 ULN, LOINC 1920-8 AST <= 3 ULN), "
        "all(SNOMED 94381002 Secondary malignant neoplasm of liver, LOINC 1742-6 ALT <= 5 ULN, LOINC 1920-8 AST <= 5 ULN))")


def test_a_branch_that_contradicts_itself_is_refused() -> None:
    """A safety net under the readers: no branch may require a condition and its absence, or two sexes."""
    from converter.eligibility import understand
    from converter.eligibility.logic import from_finding, negate, node, satisfiable

    (mets,) = [f for f in understand("liver metastases") if f.kind == "condition"]
    lit = from_finding(mets)
    assert not satisfiable(node("all", [lit, negate(lit)]))
    assert satisfiable(node("any", [lit, negate(lit)]))
    female = from_finding(next(f for f in understand("Female") if f.kind == "sex"))
    male = from_finding(next(f for f in understand("Male") if f.kind == "sex"))
    assert not satisfiable(node("all", [female, male])) and satisfiable(node("any", [female, male]))


def test_alternatives_flattened_into_siblings_stay_text(shared_dir: Path) -> None:
    """NCT00501592 lists the alternatives of "Type 2 diabetes, defined … as one of the following
    criteria:" as its siblings, and "Fasting plasma glucose > 126 mg/dL or" ends in "or"; NCT00002662's
    "Karnofsky 60-100% OR" / "ECOG 0-2" were read all(KPS, ECOG). Read alone, each alternative became a
    requirement for everyone."""
    from converter.eligibility.reading import read_criteria

    def reasons(name: str) -> dict[str, str]:
        trial = next(iter(read(shared_dir / "ctgov" / "xml" / name)))
        out: dict[str, str] = {}

        def walk(items) -> None:  # type: ignore[no-untyped-def]
            for item in items:
                out[item.criterion.text] = item.reason or ""
                walk(item.children)

        walk(read_criteria(trial.eligibility.criteria, trial.conditions))
        return out

    diabetes = reasons("NCT00501592.xml")
    assert "alternatives" in diabetes["Fasting plasma glucose >126 mg/dL (7.0 mmol/L) or"]
    assert "alternatives" in diabetes["Alanine aminotransferase (ALT) ≥47 U/L for females and ≥56 U/L for males"]
    status = reasons("NCT00002662.xml")
    assert "ends in 'or'" in status["Karnofsky 60-100% OR"] and "alternatives" in status["ECOG 0-2"]


def test_a_condition_under_no_heading_is_not_written_as_a_requirement() -> None:
    """Seed 002 has no Inclusion/Exclusion headings; "Pregnancy or lactation" was written without
    "exclude", i.e. as a requirement to be pregnant or lactating."""
    import json as _json

    bundle = convert(ROOT / "samples" / "002_e8d3faca6c80e329.txt", to="fhir-r5")
    chars = [c for e in bundle["entry"] if e["resource"]["resourceType"] == "EvidenceVariable"
             for c in e["resource"].get("characteristic", [])]
    pregnancy = next(c for c in chars if c.get("description") == "Pregnancy or lactation")
    assert "77386006" not in _json.dumps(pregnancy)
    assert reading("Pregnancy or lactation", "UNKNOWN").startswith("TEXT: not coded: a condition under neither heading")


@pytest.mark.parametrize("text", ["Patients with uncontrolled infection", "Serious infection", "Infection requiring systemic antibiotics"])
def test_a_narrowed_infection_is_not_any_infection(text: str) -> None:
    """Seed 001's "Patients with uncontrolled infection" was coded as any infectious disease: a patient
    with a controlled infection was excluded. A narrowing qualifier keeps the criterion as text."""
    assert reading(text, "EXCLUSION").startswith("TEXT:")
    assert reading("Active infection", "EXCLUSION") == "SNOMED 40733004 Infectious disease"


@pytest.mark.parametrize("text", [
    "Previous therapy with any checkpoint inhibitor",   # one kind of immunotherapy
    "Warfarin within 7 days",                           # one anticoagulant
    "Prior chemoradiation within 4 weeks",              # neither plain chemotherapy nor plain radiotherapy
    "Prior stereotactic radiosurgery (SRS) within 2 weeks",
    "Aromatase inhibitors within 4 weeks",
])
def test_a_kind_of_treatment_is_not_coded_as_its_whole_class(text: str) -> None:
    """Coded as the class, an exclusion of one kind would turn away patients who had any other kind."""
    assert reading(text, "EXCLUSION").startswith("TEXT:")


def test_a_window_is_not_spread_across_a_clause_with_its_own_verb() -> None:
    """"Has a diagnosis of immunodeficiency or is receiving systemic steroid therapy within 2 years": the
    window is the steroids'; spread to the immunodeficiency it admitted one diagnosed three years ago."""
    text = "Has a diagnosis of immunodeficiency or is receiving systemic steroid therapy within 2 years prior to the first dose of study treatment;"
    assert reading(text, "EXCLUSION").startswith("TEXT:")
