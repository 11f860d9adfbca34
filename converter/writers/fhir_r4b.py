"""Trial → FHIR R4B Bundle (ResearchStudy + Group for eligibility, Organization, Location, Practitioner).

R4B has no EvidenceVariable-based eligibility and no associatedParty: eligibility becomes a Group
(type person, actual false) whose characteristics are the criteria — each as text, followed by the
coded characteristics it implies (see :mod:`converter.writers.fhir_r4b_eligibility`) — the lead sponsor is
``ResearchStudy.sponsor``, one investigator is ``principalInvestigator`` and contacts are ContactDetails.
Shared pieces (organisations, sites, practitioners, ids, narratives) come from the R5 writer because
they are identical in both versions.
"""

from __future__ import annotations

from typing import Any, Optional

from ..eligibility.tables import concept as eligibility_concept
from ..model import Person, Trial
from .fhir_common import CTGOV_SYSTEM, UCUM, BundleBuilder, coding_from, concept, dedupe, label, narrative, safe_id, study_period, telecom, terminology
from .fhir_eligibility import codeable
from .fhir_r4b_eligibility import characteristics as criteria_characteristics
from .fhir_r5 import (
    _RESPONSIBLE_PARTY_WORDS,
    _conditional,
    _conditions,
    _notes,
    _related_artifacts,
    _stable_identifier,
    _study_design,
    countries,
    location_resources,
    organization_resource,
    practitioner_resources,
    site_ids,
    study_identifiers,
)

NAME = "fhir-r4b"
AGE_UNITS = {"YEARS": "a", "MONTHS": "mo", "WEEKS": "wk", "DAYS": "d", "HOURS": "h", "MINUTES": "min"}


def _t() -> dict[str, Any]:
    return terminology("fhir_r4b")


def _demographic(key: str, text: str) -> dict[str, Any]:
    """"Sex" / "Age" with the LOINC code the criteria mapping uses for the same question."""
    return {**codeable(eligibility_concept("demographics", key)), "text": text}


def group_resource(trial: Trial, study_id: str) -> dict[str, Any]:
    elig = trial.eligibility
    group_id = safe_id(study_id, "eligibility")
    characteristics: list[dict[str, Any]] = []
    if elig.sex in {"FEMALE", "MALE"}:
        gender = {"system": "http://hl7.org/fhir/administrative-gender", "code": elig.sex.lower(), "display": elig.sex.title()}
        characteristics.append({"code": _demographic("sex", "Sex"), "valueCodeableConcept": concept(None, gender), "exclude": False})
    if elig.minimum_age or elig.maximum_age:
        age_range: dict[str, Any] = {}
        for key, age in (("low", elig.minimum_age), ("high", elig.maximum_age)):
            if age:
                number = int(age.value) if float(age.value).is_integer() else age.value
                age_range[key] = {"value": number, "unit": age.unit.lower(), "system": UCUM, "code": AGE_UNITS[age.unit]}
        characteristics.append({"code": _demographic("age", "Age"), "valueRange": age_range, "exclude": False})
    if elig.healthy_volunteers is not None:
        characteristics.append({"code": concept("Accepts healthy volunteers"), "valueBoolean": elig.healthy_volunteers, "exclude": False})
    characteristics += criteria_characteristics(elig.criteria)
    group: dict[str, Any] = {
        "resourceType": "Group",
        "id": group_id,
        "identifier": [_stable_identifier("Group", group_id)],
        "type": "person",
        "actual": False,
        "name": f"Eligible population for {trial.id}",
    }
    if trial.enrollment:
        group["quantity"] = trial.enrollment.count
    if characteristics:
        group["characteristic"] = characteristics
    group["text"] = narrative("EligibilityEvidenceVariable.html.j2", trial=trial, elig=elig)
    return group


def _status(trial: Trial) -> str:
    table = _t()["study_status"]
    status = trial.overall_status
    if status in {"UNKNOWN", "WITHHELD", None} and trial.last_known_status:
        status = trial.last_known_status
    return table.get(status or "", table["default"])


def research_study(builder: BundleBuilder, trial: Trial, study_id: str) -> dict[str, Any]:
    table = _t()
    study: dict[str, Any] = {"resourceType": "ResearchStudy", "id": study_id, "identifier": study_identifiers(trial)}
    if trial.official_title or trial.brief_title:
        study["title"] = trial.official_title or trial.brief_title
    study["status"] = _status(trial)
    if trial.design.primary_purpose:
        study["primaryPurposeType"] = concept(label(trial.design.primary_purpose), coding_from(table["primary_purpose"], trial.design.primary_purpose))
    if trial.phases:
        study["phase"] = concept(" / ".join(label(p) for p in trial.phases), coding_from(table["phase"], "+".join(sorted(trial.phases))))
    # The R5 study-design words, without the SEVCO codes: R4B has no study-design CodeSystem. The
    # per-role "Masked: …" entries only exist to carry those codes; the masking line names the roles.
    categories = [concept(d["text"]) for d in _study_design(trial) if d.get("text") and not d["text"].startswith("Masked: ")]
    if categories:
        study["category"] = categories
    focus = [concept(f"{label(iv.type)}: {iv.name}" if iv.type else iv.name) for iv in trial.interventions]
    if focus:
        study["focus"] = dedupe(focus)
    conditions = _conditions(trial)
    if conditions:
        study["condition"] = conditions
    contacts = []
    for person in trial.contacts:
        detail: dict[str, Any] = {}
        if person.name:
            detail["name"] = person.name
        points = telecom(person)
        if points:
            detail["telecom"] = points
        if detail:
            contacts.append(detail)
    if contacts:
        study["contact"] = contacts
    related = _related_artifacts(trial)
    if related:
        study["relatedArtifact"] = related
    if trial.keywords:
        study["keyword"] = [concept(k) for k in trial.keywords]
    regions = countries(trial)
    if regions:
        study["location"] = regions
    description = "\n\n".join(part for part in (trial.brief_summary, trial.detailed_description) if part)
    if description:
        study["description"] = description
    period = study_period(trial)
    if period:
        study["period"] = period
    if trial.sponsor:
        org = organization_resource(trial.sponsor.name, trial.sponsor.agency_class)
        builder.add(org)
        study["sponsor"] = builder.reference("Organization", org["id"], trial.sponsor.name)
    investigator = _principal_investigator(trial)
    if investigator:
        resources, target = practitioner_resources(investigator)
        for resource in resources:
            builder.add(resource)
        if target:
            study["principalInvestigator"] = builder.reference(target[0], target[1], investigator.name)
    if trial.why_stopped:
        study["reasonStopped"] = concept(trial.why_stopped)
    # R4B has no label, progressStatus or classifier: what R5 says in those elements becomes notes here.
    notes = _notes(trial, status_verified=True, fda_classifiers=True)
    if trial.overall_status:
        notes.insert(0, {"text": f"Registry overall status: {label(trial.overall_status)}" + (f" (last known: {label(trial.last_known_status)})" if trial.last_known_status else "")})
    titles = [(words, value) for words, value in (("Brief title", trial.brief_title), ("Acronym", trial.acronym)) if value and value != study.get("title")]
    notes[:0] = [{"text": f"{words}: {value}"} for words, value in titles]
    if trial.enrollment and trial.enrollment.type:
        notes.append({"text": f"Enrollment: {trial.enrollment.count} ({'actual' if trial.enrollment.type == 'ACTUAL' else 'anticipated'})"})
    for attr, words in (("start", "Study start"), ("primary_completion", "Primary completion"), ("completion", "Study completion")):
        value = getattr(trial.dates, attr)
        if value:
            notes.append({"text": f"{words}: {value.date}" + (f" ({value.type.lower()})" if value.type else "")})
    for collaborator in trial.collaborators:
        notes.append({"text": f"Collaborator: {collaborator.name}"})
    rp = trial.responsible_party
    if rp and rp.name and not (investigator is not None and investigator.name == rp.name):
        notes.append({"text": "Responsible party" + (f" ({_RESPONSIBLE_PARTY_WORDS[rp.type]})" if rp.type else "") + f": {rp.name}"
                      + (f", {rp.title}" if rp.title else "") + (f", {rp.affiliation}" if rp.affiliation else "")})
    for official in trial.officials:
        if official is not investigator and official.name:
            notes.append({"text": f"{label(official.role) or 'Study official'}: {official.name}" + (f", {official.affiliation}" if official.affiliation else "")})
    if notes:
        study["note"] = notes
    arms = []
    for arm in trial.arms:
        entry: dict[str, Any] = {"name": arm.label}
        if arm.type:
            entry["type"] = concept(label(arm.type))
        text = arm.description or ""
        if arm.intervention_names:
            text = (text + "\n\n" if text else "") + "Interventions: " + "; ".join(arm.intervention_names)
        if text:
            entry["description"] = text
        arms.append(entry)
    if arms:
        study["arm"] = arms
    objectives = [{"name": o.measure + (f" [{o.time_frame}]" if o.time_frame else ""), "type": concept(None, coding_from(table["objective_type"], o.kind))}
                  for o in trial.outcomes]
    if objectives:
        study["objective"] = objectives
    return study


def _principal_investigator(trial: Trial) -> Optional[Person]:
    """R4B holds one investigator: the first named principal investigator, else an investigator
    who is the responsible party; the other officials become notes."""
    for official in trial.officials:
        if (official.role or "").upper() == "PRINCIPAL_INVESTIGATOR" and official.name:
            return official
    rp = trial.responsible_party
    if rp and rp.type in {"PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"} and rp.name:
        return Person(name=rp.name, role=rp.type, affiliation=rp.affiliation)
    return None


def build_bundle(trial: Trial, bundle_type: str = "collection") -> dict[str, Any]:
    """The FHIR R4B Bundle for one trial, as a JSON-ready dict."""
    if bundle_type not in ("collection", "transaction"):
        raise ValueError(f"bundle type must be collection or transaction, not {bundle_type!r}")
    builder = BundleBuilder(trial)
    study_id = safe_id(trial.id)
    key = f"ResearchStudy/{study_id}"
    builder.entries[key] = {}
    study = research_study(builder, trial, study_id)
    group = group_resource(trial, study_id)
    builder.add(group)
    study["enrollment"] = [builder.reference("Group", group["id"], group["name"])]
    sites = []
    for site, loc_id in zip(trial.locations, site_ids(trial)):
        resources = location_resources(trial, site, loc_id)
        for resource in resources:
            builder.add(resource)
        sites.append(builder.reference("Location", resources[-1]["id"], site.facility))
    if sites:
        study["site"] = dedupe(sites)
    text = narrative("ResearchStudy.html.j2", trial=trial)
    builder.entries[key] = {**study, "text": text}
    conditional: dict[str, str] = {}
    for entry_key, resource in builder.entries.items():
        if resource["resourceType"] == "ResearchStudy":
            ident = next((i for i in resource["identifier"] if i.get("system") == CTGOV_SYSTEM), None)
            if ident:
                conditional[entry_key] = f"identifier={ident['system']}|{ident['value']}"
        elif resource.get("identifier"):
            conditional[entry_key] = _conditional(resource)
    return _r4b_compatible(builder.bundle(bundle_type, conditional))


def _r4b_compatible(bundle: dict[str, Any]) -> dict[str, Any]:
    """Adjust shared R5-shaped resources to R4B: Location has telecom, not R5's ExtendedContactDetail."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Location" and "contact" in resource:
            telecoms = [t for detail in resource.pop("contact") for t in detail.get("telecom", [])]
            if telecoms:
                resource["telecom"] = dedupe(telecoms)
    return bundle
