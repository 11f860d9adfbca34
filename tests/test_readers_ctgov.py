"""The two ClinicalTrials.gov readers against real records.

Real records first: every file of the shared corpus must read into exactly one Trial, every source
field that holds a value must land in the model (or be a listed, explained exception), and the one
trial present in both formats (NCT02513394, PALLAS) must read the same from both, apart from
differences each explained by the formats or by the three years between the two snapshots.
Synthetic inputs then pin down shapes (page, array, NDJSON), broken records, vocabulary and safety.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Optional

import pytest

from converter.errors import ConversionError
from converter.model import PLACEHOLDERS, Trial
from converter.readers import ctgov_v2, ctgov_xml, detect, read_source
from converter.readers.base import ReadResult

DATA = Path(__file__).resolve().parent / "data" / "ctgov"
V2_FILES = sorted((DATA / "v2").glob("*.json"))
XML_FILES = sorted((DATA / "xml").glob("*.xml"))



# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def read(reader: Any, data: bytes, source: str = "test") -> list[ReadResult]:
    return list(reader.read(data, source))


def read_file(path: Path) -> Trial:
    """Exactly one Trial from a file, or a failure naming the file and the error."""
    reader = ctgov_v2 if path.suffix == ".json" else ctgov_xml
    results = read(reader, path.read_bytes(), str(path))
    assert len(results) == 1, f"{path.name}: {len(results)} results"
    assert isinstance(results[0], Trial), f"{path.name}: {results[0]}"
    return results[0]


def study(nct_id: Optional[str] = "NCT00000001", **modules: Any) -> dict[str, Any]:
    """A minimal v2 study; keyword arguments add or replace protocol modules."""
    ident = {"nctId": nct_id, "briefTitle": f"Study {nct_id}"} if nct_id else {"briefTitle": "No id"}
    return {"protocolSection": {"identificationModule": ident, **modules}}


def v2_one(obj: dict[str, Any]) -> Trial:
    results = read(ctgov_v2, json.dumps(obj).encode())
    assert len(results) == 1 and isinstance(results[0], Trial), results
    return results[0]


def xml_study(body: str, nct_id: str = "NCT00000002") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<clinical_study><id_info><nct_id>{nct_id}</nct_id></id_info>{body}</clinical_study>'.encode()


def xml_one(body: str) -> Trial:
    results = read(ctgov_xml, xml_study(body))
    assert len(results) == 1 and isinstance(results[0], Trial), results
    return results[0]


# ---------------------------------------------------------------------------------------------
# every real record reads
# ---------------------------------------------------------------------------------------------


def _read_failures(paths: Iterable[Path]) -> list[str]:
    failures = []
    for path in paths:
        reader = ctgov_v2 if path.suffix == ".json" else ctgov_xml
        try:
            results = read(reader, path.read_bytes(), str(path))
        except ConversionError as error:
            failures.append(f"{path.name}: {error}")
            continue
        if len(results) != 1 or not isinstance(results[0], Trial):
            failures.append(f"{path.name}: {[str(r) if isinstance(r, ConversionError) else r.id for r in results]}")
        elif results[0].id != path.stem:
            failures.append(f"{path.name}: read as {results[0].id}")
    return failures


def test_shared_v2_corpus_reads_one_trial_per_file(shared_dir: Path) -> None:
    paths = sorted((shared_dir / "ctgov" / "v2").glob("*.json"))
    assert len(paths) > 100
    assert _read_failures(paths) == []


def test_shared_xml_corpus_reads_one_trial_per_file(shared_dir: Path) -> None:
    paths = sorted((shared_dir / "ctgov" / "xml").glob("*.xml"))
    assert len(paths) > 200
    assert _read_failures(paths) == []


@pytest.mark.parametrize("path", V2_FILES + XML_FILES, ids=lambda p: p.name)
def test_bundled_record_reads_one_trial(path: Path) -> None:
    trial = read_file(path)
    assert trial.id == path.stem
    assert trial.provenance.source_format == ("ctgov-v2" if path.suffix == ".json" else "ctgov-xml")
    assert trial.provenance.source_file == str(path)
    assert trial.provenance.record_index == 0
    assert trial.identifiers[0].model_dump(exclude_none=True) == {"value": path.stem, "kind": "REGISTRY", "issuer": "ClinicalTrials.gov"}


def test_bundled_directory_reads_through_the_registry() -> None:
    """Detection by content and the registry's read loop, over the whole bundled folder."""
    errors: list[ConversionError] = []
    trials = list(read_source(DATA, on_error=errors.append))
    assert errors == []
    assert sorted(t.id for t in trials) == sorted(p.stem for p in V2_FILES + XML_FILES)


# ---------------------------------------------------------------------------------------------
# one trial, two formats
# ---------------------------------------------------------------------------------------------

# Fields that legitimately differ between samples/NCT02513394.json (API v2, 2023 snapshot) and
# the legacy XML (processed August 2020): each with why. Everything else must be equal.
PALLAS_KNOWN_DIFFERENCES = {
    "collaborators.agency_class": "legacy XML has no NETWORK class: ABCSG and NSABP read OTHER there",
    "identifiers.type_issuer": "legacy secondary_id carries no type or domain",
    "mesh.ids": "legacy MeSH terms carry no descriptor ids",
    "design.number_of_arms": "API v2 has no number-of-arms field (count the arms instead)",
    "eligibility.std_ages": "legacy XML has no age groups",
    "dates.primary_completion": "2020 snapshot: anticipated 2020-09; 2023: actual 2020-11",
    "dates.status_verified": "verified again after the 2020 snapshot",
    "dates.last_update_submitted": "updated after the 2020 snapshot",
    "dates.last_update_posted": "updated after the 2020 snapshot",
    "dates.results_first_posted": "results were posted in 2022, after the 2020 snapshot",
    "outcomes.details": "outcome descriptions, time frames and secondary outcomes were revised with the 2022 results",
    "locations.count": "sites were added after 2020 (233 → 437)",
    "locations.geo": "legacy XML has no coordinates",
    "officials[0].name": "the lead principal investigator changed after 2020",
    "references": "the publications appeared in 2021-2022, after the 2020 snapshot",
}


def _pallas_fields(t: Trial) -> dict[str, Any]:
    """What the comparison looks at, by label; labels match PALLAS_KNOWN_DIFFERENCES keys."""
    dump = lambda model: model.model_dump() if model is not None else None  # noqa: E731
    first = t.locations[0] if t.locations else None
    return {
        "titles": (t.brief_title, t.official_title, t.acronym),
        "status": (t.overall_status, t.last_known_status, t.why_stopped, t.has_expanded_access),
        "phases": t.phases,
        "study_type": t.study_type,
        "design": t.design.model_dump(exclude={"number_of_arms"}),
        "design.number_of_arms": t.design.number_of_arms,
        "conditions": t.conditions,
        "keywords": t.keywords,
        "mesh.terms": ([m.term for m in t.condition_mesh], [m.term for m in t.intervention_mesh]),
        "mesh.ids": ([m.id for m in t.condition_mesh], [m.id for m in t.intervention_mesh]),
        "summary": (t.brief_summary, t.detailed_description),
        "sponsor": dump(t.sponsor),
        "collaborators.name": [c.name for c in t.collaborators],
        "collaborators.agency_class": [c.agency_class for c in t.collaborators],
        "responsible_party": dump(t.responsible_party),
        "identifiers.values": [(i.value, i.kind) for i in t.identifiers],
        "identifiers.type_issuer": [(i.type, i.issuer) for i in t.identifiers],
        **{f"dates.{name}": dump(getattr(t.dates, name)) for name in type(t.dates).model_fields},
        "enrollment": dump(t.enrollment),
        "arms": [dump(a) for a in t.arms],
        "interventions": [dump(i) for i in t.interventions],
        "outcomes.primary_measures": [o.measure for o in t.outcomes if o.kind == "PRIMARY"],
        "outcomes.details": [dump(o) for o in t.outcomes],
        "eligibility.sex_ages_hv": (t.eligibility.sex, dump(t.eligibility.minimum_age), dump(t.eligibility.maximum_age), t.eligibility.healthy_volunteers),
        "eligibility.std_ages": t.eligibility.std_ages,
        "eligibility.criteria_text": t.eligibility.criteria_text,
        "eligibility.criteria_count": len(t.eligibility.criteria),
        "locations.count": len(t.locations),
        "locations.first": first.model_dump(exclude={"latitude", "longitude"}) if first else None,
        "locations.geo": (first.latitude, first.longitude) if first else None,
        "officials.count_roles_affiliations": [(o.role, o.affiliation) for o in t.officials],
        "officials[0].name": t.officials[0].name if t.officials else None,
        "officials[1:]": [dump(o) for o in t.officials[1:]],
        "contacts": [dump(c) for c in t.contacts],
        "references": [dump(r) for r in t.references],
        "links": [dump(link) for link in t.links],
        "oversight": dump(t.oversight),
        "ipd_sharing": dump(t.ipd_sharing),
    }


def test_pallas_reads_the_same_from_v2_json_and_legacy_xml() -> None:
    from_v2 = _pallas_fields(read_file(DATA / "v2" / "NCT02513394.json"))
    from_xml = _pallas_fields(read_file(DATA / "xml" / "NCT02513394.xml"))
    assert set(PALLAS_KNOWN_DIFFERENCES) <= set(from_v2), "a known difference names no compared field"
    diffs = [
        f"{label}:\n    v2 : {from_v2[label]!r}\n    xml: {from_xml[label]!r}"
        for label in from_v2
        if label not in PALLAS_KNOWN_DIFFERENCES and from_v2[label] != from_xml[label]
    ]
    assert not diffs, "NCT02513394 differs between formats:\n" + "\n".join(diffs)
    # The comparison is not vacuous: the fields it relies on are actually filled.
    assert from_v2["eligibility.criteria_count"] > 20 and from_v2["locations.count"] > 200
    assert len(from_v2["arms"]) == 2 and from_v2["enrollment"]["count"] == 5796


# ---------------------------------------------------------------------------------------------
# field coverage: a source value present means a model field filled
# ---------------------------------------------------------------------------------------------


def _has_value(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in PLACEHOLDERS
    return not isinstance(value, (dict, list))


def _filled(values: Iterable[Any]) -> list[Any]:
    return [v for v in values if v is not None and v != [] and v != ""]


def _ids(t: Trial, kind: str, attr: str = "value") -> list[Any]:
    return _filled(getattr(i, attr) for i in t.identifiers if i.kind == kind and i.type != "NCT_ALIAS")


def _people(people: Iterable[Any], attr: str) -> list[Any]:
    return _filled(getattr(p, attr) for p in people)


def _loc_people(t: Trial, attr: str, roles: Optional[set[str]] = None) -> list[Any]:
    return _filled(getattr(p, attr) for loc in t.locations for p in loc.contacts if roles is None or p.role in roles)


def _date(t: Trial, name: str, attr: str = "date") -> list[Any]:
    value = getattr(t.dates, name)
    return _filled([getattr(value, attr) if value else None])


def _outcomes(t: Trial, kind: str, attr: str) -> list[Any]:
    return _filled(getattr(o, attr) for o in t.outcomes if o.kind == kind)


Getter = Callable[[Trial], list[Any]]


def One(get: Callable[[Trial], Any]) -> Getter:  # noqa: N802  reads as a table marker: "one value"
    """A scalar model field as a list of 0 or 1 values."""
    return lambda t: _filled([get(t)])


def _date_getter(name: str, attr: str) -> Getter:
    return lambda t: _date(t, name, attr)


def _outcome_getter(kind: str, attr: str) -> Getter:
    return lambda t: _outcomes(t, kind, attr)


def _attr_getter(collection: Callable[[Trial], Iterable[Any]], attr: str) -> Getter:
    return lambda t: _people(collection(t), attr)


def _site_people_getter(attr: str, roles: Optional[set[str]] = None) -> Getter:
    return lambda t: _loc_people(t, attr, roles)

P = "protocolSection."
STATUS = P + "statusModule."
DESIGN = P + "designModule."
DINFO = DESIGN + "designInfo."
SITES = P + "contactsLocationsModule.locations."

# source path → (model values, how to compare): "exact" — as many model values as source values;
# "distinct" — as many as distinct source values; "any" — at least one (one source value can fill
# several model values or the reverse, e.g. "Phase 1/Phase 2").
V2_COVERAGE: dict[str, tuple[Getter, str]] = {
    P + "identificationModule.nctId": (One(lambda t: t.id), "exact"),
    P + "identificationModule.orgStudyIdInfo.id": (lambda t: _ids(t, "ORG_STUDY_ID"), "exact"),
    P + "identificationModule.orgStudyIdInfo.type": (lambda t: _ids(t, "ORG_STUDY_ID", "type"), "exact"),
    P + "identificationModule.orgStudyIdInfo.link": (lambda t: _ids(t, "ORG_STUDY_ID", "link"), "exact"),
    P + "identificationModule.organization.fullName": (lambda t: _ids(t, "ORG_STUDY_ID", "issuer"), "exact"),
    P + "identificationModule.secondaryIdInfos.id": (lambda t: _ids(t, "SECONDARY"), "exact"),
    P + "identificationModule.secondaryIdInfos.type": (lambda t: _ids(t, "SECONDARY", "type"), "exact"),
    P + "identificationModule.secondaryIdInfos.domain": (lambda t: _ids(t, "SECONDARY", "issuer"), "exact"),
    P + "identificationModule.secondaryIdInfos.link": (lambda t: _ids(t, "SECONDARY", "link"), "exact"),
    P + "identificationModule.nctIdAliases": (lambda t: [i.value for i in t.identifiers if i.type == "NCT_ALIAS"], "exact"),
    P + "identificationModule.briefTitle": (One(lambda t: t.brief_title), "exact"),
    P + "identificationModule.officialTitle": (One(lambda t: t.official_title), "exact"),
    P + "identificationModule.acronym": (One(lambda t: t.acronym), "exact"),
    STATUS + "overallStatus": (One(lambda t: t.overall_status), "exact"),
    STATUS + "lastKnownStatus": (One(lambda t: t.last_known_status), "exact"),
    STATUS + "whyStopped": (One(lambda t: t.why_stopped), "exact"),
    STATUS + "expandedAccessInfo.hasExpandedAccess": (One(lambda t: t.has_expanded_access), "exact"),
    STATUS + "statusVerifiedDate": (lambda t: _date(t, "status_verified"), "exact"),
    STATUS + "studyFirstSubmitDate": (lambda t: _date(t, "first_submitted"), "exact"),
    STATUS + "lastUpdateSubmitDate": (lambda t: _date(t, "last_update_submitted"), "exact"),
    **{
        STATUS + f"{struct}.{attr}": (_date_getter(name, attr), "exact")
        for struct, name in [
            ("startDateStruct", "start"), ("primaryCompletionDateStruct", "primary_completion"), ("completionDateStruct", "completion"),
            ("studyFirstPostDateStruct", "first_posted"), ("lastUpdatePostDateStruct", "last_update_posted"),
            ("resultsFirstPostDateStruct", "results_first_posted"),
        ]
        for attr in ("date", "type")
    },
    P + "sponsorCollaboratorsModule.leadSponsor.name": (One(lambda t: t.sponsor and t.sponsor.name), "exact"),
    P + "sponsorCollaboratorsModule.leadSponsor.class": (One(lambda t: t.sponsor and t.sponsor.agency_class), "exact"),
    P + "sponsorCollaboratorsModule.collaborators.name": (lambda t: _people(t.collaborators, "name"), "exact"),
    P + "sponsorCollaboratorsModule.collaborators.class": (lambda t: _people(t.collaborators, "agency_class"), "exact"),
    P + "sponsorCollaboratorsModule.responsibleParty.type": (One(lambda t: t.responsible_party and t.responsible_party.type), "exact"),
    P + "sponsorCollaboratorsModule.responsibleParty.investigatorFullName": (One(lambda t: t.responsible_party and t.responsible_party.name), "exact"),
    P + "sponsorCollaboratorsModule.responsibleParty.investigatorTitle": (One(lambda t: t.responsible_party and t.responsible_party.title), "exact"),
    P + "sponsorCollaboratorsModule.responsibleParty.investigatorAffiliation": (One(lambda t: t.responsible_party and t.responsible_party.affiliation), "exact"),
    P + "sponsorCollaboratorsModule.responsibleParty.oldNameTitle": (One(lambda t: t.responsible_party and t.responsible_party.name), "exact"),
    P + "sponsorCollaboratorsModule.responsibleParty.oldOrganization": (One(lambda t: t.responsible_party and t.responsible_party.affiliation), "exact"),
    P + "oversightModule.oversightHasDmc": (One(lambda t: t.oversight.has_dmc), "exact"),
    P + "oversightModule.isFdaRegulatedDrug": (One(lambda t: t.oversight.fda_regulated_drug), "exact"),
    P + "oversightModule.isFdaRegulatedDevice": (One(lambda t: t.oversight.fda_regulated_device), "exact"),
    P + "oversightModule.isUnapprovedDevice": (One(lambda t: t.oversight.unapproved_device), "exact"),
    P + "oversightModule.isUsExport": (One(lambda t: t.oversight.us_export), "exact"),
    P + "descriptionModule.briefSummary": (One(lambda t: t.brief_summary), "exact"),
    P + "descriptionModule.detailedDescription": (One(lambda t: t.detailed_description), "exact"),
    P + "conditionsModule.conditions": (lambda t: t.conditions, "exact"),
    P + "conditionsModule.keywords": (lambda t: t.keywords, "exact"),
    DESIGN + "studyType": (One(lambda t: t.study_type), "exact"),
    DESIGN + "phases": (lambda t: t.phases, "exact"),
    DESIGN + "patientRegistry": (One(lambda t: t.design.patient_registry), "exact"),
    DESIGN + "targetDuration": (One(lambda t: t.design.target_duration), "exact"),
    DESIGN + "bioSpec.retention": (One(lambda t: t.design.bio_spec_retention), "exact"),
    DESIGN + "bioSpec.description": (One(lambda t: t.design.bio_spec_description), "exact"),
    DESIGN + "enrollmentInfo.count": (One(lambda t: t.enrollment and t.enrollment.count), "exact"),
    DESIGN + "enrollmentInfo.type": (One(lambda t: t.enrollment and t.enrollment.type), "exact"),
    DINFO + "allocation": (One(lambda t: t.design.allocation), "exact"),
    DINFO + "interventionModel": (One(lambda t: t.design.intervention_model), "exact"),
    DINFO + "interventionModelDescription": (One(lambda t: t.design.intervention_model_description), "exact"),
    DINFO + "primaryPurpose": (One(lambda t: t.design.primary_purpose), "exact"),
    DINFO + "observationalModel": (One(lambda t: t.design.observational_model), "exact"),
    DINFO + "timePerspective": (One(lambda t: t.design.time_perspective), "exact"),
    DINFO + "maskingInfo.masking": (One(lambda t: t.design.masking), "exact"),
    DINFO + "maskingInfo.maskingDescription": (One(lambda t: t.design.masking_description), "exact"),
    DINFO + "maskingInfo.whoMasked": (lambda t: t.design.who_masked, "exact"),
    P + "armsInterventionsModule.armGroups.label": (lambda t: _people(t.arms, "label"), "exact"),
    P + "armsInterventionsModule.armGroups.type": (lambda t: _people(t.arms, "type"), "exact"),
    P + "armsInterventionsModule.armGroups.description": (lambda t: _people(t.arms, "description"), "exact"),
    P + "armsInterventionsModule.armGroups.interventionNames": (lambda t: [n for a in t.arms for n in a.intervention_names], "exact"),
    P + "armsInterventionsModule.interventions.name": (lambda t: _people(t.interventions, "name"), "exact"),
    P + "armsInterventionsModule.interventions.type": (lambda t: _people(t.interventions, "type"), "exact"),
    P + "armsInterventionsModule.interventions.description": (lambda t: _people(t.interventions, "description"), "exact"),
    P + "armsInterventionsModule.interventions.armGroupLabels": (lambda t: [n for i in t.interventions for n in i.arm_labels], "exact"),
    P + "armsInterventionsModule.interventions.otherNames": (lambda t: [n for i in t.interventions for n in i.other_names], "exact"),
    **{
        f"{P}outcomesModule.{key}.{attr}": (_outcome_getter(kind, model_attr), "exact")
        for key, kind in [("primaryOutcomes", "PRIMARY"), ("secondaryOutcomes", "SECONDARY"), ("otherOutcomes", "OTHER")]
        for attr, model_attr in [("measure", "measure"), ("timeFrame", "time_frame"), ("description", "description")]
    },
    P + "eligibilityModule.eligibilityCriteria": (lambda t: [t.eligibility.criteria_text] if t.eligibility.criteria else [], "exact"),
    P + "eligibilityModule.healthyVolunteers": (One(lambda t: t.eligibility.healthy_volunteers), "exact"),
    P + "eligibilityModule.sex": (One(lambda t: t.eligibility.sex), "exact"),
    P + "eligibilityModule.genderBased": (One(lambda t: t.eligibility.gender_based), "exact"),
    P + "eligibilityModule.genderDescription": (One(lambda t: t.eligibility.gender_description), "exact"),
    P + "eligibilityModule.minimumAge": (One(lambda t: t.eligibility.minimum_age), "exact"),
    P + "eligibilityModule.maximumAge": (One(lambda t: t.eligibility.maximum_age), "exact"),
    P + "eligibilityModule.stdAges": (lambda t: t.eligibility.std_ages, "exact"),
    P + "eligibilityModule.studyPopulation": (One(lambda t: t.eligibility.study_population), "exact"),
    P + "eligibilityModule.samplingMethod": (One(lambda t: t.eligibility.sampling_method), "exact"),
    **{P + f"contactsLocationsModule.centralContacts.{attr}": (_attr_getter(lambda t: t.contacts, m), "exact") for attr, m in [("name", "name"), ("role", "role"), ("phone", "phone"), ("phoneExt", "phone_ext"), ("email", "email")]},
    **{P + f"contactsLocationsModule.overallOfficials.{attr}": (_attr_getter(lambda t: t.officials, attr), "exact") for attr in ("name", "role", "affiliation")},
    **{SITES + attr: (_attr_getter(lambda t: t.locations, attr), "exact") for attr in ("facility", "city", "state", "zip", "country", "status")},
    SITES + "geoPoint.lat": (lambda t: _people(t.locations, "latitude"), "exact"),
    SITES + "geoPoint.lon": (lambda t: _people(t.locations, "longitude"), "exact"),
    **{SITES + f"contacts.{attr}": (_site_people_getter(m), "exact") for attr, m in [("name", "name"), ("role", "role"), ("phone", "phone"), ("phoneExt", "phone_ext"), ("email", "email")]},
    P + "referencesModule.references.citation": (lambda t: _people(t.references, "citation"), "exact"),
    P + "referencesModule.references.pmid": (lambda t: _people(t.references, "pmid"), "exact"),
    P + "referencesModule.references.type": (lambda t: _people(t.references, "type"), "exact"),
    P + "referencesModule.seeAlsoLinks.url": (lambda t: _people(t.links, "url"), "exact"),
    P + "referencesModule.seeAlsoLinks.label": (lambda t: _people(t.links, "label"), "exact"),
    P + "ipdSharingStatementModule.ipdSharing": (One(lambda t: t.ipd_sharing and t.ipd_sharing.sharing), "exact"),
    P + "ipdSharingStatementModule.description": (One(lambda t: t.ipd_sharing and t.ipd_sharing.description), "exact"),
    P + "ipdSharingStatementModule.infoTypes": (lambda t: t.ipd_sharing.info_types if t.ipd_sharing else [], "exact"),
    P + "ipdSharingStatementModule.timeFrame": (One(lambda t: t.ipd_sharing and t.ipd_sharing.time_frame), "exact"),
    P + "ipdSharingStatementModule.accessCriteria": (One(lambda t: t.ipd_sharing and t.ipd_sharing.access_criteria), "exact"),
    P + "ipdSharingStatementModule.url": (One(lambda t: t.ipd_sharing and t.ipd_sharing.url), "exact"),
    "derivedSection.conditionBrowseModule.meshes.term": (lambda t: _people(t.condition_mesh, "term"), "exact"),
    "derivedSection.conditionBrowseModule.meshes.id": (lambda t: _people(t.condition_mesh, "id"), "exact"),
    "derivedSection.interventionBrowseModule.meshes.term": (lambda t: _people(t.intervention_mesh, "term"), "exact"),
    "derivedSection.interventionBrowseModule.meshes.id": (lambda t: _people(t.intervention_mesh, "id"), "exact"),
}

# Source values the model cannot hold, each reported in provenance.unmapped instead: why.
KNOWN_UNCARRIED: dict[tuple[str, str], str] = {
    ("study_design_info/time_perspective", "Cross-Sectional, Retrospective/Prospective"): "legacy combined value; no single model code",
}

def json_values(node: Any, parts: list[str]) -> list[Any]:
    """Leaf values at an index-free dotted path, through lists."""
    if isinstance(node, list):
        return [value for item in node for value in json_values(item, parts)]
    if not parts:
        return [node] if _has_value(node) else []
    return json_values(node.get(parts[0]), parts[1:]) if isinstance(node, dict) else []


def xml_values(root: ET.Element, path: str) -> list[str]:
    """Texts (or attribute values, "tag@attr") at an index-free element path."""
    element_path, _, attribute = path.partition("@")
    found = root.findall(element_path)
    values = [el.get(attribute) if attribute else "".join(el.itertext()) for el in found]
    return [v for v in values if _has_value(v)]


def _coverage_failures(paths: Iterable[Path], seen: set[str]) -> list[str]:
    failures = []
    for path in paths:
        trial = read_file(path)
        is_json = path.suffix == ".json"
        parsed = json.loads(path.read_bytes()) if is_json else ET.fromstring(path.read_bytes())
        for source_path, (get, mode) in (V2_COVERAGE if is_json else XML_COVERAGE).items():
            found = json_values(parsed, source_path.split(".")) if is_json else xml_values(parsed, source_path)
            values = [v for v in found if (source_path, str(v)) not in KNOWN_UNCARRIED]
            if not values:
                continue
            seen.add(source_path)
            model = get(trial)
            expected = {"exact": len(values), "distinct": len(set(values)), "any": len(model)}[mode]
            if len(model) != expected or not model:
                failures.append(f"{path.name}: {source_path} has {len(values)} value(s) {values[:3]!r}, model has {len(model)} {model[:3]!r}")
    return failures


XD = "study_design_info/"

XML_COVERAGE: dict[str, tuple[Getter, str]] = {
    "id_info/nct_id": (One(lambda t: t.id), "exact"),
    "id_info/org_study_id": (lambda t: _ids(t, "ORG_STUDY_ID"), "exact"),
    "source": (lambda t: _ids(t, "ORG_STUDY_ID", "issuer"), "exact"),
    # legacy files repeat an id where v2 lists it twice with different domains; the repeat says nothing new
    "id_info/secondary_id": (lambda t: _ids(t, "SECONDARY"), "distinct"),
    "id_info/nct_alias": (lambda t: [i.value for i in t.identifiers if i.type == "NCT_ALIAS"], "exact"),
    "brief_title": (One(lambda t: t.brief_title), "exact"),
    "official_title": (One(lambda t: t.official_title), "exact"),
    "acronym": (One(lambda t: t.acronym), "exact"),
    "sponsors/lead_sponsor/agency": (One(lambda t: t.sponsor and t.sponsor.name), "exact"),
    "sponsors/lead_sponsor/agency_class": (One(lambda t: t.sponsor and t.sponsor.agency_class), "exact"),
    "sponsors/collaborator/agency": (lambda t: _people(t.collaborators, "name"), "exact"),
    "sponsors/collaborator/agency_class": (lambda t: _people(t.collaborators, "agency_class"), "exact"),
    "responsible_party/responsible_party_type": (One(lambda t: t.responsible_party and t.responsible_party.type), "exact"),
    "responsible_party/investigator_full_name": (One(lambda t: t.responsible_party and t.responsible_party.name), "exact"),
    "responsible_party/investigator_title": (One(lambda t: t.responsible_party and t.responsible_party.title), "exact"),
    "responsible_party/investigator_affiliation": (One(lambda t: t.responsible_party and t.responsible_party.affiliation), "exact"),
    "responsible_party/name_title": (One(lambda t: t.responsible_party and t.responsible_party.name), "exact"),
    "responsible_party/organization": (One(lambda t: t.responsible_party and t.responsible_party.affiliation), "exact"),
    "oversight_info/has_dmc": (One(lambda t: t.oversight.has_dmc), "exact"),
    "oversight_info/is_fda_regulated_drug": (One(lambda t: t.oversight.fda_regulated_drug), "exact"),
    "oversight_info/is_fda_regulated_device": (One(lambda t: t.oversight.fda_regulated_device), "exact"),
    "oversight_info/is_unapproved_device": (One(lambda t: t.oversight.unapproved_device), "exact"),
    "oversight_info/is_us_export": (One(lambda t: t.oversight.us_export), "exact"),
    "brief_summary/textblock": (One(lambda t: t.brief_summary), "exact"),
    "detailed_description/textblock": (One(lambda t: t.detailed_description), "exact"),
    "overall_status": (One(lambda t: t.overall_status), "exact"),
    "last_known_status": (One(lambda t: t.last_known_status), "exact"),
    "why_stopped": (One(lambda t: t.why_stopped), "exact"),
    "has_expanded_access": (One(lambda t: t.has_expanded_access), "exact"),
    **{
        f"{tag}{suffix}": (_date_getter(name, attr), "exact")
        for tag, name in [
            ("start_date", "start"), ("primary_completion_date", "primary_completion"), ("completion_date", "completion"),
            ("study_first_posted", "first_posted"), ("last_update_posted", "last_update_posted"), ("results_first_posted", "results_first_posted"),
        ]
        for suffix, attr in (("", "date"), ("@type", "type"))
    },
    "verification_date": (lambda t: _date(t, "status_verified"), "exact"),
    "study_first_submitted": (lambda t: _date(t, "first_submitted"), "exact"),
    "firstreceived_date": (lambda t: _date(t, "first_submitted"), "exact"),
    "last_update_submitted": (lambda t: _date(t, "last_update_submitted"), "exact"),
    "lastchanged_date": (lambda t: _date(t, "last_update_submitted"), "exact"),
    "phase": (lambda t: t.phases, "any"),  # "Phase 1/Phase 2" is one element, two phases
    "study_type": (One(lambda t: t.study_type), "exact"),
    XD + "allocation": (One(lambda t: t.design.allocation), "exact"),
    XD + "intervention_model": (One(lambda t: t.design.intervention_model), "exact"),
    XD + "intervention_model_description": (One(lambda t: t.design.intervention_model_description), "exact"),
    XD + "primary_purpose": (One(lambda t: t.design.primary_purpose), "exact"),
    XD + "observational_model": (One(lambda t: t.design.observational_model), "exact"),
    XD + "time_perspective": (One(lambda t: t.design.time_perspective), "exact"),
    XD + "masking": (One(lambda t: t.design.masking), "exact"),
    XD + "masking_description": (One(lambda t: t.design.masking_description), "exact"),
    "target_duration": (One(lambda t: t.design.target_duration), "exact"),
    "biospec_retention": (One(lambda t: t.design.bio_spec_retention), "exact"),
    "biospec_descr/textblock": (One(lambda t: t.design.bio_spec_description), "exact"),
    "number_of_arms": (One(lambda t: t.design.number_of_arms), "exact"),
    "number_of_groups": (One(lambda t: t.design.number_of_arms), "exact"),
    "enrollment": (One(lambda t: t.enrollment and t.enrollment.count), "exact"),
    "enrollment@type": (One(lambda t: t.enrollment and t.enrollment.type), "exact"),
    "condition": (lambda t: t.conditions, "exact"),
    "keyword": (lambda t: t.keywords, "exact"),
    "condition_browse/mesh_term": (lambda t: _people(t.condition_mesh, "term"), "exact"),
    "intervention_browse/mesh_term": (lambda t: _people(t.intervention_mesh, "term"), "exact"),
    "arm_group/arm_group_label": (lambda t: _people(t.arms, "label"), "exact"),
    "arm_group/arm_group_type": (lambda t: _people(t.arms, "type"), "exact"),
    "arm_group/description": (lambda t: _people(t.arms, "description"), "exact"),
    "intervention/intervention_name": (lambda t: _people(t.interventions, "name"), "exact"),
    "intervention/intervention_type": (lambda t: _people(t.interventions, "type"), "exact"),
    "intervention/description": (lambda t: _people(t.interventions, "description"), "exact"),
    "intervention/arm_group_label": (lambda t: [n for i in t.interventions for n in i.arm_labels], "exact"),
    "intervention/other_name": (lambda t: [n for i in t.interventions for n in i.other_names], "exact"),
    **{
        f"{tag}/{attr}": (_outcome_getter(kind, model_attr), "exact")
        for tag, kind in [("primary_outcome", "PRIMARY"), ("secondary_outcome", "SECONDARY"), ("other_outcome", "OTHER")]
        for attr, model_attr in [("measure", "measure"), ("time_frame", "time_frame"), ("description", "description")]
    },
    "eligibility/criteria/textblock": (lambda t: [t.eligibility.criteria_text] if t.eligibility.criteria else [], "exact"),
    "eligibility/gender": (One(lambda t: t.eligibility.sex), "exact"),
    "eligibility/gender_based": (One(lambda t: t.eligibility.gender_based), "exact"),
    "eligibility/gender_description": (One(lambda t: t.eligibility.gender_description), "exact"),
    "eligibility/minimum_age": (One(lambda t: t.eligibility.minimum_age), "exact"),
    "eligibility/maximum_age": (One(lambda t: t.eligibility.maximum_age), "exact"),
    "eligibility/healthy_volunteers": (One(lambda t: t.eligibility.healthy_volunteers), "exact"),
    "eligibility/study_pop/textblock": (One(lambda t: t.eligibility.study_population), "exact"),
    "eligibility/sampling_method": (One(lambda t: t.eligibility.sampling_method), "exact"),
    **{f"overall_official/{tag}": (_attr_getter(lambda t: t.officials, attr), "exact") for tag, attr in [("last_name", "name"), ("role", "role"), ("affiliation", "affiliation")]},
    **{f"{who}/{tag}": (_attr_getter(lambda t: t.contacts, attr), "any") for who in ("overall_contact", "overall_contact_backup") for tag, attr in [("last_name", "name"), ("phone", "phone"), ("phone_ext", "phone_ext"), ("email", "email")]},
    "location/facility/name": (lambda t: _people(t.locations, "facility"), "exact"),
    **{f"location/facility/address/{tag}": (_attr_getter(lambda t: t.locations, tag), "exact") for tag in ("city", "state", "zip", "country")},
    "location/status": (lambda t: _people(t.locations, "status"), "exact"),
    **{f"location/{who}/{tag}": (_site_people_getter(attr, {"CONTACT"}), "any") for who in ("contact", "contact_backup") for tag, attr in [("last_name", "name"), ("phone", "phone"), ("phone_ext", "phone_ext"), ("email", "email")]},
    "location/investigator/last_name": (lambda t: _loc_people(t, "name", {"PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR"}), "exact"),
    "location/investigator/role": (lambda t: _loc_people(t, "role", {"PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR"}), "exact"),
    "reference/citation": (lambda t: [r.citation for r in t.references if r.type == "BACKGROUND" and r.citation], "exact"),
    "reference/PMID": (lambda t: [r.pmid for r in t.references if r.type == "BACKGROUND" and r.pmid], "exact"),
    "results_reference/citation": (lambda t: [r.citation for r in t.references if r.type == "RESULT" and r.citation], "exact"),
    "results_reference/PMID": (lambda t: [r.pmid for r in t.references if r.type == "RESULT" and r.pmid], "exact"),
    "link/url": (lambda t: _people(t.links, "url"), "exact"),
    "link/description": (lambda t: _people(t.links, "label"), "exact"),
    "patient_data/sharing_ipd": (One(lambda t: t.ipd_sharing and t.ipd_sharing.sharing), "exact"),
    "patient_data/ipd_description": (One(lambda t: t.ipd_sharing and t.ipd_sharing.description), "exact"),
    "patient_data/ipd_info_type": (lambda t: t.ipd_sharing.info_types if t.ipd_sharing else [], "exact"),
    "patient_data/ipd_time_frame": (One(lambda t: t.ipd_sharing and t.ipd_sharing.time_frame), "exact"),
    "patient_data/ipd_access_criteria": (One(lambda t: t.ipd_sharing and t.ipd_sharing.access_criteria), "exact"),
    "patient_data/ipd_url": (One(lambda t: t.ipd_sharing and t.ipd_sharing.url), "exact"),
}

# Mapped paths with no value anywhere in the shared corpus; each is covered by a synthetic test.
NOT_IN_CORPUS = {
    P + "identificationModule.nctIdAliases": "test_v2_aliases_and_nested_locations",
    "oversight_info/is_unapproved_device": "test_xml_vocabulary_table",
}


def test_bundled_records_field_coverage() -> None:
    assert _coverage_failures(V2_FILES + XML_FILES, set()) == []


def test_shared_corpus_field_coverage(shared_dir: Path) -> None:
    """Across the whole corpus: every mapped source path that holds a value fills its model field,
    and every path in the tables occurs somewhere (so the tables hold no dead entries)."""
    seen: set[str] = set()
    paths = sorted((shared_dir / "ctgov" / "v2").glob("*.json")) + sorted((shared_dir / "ctgov" / "xml").glob("*.xml"))
    failures = _coverage_failures(paths, seen)
    assert failures == [], "\n".join(failures[:40])
    never = sorted((set(V2_COVERAGE) | set(XML_COVERAGE)) - seen - set(NOT_IN_CORPUS))
    assert never == [], f"coverage table paths never seen in the corpus: {never}"


# ---------------------------------------------------------------------------------------------
# input shapes and broken records (v2)
# ---------------------------------------------------------------------------------------------


def _bundled_studies() -> list[dict[str, Any]]:
    return [json.loads(p.read_bytes()) for p in V2_FILES]


def _ids_of(results: list[ReadResult]) -> list[str]:
    return [r.id for r in results if isinstance(r, Trial)]


def test_page_array_and_ndjson_yield_every_study_in_order() -> None:
    studies = _bundled_studies()
    expected = [p.stem for p in V2_FILES]
    page = json.dumps({"studies": studies, "nextPageToken": "abc"}).encode()
    array = json.dumps(studies, indent=2).encode()
    ndjson = "\n".join(json.dumps(s) for s in studies).encode() + b"\n"
    for shape, data in (("page", page), ("array", array), ("ndjson", ndjson)):
        results = read(ctgov_v2, data, shape)
        assert _ids_of(results) == expected, shape
        assert [r.provenance.record_index for r in results] == list(range(len(expected))), shape


def test_broken_studies_are_reported_by_record_and_field_and_reading_goes_on() -> None:
    good = [study(f"NCT0000000{i}") for i in range(3)]
    no_id = study(None)
    wrong_type = study("NCT00000009", designModule="oops")
    wrong_leaf = study("NCT00000008", designModule={"enrollmentInfo": {"count": "many"}})
    bad_id = study("NCT 0000/7")
    page = {"studies": [good[0], no_id, good[1], wrong_type, wrong_leaf, "not a study", bad_id, good[2]]}
    results = read(ctgov_v2, json.dumps(page).encode(), "page.json")
    assert _ids_of(results) == ["NCT00000000", "NCT00000001", "NCT00000002"]
    errors = {(e.record, e.field) for e in results if isinstance(e, ConversionError)}
    assert errors == {
        ("page.json#1", "protocolSection.identificationModule.nctId"),
        ("NCT00000009", "protocolSection.designModule"),
        ("NCT00000008", "protocolSection.designModule.enrollmentInfo.count"),
        ("page.json#5", "(root)"),
        ("NCT 0000/7", "protocolSection.identificationModule.nctId"),
    }
    assert [isinstance(r, Trial) for r in results] == [True, False, True, False, False, False, False, True]


def test_bad_ndjson_line_is_reported_and_the_rest_read() -> None:
    data = b"\n".join([json.dumps(study("NCT00000001")).encode(), b'{"protocolSection": {', json.dumps(study("NCT00000002")).encode()])
    results = read(ctgov_v2, data, "dump.ndjson")
    assert _ids_of(results) == ["NCT00000001", "NCT00000002"]
    (error,) = [r for r in results if isinstance(r, ConversionError)]
    assert error.field == "line 2" and error.record == "dump.ndjson#1"


def test_unreadable_file_raises() -> None:
    with pytest.raises(ConversionError):
        read(ctgov_v2, b'{"protocolSection": ', "x.json")


def test_out_of_vocabulary_values_and_unknown_modules_are_kept_as_unmapped() -> None:
    trial = v2_one(study(
        statusModule={"overallStatus": "PAUSED", "startDateStruct": {"date": "sometime", "type": "GUESSED"}},
        designModule={"phases": ["PHASE2", "PHASE9"], "designInfo": {"allocation": "RANDOMIZED", "interventionModel": "CIRCULAR"}},
        eligibilityModule={"minimumAge": "eighteen", "maximumAge": "N/A", "healthyVolunteers": "perhaps"},
        fooModule={"bar": 1},
    ))
    assert trial.overall_status is None and trial.phases == ["PHASE2"]
    assert trial.design.allocation == "RANDOMIZED" and trial.design.intervention_model is None
    assert trial.dates.start is None and trial.eligibility.minimum_age is None and trial.eligibility.maximum_age is None
    unmapped = "\n".join(trial.provenance.unmapped)
    for expected in ("statusModule.overallStatus: 'PAUSED'", "phases[1]: 'PHASE9'", "interventionModel: 'CIRCULAR'",
                     "startDateStruct: 'sometime'", "minimumAge: 'eighteen'", "healthyVolunteers: 'perhaps'", "protocolSection.fooModule"):
        assert expected in unmapped, expected
    assert "maximumAge" not in unmapped  # "N/A" is a placeholder: missing, not unmapped


def test_results_and_derived_extras_are_listed_as_not_carried() -> None:
    v2 = read_file(DATA / "v2" / "NCT02513394.json").provenance.unmapped
    assert "resultsSection (results present; not carried)" in v2
    assert "derivedSection.conditionBrowseModule.browseLeaves" in v2
    # the MeSH ancestors are carried now, apart from the record's own terms (issue 17)
    trial = read_file(DATA / "v2" / "NCT02513394.json")
    assert "derivedSection.conditionBrowseModule.ancestors" not in v2
    assert [m.term for m in trial.condition_mesh] == ["Breast Neoplasms"]
    assert {"Neoplasms by Site", "Neoplasms", "Breast Diseases", "Skin Diseases"} <= {m.term for m in trial.condition_mesh_ancestors}
    xml = read_file(DATA / "xml" / "NCT00277524.xml").provenance.unmapped
    assert "clinical_results (results present; not carried)" in xml and "required_header" in xml


def test_v2_aliases_and_nested_locations() -> None:
    sites = [{"facility": "Site A", "city": "Oslo", "country": "Norway", "geoPoint": {"lat": 59.9, "lon": 10.7}, "contacts": [{"name": "A B", "role": "CONTACT"}]}]
    trial = v2_one(study(
        identificationModule={"nctId": "NCT00000003", "nctIdAliases": ["NCT00000004"], "orgStudyIdInfo": {"id": "X-1"}, "organization": {"fullName": "Org"}},
        contactsLocationsModule={"locations_nested": sites},
    ))
    assert [(i.value, i.kind, i.type, i.issuer) for i in trial.identifiers] == [
        ("NCT00000003", "REGISTRY", None, "ClinicalTrials.gov"), ("X-1", "ORG_STUDY_ID", None, "Org"), ("NCT00000004", "SECONDARY", "NCT_ALIAS", "ClinicalTrials.gov"),
    ]
    assert [(loc.facility, loc.latitude, loc.contacts[0].name) for loc in trial.locations] == [("Site A", 59.9, "A B")]
    assert any("locations_nested" in w for w in trial.provenance.warnings)


def test_differing_locations_nested_copy_is_reported() -> None:
    trial = v2_one(study(contactsLocationsModule={"locations": [{"city": "Oslo"}], "locations_nested": [{"city": "Bergen"}]}))
    assert [loc.city for loc in trial.locations] == ["Oslo"]
    assert any(u.startswith("protocolSection.contactsLocationsModule.locations_nested") for u in trial.provenance.unmapped)


def test_nothing_the_source_distinguishes_is_merged() -> None:
    official = {"name": "Dr A", "role": "STUDY_CHAIR"}
    trial = v2_one(study(contactsLocationsModule={"overallOfficials": [official, {**official, "role": "STUDY_DIRECTOR"}], "locations": [{"city": "Oslo"}, {"city": "Oslo"}]}))
    assert [o.role for o in trial.officials] == ["STUDY_CHAIR", "STUDY_DIRECTOR"]
    assert len(trial.locations) == 2


def test_indentation_of_nested_criteria_is_kept() -> None:
    text = "Inclusion Criteria:\n\n* Organ function:\n\n  * Platelets ≥ 100,000\n  * Hb ≥ 9\n* Age ≥ 18"
    trial = v2_one(study(eligibilityModule={"eligibilityCriteria": text}))
    assert trial.eligibility.criteria_text == text


def test_masking_none_is_carried() -> None:
    assert read_file(DATA / "v2" / "NCT02513394.json").design.masking == "NONE"
    assert read_file(DATA / "xml" / "NCT02513394.xml").design.masking == "NONE"


# ---------------------------------------------------------------------------------------------
# values: placeholders, dates, vocabulary (XML)
# ---------------------------------------------------------------------------------------------


def test_placeholder_ages_are_missing_and_month_dates_keep_their_precision() -> None:
    trial = read_file(DATA / "xml" / "NCT02513394.xml")
    assert trial.eligibility.maximum_age is None
    assert trial.eligibility.minimum_age is not None and trial.eligibility.minimum_age.as_text() == "18 years"
    assert trial.dates.start is not None and trial.dates.start.date == "2015-08" and trial.dates.start.precision == "month"
    synthetic = xml_one('<start_date type="Anticipated">April 2010</start_date><study_first_posted type="Estimate">May 3, 2010</study_first_posted>'
                        "<eligibility><minimum_age>N/A</minimum_age><maximum_age>6 Months</maximum_age></eligibility>")
    assert synthetic.dates.start is not None and synthetic.dates.start.model_dump() == {"date": "2010-04", "type": "ESTIMATED"}
    assert synthetic.dates.first_posted is not None and synthetic.dates.first_posted.model_dump() == {"date": "2010-05-03", "type": "ESTIMATED"}
    assert synthetic.eligibility.minimum_age is None
    assert synthetic.eligibility.maximum_age is not None and synthetic.eligibility.maximum_age.model_dump() == {"value": 6.0, "unit": "MONTHS"}


XML_VOCABULARY_CASES: list[tuple[str, Callable[[Trial], Any], Any]] = [
    ("<phase>Phase 1/Phase 2</phase>", lambda t: t.phases, ["PHASE1", "PHASE2"]),
    ("<phase>N/A</phase>", lambda t: t.phases, ["NA"]),
    ("<phase>Early Phase 1</phase>", lambda t: t.phases, ["EARLY_PHASE1"]),
    ("<study_type>Observational [Patient Registry]</study_type>", lambda t: (t.study_type, t.design.patient_registry), ("OBSERVATIONAL", True)),
    ("<study_type>N/A</study_type>", lambda t: t.study_type, None),
    ("<overall_status>Unknown status</overall_status>", lambda t: t.overall_status, "UNKNOWN"),
    ("<overall_status>Active, not recruiting</overall_status>", lambda t: t.overall_status, "ACTIVE_NOT_RECRUITING"),
    ("<study_design_info><allocation>Non-Randomized</allocation></study_design_info>", lambda t: t.design.allocation, "NON_RANDOMIZED"),
    ("<study_design_info><allocation>N/A</allocation></study_design_info>", lambda t: t.design.allocation, "NA"),
    ("<study_design_info><intervention_model>Parallel Assignment</intervention_model></study_design_info>", lambda t: t.design.intervention_model, "PARALLEL"),
    ("<study_design_info><masking>Double (Participant, Investigator)</masking></study_design_info>", lambda t: (t.design.masking, t.design.who_masked), ("DOUBLE", ["PARTICIPANT", "INVESTIGATOR"])),
    ("<study_design_info><masking>Double Blind (Subject, Caregiver, Outcomes Assessor)</masking></study_design_info>", lambda t: t.design.who_masked, ["PARTICIPANT", "CARE_PROVIDER", "OUTCOMES_ASSESSOR"]),
    ("<study_design_info><masking>Participant, Investigator</masking></study_design_info>", lambda t: (t.design.masking, t.provenance.inferred), ("DOUBLE", ["design.masking"])),
    ("<study_design_info><primary_purpose>Supportive Care</primary_purpose></study_design_info>", lambda t: t.design.primary_purpose, "SUPPORTIVE_CARE"),
    ("<study_design_info><primary_purpose>Device Feasibility</primary_purpose></study_design_info>", lambda t: t.design.primary_purpose, "DEVICE_FEASIBILITY"),
    ("<study_design_info><primary_purpose>Educational/Counseling/Training</primary_purpose></study_design_info>", lambda t: t.design.primary_purpose, "ECT"),
    ("<study_design_info><observational_model>Case-Only</observational_model></study_design_info>", lambda t: t.design.observational_model, "CASE_ONLY"),
    ("<study_design_info><time_perspective>Cross-Sectional</time_perspective></study_design_info>", lambda t: t.design.time_perspective, "CROSS_SECTIONAL"),
    ("<intervention><intervention_type>Dietary Supplement</intervention_type><intervention_name>Vit D</intervention_name></intervention>", lambda t: t.interventions[0].type, "DIETARY_SUPPLEMENT"),
    ("<intervention><intervention_type>Combination Product</intervention_type><intervention_name>X</intervention_name></intervention>", lambda t: t.interventions[0].type, "COMBINATION_PRODUCT"),
    ("<intervention><intervention_type>Diagnostic Test</intervention_type><intervention_name>X</intervention_name></intervention>", lambda t: t.interventions[0].type, "DIAGNOSTIC_TEST"),
    ("<eligibility><healthy_volunteers>Accepts Healthy Volunteers</healthy_volunteers><gender>Female</gender></eligibility>", lambda t: (t.eligibility.healthy_volunteers, t.eligibility.sex), (True, "FEMALE")),
    ("<eligibility><healthy_volunteers>No</healthy_volunteers><sampling_method>Probability Sample</sampling_method></eligibility>", lambda t: (t.eligibility.healthy_volunteers, t.eligibility.sampling_method), (False, "PROBABILITY_SAMPLE")),
    ("<sponsors><lead_sponsor><agency>NCI</agency><agency_class>U.S. Fed</agency_class></lead_sponsor></sponsors>", lambda t: t.sponsor and t.sponsor.agency_class, "FED"),
    ("<responsible_party><responsible_party_type>Sponsor-Investigator</responsible_party_type><investigator_full_name>Ann Lee</investigator_full_name></responsible_party>", lambda t: t.responsible_party and (t.responsible_party.type, t.responsible_party.name), ("SPONSOR_INVESTIGATOR", "Ann Lee")),
    ("<oversight_info><is_unapproved_device>Yes</is_unapproved_device></oversight_info>", lambda t: t.oversight.unapproved_device, True),
    ("<other_outcome><measure>M</measure><time_frame>1 y</time_frame><description>D</description></other_outcome>", lambda t: [(o.kind, o.description) for o in t.outcomes], [("OTHER", "D")]),
    ("<patient_data><sharing_ipd>Yes</sharing_ipd><ipd_info_type>Statistical Analysis Plan (SAP)</ipd_info_type><ipd_info_type>Clinical Study Report (CSR)</ipd_info_type></patient_data>", lambda t: t.ipd_sharing and (t.ipd_sharing.sharing, t.ipd_sharing.info_types), ("YES", ["SAP", "CSR"])),
    ("<results_reference><citation>Doe J. Result.</citation><PMID>123</PMID></results_reference>", lambda t: [(r.type, r.pmid) for r in t.references], [("RESULT", "123")]),
    ("<link><url>https://example.org</url><description>Site</description></link>", lambda t: [(link.url, link.label) for link in t.links], [("https://example.org", "Site")]),
    ("<enrollment type=\"Anticipated\">120</enrollment>", lambda t: t.enrollment and t.enrollment.model_dump(), {"count": 120, "type": "ESTIMATED"}),
]


@pytest.mark.parametrize(("body", "get", "expected"), XML_VOCABULARY_CASES, ids=[case[0][:60] for case in XML_VOCABULARY_CASES])
def test_xml_vocabulary_table(body: str, get: Callable[[Trial], Any], expected: Any) -> None:
    assert get(xml_one(body)) == expected


def test_unknown_xml_word_is_reported_not_guessed() -> None:
    trial = xml_one("<phase>Phase 5</phase><study_design_info><time_perspective>Cross-Sectional, Retrospective/Prospective</time_perspective></study_design_info>")
    assert trial.phases == [] and trial.design.time_perspective is None
    assert any("PHASE_5" in u for u in trial.provenance.unmapped)
    assert any("time_perspective" in u for u in trial.provenance.unmapped)


def test_legacy_people_and_sites() -> None:
    trial = read_file(DATA / "xml" / "NCT00496288.xml")
    site = trial.locations[0]
    roles = [p.role for p in site.contacts]
    assert "CONTACT" in roles and "PRINCIPAL_INVESTIGATOR" in roles
    assert all(p.name for p in site.contacts)
    old = xml_one("<overall_official><first_name>Ann</first_name><middle_name>B</middle_name><last_name>Lee</last_name><degrees>MD</degrees><role>Study Chair</role></overall_official>")
    assert [(o.name, o.role) for o in old.officials] == [("Ann B Lee, MD", "STUDY_CHAIR")]


# ---------------------------------------------------------------------------------------------
# legacy text blocks
# ---------------------------------------------------------------------------------------------


def test_hard_wrapped_textblock_is_unwrapped_keeping_paragraphs_and_nesting() -> None:
    para = "This prospective study evaluates the addition of two years of treatment to standard adjuvant"
    raw = (
        f"\r\n      {para}\r\n      endocrine therapy.\r\n\r\n      Second paragraph.\r\n      Author's own line break.\r\n"
        "\r\n        Inclusion Criteria:\r\n\r\n          -  Adults (IV access needed) with a confirmed diagnosis of early breast cancer and\r\n"
        "             (IV) measurable disease\r\n\r\n               -  Sub item\r\n\r\n          -  Second item\r\n    "
    )
    assert ctgov_xml.legacy_text(raw) == (
        f"{para} endocrine therapy.\n\nSecond paragraph.\nAuthor's own line break.\n\nInclusion Criteria:\n\n"
        "* Adults (IV access needed) with a confirmed diagnosis of early breast cancer and (IV) measurable disease\n"
        "  * Sub item\n* Second item"
    )


def test_several_studies_in_one_xml_file() -> None:
    one = (DATA / "xml" / "NCT03182660.xml").read_bytes().split(b"?>", 1)[1]
    two = (DATA / "xml" / "NCT01220531.xml").read_bytes().split(b"?>", 1)[1]
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n<search_results>' + one + two + b"</search_results>"
    results = read(ctgov_xml, data, "bundle.xml")
    assert _ids_of(results) == ["NCT03182660", "NCT01220531"]
    assert [r.provenance.record_index for r in results] == [0, 1]


def test_missing_nct_id_in_xml_names_the_field() -> None:
    (error,) = read(ctgov_xml, b"<clinical_study><brief_title>T</brief_title></clinical_study>", "a.xml")
    assert isinstance(error, ConversionError) and error.field == "id_info/nct_id" and error.record == "a.xml#0"


# ---------------------------------------------------------------------------------------------
# safety
# ---------------------------------------------------------------------------------------------


def test_xml_with_external_entity_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE clinical_study [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        "<clinical_study><id_info><nct_id>NCT00000005</nct_id></id_info><brief_title>&xxe;</brief_title></clinical_study>"
    ).encode()
    with pytest.raises(ConversionError) as raised:
        read(ctgov_xml, data, "evil.xml")
    assert "TOP-SECRET" not in str(raised.value)


def test_xml_entity_expansion_bomb_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<clinical_study><id_info><nct_id>NCT00000006</nct_id></id_info><brief_title>&lol2;</brief_title></clinical_study>"
    )
    with pytest.raises(ConversionError):
        read(ctgov_xml, data, "bomb.xml")


# ---------------------------------------------------------------------------------------------
# detection by content
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", V2_FILES + XML_FILES, ids=lambda p: p.name)
def test_detect_picks_the_right_reader_without_a_file_extension(path: Path, tmp_path: Path) -> None:
    blob = tmp_path / "record"
    blob.write_bytes(path.read_bytes())
    reader = detect(blob.read_bytes()[: 64 * 1024])
    assert reader is not None and reader.name == ("ctgov-v2" if path.suffix == ".json" else "ctgov-xml")


def test_detect_recognises_v2_pages_arrays_and_ndjson() -> None:
    small = [study("NCT00000001"), study("NCT00000002")]
    for data in (json.dumps({"studies": small}), json.dumps(small), "\n".join(json.dumps(s) for s in small)):
        reader = detect(data.encode())
        assert reader is not None and reader.name == "ctgov-v2"


def test_each_sniffer_declines_the_other_format() -> None:
    v2_head, xml_head = V2_FILES[0].read_bytes()[:4096], XML_FILES[0].read_bytes()[:4096]
    assert ctgov_v2.sniff(xml_head) == 0.0 and ctgov_xml.sniff(v2_head) == 0.0
    assert ctgov_v2.sniff(b'{"id": "NCT1", "provenance": {"source_format": "x"}}') == 0.0


def test_malformed_xml_is_refused_with_a_read_error() -> None:
    with pytest.raises(ConversionError) as raised:
        read(ctgov_xml, b"<clinical_study><id_info><nct_id>NCT1</nct_id></id_info>", "cut.xml")
    assert raised.value.record == "cut.xml" and "malformed" in str(raised.value)


@pytest.mark.parametrize("raw, expected", [("D000001943", "D001943"), ("D001943", "D001943"), ("D000091642", "D000091642"), ("D000065095", "D000065095")])
def test_mesh_uis_are_unpadded_only_where_certain(raw: str, expected: str) -> None:
    assert ctgov_v2.mesh_ui(raw) == expected


def test_breast_neoplasms_carries_the_nlm_mesh_ui() -> None:
    trial = read_file(DATA / "v2" / "NCT02513394.json")
    assert {m.id for m in trial.condition_mesh if m.term == "Breast Neoplasms"} == {"D001943"}
