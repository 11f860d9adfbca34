"""Criteria parser: seed pages, real CT.gov records (v2 markdown and legacy XML) and the no-text-lost rule."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree

import pytest

from converter.model import Criterion
from converter.eligibility.criteria import (
    classify_heading,
    flatten,
    parse_criteria,
    split_inline_enumeration,
    split_marker,
)

DATA = Path(__file__).resolve().parent / "data" / "criteria"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"

# Where each seed page's criteria block starts and ends. The page readers belong to someone else;
# these bounds are read off the pages by eye.
SEED_BLOCKS = {
    "000": (r"^Eligibility$", r"^Study details$"),
    "001": (r"^Accepts Healthy Volunteers:", r"^To learn more about this study"),
    "002": (r"^(?:- )?Target Recruitment$", r"^Study & Design$"),
    "003": (r"^Target Recruitment$", r"^Study & Design$"),
}


def seed_criteria_block(seed: str) -> str:
    """The eligibility block of seed page ``seed`` ("000" …), lines strictly between the bounds.

    The registry-page number after "Target Recruitment" (002/003) is dropped as well: it is the
    enrolment, not a criterion.
    """
    path = next((SHARED / "seeds").glob(f"{seed}_*.txt"), None)
    if path is None:
        pytest.skip("seed pages not present")
    lines = path.read_text(encoding="utf-8").split("\n")
    start_pattern, end_pattern = SEED_BLOCKS[seed]
    start = next(i for i, line in enumerate(lines) if re.search(start_pattern, line.strip()))
    end = next(i for i, line in enumerate(lines) if i > start and re.search(end_pattern, line.strip()))
    block = lines[start + 1 : end]
    if seed in ("002", "003"):
        block = block[1:]  # the enrolment figure ("- 183", "30")
    return "\n".join(block)


def _texts(criteria: list[Criterion]) -> list[str]:
    return [c.text for c in criteria]


def _xml_criteria(path: Path) -> str:
    node = ElementTree.parse(path).getroot().find(".//eligibility/criteria/textblock")
    assert node is not None and node.text
    return node.text


def _v2_criteria(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]


# --- small units ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "keep"),
    [
        ("Inclusion Criteria:", "INCLUSION", False),
        ("Key Inclusion Criteria", "INCLUSION", False),
        ("INCLUSION CRITERIA", "INCLUSION", False),
        ("Exclusion criteria", "EXCLUSION", False),
        ("GENERAL EXCLUSION CRITERIA :", "EXCLUSION", False),
        ("Criteria for exclusion", "EXCLUSION", False),
        ("Exclusions", "EXCLUSION", False),
        ("Ineligibility.", "EXCLUSION", False),
        ("Patients will be excluded if…", "EXCLUSION", False),
        ("Patients will be excluded from this protocol for the following reasons:", "EXCLUSION", False),
        ("The following patients will also be ineligible:", "EXCLUSION", False),
        ("Patients are eligible for the study if all of the following apply:", "INCLUSION", False),
        ("Healthy Control Inclusion Criteria:", "INCLUSION", True),
        ("Exclusion Criteria for Stage 1", "EXCLUSION", True),
        ("PRE-CHEMOTHERAPY ELIGIBILITY:", "INCLUSION", True),
        ("Biological Mother Inclusion/Exclusion:", "UNKNOWN", True),
    ],
)
def test_headings(text: str, category: str, keep: bool) -> None:
    heading = classify_heading(text)
    assert heading is not None and heading.category == category and heading.keep is keep


@pytest.mark.parametrize(
    "text",
    [
        "Other protocol-defined inclusion/exclusion criteria may apply",
        "Women who are pregnant or lactating will be excluded.",
        "Subjects must meet all of the following inclusion criteria within 28 days prior to the baseline visit:",
        "Platelet count ≥80*10^9/L",
    ],
)
def test_not_headings(text: str) -> None:
    assert classify_heading(text) is None


@pytest.mark.parametrize(
    ("text", "style", "rest"),
    [
        ("* item", "bullet1", "item"),
        ("- item", "bullet1", "item"),
        ("• item", "bullet1", "item"),
        ("o Sub item", "bullet2", "Sub item"),
        ("1. item", "num.", "item"),
        ("12) item", "num)", "item"),
        ("(3) item", "(num)", "item"),
        ("a. item", "alpha.", "item"),
        ("(b) item", "(alpha)", "item"),
        ("iv. item", "roman.", "item"),
        ("1.2 Item", "dotted1", "Item"),
        ("1.5 times ULN", "none", "1.5 times ULN"),
        ("-10% weight loss", "none", "-10% weight loss"),
    ],
)
def test_markers(text: str, style: str, rest: str) -> None:
    got_style, _, got_rest = split_marker(text)
    assert (got_style, got_rest) == (style, rest)


def test_inline_enumeration() -> None:
    head, parts = split_inline_enumeration("Organ function: a) Hb ≥90g/L; b) ANC ≥1.5×10^9/L; c) PLT ≥100×10^9/L")
    assert head == "Organ function:"
    assert parts == ["Hb ≥90g/L;", "ANC ≥1.5×10^9/L;", "PLT ≥100×10^9/L"]
    assert split_inline_enumeration("e.g. hepatitis a) or b") == ("e.g. hepatitis a) or b", [])


def test_empty_and_missing() -> None:
    assert parse_criteria(None) == []
    assert parse_criteria("  \n\n ") == []
    assert parse_criteria("Exclusion Criteria:\n\n* None") == []


def test_text_before_any_heading_is_unknown() -> None:
    criteria = parse_criteria("Adults only\n\nInclusion Criteria:\n* Age 18\n\nExclusion Criteria:\n* Pregnant")
    assert [(c.text, c.category) for c in criteria] == [
        ("Adults only", "UNKNOWN"),
        ("Age 18", "INCLUSION"),
        ("Pregnant", "EXCLUSION"),
    ]


def test_v2_escapes_and_nesting() -> None:
    text = "Inclusion Criteria:\n\n* IIEF score \\>= 17\n* Labs:\n\n  * ANC \\> 1500\n  * Platelets \\> 100k\n* Consent"
    criteria = parse_criteria(text)
    assert _texts(criteria) == ["IIEF score >= 17", "Labs:", "Consent"]
    assert _texts(criteria[1].children) == ["ANC > 1500", "Platelets > 100k"]


def test_flattened_outline_nests_by_marker_style() -> None:
    text = "Inclusion Criteria:\n1. Organ function:\na. ANC ok\nb. PLT ok\n2. Consent\nExclusion Criteria:\n1. Pregnant"
    criteria = parse_criteria(text)
    assert _texts(criteria) == ["Organ function:", "Consent", "Pregnant"]
    assert _texts(criteria[0].children) == ["ANC ok", "PLT ok"]
    assert criteria[2].category == "EXCLUSION"


def test_staircase_lists_become_siblings() -> None:
    text = "Exclusion Criteria:\n\n* Taking one of:\n\n  * Nitrates\n\n    * Anticoagulants\n\n      * Androgens\n\n        * Trazodone\n* Allergy"
    criteria = parse_criteria(text)
    assert _texts(criteria) == ["Taking one of:", "Allergy"]
    assert _texts(criteria[0].children) == ["Nitrates", "Anticoagulants", "Androgens", "Trazodone"]


# --- seeds -----------------------------------------------------------------------------------


def test_seed_000_numbered_items_with_unnumbered_children() -> None:
    criteria = parse_criteria(seed_criteria_block("000"))
    inclusion = [c for c in criteria if c.category == "INCLUSION"]
    exclusion = [c for c in criteria if c.category == "EXCLUSION"]
    assert len(inclusion) == 11 and len(exclusion) == 15
    assert not [c for c in criteria if c.category == "UNKNOWN"]
    assert inclusion[0].text == "Male or female aged 18 years or above;"
    organ = inclusion[6]
    assert organ.text.startswith("The function of major organs was good")
    assert _texts(organ.children) == [
        "Platelet count ≥80*10^9/L",
        "Hemoglobin ≥8g/L",
        "Neutrophil count ≥1.5*10^9/L",
        "Serum creatinine ≤1.5*ULN",
        "ALT and AST≤ 3ULN (if liver metastases are present, ALT and AST≤5ULN)",
        "Serum total bilirubin ≤1.5*ULN",
        "International Standardized ratio (INR) and Activated partial thromboplastin time (APTT) ≤1.5*ULN",
    ]
    assert all(child.category == "INCLUSION" for child in organ.children)
    assert inclusion[7].text.startswith("NYHA cardiac function grade ≤II")
    cardio = exclusion[13]
    assert cardio.text.endswith("including:") and len(cardio.children) == 6
    assert cardio.children[2].text == "myocardial infarction within the past six months;"


def test_seed_001_glued_heading_and_conditional_blocks() -> None:
    criteria = parse_criteria(seed_criteria_block("001"))
    inclusion = [c for c in criteria if c.category == "INCLUSION"]
    exclusion = [c for c in criteria if c.category == "EXCLUSION"]
    assert inclusion[0].text == "Informed consent"  # "Inclusion Criteria:• Informed consent"
    assert inclusion[1].text == "Age > 18 years"
    assert len(inclusion) == 14
    her2_incl = inclusion[-1]
    assert her2_incl.text == "If the patient is HER2-positive:"
    assert _texts(her2_incl.children) == ["Baseline LVEF ≥ 50 %"]
    her2_excl = exclusion[-1]
    assert her2_excl.text == "If the patient is HER2-positive:"
    assert _texts(her2_excl.children) == [
        "Dyspnoea in due to complication related to malignant disease e.g.lung metastases with lymphangitis or other conditions with need of supportive oxygen."
    ]
    assert len(exclusion) == 15
    assert not [c for c in criteria if c.category == "UNKNOWN"]


def test_seed_002_lost_its_headings_so_everything_is_unknown() -> None:
    criteria = parse_criteria(seed_criteria_block("002"))
    assert len(criteria) == 28  # 16 inclusion items then 12 exclusion items, no heading between
    assert {c.category for c in criteria} == {"UNKNOWN"}
    assert criteria[1].text == "Women aged 18-75 years old"
    assert criteria[-1].text.startswith("Considered unable to complete the study")


def test_seed_003_headings_without_colons() -> None:
    # The MedPath page 003 keeps "Inclusion Criteria" / "Exclusion Criteria" as bare lines.
    criteria = parse_criteria(seed_criteria_block("003"))
    assert [c.category for c in criteria] == ["INCLUSION"] * 4 + ["EXCLUSION"] * 3
    assert criteria[2].text == "KPS ≥ 70, lifespan > 6 months"


# --- real records ----------------------------------------------------------------------------


def test_v2_markdown_record_nesting() -> None:
    criteria = parse_criteria(_v2_criteria(DATA / "NCT04204473.json"))
    organ = next(c for c in criteria if c.text.startswith("Adequate bone marrow reserve"))
    assert organ.category == "INCLUSION"
    assert [c.text.split()[0] for c in organ.children] == ["Neutrophils", "Hemoglobin", "Platelet", "Serum", "Aspartate", "International"]
    treatment = next(c for c in criteria if c.text == "Treatment with any of the following:")
    assert treatment.category == "EXCLUSION" and len(treatment.children) == 6
    # "8\. Previous … 9. Hypersensitivity … 10.Pregnant" on one line are three items
    assert [c.text for c in criteria[-3:]] == [
        "Previous allogeneic bone marrow transplant.",
        "Hypersensitivity to TY-9591 or similar compounds or excipients.",
        "Pregnant or lactating women.",
    ]


def test_v2_unmarked_paragraph_explains_item_above() -> None:
    criteria = parse_criteria(_v2_criteria(DATA / "NCT00351065.json"))
    first = criteria[0]
    assert first.text.startswith("Male, aged 19 to 70")
    assert first.children[0].text.startswith("Definition of erectile dysfunction:")
    taking = next(c for c in criteria if c.text == "Subjects who are taking one of the following:")
    assert [c.text for c in taking.children][-1] == "Trazodone"


def test_legacy_xml_nci_sub_headings() -> None:
    criteria = parse_criteria(_xml_criteria(DATA / "NCT00005587.xml"))
    assert _texts(criteria) == ["DISEASE CHARACTERISTICS:", "PATIENT CHARACTERISTICS:", "PRIOR CONCURRENT THERAPY:"]
    # the NCI/PDQ template's sections list requirements: inclusion criteria, "No …" items stated negatively
    assert {c.category for _, c in flatten(criteria)} == {"INCLUSION"}
    disease = criteria[0]
    assert disease.children[0].text == "Histologically confirmed invasive unilateral breast cancer"
    assert _texts(disease.children[0].children) == ["T1-3, N0-1, M0 at presentation"]
    # hard-wrapped lines are joined
    assert "No requirement for axillary radiotherapy after greater than a Level 1 axillary dissection or after greater than 10 lymph nodes have been removed" in _texts(disease.children)
    patient = criteria[1]
    age = patient.children[0]
    assert age.text == "Age:" and _texts(age.children) == ["18 and over"]
    therapy = criteria[2]
    chemo = next(c for c in therapy.children if c.text == "Chemotherapy:")
    assert _texts(chemo.children) == ["At least 2 weeks since prior cytotoxic agents", "No concurrent chemotherapy"]


def test_legacy_xml_run_on_nci_labels_are_split() -> None:
    criteria = parse_criteria(_xml_criteria(DATA / "NCT00002627.xml"))
    patient = next(c for c in criteria if c.text == "PATIENT CHARACTERISTICS:")
    assert _texts(patient.children)[:4] == ["Age: 18 to 65", "Sex: Women only", "Menopausal status: Not specified", "Performance status: Karnofsky 70%-100%"]
    assert "Renal: Creatinine clearance at least 60 mL/min" in _texts(patient.children)


def test_legacy_xml_nested_bullets_with_categories() -> None:
    criteria = parse_criteria(_xml_criteria(DATA / "NCT02586688.xml"))
    diagnoses = next(c for c in criteria if c.text.startswith("Diagnoses of the following conditions"))
    assert diagnoses.category == "EXCLUSION"
    assert len(diagnoses.children) == 9
    assert diagnoses.children[-1].text == "Eating disorder (lifetime)."
    assert criteria[0].category == "INCLUSION"


# --- the whole corpus: nothing lost -----------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+|\d+(?:[.,]\d+)?")
# list markers, also those found inside run-on lines ("… 11. Serum …", "a.Neutrophils")
_MARKER = re.compile(r"(?:(?<=[\s;:,.)）])|^)\(?(?:\d{1,2}|[a-zA-Z]|[ivxIVX]+)\s?[.)]\.?(?=\s|[A-Za-z(]|$)")
_GLUED = re.compile(r"^(?:key |main )?(?:inclusion|exclusion) criteria?\s*:", re.I)


def _words(text: str) -> Counter[str]:
    return Counter(word.lower() for word in _WORD.findall(_MARKER.sub(" ", text)))


def _input_words(text: str) -> Counter[str]:
    """Words of every input line that is not a dropped heading or a "None" placeholder item."""
    words: Counter[str] = Counter()
    for line in text.replace("\\", "").split("\n"):
        style, _, rest = split_marker(line.strip())
        heading = classify_heading(rest, marked=style != "none")
        if heading is not None and not heading.keep:
            continue
        rest = _GLUED.sub("", rest)
        if rest.strip(" .").lower() in ("none", "n/a"):
            continue
        words.update(_words(rest))
    return words


def _corpus() -> Iterator[tuple[str, str]]:
    root = SHARED / "ctgov"
    if not root.is_dir():
        pytest.skip("../shared corpus not present")
    for path in sorted((root / "v2").glob("*.json")):
        module = json.loads(path.read_text(encoding="utf-8")).get("protocolSection", {}).get("eligibilityModule", {})
        if module.get("eligibilityCriteria"):
            yield path.name, module["eligibilityCriteria"]
    for path in sorted((root / "xml").glob("*.xml")):
        node = ElementTree.parse(path).getroot().find(".//eligibility/criteria/textblock")
        if node is not None and node.text:
            yield path.name, node.text


def test_no_word_is_lost_over_the_corpus() -> None:
    lost: dict[str, dict[str, int]] = {}
    count = 0
    for name, text in _corpus():
        count += 1
        output: Counter[str] = Counter()
        for _, criterion in flatten(parse_criteria(text)):
            output.update(_words(criterion.text))
            assert criterion.text.strip() and "\n" not in criterion.text
        missing = _input_words(text) - output
        if missing:
            lost[name] = dict(missing)
    assert count > 400
    assert not lost, lost


def test_seed_words_are_kept() -> None:
    for seed in SEED_BLOCKS:
        text = seed_criteria_block(seed)
        output: Counter[str] = Counter()
        for _, criterion in flatten(parse_criteria(text)):
            output.update(_words(criterion.text))
        assert not (_input_words(text) - output), seed
