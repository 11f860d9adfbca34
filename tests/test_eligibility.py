"""The eligibility engine, piece by piece: units, labs, performance, biomarkers, conditions, windows, age/sex."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converter.eligibility import Finding, explain, signatures, understand
from converter.eligibility.findings import LOINC, SNOMED
from converter.eligibility.tables import concepts_table
from converter.eligibility.timewindows import window_at
from converter.eligibility.units import value_at
from converter.model import Criterion
from converter.eligibility.criteria import parse_criteria


def sigs(text: str, context: str | None = None) -> list[str]:
    from test_eligibility_gold import _legacy_codes

    legacy = _legacy_codes()
    return [s for s in signatures(understand(text, context)) if s.split()[1] in legacy]


# --- units and values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "comparator", "value", "unit", "uln"),
    [
        ("≥80*10^9/L", ">=", 80, "10*9/L", False),
        (">/= 3×109/L", ">=", 3, "10*9/L", False),
        ("> 1.5 x 109/l", ">", 1.5, "10*9/L", False),
        ("≥ 1.5 × 10⁹/L", ">=", 1.5, "10*9/L", False),
        ("at least 1,500/mm^3", ">=", 1500, "/mm3", False),
        ("≥ 1500/µL", ">=", 1500, "/uL", False),
        ("≥ 9 g/dL", ">=", 9, "g/dL", False),
        ("< 2.5mg/dl", "<", 2.5, "mg/dL", False),
        ("≤ 120 µmol/L", "<=", 120, "umol/L", False),
        ("no greater than 1.1 micromoles/L", "<=", 1.1, "umol/L", False),
        ("> 30 ml/min", ">", 30, "mL/min", False),
        ("≥ 60 mL/min/1.73 m2", ">=", 60, "mL/min/{1.73_m2}", False),
        ("≥ 50 %", ">=", 50, "%", False),
        ("≥500 IU/mL", ">=", 500, "[IU]/mL", False),
        ("> 470 msec", ">", 470, "ms", False),
        ("≤ 1.5 × ULN", "<=", 1.5, None, True),
        ("≤ 3ULN", "<=", 3, None, True),
        ("≤1.5*ULN", "<=", 1.5, None, True),
        ("< 2.5 x upper limit of normal", "<", 2.5, None, True),
        ("</= 2.5 × the upper limit of normal (ULN)", "<=", 2.5, None, True),
        ("no greater than 2 times normal", "<=", 2, None, True),
        ("≤ ULN", "<=", 1, None, True),
        ("less than or equal to 2.0 X the upper limit of normal", "<=", 2, None, True),
        ("more than or equal to 9 g / dl", ">=", 9, "g/dL", False),
    ],
)
def test_value_expressions(text: str, comparator: str, value: float, unit: str | None, uln: bool) -> None:
    parsed = value_at(text, 0)
    assert parsed is not None and parsed.quantity is not None
    assert (parsed.comparator, parsed.quantity.value, parsed.quantity.unit, parsed.uln) == (comparator, value, unit, uln)


def test_two_sided_value_is_a_range() -> None:
    parsed = value_at("≥12.0 and ≤16.5 g/dL", 0)
    assert parsed is not None and parsed.low is not None and parsed.high is not None
    assert (parsed.low.value, parsed.high.value, parsed.high.unit) == (12.0, 16.5, "g/dL")


def test_words_are_not_comparators() -> None:
    assert value_at("overall 5", 0) is None
    assert value_at("understand 3", 0) is None


# --- labs -------------------------------------------------------------------------------------


def test_shared_value_makes_an_and_combination() -> None:
    findings = understand("ALT and AST ≤ 3 × ULN")
    assert len(findings) == 1 and findings[0].operator == "AND"
    assert signatures(findings) == ["lab 1742-6 <= 3 ULN", "lab 1920-8 <= 3 ULN"]


def test_or_between_tests_makes_an_or_combination() -> None:
    findings = understand("ALT or total bilirubin >1.25x ULN")
    assert findings[0].operator == "OR"


def test_conditional_uln_keeps_its_condition() -> None:
    findings = understand("ALT and AST≤ 3ULN (if liver metastases are present, ALT and AST≤5ULN)")
    labs = [s for s in signatures(findings) if s.startswith("lab")]
    assert labs == ["lab 1742-6 <= 3 ULN", "lab 1920-8 <= 3 ULN", "lab 1742-6 <= 5 ULN if", "lab 1920-8 <= 5 ULN if"]
    assert [f for f in findings if f.condition][0].condition == "if liver metastases are present"


def test_gilbert_alternative() -> None:
    findings = understand("Total bilirubin ≤ 1.5 × ULN (≤ 3 × ULN for patients with Gilbert's syndrome)")
    assert signatures(findings) == ["lab 1975-2 <= 1.5 ULN", "lab 1975-2 <= 3 ULN if"]
    assert "Gilbert" in (findings[1].condition or "")


def test_implausible_value_is_kept_and_flagged() -> None:
    finding = understand("Hemoglobin ≥8g/L")[0]
    assert signatures([finding]) == ["lab 718-7 >= 8 g/L"]
    assert finding.warnings == ("Hemoglobin 8 g/L is implausible; probably g/dL",)


def test_missing_unit_is_flagged() -> None:
    finding = understand("Creatinine greater than 2.")[0]
    assert finding.quantity is not None and finding.quantity.unit is None
    assert finding.warnings == ("Creatinine: no unit stated",)


@pytest.mark.parametrize(
    "text",
    [
        "Hgb A1c ≤ 8% within one month prior to enrollment",
        "Urinary total protein to urinary total creatinine ratio must be >= 0.5",
        "Platelet count 100,000/mm3",  # no comparator: not a threshold
        "Hemoglobin or hematocrit below the reference range at Screening",
        "Serum albumin and serum calcium must be within normal limits.",
        "Ejection fraction by MUGA or 2-D echocardiogram within institution normal limits.",
        "Subjects had clinically significant prolonged QTcF",
        "(i.e., neutrophil count less than 500/mm3)",
    ],
)
def test_no_lab_finding(text: str) -> None:
    assert [s for s in sigs(text) if s.startswith("lab")] == []


def test_group_name_expands_to_both_transaminases() -> None:
    assert sigs("Hepatic transaminases < 2.5x normal") == ["lab 1742-6 < 2.5 ULN", "lab 1920-8 < 2.5 ULN"]


def test_cockcroft_gault_variant() -> None:
    assert sigs("Creatinine clearance ≥ 50 mL/min (Cockcroft-Gault)") == ["lab 35591-7 >= 50 mL/min"]


# --- performance status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ECOG 0-1", "performance 89247-1 0-1 {score}"),
        ("ECOG performance status of 0, 1, or 2", "performance 89247-1 0-2 {score}"),
        ("Eastern Cooperative Oncology Group (ECOG) performance score of 0 to 2", "performance 89247-1 0-2 {score}"),
        ("ECOG PS ≤ 2", "performance 89247-1 <= 2 {score}"),
        ("The physical status score of the Eastern Oncology Consortium (ECOG) was ≤3;", "performance 89247-1 <= 3 {score}"),
        ("Zubrod 0-2", "performance 89247-1 0-2 {score}"),
        ("KPS ≥ 70, lifespan > 6 months", "performance 89243-0 >= 70 %"),
        ("Karnofsky 70%-100%", "performance 89243-0 70-100 %"),
        ("Karnofsky performance status > 60", "performance 89243-0 > 60 %"),
    ],
)
def test_performance(text: str, expected: str) -> None:
    assert sigs(text) == [expected]


def test_unnamed_scale_is_not_coded() -> None:
    assert sigs("Performance status 0-1; expected survival ≥ 3 months") == []


# --- age and sex ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Age > 18 years", ["age 30525-0 > 18 a"]),
        ("18 years and older", ["age 30525-0 >= 18 a"]),
        ("Male or female aged 18 years or above;", ["age 30525-0 >= 18 a"]),
        ("Women aged 18-75 years old", ["sex 46098-0 = female", "age 30525-0 18-75 a"]),
        ("Men between 45 and 80 years old", ["sex 46098-0 = male", "age 30525-0 45-80 a"]),
        ("At least 18 years of age.", ["age 30525-0 >= 18 a"]),
        ("Age <18 or >35 years", ["age 30525-0 < 18 a", "age 30525-0 > 35 a"]),
        ("Age >18 to <70 years old.", ["age 30525-0 > 18 a", "age 30525-0 < 70 a"]),
        ("Current smokers must be over the age of 18,", ["age 30525-0 > 18 a"]),
        ("Less than 70 years old at time of recruitment.", ["age 30525-0 < 70 a"]),
    ],
)
def test_age_and_sex(text: str, expected: list[str]) -> None:
    assert sigs(text) == expected


def test_nci_age_label_context() -> None:
    assert sigs("18 and over", context="Age") == ["age 30525-0 >= 18 a"]
    assert sigs("Age: 18 to 65") == ["age 30525-0 18-65 a"]


@pytest.mark.parametrize(
    "text",
    [
        "Postmenopause is defined as amenorrhea at least 12 months after age 50",
        "Seizures other than febrile seizures as a child <5 years of age.",
        "Informed consent (an assent is required for those 12-17 years)",
        "Women of childbearing potential must use effective contraception",
        "Male or female (females must be using an appropriate contraceptive method)",
    ],
)
def test_no_age_or_sex(text: str) -> None:
    assert [s for s in sigs(text) if s.startswith(("age", "sex"))] == []


# --- biomarkers -------------------------------------------------------------------------------


def test_her2_negative_with_ihc_details() -> None:
    text = ("HER2-metastatic breast cancer confirmed histologically (HER2- is defined as either a standard "
            "immunohistochemical (IHC) test result of 0 or 1+, or an IHC test result of 2+ and a negative ISH test result)")
    assert sigs(text) == [
        "biomarker 48676-1 = 260385009",
        "biomarker 85319-2 = '0'", "biomarker 85319-2 = '1+'", "biomarker 85319-2 = '2+'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("If the patient is HER2-positive:", ["biomarker 48676-1 = 10828004"]),
        ("HER2 negative", ["biomarker 48676-1 = 260385009"]),
        ("HER-2 overexpressing tumor", ["biomarker 48676-1 = 10828004"]),
        ("ER+ and/or PR+, HER2-", ["biomarker 16112-5 = 10828004", "biomarker 16113-3 = 10828004", "biomarker 48676-1 = 260385009"]),
        ("Estrogen or progesterone receptor positive", ["biomarker 16112-5 = 10828004", "biomarker 16113-3 = 10828004"]),
        ("hormone receptor-positive breast cancer", ["biomarker 16112-5 = 10828004", "biomarker 16113-3 = 10828004"]),
        ("Triple negative breast cancer", ["biomarker 706970001"]),
    ],
)
def test_receptors(text: str, expected: list[str]) -> None:
    assert sigs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Prior HER2-targeted therapy",
        "Estrogen receptor status positive, negative, or unknown",
        "Steroid therapy, use of selective estrogen receptor modulators (SERMs)",
        "No unknown HER-2 status",
    ],
)
def test_no_receptor_finding(text: str) -> None:
    assert [s for s in sigs(text) if s.startswith("biomarker")] == []


# --- conditions and windows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pregnant or lactating women;", ["condition 77386006", "condition 413712001"]),
        ("Not pregnant or nursing", ["condition 77386006 not", "condition 413712001 not"]),
        ("Patients with brain metastasis", ["condition 94225005"]),
        ("Other malignant tumors within 5 years (except cured skin basal cell carcinoma)", ["condition 363346000 within 5 a"]),
        ("Without infection of human immunodeficiency virus (HIV) on central laboratory assay", ["condition 86406008 not"]),
        ("HIV negative.", ["condition 86406008 not"]),
        ("myocardial infarction within the past six months;", ["condition 22298006 within 6 mo"]),
        ("AMI < 1 year", ["condition 22298006 within 1 a"]),
        ("Congestive heart failure", ["condition 42343007"]),
        ("NYHA cardiac function grade ≤II", ["condition 88020-3 = 420300004|421704003"]),
        ("History of Heart failure of NYHA Class III or IV", ["condition 84114007", "condition 88020-3 = 420913000|422293003"]),
        ("grade Ⅲ ~ Ⅳ heart failure according to NYHA", ["condition 84114007"]),
        ("Active viral hepatitis B (HBsAg positive with HBV DNA≥500 IU/mL) or hepatitis C.",
         ["condition 66071002", "lab 42595-9 >= 500 [IU]/mL", "condition 50711007"]),
    ],
)
def test_conditions(text: str, expected: list[str]) -> None:
    assert sigs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Women of childbearing potential must have a negative pregnancy test",
        "must agree to use contraception to avoid pregnancy",
        "Mothers should refrain from breast-feeding during the study",
        "Neurologic status must be stable 2 weeks after radiotherapy for brain metastasis",
        "pial metastasis is present, which is defined as meningeal metastasis",  # no verified code
        "Any clinical symptoms suggesting CNS metastases",  # no verified code
        "Self-reported HIV status",
        "risk of HIV transmission to an uninfected partner",
        "Pregnant or lacting partner.",
        "Subjects with sex partners with known active Hepatitis B virus (HBV), HCV, or HIV infection.",
        "Negative total hepatitis B core antibody (HBcAb)",
        "Patients with other malignant tumors that have been cured by local treatment are not excluded.",
        "Myocardial infarction occurred 6 months before randomization.",  # window not readable: say nothing
    ],
)
def test_no_condition_finding(text: str) -> None:
    assert [s for s in sigs(text) if s.startswith("condition")] == []


def test_or_group_and_negated_or_group() -> None:
    assert understand("Pregnancy or lactation")[0].operator == "OR"
    group = understand("No pregnant or nursing women")[0]
    assert group.operator == "AND" and all(part.negated for part in group.parts)


def test_window_details() -> None:
    hit = window_at("History of chemotherapy within the 4-week period prior to the start of trial medication", 20)
    assert hit is not None
    window = hit[0]
    assert (window.quantity.value, window.quantity.unit, window.direction, window.anchor) == (4, "wk", "before", "the start of trial medication")
    assert window_at("x within the past year", 1)[0].quantity.unit == "a"  # type: ignore[index]


def test_nothing_understood_gives_nothing() -> None:
    for text in ("Informed consent", "Patients not able to understand the treatment.", "", "Test group: subjects who could not collect CSF;"):
        assert understand(text) == []


# --- codes are only the verified ones ---------------------------------------------------------


def _all_codes(findings: list[Finding]) -> set[tuple[str, str]]:
    codes = set()
    for finding in findings:
        for leaf in finding.leaves():
            if leaf.concept:
                codes.add((leaf.concept.system, leaf.concept.code))
            codes.update((value.system, value.code) for value in leaf.values)
    return codes


def _table_codes() -> set[tuple[str, str]]:
    table = concepts_table()
    systems = table["systems"]
    codes = set()
    for group in ("labs", "performance", "biomarkers", "values", "conditions", "nyha_classes", "demographics"):
        for key, entry in table[group].items():
            if key.startswith("_"):
                continue
            codes.add((systems[entry["system"]], entry["code"]))
            for variant in entry.get("variants", {}).values():
                codes.add((systems[entry["system"]], variant["code"]))
    return codes


def test_engine_emits_only_table_codes_over_the_corpus(shared_dir: Path) -> None:
    """Every code the engine emits on the real v2 records' criteria comes from the reviewed table."""
    from converter.eligibility.tables import conditions_table, events_table, labs_table

    extra = {(("http://loinc.org" if e["system"] == "loinc" else "http://snomed.info/sct"), code)
             for table in (labs_table(), conditions_table(), events_table()) for e in table.values()
             for code in [e["code"], *(v["code"] for v in e.get("variants", {}).values())]}
    allowed = _table_codes() | extra | {("http://hl7.org/fhir/administrative-gender", "female"), ("http://hl7.org/fhir/administrative-gender", "male")}
    emitted: set[tuple[str, str]] = set()
    for path in sorted((shared_dir / "ctgov" / "v2").glob("*.json")):
        module = json.loads(path.read_text(encoding="utf-8")).get("protocolSection", {}).get("eligibilityModule", {})
        for criterion in parse_criteria(module.get("eligibilityCriteria")):
            emitted |= _all_codes(understand(criterion.text))
    assert emitted and emitted <= allowed
    assert all(system in (LOINC, SNOMED, "http://hl7.org/fhir/administrative-gender") for system, _ in emitted)


# --- explain ----------------------------------------------------------------------------------


def test_explain_lines() -> None:
    criteria = [
        Criterion(text="Organ function:", category="INCLUSION", children=[Criterion(text="Platelet count ≥80*10^9/L", category="INCLUSION")]),
        Criterion(text="Pregnant or lactating women", category="EXCLUSION"),
        Criterion(text="Informed consent", category="UNKNOWN"),
    ]
    lines = explain(criteria).split("\n")
    assert lines[0] == "INCL  Organ function:  → LOINC 777-3 Platelets >= 80 10*9/L"  # the label's statement is its sub-items'
    assert lines[1] == "  INCL  Platelet count ≥80*10^9/L  → LOINC 777-3 Platelets >= 80 10*9/L"
    assert lines[2].startswith("EXCL  Pregnant or lactating women  → any(SNOMED 77386006 Pregnancy, SNOMED 413712001")
    assert lines[3] == "????  Informed consent  → (text only)"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Direct bilirubin ≤ 1.5 x ULN", [("1968-7", "<=", 1.5, "ULN")]),
        ("Conjugated bilirubin < 2 x ULN", [("1968-7", "<", 2.0, "ULN")]),
        ("Lactate dehydrogenase (LDH) > 2 x ULN", [("2532-0", ">", 2.0, "ULN")]),
        ("Lipase > 1.5 x ULN", [("3040-3", ">", 1.5, "ULN")]),
        ("FT4 > 1.2 ng/dL", [("3024-7", ">", 1.2, "ng/dL")]),
        # a lipoprotein lipase or a pancreatic-enzyme product is not the serum test
        ("Lipoprotein lipase < 20 U/L", []),
    ],
)
def test_enzyme_and_thyroid_labs(text: str, expected: list[tuple[str, str, float, str]]) -> None:
    """Labs added by frequency in the development records (codes verified, source in labs.json)."""
    got = [(f.concept.code, f.comparator, f.quantity.value, "ULN" if f.uln else f.quantity.unit)
           for f in understand(text) if f.concept is not None and f.quantity is not None]
    assert got == expected


def test_either_enzyme_on_a_real_record() -> None:
    """NCT04318938: "Serum lipase or serum amylase ≤ 1.5x ULN" — either test may show it (OR), both ≤ 1.5 × ULN."""
    (finding,) = understand("Serum lipase or serum amylase ≤ 1.5x ULN")
    assert finding.operator == "OR"
    assert [(p.concept.code, p.comparator, p.quantity.value) for p in finding.parts] == [("3040-3", "<=", 1.5), ("1798-8", "<=", 1.5)]
