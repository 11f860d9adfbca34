"""Computable R4B eligibility: Group characteristics coded from the eligibility engine's findings.

Each criterion keeps its text-only characteristic; the coded characteristics that follow it are
consequences of it (literals every eligible participant satisfies), so the Group's implicit AND stays
true. The tests run the mapping on hand-made criteria (one rule each), on seed 000's lab thresholds,
on the records in ``tests/data/ctgov``, and on the shared corpus when it is present.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import pytest

from conftest import DATA, ROOT
from converter.model import Criterion, Trial
from converter.readers import read_source
from converter.validate.fhir import validate_bundle
from converter.writers.fhir.r4b import build_bundle
from converter.writers.fhir.eligibility_r4b import characteristics, coded, flatten

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
R4B_COMPARATORS = {"<", "<=", ">=", ">"}


def _item(text: str, category: str = "INCLUSION", children: Optional[list[Criterion]] = None) -> Criterion:
    return Criterion(text=text, category=category, children=children or [])


def _coded(criteria: list[Criterion]) -> list[dict[str, Any]]:
    return list(coded(characteristics(criteria)))


def _summary(char: dict[str, Any]) -> tuple[str, str, bool]:
    """(code, value as compact text, exclude) for one coded characteristic."""
    value_key = next(k for k in char if k.startswith("value"))
    value = char[value_key]
    if value_key == "valueQuantity":
        shown = f"{value.get('comparator', '=')} {value['value']} {value.get('code', value.get('unit', ''))}".rstrip()
    elif value_key == "valueRange":
        shown = f"{value.get('low', {}).get('value', '')}-{value.get('high', {}).get('value', '')}"
    elif value_key == "valueCodeableConcept":
        shown = value["coding"][0]["code"] if "coding" in value else value["text"]
    else:
        shown = str(value).lower()
    return char["code"]["coding"][0]["code"], shown, char["exclude"]


def _group(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Group")


def check_shape(chars: list[dict[str, Any]]) -> None:
    """What every R4B eligibility Group must hold, whatever the record."""
    texts_so_far: set[str] = set()
    for char in chars:
        assert set(char) <= {"code", "valueBoolean", "valueQuantity", "valueRange", "valueCodeableConcept", "exclude"}, char
        assert "period" not in char  # windows are relative to an event; R4B period is a calendar Period
        assert isinstance(char["exclude"], bool)
        if "coding" not in char["code"]:
            texts_so_far.add(char["code"]["text"])
            continue
        coding = char["code"]["coding"][0]
        assert coding["system"] in {LOINC, SNOMED} and coding["code"] and coding["display"], char
        # the coded entry names a criterion whose text-only entry came before it (structured Sex/Age aside)
        assert char["code"]["text"] in texts_so_far or char["code"]["text"] in {"Sex", "Age"} or any(
            char["code"]["text"].startswith(t) for t in texts_so_far), char
        quantities = [char["valueQuantity"]] if "valueQuantity" in char else list(char.get("valueRange", {}).values())
        for quantity in quantities:
            assert quantity.get("comparator", "<") in R4B_COMPARATORS  # never "ad", which R4B lacks
            if quantity.get("unit") == "× ULN":
                assert "code" not in quantity and "system" not in quantity  # no invented UCUM code
            elif "code" in quantity:
                assert quantity["system"] == UCUM
        if "valueRange" in char:
            assert all("comparator" not in q for q in quantities)  # Range ends are SimpleQuantity


# --- one rule at a time ---------------------------------------------------------------------------


def test_text_characteristic_is_kept_and_coded_ones_follow_it() -> None:
    chars = characteristics([_item("Platelet count ≥ 100 × 10^9/L"), _item("Signed informed consent")])
    assert [c["code"] for c in chars] == [
        {"text": "Platelet count ≥ 100 × 10^9/L"},
        {"coding": [{"system": LOINC, "code": "777-3", "display": "Platelets [#/volume] in Blood by Automated count"}],
         "text": "Platelet count ≥ 100 × 10^9/L"},
        {"text": "Signed informed consent"},
    ]
    assert chars[0]["valueBoolean"] is True and chars[0]["exclude"] is False
    assert chars[1]["valueQuantity"] == {"value": 100, "comparator": ">=", "unit": "× 10^9/L", "system": UCUM, "code": "10*9/L"}
    assert chars[1]["exclude"] is False
    check_shape(chars)


def test_uln_multiple_is_a_unit_text_quantity() -> None:
    [char] = _coded([_item("Serum creatinine ≤ 1.5 × ULN")])
    assert char["valueQuantity"] == {"value": 1.5, "comparator": "<=", "unit": "× ULN"}


def test_range_performance_and_coded_answer() -> None:
    ecog, her2 = _coded([_item("ECOG performance status 0-1"), _item("HER2-negative disease")])
    assert ecog["valueRange"] == {"low": {"value": 0, "unit": "{score}", "system": UCUM, "code": "{score}"},
                                  "high": {"value": 1, "unit": "{score}", "system": UCUM, "code": "{score}"}}
    assert _summary(her2) == ("48676-1", "260385009", False)  # HER2 interpretation = Negative


def test_inclusion_or_stays_text_only() -> None:
    assert _coded([_item("Pregnant or lactating women")]) == []
    assert _coded([_item("NYHA cardiac function grade ≤II")]) == []  # class I or class II


def test_exclusion_or_is_each_excluded() -> None:
    """not (A or B) = not A and not B: what R4B's AND of excluded characteristics says exactly."""
    chars = _coded([_item("Pregnant or lactating women", "EXCLUSION")])
    assert [_summary(c) for c in chars] == [("77386006", "true", True), ("413712001", "true", True)]
    nyha = _coded([_item("NYHA class III or IV", "EXCLUSION")])  # two coded answers: "class III or class IV"
    assert [_summary(c) for c in nyha] == [("88020-3", "420913000", True), ("88020-3", "422293003", True)]


def test_exclusion_with_several_separate_findings_codes_nothing() -> None:
    """The R5 mapping reads separate findings as all-of; "not (A and B)" implies no single literal."""
    # an exclusion item listing several reasons excludes on any of them: each is coded as excluded
    chars = _coded([_item("Platelets < 50 × 10^9/L; hemoglobin < 8 g/dL", "EXCLUSION")])
    assert [(c["code"]["coding"][0]["code"], c["exclude"]) for c in chars] == [("777-3", True), ("718-7", True)]


def test_negation_and_category_give_exclude() -> None:
    [char] = _coded([_item("No HIV infection")])
    assert _summary(char) == ("86406008", "true", True)
    [char] = _coded([_item("HIV infection", "EXCLUSION")])
    assert _summary(char) == ("86406008", "true", True)


def test_qualified_finding_is_not_coded_where_it_must_not_hold() -> None:
    """"No known HIV" allows an untested participant; a bare "no HIV" code would not."""
    # "known" does not narrow a negation: "no known HIV infection" is coded as no HIV infection
    assert [_summary(c) for c in _coded([_item("No known HIV infection")])] == [("86406008", "true", True)]
    assert _coded([_item("Active hepatitis B or hepatitis C", "EXCLUSION")]) == []  # "active" may cover both


def test_negation_inside_an_exclusion_is_not_trusted() -> None:
    """"must not have X" in the exclusion list: a double negative, not a requirement to have X."""
    assert _coded([_item("Patients must not have HIV infection", "EXCLUSION")]) == []


def test_conditional_values_and_qualified_items_stay_text_only() -> None:
    # the plain 3 × ULN does not bind patients with liver metastases
    assert _coded([_item("ALT and AST ≤ 3 × ULN (≤ 5 × ULN if liver metastases are present)")]) == []
    assert _coded([_item("Bilirubin ≤ 1.5 × ULN unless Gilbert's syndrome")]) == []
    assert _coded([_item("AST ≤ 2.5 × ULN. NOTE: ≤ 5 × ULN is acceptable with liver metastases")]) == []
    assert _coded([_item("For patients with HBV infection, HBV DNA must be < 500 IU/mL")]) == []


def test_unread_alternative_next_to_or() -> None:
    assert _coded([_item("Absolute neutrophil count ≥ 1500/mm3 (or lower at the investigator's discretion)")]) == []


def test_children_of_conditional_alternative_and_negative_parents() -> None:
    her2 = _item("If the patient is HER2-positive:", children=[_item("Baseline LVEF ≥ 50 %")])
    any_of = _item("One of the following:", children=[_item("ECOG 0-1"), _item("Karnofsky ≥ 70 %")])
    negative = _item("No significant cardiac history, including:", category="UNKNOWN", children=[_item("LVEF < 40 %", "UNKNOWN")])
    assert _coded([her2, any_of, negative]) == []
    plain = _item("Adequate organ function:", children=[_item("Platelets ≥ 100 × 10^9/L")])
    [char] = _coded([plain])
    assert char["code"]["text"] == "Adequate organ function: Platelets ≥ 100 × 10^9/L"  # flattened text, as the text entry
    excluded = _item("Any of the following:", "EXCLUSION", children=[_item("HIV infection", "EXCLUSION")])
    assert [_summary(c) for c in _coded([excluded])] == [("86406008", "true", True)]


def test_bare_value_child_is_read_with_its_parent_label() -> None:
    [char] = _coded([_item("Age:", "UNKNOWN", children=[_item("18 and over", "UNKNOWN")])])
    assert char["code"]["text"] == "Age: 18 and over"
    assert char["valueQuantity"] == {"value": 18, "comparator": ">=", "unit": "a", "system": UCUM, "code": "a"}


def test_time_windows_stay_in_the_text_never_in_period() -> None:
    # must not hold within 6 months: a bare "no myocardial infarction" would exclude more than the text
    assert _coded([_item("Myocardial infarction within the past 6 months", "EXCLUSION")]) == []
    assert _coded([_item("No myocardial infarction within the past 6 months")]) == []
    # must hold within the window: the infarction itself is necessary; the window stays in code.text
    [char] = _coded([_item("Myocardial infarction within the past 30 days")])
    assert _summary(char) == ("22298006", "true", False)
    assert char["code"]["text"] == "Myocardial infarction within the past 30 days" and "period" not in char
    assert _coded([_item("Acute myocardial infarction within the past 30 days")]) == []  # "acute" narrows the code


def test_warnings_are_not_coded() -> None:
    assert _coded([_item("Hemoglobin ≥ 8 g/L")]) == []  # implausible; probably g/dL


def test_unknown_category_reads_as_requirement_but_not_bare_conditions() -> None:
    labs = _coded([_item("Platelet count at least 100,000/mm3", "UNKNOWN")])
    assert [_summary(c) for c in labs] == [("777-3", ">= 100000 /mm3", False)]
    assert _coded([_item("Congestive heart failure", "UNKNOWN")]) == []
    assert [_summary(c) for c in _coded([_item("No brain metastases", "UNKNOWN")])] == [("94225005", "true", True)]


def test_flatten_matches_text_entries() -> None:
    criteria = [_item("Adequate organ function:", children=[_item("Platelets ≥ 100", children=[_item("checked twice")])])]
    assert [f.text for f in flatten(criteria)] == [
        "Adequate organ function:", "Adequate organ function: Platelets ≥ 100", "Adequate organ function: Platelets ≥ 100: checked twice"]


# --- seed 000 and real records --------------------------------------------------------------------


def _sample(prefix: str) -> Trial:
    path = next((ROOT / "samples").glob(f"{prefix}_*.txt"))
    return next(iter(read_source(path)))


def test_seed_000_lab_thresholds_are_coded_and_valid() -> None:
    bundle = build_bundle(_sample("000"), "transaction")
    assert validate_bundle(bundle, "R4B") == []
    chars = _group(bundle)["characteristic"]
    check_shape(chars)
    organ = "The function of major organs was good, which was confirmed by the following laboratory tests during the screening period: "
    by_text = {(c["code"]["text"], c["code"]["coding"][0]["code"]): c for c in coded(chars)}
    platelets = by_text[(organ + "Platelet count ≥80*10^9/L", "777-3")]
    assert platelets["valueQuantity"] == {"value": 80, "comparator": ">=", "unit": "*10^9/L", "system": UCUM, "code": "10*9/L"}
    assert platelets["exclude"] is False
    creatinine = by_text[(organ + "Serum creatinine ≤1.5*ULN", "2160-0")]
    assert creatinine["valueQuantity"] == {"value": 1.5, "comparator": "<=", "unit": "× ULN"}
    assert by_text[(organ + "Neutrophil count ≥1.5*10^9/L", "751-8")]["valueQuantity"]["code"] == "10*9/L"
    # the implausible hemoglobin (8 g/L) and the ALT/AST threshold with its liver-metastases alternative stay text only
    coded_texts = {text for text, _ in by_text}
    assert organ + "Hemoglobin ≥8g/L" not in coded_texts
    assert organ + "ALT and AST≤ 3ULN (if liver metastases are present, ALT and AST≤5ULN)" not in coded_texts
    # NYHA ≤ II is "class I or class II": an inclusion OR, text only
    assert not any(text.startswith("NYHA") for text in coded_texts)
    # exclusions: pregnancy and lactation each excluded; MI within six months stays text only
    assert by_text[("Pregnant or lactating women;", "77386006")]["exclude"] is True
    assert by_text[("Pregnant or lactating women;", "413712001")]["exclude"] is True
    assert not any(code == "22298006" for _, code in by_text)
    # every criterion still has its text-only entry
    texts = [c["code"]["text"] for c in chars if "coding" not in c["code"]]
    assert organ + "Hemoglobin ≥8g/L" in texts and "Pregnant or lactating women;" in texts


def _local_records() -> list[tuple[str, Trial]]:
    out = []
    for folder in ("v2", "xml"):
        for path in sorted((DATA / "ctgov" / folder).iterdir()):
            out.append((f"{folder}/{path.name}", next(iter(read_source(path)))))
    return out


def test_local_records_validate_and_carry_expected_codes() -> None:
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for name, trial in _local_records():
        bundle = build_bundle(trial)
        assert validate_bundle(bundle, "R4B") == [], name
        chars = _group(bundle).get("characteristic", [])
        check_shape(chars)
        found[name] = [_summary(c) for c in coded(chars) if c["code"]["text"] not in {"Sex", "Age"}]
    assert ("777-3", ">= 100000 /mm3", False) in found["v2/NCT02513394.json"]
    assert ("751-8", ">= 1500 /uL", False) in found["v2/NCT02513394.json"]
    assert ("89247-1", "0-1", False) in found["v2/NCT02526537.json"]
    # "creatinine ≤ 1.25 × ULN, creatinine clearance rate > 60 or ml/min": the clearance has no readable unit, so the item stays text
    assert not any(code == "2160-0" for code, _, _ in found["v2/NCT02526537.json"])
    assert ("77386006", "true", True) in found["v2/NCT06823401.json"] and ("413712001", "true", True) in found["v2/NCT06823401.json"]
    assert ("30525-0", ">= 18 a", False) in found["v2/NCT06823401.json"]
    # exclusion "Anemia (Hb < 12.5g/dL)": the threshold defines the term, so it is the statement
    assert ("718-7", "< 12.5 g/dL", True) in found["v2/NCT00687206.json"]
    # the "creatinine below ULN or clearance ≥ 60 for patients with creatinine above ULN" criterion: no threshold is necessary
    assert not any(code == "2160-0" for code, _, _ in found["v2/NCT02513394.json"])
    # JSON and XML of the same study agree
    assert found["v2/NCT02513394.json"] == found["xml/NCT02513394.xml"]


def test_structured_sex_and_age_carry_loinc_codes() -> None:
    trial = dict(_local_records())["xml/NCT00496288.xml"]
    chars = _group(build_bundle(trial))["characteristic"]
    sex = next(c for c in chars if c["code"].get("text") == "Sex")
    assert sex["code"]["coding"] == [{"system": LOINC, "code": "46098-0", "display": "Sex"}]
    age = next(c for c in chars if c["code"].get("text") == "Age")
    assert age["code"]["coding"] == [{"system": LOINC, "code": "30525-0", "display": "Age"}] and "valueRange" in age


def test_corpus_coded_characteristics(shared_dir: Path) -> None:
    """The shared corpus: every R4B Group keeps its shape; counts are printed for review."""
    counts: Counter[str] = Counter()
    for folder in ("v2", "xml"):
        for path in sorted((shared_dir / "ctgov" / folder).iterdir()):
            for trial in read_source(path):
                chars = _group(build_bundle(trial)).get("characteristic", [])
                check_shape(chars)
                entries = [c for c in coded(chars) if c["code"]["text"] not in {"Sex", "Age"}]
                counts["records"] += 1
                counts["records with coded criteria"] += bool(entries)
                counts["text-only entries"] += sum(1 for c in chars if "coding" not in c["code"])
                counts["coded entries"] += len(entries)
                counts["coded, exclude"] += sum(c["exclude"] for c in entries)
                for char in entries:
                    counts[next(k for k in char if k.startswith("value"))] += 1
                    counts["× ULN"] += char.get("valueQuantity", {}).get("unit") == "× ULN"
    print("\nR4B coded eligibility over the shared corpus: " + json.dumps(dict(sorted(counts.items()))))
    assert counts["records"] >= 440 and counts["coded entries"] > 1000
