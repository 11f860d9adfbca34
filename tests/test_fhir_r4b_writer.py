"""FHIR R4B writer: ResearchStudy + Group, valid against the R4B models, with R4B code systems."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle

from converter.writers.fhir.r4b import build_bundle
from test_fhir_r5_writer import _resources, _trial


def test_r4b_bundle_is_valid() -> None:
    Bundle.model_validate(build_bundle(_trial()))
    Bundle.model_validate(build_bundle(_trial(), "transaction"))


def test_r4b_study_uses_r4b_codes_and_group_eligibility() -> None:
    bundle = build_bundle(_trial())
    study = _resources(bundle, "ResearchStudy")[0]
    assert study["status"] == "administratively-completed"  # TERMINATED
    assert study["phase"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/research-study-phase"
    group = _resources(bundle, "Group")[0]
    assert group["type"] == "person" and group["actual"] is False and group["quantity"] == 120
    codes = [c["code"]["text"] for c in group["characteristic"]]
    assert "Adequate organ function: Platelets >= 100 x 10^9/L" in codes  # nesting flattened with context
    excluded = [c for c in group["characteristic"] if c["code"]["text"] == "Pregnancy"][0]
    assert excluded["exclude"] is True
    # each criterion's text entry is followed by the coded entries it implies (fhir_r4b_eligibility)
    platelets = group["characteristic"][codes.index("Adequate organ function: Platelets >= 100 x 10^9/L") + 1]
    assert platelets["code"]["coding"][0]["code"] == "777-3" and platelets["valueQuantity"]["comparator"] == ">="
    pregnancy = group["characteristic"][codes.index("Pregnancy") + 1]
    assert pregnancy["code"]["coding"][0]["code"] == "77386006" and pregnancy["exclude"] is True
    sex = group["characteristic"][0]
    assert sex["code"] == {"coding": [{"system": "http://loinc.org", "code": "46098-0", "display": "Sex"}], "text": "Sex"}
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert by_url[study["enrollment"][0]["reference"]]["resourceType"] == "Group"
    assert by_url[study["sponsor"]["reference"]]["name"] == "Example Cancer Centre"
    assert by_url[study["principalInvestigator"]["reference"]]["resourceType"] in {"Practitioner", "PractitionerRole"}


def test_unknown_status_falls_back_to_last_known() -> None:
    study = _resources(build_bundle(_trial(overall_status="UNKNOWN", last_known_status="RECRUITING")), "ResearchStudy")[0]
    assert study["status"] == "active"
    assert "last known: Recruiting" in json.dumps(study["note"])


def test_r4b_bundle_passes_full_validation() -> None:
    from converter.validate.fhir import validate_bundle

    assert validate_bundle(build_bundle(_trial(), "transaction"), "R4B") == []


def test_r5_and_r4b_key_the_study_conditional_create_on_the_same_registry_identifier() -> None:
    """A record registered elsewhere that carries a ClinicalTrials.gov alias: both versions key the
    study's conditional create on the ClinicalTrials.gov identifier, never one of them alone."""
    from converter.model import Identifier
    from converter.writers.fhir.r5 import build_bundle as build_r5

    trial = _trial(id="EUCTR2014-005181-30",
                   identifiers=[Identifier(value="EUCTR2014-005181-30", kind="REGISTRY"),
                                Identifier(value="NCT00000007", kind="SECONDARY", type="NCT_ALIAS", issuer="ClinicalTrials.gov")])
    requests = [bundle["entry"][0]["request"] for bundle in (build_r5(trial, "transaction"), build_bundle(trial, "transaction"))]
    assert requests[0] == requests[1]
    assert requests[0]["ifNoneExist"] == "identifier=http://clinicaltrials.gov|NCT00000007"


def test_r4b_title_is_the_brief_title_with_official_title_and_acronym_as_r5_label_extensions() -> None:
    """Issue 17: title ← brief title; R4B has no label, so the official R5 cross-version extension carries them."""
    study = _resources(build_bundle(_trial()), "ResearchStudy")[0]
    assert study["title"] == "Drug X in HER2-negative breast cancer"
    url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.label"
    labels = {}
    for ext in study["extension"]:
        assert ext["url"] == url
        parts = {e["url"]: e for e in ext["extension"]}
        assert parts["type"]["valueCodeableConcept"]["coding"][0]["system"] == "http://hl7.org/fhir/title-type"
        labels[parts["type"]["valueCodeableConcept"]["coding"][0]["code"]] = parts["value"]["valueString"]
    assert labels == {"official": "A Phase II/III Study of Drug X", "acronym": "XBC"}
    assert not any("Brief title" in n["text"] or n["text"].startswith("Acronym") for n in study.get("note", []))
