"""Trial → FHIR R5 Bundle (ResearchStudy, EvidenceVariable, Organization, Location, Practitioner[Role]).

This writer only reads the canonical model. Registry vocabulary is mapped through
``converter/terminology/fhir_r5.json``; a registry value FHIR has no code for stays as text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from ..model import Arm, Criterion, Intervention, Location, MeshTerm, Organization, Outcome, Person, Trial
from ..terminology import country_alpha3
from . import fhir_eligibility
from .fhir_common import (
    study_period,
    CTGOV_SYSTEM,
    ISO3166_SYSTEM,
    MESH_SYSTEM,
    URI_SYSTEM,
    BundleBuilder,
    coding_from,
    concept,
    content_key,
    dedupe,
    full_url,
    label,
    narrative,
    safe_id,
    telecom,
    terminology,
)

NAME = "fhir-r5"
BUNDLE_TYPES = ("collection", "transaction")


def _t() -> dict[str, Any]:
    return terminology("fhir_r5")


def _stable_identifier(resource_type: str, resource_id: str) -> dict[str, Any]:
    """A URI identifier equal to the fullUrl: lets a server deduplicate via conditional create."""
    return {"system": URI_SYSTEM, "value": full_url(resource_type, resource_id)}


def _conditional(resource: dict[str, Any]) -> str:
    ident = resource["identifier"][0]
    return f"identifier={ident['system']}|{ident['value']}"


# --- identifiers --------------------------------------------------------------------------------------------------

def study_identifiers(trial: Trial) -> list[dict[str, Any]]:
    """Every registry and sponsor identifier, the primary one first and marked official.

    The type is text only (see ``identifier_type_text``): FHIR has no code for "EudraCT number" or
    "NIH grant". An obsolete NCT alias keeps the ClinicalTrials.gov system with ``use: old`` so a
    search on the old number still finds the study without confusing it with the current id.
    """
    words = _t()["identifier_type_text"]
    out: list[dict[str, Any]] = []
    for ident in trial.identifiers:
        item: dict[str, Any] = {}
        is_nct = ident.value.upper().startswith("NCT")
        if ident.kind == "REGISTRY":
            item["use"] = "official"
            key = "REGISTRY_PRIMARY"
        elif ident.type == "NCT_ALIAS":
            item["use"] = "old"
            key = "NCT_ALIAS"
        else:
            item["use"] = "secondary"
            key = ident.kind if ident.kind == "ORG_STUDY_ID" else (ident.type or "SECONDARY")
        if is_nct and key in {"REGISTRY_PRIMARY", "NCT_ALIAS"}:
            item["system"] = CTGOV_SYSTEM
        text = words.get(key) or label(key)
        if ident.kind == "ORG_STUDY_ID" and ident.type:  # an org study id that is also, say, an NIH grant
            text += f"; {words.get(ident.type) or label(ident.type)}"
        item["type"] = concept(text)
        item["value"] = ident.value
        if ident.issuer:
            item["assigner"] = {"display": ident.issuer}
        out.append(item)
    if not any(i.get("value") == trial.id for i in out):
        primary: dict[str, Any] = {"use": "official"}
        if trial.id.upper().startswith("NCT"):
            primary["system"] = CTGOV_SYSTEM
        primary.update({"type": concept(words["REGISTRY_PRIMARY"]), "value": trial.id})
        out.insert(0, primary)
    return dedupe(out)


# --- organisations and people -------------------------------------------------------------------------------------

# Sponsors hide their sites behind stand-in names ("Novartis Investigative Site", "Research Site",
# "Local Institution"): hundreds of different hospitals share one such name, so for these the place
# is part of the identity. Splitting a real organisation by city is harmless; merging strangers is not.
_STAND_IN_SITE = re.compile(
    r"\b(?:investigati\w*|research|clinical|study|trial)\s+(?:site|cent(?:er|re)|facility)\b|^local institution\b|"
    r"\badministrative office\b|^for (?:additional|more) information\b",
    re.IGNORECASE,
)


def is_stand_in_site(name: str) -> bool:
    return bool(_STAND_IN_SITE.search(name))


def organization_resource(org_name: str, agency_class: Optional[str] = None, place: Optional[Location] = None) -> dict[str, Any]:
    """One Organization per name: sponsor, collaborator, affiliation and site facility alike.

    The id hashes the name only, so "Dana-Farber Cancer Institute" as an investigator's affiliation
    and as three sites is one Organization; where it is lives on each site's Location (which names
    it as managingOrganization), not on the Organization, so no address is ever duplicated.
    """
    if place is not None and is_stand_in_site(org_name):
        res_id = safe_id("org", content_key(org_name, place.city, place.state, place.country))
    else:
        res_id = safe_id("org", content_key(org_name))
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": res_id,
        "identifier": [_stable_identifier("Organization", res_id)],
        "name": org_name,
    }
    if agency_class:
        resource["type"] = [concept(f"Agency class: {agency_class}")]
    if place is not None and is_stand_in_site(org_name) and (place.city or place.state or place.country):
        resource["contact"] = [{"address": _address(place)}]  # the place is what tells these apart
    resource["text"] = narrative("Organization.html.j2", name=org_name, agency_class=agency_class)
    return resource


def _address(location: Location) -> dict[str, Any]:
    address: dict[str, Any] = {"use": "work", "type": "physical"}
    if location.city:
        address["city"] = location.city
    if location.state:
        address["state"] = location.state
    if location.zip:
        address["postalCode"] = location.zip
    if location.country:
        address["country"] = location.country
    parts = [location.city, location.state, location.zip, location.country]
    address["text"] = ", ".join(p for p in parts if p)
    return address


def practitioner_resources(person: Person, points: Optional[list[dict[str, Any]]] = None) -> tuple[list[dict[str, Any]], Optional[tuple[str, str]]]:
    """Practitioner (name, telecom) and, when an affiliation is known, a PractitionerRole and Organization.

    ``points`` is the person's telecom gathered over every place the record names them (see
    :func:`telecom_directory`), so one person is one Practitioner however many roles they hold.
    A contact the registry lists only by phone or e-mail still becomes a Practitioner (FHIR does
    not require a name), because that address is the one way to reach the study.
    Returns the resources and the (type, id) to reference from associatedParty.party.
    """
    if points is None:
        points = telecom(person)
    if not person.name and not points:
        return [], None
    prac_id = safe_id("prac", content_key(person.name, *(p["value"] for p in points)))
    practitioner: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": prac_id,
        "identifier": [_stable_identifier("Practitioner", prac_id)],
    }
    if person.name:
        practitioner["name"] = [{"text": person.name}]
    if points:
        practitioner["telecom"] = points
    practitioner["text"] = narrative("Practitioner.html.j2", name=person.name, points=points)
    resources = [practitioner]
    if not person.affiliation:
        return resources, ("Practitioner", prac_id)
    org = organization_resource(person.affiliation)
    role_id = safe_id("role", content_key(prac_id, person.affiliation))
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "identifier": [_stable_identifier("PractitionerRole", role_id)],
        "practitioner": _reference("Practitioner", prac_id, person.name),
        "organization": _reference("Organization", org["id"], person.affiliation),
    }
    role["text"] = narrative("PractitionerRole.html.j2", person=person)
    resources.extend([org, role])
    return resources, ("PractitionerRole", role_id)


def _reference(resource_type: str, resource_id: str, display: Optional[str]) -> dict[str, Any]:
    """A bundle-internal reference (fullUrl) with its display when there is one."""
    ref: dict[str, Any] = {"reference": full_url(resource_type, resource_id)}
    if display:
        ref["display"] = display
    return ref


def _name_key(name: str) -> str:
    return " ".join(name.lower().split())


def telecom_directory(people: list[Person]) -> dict[str, list[dict[str, Any]]]:
    """Named person → every distinct phone/e-mail the record gives them, in order of appearance.

    Registries repeat a person as official, responsible party and central contact, often with the
    phone only in one place; merging by name inside one record makes that one Practitioner.
    """
    directory: dict[str, list[dict[str, Any]]] = {}
    for person in people:
        if person.name:
            directory[_name_key(person.name)] = dedupe(directory.get(_name_key(person.name), []) + telecom(person))
    return directory


_RESPONSIBLE_PARTY_WORDS = {"SPONSOR": "sponsor", "PRINCIPAL_INVESTIGATOR": "principal investigator", "SPONSOR_INVESTIGATOR": "sponsor-investigator"}


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
        points = directory.get(_name_key(person.name)) if directory is not None and person.name else None
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
        text = "Responsible party" + (f": {_RESPONSIBLE_PARTY_WORDS[rp.type]}" if rp.type else "")
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


# --- sites ----------------------------------------------------------------------------------------------------------

def site_ids(trial: Trial) -> list[str]:
    """One Location id per listed site, stable across record updates and unique within the trial.

    The id hashes the site's name and address, so a status or contact change keeps the id (and a
    server's conditional create finds the same Location). Registries do list distinct sites under
    one name and address (sponsors that anonymise sites as "Research Site", one per status); each
    later one gets an ordinal suffix so none is dropped. An exact repeat of a site is the same
    Location and collapses.
    """
    ids: list[str] = []
    seen: dict[str, list[Location]] = {}
    for site in trial.locations:
        base = safe_id(trial.id, "site", content_key(site.facility, site.city, site.state, site.zip, site.country))
        variants = seen.setdefault(base, [])
        position = next((i for i, known in enumerate(variants) if known == site), None)
        if position is None:
            variants.append(site)
            position = len(variants) - 1
        ids.append(base if position == 0 else f"{base}-{position + 1}")
    return ids


def location_resources(trial: Trial, site: Location, loc_id: str) -> list[dict[str, Any]]:
    """A Location per site, plus an Organization for its facility (the site's managing organisation)."""
    resources: list[dict[str, Any]] = []
    location: dict[str, Any] = {"resourceType": "Location", "id": loc_id, "identifier": [_stable_identifier("Location", loc_id)]}
    if site.facility:
        location["name"] = site.facility
    if site.status:
        location["description"] = f"Site recruitment status: {site.status.replace('_', ' ').lower()}"
    location["mode"] = "instance"
    if site.city or site.state or site.zip or site.country:
        location["address"] = _address(site)
    if site.latitude is not None and site.longitude is not None:
        location["position"] = {"latitude": site.latitude, "longitude": site.longitude}
    contacts = []
    for person in site.contacts:
        detail: dict[str, Any] = {}
        role = (person.role or "CONTACT").replace("_", " ").lower()
        detail["purpose"] = concept(f"Site {role}")
        if person.name:
            detail["name"] = [{"text": person.name}]
        points = telecom(person)
        if points:
            detail["telecom"] = points
        if detail.get("name") or detail.get("telecom"):
            contacts.append(detail)
    if contacts:
        location["contact"] = contacts
    if site.facility:
        org = organization_resource(site.facility, place=site)
        resources.append(org)
        location["managingOrganization"] = {"reference": full_url("Organization", org["id"]), "display": site.facility}
    location["text"] = narrative("Location.html.j2", site=site)
    resources.append(location)
    return resources


# --- evidence variables ----------------------------------------------------------------------------------------------

def eligibility_characteristics(trial: Trial) -> list[dict[str, Any]]:
    """Structured sex/age first, then one characteristic per criterion item (coded where understood)."""
    structured = fhir_eligibility.sex_and_age(trial.eligibility)
    items = fhir_eligibility.characteristics(trial.eligibility.criteria)
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
        "identifier": [_stable_identifier("EvidenceVariable", ev_id)],
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
        "identifier": [_stable_identifier("EvidenceVariable", ev_id)],
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
        "identifier": [_stable_identifier("EvidenceVariable", ev_id)],
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


def _names_intervention(name: str, interventions: list[Intervention]) -> bool:
    """Whether an arm's 'TYPE: name' (or bare name) entry is one of these interventions."""
    wanted = {name.strip().lower()}
    if ":" in name:
        wanted.add(name.split(":", 1)[1].strip().lower())
    return any(iv.name.strip().lower() in wanted for iv in interventions)


def _arm_interventions(arm: Arm, interventions: list[Intervention]) -> list[int]:
    """Indexes of the interventions an arm uses, matched by name (arms list 'Drug: X' or 'X')."""
    found = [i for i, iv in enumerate(interventions) if any(_names_intervention(name, [iv]) for name in arm.intervention_names)]
    for i, iv in enumerate(interventions):
        if arm.label in iv.arm_labels and i not in found:
            found.append(i)
    return sorted(found)


# --- the study ----------------------------------------------------------------------------------------------------

def _phase(trial: Trial) -> Optional[dict[str, Any]]:
    if not trial.phases:
        return None
    key = "+".join(sorted(trial.phases))
    coding = coding_from(_t()["phase"], key)
    return concept(" / ".join(label(p) for p in trial.phases), coding)


_BIOSPECIMEN_WORDS = {"SAMPLES_WITH_DNA": "samples with DNA", "SAMPLES_WITHOUT_DNA": "samples without DNA", "NONE_RETAINED": "none retained"}


def _study_design(trial: Trial) -> list[dict[str, Any]]:
    table = _t()["study_design"]
    system = table["_system"]
    design = trial.design

    def code(group: str, key: Optional[str]) -> Optional[dict[str, Any]]:
        return coding_from({"_system": system, **table[group]}, key)

    out: list[dict[str, Any]] = []
    if trial.study_type:
        out.append(concept(f"Study type: {trial.study_type.replace('_', ' ').lower()}", code("study_type", trial.study_type)))
    if design.allocation == "NA":  # the registry's answer for single-group studies, not a missing value
        out.append(concept("Allocation: not applicable"))
    elif design.allocation:
        out.append(concept(f"Allocation: {design.allocation.replace('_', '-').lower()}", code("allocation", design.allocation)))
    if design.intervention_model:
        text = f"Intervention model: {design.intervention_model.replace('_', ' ').lower()}"
        if design.intervention_model_description:
            text += f" — {design.intervention_model_description}"
        out.append(concept(text, code("intervention_model", design.intervention_model)))
    if design.masking:
        text = "Masking: none (open label)" if design.masking == "NONE" else f"Masking: {design.masking.lower()}"
        if design.who_masked:
            text += " (" + ", ".join(w.replace("_", " ").lower() for w in design.who_masked) + ")"
        if design.masking_description:
            text += f" — {design.masking_description}"
        out.append(concept(text))
        for who in design.who_masked:
            coded = code("who_masked", who)
            if coded:  # investigator masking has no exact SEVCO term: it stays in the text above only
                out.append(concept(f"Masked: {who.replace('_', ' ').lower()}", coded))
    if design.observational_model:
        out.append(concept(f"Observational model: {design.observational_model.replace('_', ' ').lower()}", code("observational_model", design.observational_model)))
    if design.time_perspective:
        out.append(concept(f"Time perspective: {design.time_perspective.replace('_', ' ').lower()}", code("time_perspective", design.time_perspective)))
    if design.patient_registry:
        out.append(concept("Patient registry"))
    if design.target_duration:
        out.append(concept(f"Target follow-up duration: {design.target_duration}"))
    if design.bio_spec_retention:
        text = f"Biospecimen retention: {_BIOSPECIMEN_WORDS.get(design.bio_spec_retention, label(design.bio_spec_retention).lower())}"
        if design.bio_spec_description:
            text += f" — {design.bio_spec_description}"
        out.append(concept(text))
    return out


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
    for attr, code, label in milestones:
        when = getattr(trial.dates, attr)
        if when is None:
            continue
        coding = {"system": system, "code": code, "display": table["progress_state_display"][code]} if code else None
        entry = {"state": concept(label, coding), "period": {"start": when.date}}
        if when.type:
            entry["actual"] = when.type == "ACTUAL"
        out.append(entry)
    return out


def _conditions(trial: Trial) -> list[dict[str, Any]]:
    """Conditions as written, coded with MeSH where a MeSH heading matches; other MeSH headings follow."""
    mesh_by_term = {m.term.lower(): m for m in trial.condition_mesh}
    used: set[str] = set()
    out = []
    for condition in trial.conditions:
        mesh = mesh_by_term.get(condition.lower())
        coding = None
        if mesh and mesh.id:
            coding = {"system": MESH_SYSTEM, "code": mesh.id, "display": mesh.term}
            used.add(mesh.term.lower())
        out.append(concept(condition, coding))
    for mesh in trial.condition_mesh:
        if mesh.term.lower() in used:
            continue
        coding = {"system": MESH_SYSTEM, "code": mesh.id, "display": mesh.term} if mesh.id else None
        out.append(concept(mesh.term, coding))
    return dedupe(out)


def _related_artifacts(trial: Trial) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ref in trial.references:
        artifact: dict[str, Any] = {"type": "citation"}
        if ref.type:
            artifact["label"] = ref.type.lower()
        if ref.citation:
            artifact["citation"] = ref.citation
        if ref.pmid:
            artifact["document"] = {"url": f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/", "title": f"PMID {ref.pmid}"}
            if not ref.citation:
                artifact["display"] = f"PMID {ref.pmid}"
        out.append(artifact)
    for link in trial.links:
        artifact = {"type": "documentation", "document": {"url": link.url}}
        if link.label:
            artifact["display"] = link.label
        out.append(artifact)
    for ident in trial.identifiers:
        if ident.link:
            out.append({"type": "documentation", "display": f"Identifier {ident.value}", "document": {"url": ident.link}})
    if trial.ipd_sharing and trial.ipd_sharing.url:
        out.append({"type": "documentation", "display": "Individual participant data sharing", "document": {"url": trial.ipd_sharing.url}})
    return out


def countries(trial: Trial) -> list[dict[str, Any]]:
    """The sites' countries, sorted: the registry's name as text, ISO 3166-1 alpha-3 where one exists.

    Codes come from the reviewed country table (``terminology.country_alpha3``); a name without a
    current code (withdrawn states, "Kosovo") stays text only rather than getting a guessed code.
    """
    out = []
    for name in sorted({site.country for site in trial.locations if site.country}):
        code = country_alpha3(name)
        out.append(concept(name, {"system": ISO3166_SYSTEM, "code": code} if code else None))
    return out




def _notes(trial: Trial, *, status_verified: bool = False, fda_classifiers: bool = False) -> list[dict[str, Any]]:
    """Registry facts FHIR has no element for, as annotations (shared by R5 and R4B).

    ``status_verified`` adds the verification date when no status entry carries it; ``fda_classifiers``
    states FDA regulation in words for a version without ``ResearchStudy.classifier``.
    """
    notes: list[str] = []
    ov = trial.oversight
    if ov.has_dmc is not None:
        notes.append("Has a data monitoring committee." if ov.has_dmc else "No data monitoring committee.")
    for flag, product in ((ov.fda_regulated_drug, "drug"), (ov.fda_regulated_device, "device")):
        if flag is False or (flag and fda_classifiers):
            notes.append(f"Studies a U.S. FDA-regulated {product} product." if flag else f"Does not study a U.S. FDA-regulated {product} product.")
    if ov.unapproved_device:
        notes.append("Includes an unapproved device.")
    if ov.us_export is not None:
        notes.append("Product manufactured in and exported from the U.S." if ov.us_export else "Not a U.S. export.")
    if trial.has_expanded_access is not None:
        notes.append("Expanded access available." if trial.has_expanded_access else "No expanded access.")
    rp = trial.responsible_party
    if rp and rp.type and not rp.name and not (rp.type == "SPONSOR" and trial.sponsor):
        notes.append(f"Responsible party: {_RESPONSIBLE_PARTY_WORDS[rp.type]}.")
    if trial.design.number_of_arms is not None:
        notes.append(f"Number of arms: {trial.design.number_of_arms}")
    ipd = trial.ipd_sharing
    if ipd and ipd.sharing:
        text = f"Individual participant data sharing: {ipd.sharing.lower()}"
        details = [ipd.description, ("Information types: " + ", ".join(ipd.info_types)) if ipd.info_types else None,
                   f"Time frame: {ipd.time_frame}" if ipd.time_frame else None, f"Access criteria: {ipd.access_criteria}" if ipd.access_criteria else None]
        text += "".join(f"\n\n{d}" for d in details if d)
        notes.append(text)
    dates = trial.dates
    record_dates = [("first_submitted", "First submitted"), ("first_posted", "First posted"), ("last_update_submitted", "Last update submitted"),
                    ("last_update_posted", "Last update posted"), ("results_first_posted", "Results first posted")]
    if status_verified:
        record_dates.append(("status_verified", "Status verified"))
    for attr, words in record_dates:
        value = getattr(dates, attr)
        if value:
            notes.append(f"{words}: {value.date}" + (f" ({value.type.lower()})" if value.type else ""))
    if trial.enrollment and trial.enrollment.type is None:
        notes.append(f"Enrollment: {trial.enrollment.count} (actual or anticipated not stated)")
    return [{"text": n} for n in notes]


def research_study(builder: BundleBuilder, trial: Trial) -> dict[str, Any]:
    table = _t()
    study_id = safe_id(trial.id)
    study: dict[str, Any] = {"resourceType": "ResearchStudy", "id": study_id}
    study["identifier"] = study_identifiers(trial)
    if trial.official_title or trial.brief_title:
        study["title"] = trial.official_title or trial.brief_title
    labels = []
    for attr, kind in (("official_title", "official"), ("acronym", "acronym"), ("brief_title", "short")):
        value = getattr(trial, attr)
        if value:
            labels.append({"type": concept(None, coding_from(table["title_type"], kind)), "value": value})
    if labels:
        study["label"] = labels
    related = _related_artifacts(trial)
    if related:
        study["relatedArtifact"] = related
    if trial.dates.last_update_posted:
        study["date"] = trial.dates.last_update_posted.date
    study["status"] = table["publication_status"].get(trial.overall_status or "", table["publication_status"]["default"])
    if trial.design.primary_purpose:
        study["primaryPurposeType"] = concept(label(trial.design.primary_purpose), coding_from(table["primary_purpose"], trial.design.primary_purpose))
    phase = _phase(trial)
    if phase:
        study["phase"] = phase
    design = _study_design(trial)
    if design:
        study["studyDesign"] = design
    conditions = _conditions(trial)
    if conditions:
        study["condition"] = conditions
    if trial.keywords:
        study["keyword"] = [concept(k) for k in trial.keywords]
    regions = countries(trial)
    if regions:
        study["region"] = regions
    if trial.brief_summary:
        study["descriptionSummary"] = trial.brief_summary
    if trial.detailed_description:
        study["description"] = trial.detailed_description
    period = study_period(trial)
    if period:
        study["period"] = period
    classifiers = []
    if trial.oversight.fda_regulated_drug:
        classifiers.append(concept(None, coding_from(table["classifier"], "fda_regulated_drug")))
    if trial.oversight.fda_regulated_device:
        classifiers.append(concept(None, coding_from(table["classifier"], "fda_regulated_device")))
    if classifiers:
        study["classifier"] = classifiers
    parties = associated_parties(builder, trial)
    if parties:
        study["associatedParty"] = parties
    progress = _progress_status(trial)
    if progress:
        study["progressStatus"] = progress
    if trial.why_stopped:
        study["whyStopped"] = concept(trial.why_stopped)
    notes = _notes(trial, status_verified=trial.overall_status is None)
    if notes:
        study["note"] = notes
    return study


def build_bundle(trial: Trial, bundle_type: str = "collection") -> dict[str, Any]:
    """The FHIR R5 Bundle for one trial, as a JSON-ready dict (validated separately before writing)."""
    if bundle_type not in BUNDLE_TYPES:
        raise ValueError(f"bundle type must be one of {BUNDLE_TYPES}, not {bundle_type!r}")
    builder = BundleBuilder(trial)
    study_id = safe_id(trial.id)
    # The study goes first; its parties and sites add their resources while it is built.
    placeholder_key = f"ResearchStudy/{study_id}"
    builder.entries[placeholder_key] = {}
    study = research_study(builder, trial)

    sites = []
    for site, loc_id in zip(trial.locations, site_ids(trial)):
        resources = location_resources(trial, site, loc_id)
        for resource in resources:
            builder.add(resource)
        location = resources[-1]
        sites.append(builder.reference("Location", location["id"], site.facility))
    if sites:
        study["site"] = dedupe(sites)

    recruitment: dict[str, Any] = {}
    if trial.enrollment:
        recruitment["actualNumber" if trial.enrollment.type == "ACTUAL" else "targetNumber"] = trial.enrollment.count
    eligibility = eligibility_resource(trial, study_id)
    builder.add(eligibility)
    recruitment["eligibility"] = builder.reference("EvidenceVariable", eligibility["id"], eligibility["title"])
    study["recruitment"] = recruitment

    intervention_refs = []
    focus: list[dict[str, Any]] = []
    used_mesh: set[str] = set()
    first_of: dict[str, int] = {}
    for index, intervention in enumerate(trial.interventions):
        # Registries repeat one intervention once per arm; it is one variable that several arms use.
        same = json.dumps(intervention.model_dump(exclude={"arm_labels"}), sort_keys=True)
        mesh = _intervention_mesh(intervention, trial.intervention_mesh)
        resource = intervention_resource(trial, study_id, first_of.setdefault(same, index), intervention, mesh)
        builder.add(resource)
        ref = builder.reference("EvidenceVariable", resource["id"], resource["title"])
        intervention_refs.append(ref)
        # CodeableReference may carry both: the MeSH concept for searching, the variable for detail.
        entry: dict[str, Any] = {"reference": ref}
        if mesh is not None:
            entry = {"concept": concept(intervention.name, _mesh_coding(mesh)), "reference": ref}
            used_mesh.add(mesh.term.lower())
        focus.append(entry)
    for mesh in trial.intervention_mesh:
        if mesh.term.lower() not in used_mesh:
            focus.append({"concept": concept(mesh.term, _mesh_coding(mesh))})
    if focus:
        study["focus"] = dedupe(focus)

    groups = []
    for arm_index, arm in enumerate(trial.arms):
        group: dict[str, Any] = {"linkId": safe_id("arm", str(arm_index + 1)), "name": arm.label}
        if arm.type:
            group["type"] = concept(label(arm.type), coding_from(_t()["arm_type"], arm.type))
        matched = _arm_interventions(arm, trial.interventions)
        # An arm may name an intervention the record never lists; intendedExposure can only point
        # at a variable, so such names stay in the arm's description instead of being dropped.
        unlisted = [name for name in arm.intervention_names if not _names_intervention(name, [trial.interventions[i] for i in matched])]
        description = arm.description or ""
        if unlisted:
            description = (description + "\n\n" if description else "") + "Interventions: " + "; ".join(unlisted)
        if description:
            group["description"] = description
        exposures = dedupe(intervention_refs[i] for i in matched)
        if exposures:
            group["intendedExposure"] = exposures
        groups.append(group)
    if groups:
        study["comparisonGroup"] = groups

    measures = []
    counters = {"PRIMARY": 0, "SECONDARY": 0, "OTHER": 0}
    for outcome in trial.outcomes:
        resource = outcome_resource(trial, study_id, counters[outcome.kind], outcome)
        counters[outcome.kind] += 1
        builder.add(resource)
        measure: dict[str, Any] = {"name": outcome.measure, "type": [concept(None, coding_from(_t()["objective_type"], outcome.kind))]}
        description = outcome.description or ""
        if outcome.time_frame:
            description = (description + "\n\n" if description else "") + f"Time frame: {outcome.time_frame}"
        if description:
            measure["description"] = description
        measure["reference"] = builder.reference("EvidenceVariable", resource["id"], outcome.measure)
        measures.append(measure)
    if measures:
        study["outcomeMeasure"] = measures

    study["text"] = narrative("ResearchStudy.html.j2", trial=trial)
    builder.entries[placeholder_key] = study

    conditional = {}
    for key, resource in builder.entries.items():
        if resource["resourceType"] == "ResearchStudy":
            ident = next((i for i in resource["identifier"] if i.get("system") == CTGOV_SYSTEM), None)
            if ident:
                conditional[key] = f"identifier={ident['system']}|{ident['value']}"
        elif resource.get("identifier"):
            conditional[key] = _conditional(resource)
    return builder.bundle(bundle_type, conditional)
