"""Trial → FHIR R5 Bundle (ResearchStudy, EvidenceVariable, Organization, Location, Practitioner[Role]).

This writer only reads the canonical model. Registry vocabulary is mapped through
``converter/terminology/fhir_r5.json``; a registry value FHIR has no code for stays as text.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ...model import Criterion, Intervention, MeshTerm, Organization, Outcome, Person, Trial
from ..base import arm_intervention_indexes, names_intervention
from . import eligibility as fhir_eligibility
from .common import (
    Section,
    StudyContext,
    assemble_bundle,
    MESH_SYSTEM,
    RESPONSIBLE_PARTY_WORDS,
    BundleBuilder,
    coding_from,
    concept,
    conditions,
    countries,
    dedupe,
    label,
    load,
    name_key,
    narrative,
    organization_resource,
    practitioner_resources,
    present,
    related_artifacts,
    safe_id,
    site_references,
    stable_identifier,
    study_design,
    study_identifiers,
    oversight_statements,
    study_notes,
    study_from_sections,
    study_period,
    telecom_directory,
)

NAME = "fhir-r5"


def _t() -> dict[str, Any]:
    return load("fhir_r5")


# --- associated parties -------------------------------------------------------------------------------------------

def _party(builder: BundleBuilder, role_key: Optional[str], *, name: Optional[str], role_text: Optional[str] = None,
           org: Optional[Organization] = None, person: Optional[Person] = None,
           directory: Optional[dict[str, list[dict[str, Any]]]] = None) -> dict[str, Any]:
    """One associatedParty: role coded where FHIR has the role, the party as a resource reference."""
    table = _t()
    party: dict[str, Any] = {}
    if name:
        party["name"] = name
    party["role"] = concept(role_text, coding_from(table["party_role"], role_key))
    if org is not None:
        if org.agency_class:
            org_type = coding_from(table["party_org_type"], org.agency_class)
            if org_type:
                party["classifier"] = [concept(None, org_type)]
        resource = organization_resource(org.name, org.agency_class)
        builder.add(resource)
        party["party"] = builder.reference("Organization", resource["id"], org.name)
    elif person is not None:
        points = directory.get(name_key(person.name)) if directory is not None and person.name else None
        resources, target = practitioner_resources(person, points)
        for resource in resources:
            builder.add(resource)
        if target:
            party["party"] = builder.reference(target[0], target[1], person.name)
    return party


def associated_parties(builder: BundleBuilder, trial: Trial) -> list[dict[str, Any]]:
    """Sponsor, collaborators, responsible party, officials and central contacts, in that order."""
    parties: list[dict[str, Any]] = []
    if trial.sponsor:
        parties.append(_party(builder, "LEAD_SPONSOR", name=trial.sponsor.name, role_text="Lead sponsor", org=trial.sponsor))
    for collaborator in trial.collaborators:
        parties.append(_party(builder, "COLLABORATOR", name=collaborator.name, role_text="Collaborator", org=collaborator))
    rp = trial.responsible_party
    rp_person = Person(name=rp.name, affiliation=rp.affiliation) if rp and rp.name else None
    directory = telecom_directory([p for p in (rp_person, *trial.officials, *trial.contacts) if p is not None])
    if rp and rp.type == "SPONSOR" and trial.sponsor:
        parties[0]["role"]["text"] = "Lead sponsor (responsible party)"
    if rp and rp_person:
        # Older records name a responsible person without saying which kind: role text only, no code.
        text = "Responsible party" + (f": {RESPONSIBLE_PARTY_WORDS[rp.type]}" if rp.type else "")
        if rp.title:
            text += f" ({rp.title})"
        code_key = rp.type if rp.type in {"PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"} else None
        parties.append(_party(builder, code_key, name=rp.name, role_text=text, person=rp_person, directory=directory))
    for official in trial.officials:
        role = (official.role or "").upper()
        parties.append(_party(builder, role, name=official.name, role_text=label(official.role) or "Study official",
                              person=official, directory=directory))
    for contact in trial.contacts:
        words = "Central contact" + (" (backup)" if (contact.role or "").upper() in {"BACKUP", "CONTACT_BACKUP"} else "")
        parties.append(_party(builder, "CENTRAL_CONTACT", name=contact.name, role_text=words, person=contact, directory=directory))
    return [p for p in parties if p.get("name") or p.get("party")]


# --- evidence variables ----------------------------------------------------------------------------------------------

def eligibility_characteristics(trial: Trial) -> list[dict[str, Any]]:
    """Structured sex/age first, then one characteristic per criterion item (coded where understood)."""
    structured = fhir_eligibility.sex_and_age(trial.eligibility)
    items = fhir_eligibility.characteristics(trial.eligibility.criteria, trial.conditions)
    label_criteria(trial.eligibility.criteria, items)
    extra: list[dict[str, Any]] = []
    if trial.eligibility.healthy_volunteers is not None:
        extra.append({"linkId": "healthy-volunteers",
                      "description": "Accepts healthy volunteers" if trial.eligibility.healthy_volunteers else "Does not accept healthy volunteers"})
    return structured + extra + items


def label_criteria(criteria: list[Criterion], items: list[dict[str, Any]]) -> None:
    """Give each criterion's characteristic a ``linkId`` naming its list and position.

    ``exclude`` alone cannot say which list an item came from: an exclusion item worded as a
    negation ("No prior chemotherapy") is evaluated as an inclusion, so its ``exclude`` flips. The
    id keeps the registry's structure readable and addressable: ``inclusion-3``, ``exclusion-2``,
    ``criterion-1`` (list not stated), and ``inclusion-3.2`` for the second item nested under it.
    Nested items are found by their exact text inside the parent's characteristic, wherever the
    computable mapping placed them (an all-of, any-of or conditional combination).
    """
    counters: dict[str, int] = {}
    for criterion, item in zip(criteria, items):
        prefix = "criterion" if criterion.category == "UNKNOWN" else criterion.category.lower()
        counters[prefix] = counters.get(prefix, 0) + 1
        _label(criterion, item, f"{prefix}-{counters[prefix]}")


def _label(criterion: Criterion, node: dict[str, Any], link_id: str) -> None:
    node["linkId"] = link_id
    for position, child in enumerate(criterion.children, start=1):
        found = _find_unlabelled(node, child.text)
        if found is not None:
            _label(child, found, f"{link_id}.{position}")


def _find_unlabelled(node: dict[str, Any], text: str) -> Optional[dict[str, Any]]:
    """First characteristic below ``node`` (depth first) with this description and no linkId yet."""
    for child in node.get("definitionByCombination", {}).get("characteristic", []):
        if child.get("description") == text and "linkId" not in child:
            return child
        found = _find_unlabelled(child, text)
        if found is not None:
            return found
    return None


def eligibility_resource(trial: Trial, study_id: str) -> dict[str, Any]:
    ev_id = safe_id(study_id, "eligibility")
    elig = trial.eligibility
    resource: dict[str, Any] = {
        "resourceType": "EvidenceVariable",
        "id": ev_id,
        "identifier": [stable_identifier("EvidenceVariable", ev_id)],
        "title": f"Eligibility criteria for {trial.id}",
        "status": "active",
        "actual": False,
    }
    if elig.criteria_text:
        resource["description"] = elig.criteria_text
    notes = []
    if elig.sex == "ALL":  # no restriction, so no characteristic; still say what the registry said
        notes.append("Sexes eligible: all.")
    if elig.gender_based is not None:
        notes.append("Eligibility is based on gender." if elig.gender_based else "Eligibility is not based on gender.")
    if elig.gender_description:
        notes.append(f"Gender eligibility: {elig.gender_description}")
    if elig.study_population:
        notes.append(f"Study population: {elig.study_population}")
    if elig.sampling_method:
        notes.append(f"Sampling method: {elig.sampling_method.replace('_', ' ').lower()}")
    if elig.std_ages:
        notes.append("Age groups: " + ", ".join(a.replace("_", " ").lower() for a in elig.std_ages))
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    characteristics = eligibility_characteristics(trial)
    if characteristics:
        resource["characteristic"] = characteristics
    resource["text"] = narrative("EligibilityEvidenceVariable.html.j2", trial=trial, elig=elig)
    return resource


def outcome_resource(trial: Trial, study_id: str, index: int, outcome: Outcome) -> dict[str, Any]:
    ev_id = safe_id(study_id, "outcome", outcome.kind.lower(), str(index + 1))
    characteristic: dict[str, Any] = {"description": outcome.measure}
    if outcome.time_frame:
        characteristic["timeFromEvent"] = [{"description": outcome.time_frame}]
    characteristic["definitionCodeableConcept"] = concept(outcome.measure)
    resource: dict[str, Any] = {
        "resourceType": "EvidenceVariable",
        "id": ev_id,
        "identifier": [stable_identifier("EvidenceVariable", ev_id)],
        "title": outcome.measure,
        "status": "active",
        "actual": False,
        "characteristic": [characteristic],
    }
    if outcome.description:
        resource["description"] = outcome.description
    resource["text"] = narrative("OutcomeEvidenceVariable.html.j2", outcome=outcome)
    return resource


def intervention_resource(trial: Trial, study_id: str, index: int, intervention: Intervention,
                          mesh: Optional[MeshTerm] = None) -> dict[str, Any]:
    """An intervention as an EvidenceVariable: "Drug: X" title, the name (MeSH-coded when the record's
    MeSH heading is exactly that name), other names as a note and the description."""
    ev_id = safe_id(study_id, "intervention", str(index + 1))
    kind = label(intervention.type)
    title = f"{kind}: {intervention.name}" if kind else intervention.name
    characteristic: dict[str, Any] = {"description": title, "definitionCodeableConcept": concept(intervention.name, _mesh_coding(mesh) if mesh else None)}
    resource: dict[str, Any] = {
        "resourceType": "EvidenceVariable",
        "id": ev_id,
        "identifier": [stable_identifier("EvidenceVariable", ev_id)],
        "title": title,
        "status": "active",
        "actual": False,
        "characteristic": [characteristic],
    }
    if intervention.other_names:
        resource["shortTitle"] = intervention.other_names[0]
        resource["note"] = [{"text": "Other names: " + "; ".join(intervention.other_names)}]
    if intervention.description:
        resource["description"] = intervention.description
    resource["text"] = narrative("InterventionEvidenceVariable.html.j2", intervention=intervention, title=title)
    return resource


def _mesh_coding(mesh: MeshTerm) -> Optional[dict[str, Any]]:
    return {"system": MESH_SYSTEM, "code": mesh.id, "display": mesh.term} if mesh.id else None


def _intervention_mesh(intervention: Intervention, headings: list[MeshTerm]) -> Optional[MeshTerm]:
    """The record's coded intervention MeSH heading that is exactly this intervention's name (or other
    name); a heading without an id has nothing to add to the name and stays a focus of its own."""
    names = {n.strip().lower() for n in [intervention.name, *intervention.other_names]}
    return next((m for m in headings if m.id and m.term.strip().lower() in names), None)


# --- the study ----------------------------------------------------------------------------------------------------

def _phase(trial: Trial) -> Optional[dict[str, Any]]:
    if not trial.phases:
        return None
    key = "+".join(sorted(trial.phases))
    coding = coding_from(_t()["phase"], key)
    return concept(" / ".join(label(p) for p in trial.phases), coding)


def _progress_status(trial: Trial) -> list[dict[str, Any]]:
    table = _t()
    out: list[dict[str, Any]] = []
    if trial.overall_status:
        code = table["progress_state"].get(trial.overall_status)
        coding = None
        if code:
            coding = {"system": table["progress_state"]["_system"], "code": code, "display": table["progress_state_display"][code]}
        text = f"Overall status: {trial.overall_status.replace('_', ' ').lower()}"
        if trial.last_known_status:
            text += f" (last known status: {trial.last_known_status.replace('_', ' ').lower()})"
        # The verification date says when the registry last confirmed this state, not when the
        # state began, so it stays in the words and never becomes period.start.
        if trial.dates.status_verified:
            text += f"; status verified {trial.dates.status_verified.date}"
        out.append({"state": concept(text, coding), "actual": True})
    system = table["progress_state"]["_system"]
    milestones = [
        ("start", "active", "Study start"),
        ("primary_completion", None, "Primary completion"),
        ("completion", "completed", "Study completion"),
    ]
    for attr, code, words in milestones:
        when = getattr(trial.dates, attr)
        if when is None:
            continue
        coding = {"system": system, "code": code, "display": table["progress_state_display"][code]} if code else None
        entry = {"state": concept(words, coding), "period": {"start": when.date}}
        if when.type:
            entry["actual"] = when.type == "ACTUAL"
        out.append(entry)
    return out


# --- the study: one section per group of elements, in the order they appear in the ResearchStudy ----------------------


def _identification(ctx: StudyContext) -> dict[str, Any]:
    """identifiers, brief_title / official_title / acronym → identifier, title, label.

    ``title`` is the brief title, as in HL7's mapping of ClinicalTrials.gov and its example
    record: the name registries and readers use. The official title and the acronym are labels
    (the official title becomes ``title`` only when the record has no brief title).
    """
    trial, table = ctx.trial, _t()
    out: dict[str, Any] = {"identifier": study_identifiers(trial)}
    title = trial.brief_title or trial.official_title
    if title:
        out["title"] = title
    labels = []
    for attr, kind in (("official_title", "official"), ("acronym", "acronym")):
        value = getattr(trial, attr)
        if value and value != title:
            labels.append({"type": concept(None, coding_from(table["title_type"], kind)), "value": value})
    if labels:
        out["label"] = labels
    return out


def _related(ctx: StudyContext) -> dict[str, Any]:
    """references, links, identifier links, ipd_sharing.url → relatedArtifact."""
    return present(relatedArtifact=related_artifacts(ctx.trial))


def _record_status(ctx: StudyContext) -> dict[str, Any]:
    """dates.last_update_posted → date; overall_status → status (publication status)."""
    trial, table = ctx.trial, _t()
    out: dict[str, Any] = {}
    if trial.dates.last_update_posted:
        out["date"] = trial.dates.last_update_posted.date
    out["status"] = table["publication_status"].get(trial.overall_status or "", table["publication_status"]["default"])
    return out


def _purpose_and_phase(ctx: StudyContext) -> dict[str, Any]:
    """design.primary_purpose → primaryPurposeType; phases → phase."""
    trial = ctx.trial
    out: dict[str, Any] = {}
    if trial.design.primary_purpose:
        out["primaryPurposeType"] = concept(label(trial.design.primary_purpose), coding_from(_t()["primary_purpose"], trial.design.primary_purpose))
    return {**out, **present(phase=_phase(trial))}


def _design(ctx: StudyContext) -> dict[str, Any]:
    """study_type and design (allocation, models, masking, time perspective, biospecimens) → studyDesign."""
    return present(studyDesign=study_design(ctx.trial))


def _subject(ctx: StudyContext) -> dict[str, Any]:
    """conditions + condition_mesh → condition; keywords → keyword; site countries → region."""
    trial = ctx.trial
    return present(condition=conditions(trial), keyword=[concept(k) for k in trial.keywords], region=countries(trial))


def _descriptions(ctx: StudyContext) -> dict[str, Any]:
    """brief_summary → descriptionSummary; detailed_description → description; dates → period."""
    trial = ctx.trial
    return present(descriptionSummary=trial.brief_summary, description=trial.detailed_description, period=study_period(trial))


def _classifiers(ctx: StudyContext) -> dict[str, Any]:
    """oversight (data monitoring committee, FDA-regulated drug / device), has_results → classifier.

    As in HL7's ClinicalTrials.gov example: each flag is a classifier in words; an FDA-regulated
    product also carries its research-study-classifiers code (no code exists for the others).
    """
    table = _t()
    return present(classifier=[concept(words, coding_from(table["classifier"], key)) for words, key in oversight_statements(ctx.trial)])


def _parties(ctx: StudyContext) -> dict[str, Any]:
    """sponsor, collaborators, responsible_party, officials, contacts → associatedParty (+ resources)."""
    return present(associatedParty=associated_parties(ctx.builder, ctx.trial))


def _progress(ctx: StudyContext) -> dict[str, Any]:
    """overall_status, last_known_status, start/completion dates → progressStatus; why_stopped → whyStopped."""
    why = concept(ctx.trial.why_stopped) if ctx.trial.why_stopped else None
    return present(progressStatus=_progress_status(ctx.trial), whyStopped=why)


def _notes(ctx: StudyContext) -> dict[str, Any]:
    """us_export, unapproved device, expanded access, IPD sharing, record dates, enrollment type → note."""
    return present(note=study_notes(ctx.trial, status_verified=ctx.trial.overall_status is None))


def _sites(ctx: StudyContext) -> dict[str, Any]:
    """locations → site (Location and facility Organization resources)."""
    return present(site=site_references(ctx.builder, ctx.trial))


def _recruitment(ctx: StudyContext) -> dict[str, Any]:
    """enrollment → recruitment.actualNumber/targetNumber; eligibility → recruitment.eligibility (EvidenceVariable)."""
    trial, builder = ctx.trial, ctx.builder
    recruitment: dict[str, Any] = {}
    if trial.enrollment:
        recruitment["actualNumber" if trial.enrollment.type == "ACTUAL" else "targetNumber"] = trial.enrollment.count
    eligibility = eligibility_resource(trial, ctx.id)
    builder.add(eligibility)
    recruitment["eligibility"] = builder.reference("EvidenceVariable", eligibility["id"], eligibility["title"])
    return {"recruitment": recruitment}


def _focus(ctx: StudyContext) -> dict[str, Any]:
    """interventions (one EvidenceVariable each) + intervention_mesh → focus."""
    trial, builder = ctx.trial, ctx.builder
    focus: list[dict[str, Any]] = []
    used_mesh: set[str] = set()
    first_of: dict[str, int] = {}
    for index, intervention in enumerate(trial.interventions):
        # Registries repeat one intervention once per arm; it is one variable that several arms use.
        same = json.dumps(intervention.model_dump(exclude={"arm_labels"}), sort_keys=True)
        mesh = _intervention_mesh(intervention, trial.intervention_mesh)
        resource = intervention_resource(trial, ctx.id, first_of.setdefault(same, index), intervention, mesh)
        builder.add(resource)
        ref = builder.reference("EvidenceVariable", resource["id"], resource["title"])
        ctx.intervention_refs.append(ref)
        # CodeableReference may carry both: the MeSH concept for searching, the variable for detail.
        entry: dict[str, Any] = {"reference": ref}
        if mesh is not None:
            entry = {"concept": concept(intervention.name, _mesh_coding(mesh)), "reference": ref}
            used_mesh.add(mesh.term.lower())
        focus.append(entry)
    for mesh in trial.intervention_mesh:
        if mesh.term.lower() not in used_mesh:
            focus.append({"concept": concept(mesh.term, _mesh_coding(mesh))})
    return present(focus=dedupe(focus))


def _comparison_groups(ctx: StudyContext) -> dict[str, Any]:
    """arms (label, type, description, intervention names) → comparisonGroup."""
    trial = ctx.trial
    groups = []
    for arm_index, arm in enumerate(trial.arms):
        group: dict[str, Any] = {"linkId": safe_id("arm", str(arm_index + 1)), "name": arm.label}
        if arm.type:
            group["type"] = concept(label(arm.type), coding_from(_t()["arm_type"], arm.type))
        matched = arm_intervention_indexes(arm, trial.interventions)
        # An arm may name an intervention the record never lists; intendedExposure can only point
        # at a variable, so such names stay in the arm's description instead of being dropped.
        unlisted = [name for name in arm.intervention_names if not names_intervention(name, [trial.interventions[i] for i in matched])]
        description = arm.description or ""
        if unlisted:
            description = (description + "\n\n" if description else "") + "Interventions: " + "; ".join(unlisted)
        if description:
            group["description"] = description
        exposures = dedupe(ctx.intervention_refs[i] for i in matched)
        if exposures:
            group["intendedExposure"] = exposures
        groups.append(group)
    return present(comparisonGroup=groups)


def _outcome_measures(ctx: StudyContext) -> dict[str, Any]:
    """outcomes (one EvidenceVariable each) → outcomeMeasure."""
    measures = []
    counters = {"PRIMARY": 0, "SECONDARY": 0, "OTHER": 0}
    for outcome in ctx.trial.outcomes:
        resource = outcome_resource(ctx.trial, ctx.id, counters[outcome.kind], outcome)
        counters[outcome.kind] += 1
        ctx.builder.add(resource)
        measure: dict[str, Any] = {"name": outcome.measure, "type": [concept(None, coding_from(_t()["objective_type"], outcome.kind))]}
        description = outcome.description or ""
        if outcome.time_frame:
            description = (description + "\n\n" if description else "") + f"Time frame: {outcome.time_frame}"
        if description:
            measure["description"] = description
        measure["reference"] = ctx.builder.reference("EvidenceVariable", resource["id"], outcome.measure)
        measures.append(measure)
    return present(outcomeMeasure=measures)


# The ResearchStudy, section by section: each names the model fields it reads and the elements it
# writes (docs/field-map.md is generated from these docstrings). Sections run in this order, which
# is both the element order of the output and the order their resources join the bundle.
STUDY_SECTIONS: tuple[Section, ...] = (
    _identification, _related, _record_status, _purpose_and_phase, _design, _subject, _descriptions, _classifiers,
    _parties, _progress, _notes, _sites, _recruitment, _focus, _comparison_groups, _outcome_measures,
)


def research_study(builder: BundleBuilder, trial: Trial) -> dict[str, Any]:
    return study_from_sections(builder, trial, STUDY_SECTIONS)


def build_bundle(trial: Trial, bundle_type: str = "collection") -> dict[str, Any]:
    """The FHIR R5 Bundle for one trial, as a JSON-ready dict (validated separately before writing)."""
    return assemble_bundle(trial, bundle_type, research_study)
