"""Criteria → FHIR R5 EvidenceVariable.characteristic: structure, codes, and validation with fhir.resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator
from xml.etree import ElementTree

import pytest
from fhir.resources.evidencevariable import EvidenceVariable

from converter.model import Age, Criterion, Eligibility
from converter.eligibility.criteria import parse_criteria
from converter.writers.fhir.eligibility import characteristics, criterion_characteristic, sex_and_age
from test_criteria import SEED_BLOCKS, seed_criteria_block

DEFINITIONS = (
    "definitionReference", "definitionCanonical", "definitionCodeableConcept", "definitionExpression",
    "definitionId", "definitionByTypeAndValue", "definitionByCombination",
)
COMBINATION_CODES = {"all-of", "any-of", "at-least", "at-most", "statistical", "net-effect", "dataset"}
QUANTITY_COMPARATORS = {"<", "<=", ">=", ">", "ad"}


def validate(chars: list[dict[str, Any]]) -> EvidenceVariable:
    """Build an R5 EvidenceVariable around the characteristics (fhir.resources 8 is R5)."""
    return EvidenceVariable.model_validate({"resourceType": "EvidenceVariable", "status": "draft", "characteristic": chars})


def walk(chars: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for char in chars:
        yield char
        yield from walk(char.get("definitionByCombination", {}).get("characteristic", []))


def quantities(char: dict[str, Any]) -> Iterator[dict[str, Any]]:
    definition = char.get("definitionByTypeAndValue", {})
    if "valueQuantity" in definition:
        yield definition["valueQuantity"]
    for end in ("low", "high"):
        if end in definition.get("valueRange", {}):
            yield definition["valueRange"][end]
    for event in char.get("timeFromEvent", []):
        for end in ("low", "high"):
            if end in event.get("range", {}):
                yield event["range"][end]


def check_rules(chars: list[dict[str, Any]]) -> None:
    """R5 rules fhir.resources does not check: evv-1, required code values, Quantity comparator set."""
    for char in walk(chars):
        assert char.get("description"), char
        assert sum(1 for name in DEFINITIONS if name in char) <= 1, f"evv-1: {char['description']}"
        if "definitionByCombination" in char:
            combination = char["definitionByCombination"]
            assert combination["code"] in COMBINATION_CODES and combination["characteristic"]
        for quantity in quantities(char):
            assert quantity.get("comparator", "<") in QUANTITY_COMPARATORS
            if "code" in quantity:
                assert quantity["system"] == "http://unitsofmeasure.org"
            if quantity.get("unit") == "× ULN":
                assert "code" not in quantity and "system" not in quantity  # no invented UCUM code


def by_description(chars: list[dict[str, Any]], description: str) -> dict[str, Any]:
    return next(char for char in walk(chars) if char["description"] == description)


# --- the seeds --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", sorted(SEED_BLOCKS))
def test_seed_characteristics_validate(seed: str) -> None:
    criteria = parse_criteria(seed_criteria_block(seed))
    chars = characteristics(criteria)
    assert len(chars) == len(criteria)
    assert [c["description"] for c in chars] == [c.text for c in criteria]
    check_rules(chars)
    validate(chars)


def test_seed_000_organ_function_block() -> None:
    chars = characteristics(parse_criteria(seed_criteria_block("000")))
    organ = chars[6]
    assert organ["definitionByCombination"]["code"] == "all-of"
    members = organ["definitionByCombination"]["characteristic"]
    assert [m["description"] for m in members][:2] == ["Platelet count ≥80*10^9/L", "Hemoglobin ≥8g/L"]
    platelets = members[0]["definitionByTypeAndValue"]
    assert platelets["type"]["coding"][0] == {"system": "http://loinc.org", "code": "777-3", "display": "Platelets [#/volume] in Blood by Automated count"}
    assert platelets["valueQuantity"] == {"value": 80, "comparator": ">=", "unit": "*10^9/L", "system": "http://unitsofmeasure.org", "code": "10*9/L"}
    hemoglobin = members[1]
    assert "definitionByTypeAndValue" not in hemoglobin  # 8 g/L is implausible (probably g/dL): a warning keeps it text only
    creatinine = members[3]["definitionByTypeAndValue"]
    assert creatinine["valueQuantity"] == {"value": 1.5, "comparator": "<=", "unit": "× ULN"}
    assert creatinine["offset"]["coding"][0]["code"] == "UNL"
    # "ALT and AST ≤ 3 ULN (if liver metastases …, ≤ 5 ULN)": any(all(no liver metastases, ≤ 3), all(liver metastases, ≤ 5))
    liver = members[4]["definitionByCombination"]
    assert liver["code"] == "any-of"
    default, special = liver["characteristic"]
    assert default["definitionByCombination"]["code"] == special["definitionByCombination"]["code"] == "all-of"
    first = default["definitionByCombination"]["characteristic"][0]
    assert first["definitionByTypeAndValue"]["type"]["coding"][0]["code"] == "94381002" and first["exclude"] is True
    second = special["definitionByCombination"]["characteristic"][0]
    assert second["definitionByTypeAndValue"]["type"]["coding"][0]["code"] == "94381002" and "exclude" not in second
    validate(chars)


def test_seed_000_exclusions() -> None:
    chars = characteristics(parse_criteria(seed_criteria_block("000")))
    pregnant = chars[11]
    assert pregnant["exclude"] is True
    assert pregnant["definitionByCombination"]["code"] == "any-of"
    codes = [m["definitionByTypeAndValue"]["type"]["coding"][0]["code"] for m in pregnant["definitionByCombination"]["characteristic"]]
    assert codes == ["77386006", "413712001"]
    assert pregnant["definitionByCombination"]["characteristic"][0]["definitionByTypeAndValue"]["valueBoolean"] is True
    malignancy = chars[13]  # "Other malignant tumors within 5 years (except …)": an exception the engine cannot code
    assert malignancy["exclude"] is True and set(malignancy) == {"description", "exclude"}
    text_only = chars[12]
    assert set(text_only) == {"description", "exclude"}


def test_seed_001_conditional_parent_is_an_implication() -> None:
    chars = characteristics(parse_criteria(seed_criteria_block("001")))
    her2 = by_description(chars, "If the patient is HER2-positive:")
    combination = her2["definitionByCombination"]
    assert combination["code"] == "any-of"
    condition, requirement = combination["characteristic"]
    assert condition["exclude"] is True  # not HER2-positive …
    assert condition["definitionByTypeAndValue"]["valueCodeableConcept"]["coding"][0]["code"] == "10828004"
    [lvef] = requirement["definitionByCombination"]["characteristic"]  # … or all of the sub-items
    assert lvef["description"] == "Baseline LVEF ≥ 50 %"
    assert lvef["definitionByTypeAndValue"]["valueQuantity"]["code"] == "%"


def test_nyha_classes_become_alternatives() -> None:
    char = criterion_characteristic(Criterion(text="NYHA cardiac function grade ≤II", category="INCLUSION"))
    alternatives = char["definitionByCombination"]
    assert alternatives["code"] == "any-of"
    assert [a["definitionByTypeAndValue"]["valueCodeableConcept"]["coding"][0]["code"] for a in alternatives["characteristic"]] == ["420300004", "421704003"]
    validate([char])


def test_exclusion_of_a_negation_flips_exclude() -> None:
    char = criterion_characteristic(Criterion(text="HIV negative", category="EXCLUSION"))
    assert set(char) == {"description", "exclude"}  # a negation under an exclusion heading is ambiguous: text only
    char = criterion_characteristic(Criterion(text="HIV negative", category="INCLUSION"))
    assert char["exclude"] is True


def test_one_of_children_are_any_of() -> None:
    parent = Criterion(
        text="Patients must meet one of the following criteria:",
        category="INCLUSION",
        children=[Criterion(text="Stage IV disease", category="INCLUSION"), Criterion(text="Recurrent disease", category="INCLUSION")],
    )
    char = criterion_characteristic(parent)
    assert char["definitionByCombination"]["code"] == "any-of"
    validate([char])


def test_nested_children_do_not_repeat_exclude() -> None:
    parent = Criterion(text="Cardiac disease, including:", category="EXCLUSION", children=[Criterion(text="Congestive heart failure", category="EXCLUSION")])
    char = criterion_characteristic(parent)
    assert char["exclude"] is True
    assert "exclude" not in char["definitionByCombination"]["characteristic"][0]


def test_age_range_and_ecog() -> None:
    age = criterion_characteristic(Criterion(text="Women aged 18-75 years old", category="UNKNOWN"))
    members = age["definitionByCombination"]["characteristic"]
    assert members[0]["definitionByTypeAndValue"]["valueCodeableConcept"]["coding"][0]["code"] == "female"
    assert members[1]["definitionByTypeAndValue"]["valueRange"]["low"]["code"] == "a"
    ecog = criterion_characteristic(Criterion(text="ECOG 0-1", category="INCLUSION"))
    assert ecog["definitionByTypeAndValue"]["valueRange"] == {
        "low": {"value": 0, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"},
        "high": {"value": 1, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"},
    }
    validate([age, ecog])


# --- structured sex and age -------------------------------------------------------------------


def test_sex_and_age_from_structured_fields() -> None:
    chars = sex_and_age(Eligibility(sex="FEMALE", minimum_age=Age(value=18, unit="YEARS"), maximum_age=Age(value=6, unit="MONTHS")))
    sex, age = chars
    assert sex["definitionByTypeAndValue"]["type"]["coding"][0]["code"] == "46098-0"
    assert sex["definitionByTypeAndValue"]["valueCodeableConcept"]["coding"][0] == {
        "system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Female"}
    assert age["definitionByTypeAndValue"]["type"]["coding"][0]["code"] == "30525-0"
    assert age["definitionByTypeAndValue"]["valueRange"] == {
        "low": {"value": 18, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"},
        "high": {"value": 6, "unit": "months", "system": "http://unitsofmeasure.org", "code": "mo"},
    }
    assert age["description"] == "Age at least 18 years and at most 6 months"
    validate(chars)
    assert sex_and_age(Eligibility(sex="ALL")) == []
    only_min = sex_and_age(Eligibility(minimum_age=Age(value=18, unit="YEARS")))
    assert "high" not in only_min[0]["definitionByTypeAndValue"]["valueRange"]


# --- the real corpus --------------------------------------------------------------------------


def test_every_corpus_record_validates(shared_dir: Path) -> None:
    """Characteristics for every v2 and XML record build a valid R5 EvidenceVariable."""
    count = 0
    for path in sorted((shared_dir / "ctgov" / "v2").glob("*.json")):
        module = json.loads(path.read_text(encoding="utf-8")).get("protocolSection", {}).get("eligibilityModule", {})
        chars = characteristics(parse_criteria(module.get("eligibilityCriteria")))
        if chars:
            check_rules(chars)
            validate(chars)
            count += 1
    for path in sorted((shared_dir / "ctgov" / "xml").glob("*.xml")):
        node = ElementTree.parse(path).getroot().find(".//eligibility/criteria/textblock")
        chars = characteristics(parse_criteria(node.text if node is not None else None))
        if chars:
            check_rules(chars)
            validate(chars)
            count += 1
    assert count > 400


def test_exclusion_items_exclude_on_any_of_their_statements() -> None:
    """'Serious cardiovascular disease, including: heart failure; MI within 6 months …' excludes a
    patient who has any one of them, so the exclusion wraps an any-of, never an all-of."""
    from converter.model import Criterion
    from converter.writers.fhir.eligibility import characteristics

    parent = Criterion(text="The subject has a serious cardiovascular clinical disease or symptom, including:", category="EXCLUSION",
                       children=[Criterion(text="Congestive heart failure", category="EXCLUSION"),
                                 Criterion(text="myocardial infarction within the past six months;", category="EXCLUSION")])
    inclusion = Criterion(text="Adequate organ function:", category="INCLUSION",
                          children=[Criterion(text="Platelet count ≥100*10^9/L", category="INCLUSION"),
                                    Criterion(text="Hemoglobin ≥9 g/dL", category="INCLUSION")])
    excluded, included = characteristics([parent, inclusion])
    assert excluded["exclude"] is True and excluded["definitionByCombination"]["code"] == "any-of"
    assert "exclude" not in included and included["definitionByCombination"]["code"] == "all-of"
