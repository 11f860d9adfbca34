"""Trial → FHIR R4B Bundle (ResearchStudy + Group for eligibility, Organization, Location, Practitioner).

R4B has no EvidenceVariable-based eligibility and no associatedParty: eligibility becomes a Group
(type person, actual false) whose characteristics are the criteria — each as text, followed by the
coded characteristics it implies (see :mod:`converter.writers.fhir.eligibility_r4b`) — the lead sponsor is
``ResearchStudy.sponsor``, one investigator is ``principalInvestigator`` and contacts are ContactDetails.
Shared pieces (organisations, sites, practitioners, ids, narratives, the conditional-create map) come
from :mod:`.common`; this module keeps only what R4B writes differently.
"""

from __future__ import annotations

from typing import Any, Optional

from ...eligibility.tables import concept as eligibility_concept
from ...model import Person, Trial
from .eligibility import codeable
from .eligibility_r4b import characteristics as criteria_characteristics
from .common import (
    AGE_UNITS, RESPONSIBLE_PARTY_WORDS, UCUM, BundleBuilder, Section, StudyContext, assemble_bundle, coding_from,
    concept, conditions, countries, dedupe, label, load, narrative, organization_resource, practitioner_resources,
    present, related_artifacts, safe_id, site_references, stable_identifier, study_design, study_from_sections,
    study_identifiers, study_notes, study_period, telecom,
)

NAME = "fhir-r4b"


def _t() -> dict[str, Any]:
    return load("fhir_r4b")


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
    characteristics += criteria_characteristics(elig.criteria, trial.conditions)
    group: dict[str, Any] = {
        "resourceType": "Group",
        "id": group_id,
        "identifier": [stable_identifier("Group", group_id)],
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


# --- the study: one section per group of elements, in the order they appear in the ResearchStudy ----------------------


def _identification(ctx: StudyContext) -> dict[str, Any]:
    """official_title / acronym → extension (R5 label); identifiers → identifier; brief_title → title;
    overall_status → status.

    ``title`` is the brief title, as in R5; R4B has no ``label``, so the official title and the
    acronym travel in the official R5 cross-version extension for ``ResearchStudy.label``.
    """
    trial = ctx.trial
    out: dict[str, Any] = {}
    title = trial.brief_title or trial.official_title
    labels = title_labels(trial, title)
    if labels:
        out["extension"] = labels
    out["identifier"] = study_identifiers(trial)
    if title:
        out["title"] = title
    out["status"] = _status(trial)
    return out


def title_labels(trial: Trial, title: Optional[str]) -> list[dict[str, Any]]:
    """The official title and acronym (those that differ from ``title``) as R5 label extensions."""
    table = _t()["title_label_extension"]
    out = []
    for attr, kind in (("official_title", "official"), ("acronym", "acronym")):
        value = getattr(trial, attr)
        if value and value != title:
            out.append({"url": table["_url"], "extension": [
                {"url": "type", "valueCodeableConcept": concept(None, coding_from(table, kind))},
                {"url": "value", "valueString": value},
            ]})
    return out


def _classification(ctx: StudyContext) -> dict[str, Any]:
    """design.primary_purpose → primaryPurposeType; phases → phase; study design words → category;
    interventions → focus (text); conditions + condition_mesh → condition."""
    trial, table = ctx.trial, _t()
    out: dict[str, Any] = {}
    if trial.design.primary_purpose:
        out["primaryPurposeType"] = concept(label(trial.design.primary_purpose), coding_from(table["primary_purpose"], trial.design.primary_purpose))
    if trial.phases:
        out["phase"] = concept(" / ".join(label(p) for p in trial.phases), coding_from(table["phase"], "+".join(sorted(trial.phases))))
    # The R5 study-design words, without the SEVCO codes: R4B has no study-design CodeSystem. The
    # per-role "Masked: …" entries only exist to carry those codes; the masking line names the roles.
    categories = [concept(d["text"]) for d in study_design(trial) if d.get("text") and not d["text"].startswith("Masked: ")]
    if categories:
        out["category"] = categories
    focus = [concept(f"{label(iv.type)}: {iv.name}" if iv.type else iv.name) for iv in trial.interventions]
    if focus:
        out["focus"] = dedupe(focus)
    return {**out, **present(condition=conditions(trial))}


def _contacts(ctx: StudyContext) -> dict[str, Any]:
    """contacts → contact (ContactDetail: name and telecom)."""
    contacts = []
    for person in ctx.trial.contacts:
        detail: dict[str, Any] = {}
        if person.name:
            detail["name"] = person.name
        points = telecom(person)
        if points:
            detail["telecom"] = points
        if detail:
            contacts.append(detail)
    return present(contact=contacts)


def _descriptions(ctx: StudyContext) -> dict[str, Any]:
    """references, links → relatedArtifact; keywords → keyword; site countries → location;
    brief_summary + detailed_description → description; dates → period."""
    trial = ctx.trial
    description = "\n\n".join(part for part in (trial.brief_summary, trial.detailed_description) if part)
    return present(relatedArtifact=related_artifacts(trial), keyword=[concept(k) for k in trial.keywords], location=countries(trial),
                   description=description, period=study_period(trial))


def _sponsor_and_investigator(ctx: StudyContext) -> dict[str, Any]:
    """sponsor → sponsor (Organization); the principal investigator → principalInvestigator; why_stopped → reasonStopped."""
    trial, builder = ctx.trial, ctx.builder
    out: dict[str, Any] = {}
    if trial.sponsor:
        org = organization_resource(trial.sponsor.name, trial.sponsor.agency_class)
        builder.add(org)
        out["sponsor"] = builder.reference("Organization", org["id"], trial.sponsor.name)
    investigator = _principal_investigator(trial)
    if investigator:
        resources, target = practitioner_resources(investigator)
        for resource in resources:
            builder.add(resource)
        if target:
            out["principalInvestigator"] = builder.reference(target[0], target[1], investigator.name)
    if trial.why_stopped:
        out["reasonStopped"] = concept(trial.why_stopped)
    return out


def _notes(ctx: StudyContext) -> dict[str, Any]:
    """What R5 says in progressStatus, classifier and associatedParty → note (R4B has none of these)."""
    trial = ctx.trial
    investigator = _principal_investigator(trial)
    notes = study_notes(trial, status_verified=True, oversight=True)
    if trial.overall_status:
        notes.insert(0, {"text": f"Registry overall status: {label(trial.overall_status)}" + (f" (last known: {label(trial.last_known_status)})" if trial.last_known_status else "")})
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
        notes.append({"text": "Responsible party" + (f" ({RESPONSIBLE_PARTY_WORDS[rp.type]})" if rp.type else "") + f": {rp.name}"
                      + (f", {rp.title}" if rp.title else "") + (f", {rp.affiliation}" if rp.affiliation else "")})
    for official in trial.officials:
        if official is not investigator and official.name:
            notes.append({"text": f"{label(official.role) or 'Study official'}: {official.name}" + (f", {official.affiliation}" if official.affiliation else "")})
    return present(note=notes)


def _arms_and_objectives(ctx: StudyContext) -> dict[str, Any]:
    """arms → arm; outcomes → objective."""
    trial = ctx.trial
    out: dict[str, Any] = {}
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
        out["arm"] = arms
    objectives = [{"name": o.measure + (f" [{o.time_frame}]" if o.time_frame else ""), "type": concept(None, coding_from(_t()["objective_type"], o.kind))}
                  for o in trial.outcomes]
    if objectives:
        out["objective"] = objectives
    return out


def _enrollment(ctx: StudyContext) -> dict[str, Any]:
    """eligibility (and enrollment count) → enrollment (a Group of characteristics)."""
    group = group_resource(ctx.trial, ctx.id)
    ctx.builder.add(group)
    return {"enrollment": [ctx.builder.reference("Group", group["id"], group["name"])]}


def _sites(ctx: StudyContext) -> dict[str, Any]:
    """locations → site (Location with telecom, facility Organization)."""
    return present(site=site_references(ctx.builder, ctx.trial, telecom_only=True))


# The ResearchStudy, section by section (see the R5 writer's STUDY_SECTIONS): element order of the
# output, and the order their resources join the bundle.
STUDY_SECTIONS: tuple[Section, ...] = (
    _identification, _classification, _contacts, _descriptions, _sponsor_and_investigator, _notes, _arms_and_objectives,
    _enrollment, _sites,
)


def research_study(builder: BundleBuilder, trial: Trial) -> dict[str, Any]:
    return study_from_sections(builder, trial, STUDY_SECTIONS)


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
    return assemble_bundle(trial, bundle_type, research_study)
