"""FHIR output validation: a valid bundle passes clean, and every kind of defect is named by path.

Uses only the vendored files under ``schemas/fhir`` (no ../shared, no network).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from converter.errors import ValidationError
from converter.resources import load_schema
from converter.validate import fhir as v

DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><p>A study of <b>things</b>.</p></div>'
RS_URL = "urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-000000000001"
ORG_URL = "urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-000000000002"
LOC_URL = "urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-000000000003"
EV_URL = "urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-000000000004"
RS = "Bundle.entry[0].resource(ResearchStudy/nct02513394)"


def r5_bundle() -> dict[str, Any]:
    """A small but realistic R5 collection: study, sponsor, site, eligibility criteria."""
    return {
        "resourceType": "Bundle",
        "id": "nct02513394",
        "type": "collection",
        "timestamp": "2024-01-02T03:04:05Z",
        "entry": [
            {
                "fullUrl": RS_URL,
                "resource": {
                    "resourceType": "ResearchStudy",
                    "id": "nct02513394",
                    "text": {"status": "generated", "div": DIV},
                    "identifier": [{"use": "official", "system": "https://clinicaltrials.gov", "value": "NCT02513394"}],
                    "title": "A study",
                    "status": "active",
                    "period": {"start": "2015-07", "end": "2020-12-31"},
                    "site": [{"reference": LOC_URL}],
                    "associatedParty": [{
                        "role": {"coding": [{"system": "http://hl7.org/fhir/research-study-party-role", "code": "sponsor"}]},
                        "party": {"reference": ORG_URL},
                    }],
                    "progressStatus": [{
                        "state": {"coding": [{"system": "http://hl7.org/fhir/research-study-status", "code": "active"}]},
                        "actual": True,
                        "period": {"start": "2015-07-01"},
                    }],
                    "recruitment": {"targetNumber": 120, "eligibility": {"reference": EV_URL}},
                    "relatedArtifact": [{"type": "citation", "citation": "Doe J. Results. 2021."}],
                },
            },
            {
                "fullUrl": ORG_URL,
                "resource": {
                    "resourceType": "Organization",
                    "id": "org-1",
                    "name": "Example Sponsor",
                    "contact": [{"telecom": [{"system": "email", "value": "x@example.org", "use": "work"}]}],
                },
            },
            {
                "fullUrl": LOC_URL,
                "resource": {
                    "resourceType": "Location",
                    "id": "loc-1",
                    "status": "active",
                    "name": "Example Hospital",
                    "address": {"use": "work", "type": "physical", "city": "Boston", "country": "US"},
                },
            },
            {
                "fullUrl": EV_URL,
                "resource": {
                    "resourceType": "EvidenceVariable",
                    "id": "ev-1",
                    "status": "active",
                    "characteristic": [{
                        "definitionByCombination": {
                            "code": "all-of",
                            "characteristic": [{
                                "description": "Age 18 years or older",
                                "definitionByTypeAndValue": {
                                    "type": {"coding": [{"system": "http://loinc.org", "code": "30525-0"}]},
                                    "valueQuantity": {"value": 18, "comparator": ">=", "unit": "a",
                                                      "system": "http://unitsofmeasure.org", "code": "a"},
                                },
                            }],
                        },
                    }],
                },
            },
        ],
    }


def r4b_bundle() -> dict[str, Any]:
    """An R4B study with its enrolment Group."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": RS_URL,
                "resource": {
                    "resourceType": "ResearchStudy",
                    "id": "nct02513394",
                    "text": {"status": "generated", "div": DIV},
                    "identifier": [{"use": "official", "system": "https://clinicaltrials.gov", "value": "NCT02513394"}],
                    "status": "active",
                    "enrollment": [{"reference": "urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-000000000005"}],
                    "sponsor": {"reference": ORG_URL},
                    "site": [{"reference": LOC_URL}],
                    "arm": [{"name": "Arm A"}],
                },
            },
            {
                "fullUrl": "urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-000000000005",
                "resource": {
                    "resourceType": "Group",
                    "id": "grp-1",
                    "type": "person",
                    "actual": False,
                    "characteristic": [{
                        "code": {"text": "Age"},
                        "valueRange": {"low": {"value": 18, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}},
                        "exclude": False,
                    }],
                },
            },
            {"fullUrl": ORG_URL, "resource": {"resourceType": "Organization", "id": "org-1", "name": "Sponsor"}},
            {"fullUrl": LOC_URL, "resource": {"resourceType": "Location", "id": "loc-1", "name": "Site"}},
        ],
    }


def _one(problems: list[str], prefix: str, *needles: str) -> str:
    """Exactly the problem at ``prefix`` exists and mentions every needle."""
    hits = [p for p in problems if p.startswith(prefix + ":")]
    assert hits, f"no problem at {prefix}; got:\n" + "\n".join(problems)
    assert any(all(n in h for n in needles) for h in hits), hits
    return hits[0]


# -- valid input ------------------------------------------------------------------------------------


def test_valid_r5_bundle_has_no_problems() -> None:
    assert v.validate_bundle(r5_bundle()) == []
    v.check(r5_bundle(), "R5", record="NCT02513394")  # does not raise


def test_valid_r4b_bundle_has_no_problems() -> None:
    assert v.validate_bundle(r4b_bundle(), "R4B") == []


def test_version_names_are_normalised() -> None:
    assert v.normalize_version("r4b") == v.normalize_version("4.3.0") == "R4B"
    assert v.normalize_version("fhir-r5") == "R5"
    with pytest.raises(ValueError):
        v.normalize_version("R4")


# -- R5 defects -------------------------------------------------------------------------------------

Mutator = Callable[[dict[str, Any]], None]


def _rs(bundle: dict[str, Any]) -> dict[str, Any]:
    return bundle["entry"][0]["resource"]


R5_DEFECTS: list[tuple[str, Mutator, str, tuple[str, ...]]] = [
    ("status", lambda b: _rs(b).update(status="bogus"), f"{RS}.status",
     ("'bogus'", "http://hl7.org/fhir/ValueSet/publication-status")),
    ("identifier.use", lambda b: _rs(b)["identifier"][0].update(use="weird"), f"{RS}.identifier[0].use",
     ("'weird'", "identifier-use")),
    ("quantity comparator",
     lambda b: b["entry"][3]["resource"]["characteristic"][0]["definitionByCombination"]["characteristic"][0]
     ["definitionByTypeAndValue"]["valueQuantity"].update(comparator="=<"),
     "Bundle.entry[3].resource(EvidenceVariable/ev-1).characteristic[0].definitionByCombination.characteristic[0]"
     ".definitionByTypeAndValue.valueQuantity.comparator", ("'=<'", "quantity-comparator")),
    ("combination code",
     lambda b: b["entry"][3]["resource"]["characteristic"][0]["definitionByCombination"].update(code="and"),
     "Bundle.entry[3].resource(EvidenceVariable/ev-1).characteristic[0].definitionByCombination.code",
     ("'and'", "characteristic-combination")),
    ("contact point system",
     lambda b: b["entry"][1]["resource"]["contact"][0]["telecom"][0].update(system="mail"),
     "Bundle.entry[1].resource(Organization/org-1).contact[0].telecom[0].system", ("'mail'", "contact-point-system")),
    ("address use", lambda b: b["entry"][2]["resource"]["address"].update(use="office"),
     "Bundle.entry[2].resource(Location/loc-1).address.use", ("'office'", "address-use")),
    ("related artifact type", lambda b: _rs(b)["relatedArtifact"][0].update(type="paper"),
     f"{RS}.relatedArtifact[0].type", ("related-artifact-type",)),
    ("narrative status", lambda b: _rs(b)["text"].update(status="done"), f"{RS}.text.status", ("narrative-status",)),
    ("bundle type", lambda b: b.update(type="bag"), "Bundle.type", ("'bag'", "bundle-type")),
    ("dangling reference", lambda b: _rs(b)["site"][0].update(reference="urn:uuid:6f1c1c7e-6a59-4d8e-9d6f-00000000dead"),
     f"{RS}.site[0].reference", ("does not resolve",)),
    ("dangling relative reference", lambda b: _rs(b)["site"][0].update(reference="Location/nowhere"),
     f"{RS}.site[0].reference", ("does not resolve",)),
    ("wrong target type", lambda b: _rs(b)["site"][0].update(reference=EV_URL),
     f"{RS}.site[0].reference", ("EvidenceVariable", "Location | Organization | ResearchStudy")),
    ("wrong target in backbone", lambda b: _rs(b)["recruitment"]["eligibility"].update(reference=ORG_URL),
     f"{RS}.recruitment.eligibility.reference", ("Organization", "EvidenceVariable | Group")),
    ("unknown element", lambda b: _rs(b).update(sponsor={"display": "x"}), f"{RS}.sponsor", ("unknown element",)),
    ("bad id", lambda b: b["entry"][2]["resource"].update(id="loc 1!"), "Bundle.entry[2].resource(Location/loc 1!).id",
     ("not a valid resource id",)),
    ("script in narrative",
     lambda b: _rs(b)["text"].update(div='<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p><script>alert(1)</script></div>'),
     f"{RS}.text.div", ("<script>",)),
    ("event handler in narrative",
     lambda b: _rs(b)["text"].update(div='<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>'),
     f"{RS}.text.div", ("onclick",)),
    ("narrative not xhtml", lambda b: _rs(b)["text"].update(div="<div>x</div>"), f"{RS}.text.div", ("namespace",)),
    ("html entity in narrative",
     lambda b: _rs(b)["text"].update(div='<div xmlns="http://www.w3.org/1999/xhtml">a&nbsp;b</div>'),
     f"{RS}.text.div", ("not well-formed",)),
    ("narrative missing", lambda b: _rs(b).pop("text"), f"{RS}.text", ("narrative missing",)),
    ("required element missing", lambda b: _rs(b).pop("status"), f"{RS}.status", ("required",)),
    ("required element in backbone", lambda b: _rs(b)["progressStatus"][0].pop("state"), f"{RS}.progressStatus[0].state",
     ("required",)),
    ("bad dateTime", lambda b: _rs(b)["period"].update(start="2015-13-01"), f"{RS}.period.start", ("dateTime",)),
    ("duplicate fullUrl", lambda b: b["entry"][2].update(fullUrl=ORG_URL), "Bundle.entry[2].fullUrl", ("duplicate",)),
    ("bad urn:uuid", lambda b: b["entry"][1].update(fullUrl="urn:uuid:NOT-A-UUID"), "Bundle.entry[1].fullUrl",
     ("urn:uuid",)),
    ("unknown resource type", lambda b: b["entry"][1].update(resource={"resourceType": "Sponsor"}),
     "Bundle.entry[1].resource(Sponsor)", ("unknown resourceType",)),
    ("choice element twice",
     lambda b: _rs(b).update(extension=[{"url": "http://example.org/x", "valueString": "a", "valueInteger": 1}]),
     f"{RS}.extension[0]", ("choice",)),
    ("binding inside extension",
     lambda b: _rs(b).update(extension=[{"url": "http://example.org/x", "valueIdentifier": {"use": "odd", "value": "1"}}]),
     f"{RS}.extension[0].valueIdentifier.use", ("'odd'", "identifier-use")),
    ("language tag", lambda b: _rs(b).update(language="english!"), f"{RS}.language", ("all-languages",)),
]


@pytest.mark.parametrize("name,mutate,path,needles", R5_DEFECTS, ids=[d[0] for d in R5_DEFECTS])
def test_r5_defect_is_reported_with_path(name: str, mutate: Mutator, path: str, needles: tuple[str, ...]) -> None:
    bundle = r5_bundle()
    mutate(bundle)
    _one(v.validate_bundle(bundle), path, *needles)


def test_status_message_matches_documented_form() -> None:
    bundle = r5_bundle()
    _rs(bundle)["status"] = "bogus"
    assert v.validate_bundle(bundle) == [
        f"{RS}.status: 'bogus' not in required value set http://hl7.org/fhir/ValueSet/publication-status"
    ]


def test_same_defect_seen_by_several_layers_is_reported_once() -> None:
    bundle = r5_bundle()
    _rs(bundle)["identifier"][0]["use"] = "weird"  # schema enum + binding
    _rs(bundle).pop("status")  # models + walk + schema
    problems = v.validate_bundle(bundle)
    assert len([p for p in problems if ".identifier[0].use:" in p]) == 1
    assert len([p for p in problems if p.startswith(f"{RS}.status:")]) == 1


def test_target_type_allowed_by_spec_passes() -> None:
    bundle = r5_bundle()
    _rs(bundle)["site"].append({"reference": ORG_URL})  # R5 site: Location | ResearchStudy | Organization
    assert v.validate_bundle(bundle) == []


def test_relative_references_resolve_by_type_and_id() -> None:
    bundle = r5_bundle()
    _rs(bundle)["site"] = [{"reference": "Location/loc-1"}]
    assert v.validate_bundle(bundle) == []


def test_contained_references() -> None:
    rs = copy.deepcopy(_rs(r5_bundle()))
    rs["contained"] = [{"resourceType": "Location", "id": "here", "name": "Here", "status": "weird"}]
    rs["site"] = [{"reference": "#here"}, {"reference": "#gone"}]
    rs.pop("associatedParty")
    rs.pop("recruitment")
    problems = v.validate_resource(rs)
    _one(problems, "ResearchStudy.site[1].reference", "'#gone'", "contained")
    _one(problems, "ResearchStudy.contained[0](Location/here).status", "location-status")
    assert len(problems) == 2, problems


def test_check_raises_validation_error_with_all_problems() -> None:
    bundle = r5_bundle()
    _rs(bundle)["status"] = "bogus"
    bundle["entry"][2]["resource"]["id"] = "bad id"
    with pytest.raises(ValidationError) as caught:
        v.check(bundle, "R5", record="NCT02513394")
    error = caught.value
    assert error.record == "NCT02513394"
    assert len(error.problems) == 2
    assert "publication-status" in str(error)


def test_validate_bundle_rejects_non_bundle() -> None:
    assert v.validate_bundle({"resourceType": "Organization", "name": "x"}) == ["expected a Bundle, got 'Organization'"]


# -- R4B defects ------------------------------------------------------------------------------------

R4B_DEFECTS: list[tuple[str, Mutator, str, tuple[str, ...]]] = [
    ("status", lambda b: _rs(b).update(status="bogus"), f"{RS}.status", ("'bogus'", "research-study-status")),
    ("R5 status code is not R4B", lambda b: _rs(b).update(status="draft"), f"{RS}.status", ("research-study-status",)),
    ("identifier.use", lambda b: _rs(b)["identifier"][0].update(use="weird"), f"{RS}.identifier[0].use", ("identifier-use",)),
    ("group type", lambda b: b["entry"][1]["resource"].update(type="people"),
     "Bundle.entry[1].resource(Group/grp-1).type", ("group-type",)),
    ("group actual missing", lambda b: b["entry"][1]["resource"].pop("actual"),
     "Bundle.entry[1].resource(Group/grp-1).actual", ("required",)),
    ("comparator in SimpleQuantity",
     lambda b: b["entry"][1]["resource"]["characteristic"][0]["valueRange"]["low"].update(comparator=">="),
     "Bundle.entry[1].resource(Group/grp-1).characteristic[0].valueRange.low.comparator", ("SimpleQuantity",)),
    ("wrong target type (R4B site is Location only)", lambda b: _rs(b)["site"][0].update(reference=ORG_URL),
     f"{RS}.site[0].reference", ("Organization", "allowed: Location")),
    ("dangling enrollment", lambda b: _rs(b)["enrollment"][0].update(reference="Group/none"),
     f"{RS}.enrollment[0].reference", ("does not resolve",)),
    ("R5-only element", lambda b: _rs(b).update(recruitment={"targetNumber": 5}), f"{RS}.recruitment", ("unknown element",)),
    ("bad id", lambda b: b["entry"][1]["resource"].update(id="g/1"), "Bundle.entry[1].resource(Group/g/1).id",
     ("not a valid resource id",)),
    ("script in narrative",
     lambda b: _rs(b)["text"].update(div='<div xmlns="http://www.w3.org/1999/xhtml"><script>1</script>x</div>'),
     f"{RS}.text.div", ("<script>",)),
]


@pytest.mark.parametrize("name,mutate,path,needles", R4B_DEFECTS, ids=[d[0] for d in R4B_DEFECTS])
def test_r4b_defect_is_reported_with_path(name: str, mutate: Mutator, path: str, needles: tuple[str, ...]) -> None:
    bundle = r4b_bundle()
    mutate(bundle)
    _one(v.validate_bundle(bundle, "R4B"), path, *needles)


def test_r4b_bundle_is_not_valid_r5() -> None:
    problems = v.validate_bundle(r4b_bundle(), "R5")
    _one(problems, f"{RS}.enrollment", "unknown element")
    _one(problems, "Bundle.entry[1].resource(Group/grp-1).membership", "required")


# -- vendored data ----------------------------------------------------------------------------------


def test_vendored_bindings_have_expected_codes() -> None:
    r5 = load_schema("fhir/r5/bindings.json")
    assert r5["required"]["ResearchStudy.status"] == "http://hl7.org/fhir/ValueSet/publication-status"
    assert r5["valueSets"]["http://hl7.org/fhir/ValueSet/publication-status"]["codes"] == {
        "http://hl7.org/fhir/publication-status": ["active", "draft", "retired", "unknown"]
    }
    assert v.required_codes("Bundle.type", "R5") == {"http://hl7.org/fhir/bundle-type": frozenset({
        "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
        "searchset", "collection", "subscription-notification"})}
    assert v.required_codes("Bundle.type", "R4B")["http://hl7.org/fhir/bundle-type"] == frozenset({
        "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
        "searchset", "collection"})
    assert "completed" in v.required_codes("ResearchStudy.status", "R4B")["http://hl7.org/fhir/research-study-status"]
    assert v.required_codes("ResearchStudy.title", "R5") == {}


def test_vendored_references_and_unexpandables_are_explicit() -> None:
    refs = load_schema("fhir/r5/references.json")["references"]
    assert refs["ResearchStudy.site"] == ["Location", "Organization", "ResearchStudy"]
    assert load_schema("fhir/r4b/references.json")["references"]["ResearchStudy.site"] == ["Location"]
    languages = load_schema("fhir/r5/bindings.json")["valueSets"]["http://hl7.org/fhir/ValueSet/all-languages"]
    assert "urn:ietf:bcp:47" in languages["open"]
    for folder in ("r5", "r4b"):
        for url, data in load_schema(f"fhir/{folder}/bindings.json")["valueSets"].items():
            assert "codes" in data or "unexpandable" in data, url


# -- files and versions -----------------------------------------------------------------------------


def test_detect_version() -> None:
    assert v.detect_version(r5_bundle()) == "R5"
    assert v.detect_version(r4b_bundle()) == "R4B"
    assert v.detect_version({"resourceType": "Organization"}) == "R5"


def test_validate_file_json_and_ndjson(tmp_path: Path) -> None:
    good = tmp_path / "b.json"
    good.write_text(json.dumps(r4b_bundle()), encoding="utf-8")
    assert v.validate_file(good) == []  # detected as R4B
    assert v.validate_file(good, fhir_version="R5")  # forced R5 fails

    lines = tmp_path / "r.ndjson"
    org = {"resourceType": "Organization", "id": "o1", "name": "x"}
    bad = {"resourceType": "Organization", "id": "o 2", "name": "x"}
    lines.write_text(json.dumps(org) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    problems = v.validate_file(lines)
    assert len(problems) == 1 and problems[0].startswith("line 2: Organization.id:")

    broken = tmp_path / "x.json"
    broken.write_text("{not json", encoding="utf-8")
    assert v.validate_file(broken)[0].startswith("not valid JSON")


# -- the vendoring script's value set expansion -----------------------------------------------------


def test_expander_handles_filters_nesting_and_unknown_systems() -> None:
    """Core required bindings barely use filters, so exercise them on a synthetic package."""
    from scripts.vendor_fhir import Expander, Package, Unexpandable

    system = "http://example.org/cs"
    package = Package(
        code_systems={system: {"url": system, "content": "complete", "concept": [
            {"code": "animal", "concept": [{"code": "dog", "property": [{"code": "legs", "valueInteger": 4}]},
                                           {"code": "bird", "property": [{"code": "legs", "valueInteger": 2}]}]},
            {"code": "plant"},
        ]}},
        value_sets={
            "http://example.org/vs/is-a": {"compose": {"include": [
                {"system": system, "filter": [{"property": "concept", "op": "is-a", "value": "animal"}]}]}},
            "http://example.org/vs/desc": {"compose": {"include": [
                {"system": system, "filter": [{"property": "concept", "op": "descendent-of", "value": "animal"}]}],
                "exclude": [{"system": system, "concept": [{"code": "bird"}]}]}},
            "http://example.org/vs/prop": {"compose": {"include": [
                {"system": system, "filter": [{"property": "legs", "op": "=", "value": "4"}]}]}},
            "http://example.org/vs/nested": {"compose": {"include": [
                {"valueSet": ["http://example.org/vs/is-a|1.0"]}, {"system": "http://snomed.info/sct"}]}},
            "http://example.org/vs/regex": {"compose": {"include": [
                {"system": system, "filter": [{"property": "concept", "op": "regex", "value": "d.*"}]}]}},
        },
    )
    expander = Expander(package)
    assert expander.expand("http://example.org/vs/is-a").codes == {system: {"animal", "dog", "bird"}}
    assert expander.expand("http://example.org/vs/desc").codes == {system: {"dog"}}
    assert expander.expand("http://example.org/vs/prop").codes == {system: {"dog"}}
    nested = expander.expand("http://example.org/vs/nested")
    assert nested.codes == {system: {"animal", "dog", "bird"}}
    assert "http://snomed.info/sct" in nested.open
    assert "not supported" in expander.expand("http://example.org/vs/regex").open[system]
    with pytest.raises(Unexpandable):
        expander.expand("http://example.org/vs/missing")
