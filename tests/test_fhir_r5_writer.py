"""FHIR R5 writer on hand-built trials: structure, codes, references, determinism, escaping."""

from __future__ import annotations

import json

import pytest
from fhir.resources.bundle import Bundle

from converter.model import (
    Age, Arm, Criterion, Dates, Design, Eligibility, Enrollment, Identifier, Intervention, Location, MeshTerm,
    Organization, Outcome, Person, Provenance, ResponsibleParty, Trial, TrialDate,
)
from converter.writers.fhir.r5 import build_bundle


def _trial(**overrides) -> Trial:
    base = dict(
        id="NCT00000042",
        identifiers=[Identifier(value="NCT00000042", kind="REGISTRY", issuer="ClinicalTrials.gov"),
                     Identifier(value="MA 0918", kind="ORG_STUDY_ID", issuer="Example Cancer Centre")],
        brief_title="Drug X in HER2-negative breast cancer",
        official_title="A Phase II/III Study of Drug X",
        acronym="XBC",
        overall_status="TERMINATED",
        why_stopped="Slow accrual",
        phases=["PHASE3", "PHASE2"],
        study_type="INTERVENTIONAL",
        design=Design(allocation="RANDOMIZED", intervention_model="PARALLEL", masking="DOUBLE",
                      who_masked=["PARTICIPANT", "INVESTIGATOR"], primary_purpose="TREATMENT"),
        conditions=["Breast Cancer"],
        keywords=["HER2"],
        condition_mesh=[MeshTerm(term="Breast Neoplasms", id="D001943")],
        sponsor=Organization(name="Example Cancer Centre", agency_class="OTHER"),
        collaborators=[Organization(name="National Cancer Institute (NCI)", agency_class="NIH")],
        responsible_party=ResponsibleParty(type="PRINCIPAL_INVESTIGATOR", name="Ada Lovelace", title="Professor", affiliation="Example University"),
        officials=[Person(name="Grace Hopper", role="PRINCIPAL_INVESTIGATOR", affiliation="Example Hospital")],
        contacts=[Person(name="Trial Office", role="CONTACT", phone="+1 555 0100", email="trials@example.org")],
        dates=Dates(start=TrialDate(date="2010-04", type="ACTUAL"), completion=TrialDate(date="2014", type="ESTIMATED"),
                    primary_completion=TrialDate(date="2013-06-30", type="ACTUAL")),
        enrollment=Enrollment(count=120, type="ACTUAL"),
        arms=[Arm(label="Drug X", type="EXPERIMENTAL", intervention_names=["Drug: Drug X"]),
              Arm(label="Placebo", type="PLACEBO_COMPARATOR", intervention_names=["Drug: Placebo"])],
        interventions=[Intervention(name="Drug X", type="DRUG", other_names=["XR-1"], arm_labels=["Drug X"]),
                       Intervention(name="Placebo", type="DRUG", arm_labels=["Placebo"])],
        outcomes=[Outcome(kind="PRIMARY", measure="Progression-free survival", time_frame="2 years"),
                  Outcome(kind="SECONDARY", measure="Overall survival", time_frame="5 years", description="Death from any cause")],
        eligibility=Eligibility(sex="FEMALE", minimum_age=Age(value=18, unit="YEARS"), healthy_volunteers=False,
                                criteria=[Criterion(text="Adequate organ function:", category="INCLUSION",
                                                    children=[Criterion(text="Platelets >= 100 x 10^9/L", category="INCLUSION")]),
                                          Criterion(text="Pregnancy", category="EXCLUSION")]),
        locations=[Location(facility="Example Hospital", city="Lyon", country="France", status="RECRUITING",
                            contacts=[Person(name="Site Nurse", role="CONTACT", email="nurse@example.org")])],
        provenance=Provenance(source_format="test"),
    )
    base.update(overrides)
    return Trial(**base)


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_is_valid_fhir_r5() -> None:
    Bundle.model_validate(build_bundle(_trial()))


def test_study_fields_are_mapped_with_real_codes() -> None:
    bundle = build_bundle(_trial())
    study = _resources(bundle, "ResearchStudy")[0]
    assert study["identifier"][0] == {"use": "official", "system": "http://clinicaltrials.gov", "type": {"text": "Registry identifier"}, "value": "NCT00000042", "assigner": {"display": "ClinicalTrials.gov"}}
    assert study["phase"]["coding"][0]["code"] == "phase-2-phase-3"
    assert study["primaryPurposeType"]["coding"][0]["code"] == "treatment"
    assert study["whyStopped"]["text"] == "Slow accrual"
    states = [p["state"].get("coding", [{}])[0].get("code") for p in study["progressStatus"]]
    assert states[0] == "terminated"
    assert {"SEVCO:01003", "SEVCO:01011", "SEVCO:01060"} <= {c["code"] for d in study["studyDesign"] for c in d.get("coding", [])}
    # investigator masking has no exact SEVCO code: kept as text, never coded
    assert any("investigator" in d.get("text", "") for d in study["studyDesign"])
    # the condition as written stays; the MeSH heading (a different term) follows, coded
    assert study["condition"] == [{"text": "Breast Cancer"},
                                  {"coding": [{"system": "https://www.nlm.nih.gov/mesh", "code": "D001943", "display": "Breast Neoplasms"}], "text": "Breast Neoplasms"}]
    assert study["recruitment"]["actualNumber"] == 120
    assert study["period"] == {"start": "2010-04", "end": "2014"}  # partial dates keep their precision
    roles = [p["role"]["coding"][0]["code"] for p in study["associatedParty"]]
    assert roles[:3] == ["lead-sponsor", "collaborator", "primary-investigator"]
    assert "recruitment-contact" in roles
    assert [g["type"]["coding"][0]["code"] for g in study["comparisonGroup"]] == ["experimental", "placebo-comparator"]
    assert [m["type"][0]["coding"][0]["code"] for m in study["outcomeMeasure"]] == ["primary", "secondary"]
    labels = {l["type"]["coding"][0]["code"]: l["value"] for l in study["label"]}
    # issue 17: title is the brief title (HL7's mapping and example); official title and acronym are labels
    assert study["title"] == "Drug X in HER2-negative breast cancer"
    assert labels == {"official": "A Phase II/III Study of Drug X", "acronym": "XBC"}


def test_every_reference_resolves_inside_the_bundle() -> None:
    bundle = build_bundle(_trial())
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(full_urls) == len(bundle["entry"])
    text = json.dumps(bundle)
    import re
    for ref in re.findall(r'"reference": "([^"]+)"', text):
        assert ref in full_urls, ref


def test_eligibility_evidence_variable_keeps_nesting_and_exclusion() -> None:
    bundle = build_bundle(_trial())
    ev = next(r for r in _resources(bundle, "EvidenceVariable") if r["id"].endswith("eligibility"))
    texts = [c.get("description") for c in ev["characteristic"]]
    parent = next(c for c in ev["characteristic"] if c.get("description") == "Adequate organ function:")
    assert parent["definitionByCombination"]["characteristic"][0]["description"] == "Platelets >= 100 x 10^9/L"
    excluded = next(c for c in ev["characteristic"] if c.get("description") == "Pregnancy")
    assert excluded["exclude"] is True
    assert any(t and "healthy volunteers" in t.lower() for t in texts)


def test_arms_point_to_their_interventions() -> None:
    bundle = build_bundle(_trial())
    study = _resources(bundle, "ResearchStudy")[0]
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    exposure = study["comparisonGroup"][0]["intendedExposure"][0]["reference"]
    assert by_url[exposure]["title"] == "Drug: Drug X"


def test_output_is_deterministic() -> None:
    first = json.dumps(build_bundle(_trial()))
    second = json.dumps(build_bundle(_trial()))
    assert first == second


def test_transaction_bundle_uses_conditional_creates_on_registry_id() -> None:
    bundle = build_bundle(_trial(), "transaction")
    first = bundle["entry"][0]
    assert first["request"] == {"method": "POST", "url": "ResearchStudy", "ifNoneExist": "identifier=http://clinicaltrials.gov|NCT00000042"}
    assert all("ifNoneExist" in e["request"] for e in bundle["entry"])
    Bundle.model_validate(bundle)


def test_untrusted_text_is_escaped_in_narratives() -> None:
    bundle = build_bundle(_trial(brief_title='<script>alert(1)</script> & "x"'))
    div = _resources(bundle, "ResearchStudy")[0]["text"]["div"]
    assert "<script>" not in div and "&lt;script&gt;" in div
    assert div.startswith('<div xmlns="http://www.w3.org/1999/xhtml">')


def test_unknown_status_stays_text_only() -> None:
    study = _resources(build_bundle(_trial(overall_status="UNKNOWN")), "ResearchStudy")[0]
    first = study["progressStatus"][0]["state"]
    assert "coding" not in first and "unknown" in first["text"].lower()


@pytest.mark.parametrize("bundle_type", ["document", "searchset"])
def test_unsupported_bundle_types_are_refused(bundle_type: str) -> None:
    with pytest.raises(ValueError):
        build_bundle(_trial(), bundle_type)


@pytest.mark.parametrize("bundle_type", ["collection", "transaction"])
def test_bundle_passes_full_validation(bundle_type: str) -> None:
    from converter.validate.fhir import validate_bundle

    assert validate_bundle(build_bundle(_trial(), bundle_type), "R5") == []


def test_secondary_identifiers_say_what_they_are() -> None:
    trial = _trial(identifiers=[Identifier(value="NCT00000042", kind="REGISTRY", issuer="ClinicalTrials.gov"),
                                Identifier(value="NCT00000007", kind="SECONDARY", type="NCT_ALIAS", issuer="ClinicalTrials.gov"),
                                Identifier(value="2014-005181-30", kind="SECONDARY", type="EUDRACT_NUMBER")])
    ids = {i["value"]: i for i in _resources(build_bundle(trial), "ResearchStudy")[0]["identifier"]}
    # an obsolete NCT number stays searchable under the registry's system, marked old
    assert ids["NCT00000007"]["use"] == "old" and ids["NCT00000007"]["system"] == "http://clinicaltrials.gov"
    assert ids["2014-005181-30"] == {"use": "secondary", "type": {"text": "EudraCT number"}, "value": "2014-005181-30"}


def test_stand_in_site_names_stay_distinct_places() -> None:
    """'Research Site' in Lyon and in Osaka are different hospitals; a named hospital at two
    addresses of one trial stays one Organization."""
    sites = [Location(facility="Research Site", city="Lyon", country="France"),
             Location(facility="Research Site", city="Osaka", country="Japan"),
             Location(facility="Example Hospital", city="Lyon", country="France"),
             Location(facility="Example Hospital", city="Bron", country="France")]
    bundle = build_bundle(_trial(locations=sites))
    names = sorted(o["name"] for o in _resources(bundle, "Organization") if o["name"] in {"Research Site", "Example Hospital"})
    assert names == ["Example Hospital", "Research Site", "Research Site"]
    assert len(_resources(bundle, "Location")) == 4
