"""Pieces shared by the FHIR writers (R5 and R4B): stable ids, codings, narratives, bundle assembly,
and the resources and study elements both versions write alike (identifiers, organisations,
practitioners, sites, conditions, notes). A version module keeps only what differs.

Determinism is the point of this module: ids and fullUrls derive from content (uuid5 / sha256),
never from counters over dicts or from the clock, so the same trial gives byte-identical output.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Optional

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ...model import Location, Person, Trial, TrialDate
from ...resources import templates_dir
from ...terminology import country_alpha3, load

NAMESPACE = uuid.UUID("6f1f8a52-3c1e-5b0e-9a43-7d0b6b1c2a10")  # trialconv's own uuid5 namespace
CTGOV_SYSTEM = "http://clinicaltrials.gov"
URI_SYSTEM = "urn:ietf:rfc:3986"
MESH_SYSTEM = "https://www.nlm.nih.gov/mesh"
ISO3166_SYSTEM = "urn:iso:std:iso:3166"
UCUM = "http://unitsofmeasure.org"

BUNDLE_TYPES = ("collection", "transaction")
# Age units of the model → UCUM codes (FHIR Quantity/Range of ages).
AGE_UNITS = {"YEARS": "a", "MONTHS": "mo", "WEEKS": "wk", "DAYS": "d", "HOURS": "h", "MINUTES": "min"}

def coding_from(table: dict[str, Any], key: Optional[str]) -> Optional[dict[str, Any]]:
    """Look ``key`` up in a ``{"_system": ..., KEY: [code, display]}`` table; None when FHIR has no code."""
    if key is None:
        return None
    entry = table.get(key)
    if not entry:
        return None
    coding: dict[str, Any] = {"system": table["_system"], "code": entry[0]}
    if len(entry) > 1 and entry[1]:
        coding["display"] = entry[1]
    return coding


def concept(text: Optional[str] = None, *codings: Optional[dict[str, Any]]) -> dict[str, Any]:
    """CodeableConcept keeping the source text next to any codes (the text is what the registry said)."""
    result: dict[str, Any] = {}
    present = [c for c in codings if c]
    if present:
        result["coding"] = present
    if text:
        result["text"] = text
    return result


def safe_id(*parts: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from readable parts; long ids end in a hash to stay unique."""
    raw = "-".join(p for p in parts if p)
    cleaned = re.sub(r"[^A-Za-z0-9.\-]+", "-", raw).strip("-.") or "x"
    if len(cleaned) <= 64:
        return cleaned
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return f"{cleaned[:51].rstrip('-.')}-{digest}"


def content_key(*values: Optional[str]) -> str:
    """Short stable hash of normalised values, for resources shared across trials (organisations)."""
    normalised = "|".join(re.sub(r"\s+", " ", (v or "").strip().lower()) for v in values)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def full_url(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{resource_type}/{resource_id}')}"


def fhir_date(value: Optional[TrialDate]) -> Optional[str]:
    """FHIR date/dateTime accept partial dates as they are, so precision is kept as the source gave it."""
    return value.date if value else None


def study_period(trial: Trial) -> Optional[dict[str, str]]:
    """Start to completion as the source gave them; an end before the start (a registry typo) is
    left out rather than written as an invalid Period."""
    period = {k: v for k, v in (("start", fhir_date(trial.dates.start)), ("end", fhir_date(trial.dates.completion))) if v}
    if not period or (len(period) == 2 and period["end"] < period["start"]):
        return None
    return period


def telecom(person: Person) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    if person.phone:
        phone = f"{person.phone} ext. {person.phone_ext}" if person.phone_ext else person.phone
        points.append({"system": "phone", "value": phone, "use": "work"})
    if person.email:
        points.append({"system": "email", "value": person.email, "use": "work"})
    return points


@dataclass
class BundleBuilder:
    """Collects resources once each (by type/id) in insertion order and resolves references."""

    trial: Trial
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has(self, resource_type: str, resource_id: str) -> bool:
        return f"{resource_type}/{resource_id}" in self.entries

    def add(self, resource: dict[str, Any]) -> str:
        """Add a resource (first wins on id collision) and return the reference to use for it."""
        key = f"{resource['resourceType']}/{resource['id']}"
        if key not in self.entries:
            self.entries[key] = resource
        return full_url(resource["resourceType"], resource["id"])

    def reference(self, resource_type: str, resource_id: str, display: Optional[str] = None) -> dict[str, Any]:
        ref: dict[str, Any] = {"reference": full_url(resource_type, resource_id)}
        if display:
            ref["display"] = display
        return ref

    def bundle(self, bundle_type: str, conditional: dict[str, str]) -> dict[str, Any]:
        """Assemble the Bundle; for transactions every entry is a conditional create."""
        study_id = next((r["id"] for r in self.entries.values() if r["resourceType"] == "ResearchStudy"), self.trial.id)
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": safe_id(study_id, "bundle"),
            "identifier": {"system": URI_SYSTEM, "value": full_url("Bundle", safe_id(study_id, "bundle"))},
            "type": bundle_type,
            "entry": [],
        }
        for key, resource in self.entries.items():
            resource = _narrative_first(resource)
            entry: dict[str, Any] = {"fullUrl": full_url(resource["resourceType"], resource["id"]), "resource": resource}
            if bundle_type in {"transaction", "batch"}:
                request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
                if key in conditional:
                    request["ifNoneExist"] = conditional[key]
                entry["request"] = request
            bundle["entry"].append(entry)
        return bundle


def label(value: Optional[str]) -> str:
    """Registry enum → words for people: "PHASE1" → "Phase 1", "ACTIVE_NOT_RECRUITING" → "Active not recruiting"."""
    if not value:
        return ""
    if value == "NA":
        return "Not applicable"
    words = re.sub(r"(?<=[A-Za-z])(?=\d)", " ", value.replace("_", " ")).lower()
    return words[:1].upper() + words[1:]


def _narrative_first(resource: dict[str, Any]) -> dict[str, Any]:
    """resourceType, id, text, then the rest: the order FHIR examples use, so people find the summary first."""
    head = {k: resource[k] for k in ("resourceType", "id", "text") if k in resource}
    return {**head, **{k: v for k, v in resource.items() if k not in head}}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Narrative templates: autoescape always on, because every value is untrusted registry text."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["paragraphs"] = lambda text: [p for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    env.filters["label"] = label
    return env


def narrative(template: str, **context: Any) -> dict[str, str]:
    """Render a template under ``templates/fhir/`` into a generated Narrative."""
    html = _environment().get_template(f"fhir/{template}").render(**context)
    html = re.sub(r">\s+<", "><", html.strip())
    return {"status": "generated", "div": html}


def dedupe(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop exact duplicate JSON values while keeping order (e.g. two identical codings)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


@dataclass
class StudyContext:
    """What the sections of one ResearchStudy share: the trial, the bundle its resources join, the
    study's id, and (R5) the intervention variables ``focus`` creates and ``comparisonGroup`` uses."""

    trial: Trial
    builder: BundleBuilder
    id: str
    intervention_refs: list[dict[str, Any]] = field(default_factory=list)


Section = Callable[[StudyContext], dict[str, Any]]


def study_from_sections(builder: BundleBuilder, trial: Trial, sections: tuple[Section, ...]) -> dict[str, Any]:
    """The ResearchStudy, section by section: element order of the output, and the order in which the
    sections' resources join the bundle; the narrative comes last, from the whole trial."""
    ctx = StudyContext(trial, builder, safe_id(trial.id))
    study: dict[str, Any] = {"resourceType": "ResearchStudy", "id": ctx.id}
    for section in sections:
        study.update(section(ctx))
    study["text"] = narrative("ResearchStudy.html.j2", trial=trial)
    return study


def assemble_bundle(trial: Trial, bundle_type: str, research_study: Callable[[BundleBuilder, Trial], dict[str, Any]]) -> dict[str, Any]:
    """One trial's Bundle: the study first (its sections add the other resources), then finished."""
    check_bundle_type(bundle_type)
    builder = BundleBuilder(trial)
    key = f"ResearchStudy/{safe_id(trial.id)}"
    builder.entries[key] = {}  # holds first place while the study's sections add their resources
    builder.entries[key] = research_study(builder, trial)
    return finish_bundle(builder, bundle_type)


def present(**elements: Any) -> dict[str, Any]:
    """The elements that have a value, in the order given (FHIR has no empty strings, lists or objects)."""
    return {name: value for name, value in elements.items() if value}


def check_bundle_type(bundle_type: str) -> None:
    if bundle_type not in BUNDLE_TYPES:
        raise ValueError(f"bundle type must be one of {BUNDLE_TYPES}, not {bundle_type!r}")


def stable_identifier(resource_type: str, resource_id: str) -> dict[str, Any]:
    """A URI identifier equal to the fullUrl: lets a server deduplicate via conditional create."""
    return {"system": URI_SYSTEM, "value": full_url(resource_type, resource_id)}


def finish_bundle(builder: BundleBuilder, bundle_type: str) -> dict[str, Any]:
    """The Bundle, with the conditional-create query of every entry (used by transactions).

    The study is keyed on its registry identifier (the ClinicalTrials.gov system), every other
    resource on its first identifier (the stable URI of :func:`stable_identifier`).
    """
    conditional: dict[str, str] = {}
    for key, resource in builder.entries.items():
        if resource["resourceType"] == "ResearchStudy":
            ident = next((i for i in resource["identifier"] if i.get("system") == CTGOV_SYSTEM), None)
        else:
            ident = resource["identifier"][0] if resource.get("identifier") else None
        if ident:
            conditional[key] = f"identifier={ident['system']}|{ident['value']}"
    return builder.bundle(bundle_type, conditional)


def site_references(builder: BundleBuilder, trial: Trial, *, telecom_only: bool = False) -> list[dict[str, Any]]:
    """Every site's Location (and facility Organization) added to the bundle; the references to them."""
    sites = []
    for site, loc_id in zip(trial.locations, site_ids(trial)):
        resources = location_resources(trial, site, loc_id, telecom_only=telecom_only)
        for resource in resources:
            builder.add(resource)
        sites.append(builder.reference("Location", resources[-1]["id"], site.facility))
    return dedupe(sites)


# --- identifiers, organisations, people, sites and study facts both versions write alike ------------------------------

def study_identifiers(trial: Trial) -> list[dict[str, Any]]:
    """Every registry and sponsor identifier, the primary one first and marked official.

    The type is text only (see ``identifier_type_text``): FHIR has no code for "EudraCT number" or
    "NIH grant". An obsolete NCT alias keeps the ClinicalTrials.gov system with ``use: old`` so a
    search on the old number still finds the study without confusing it with the current id.
    """
    words = load("fhir_r5")["identifier_type_text"]
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
        "identifier": [stable_identifier("Organization", res_id)],
        "name": org_name,
    }
    if agency_class:
        resource["type"] = [concept(f"Agency class: {agency_class}")]
    if place is not None and is_stand_in_site(org_name) and (place.city or place.state or place.country):
        resource["contact"] = [{"address": address(place)}]  # the place is what tells these apart
    resource["text"] = narrative("Organization.html.j2", name=org_name, agency_class=agency_class)
    return resource


def address(location: Location) -> dict[str, Any]:
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
        "identifier": [stable_identifier("Practitioner", prac_id)],
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
        "identifier": [stable_identifier("PractitionerRole", role_id)],
        "practitioner": reference("Practitioner", prac_id, person.name),
        "organization": reference("Organization", org["id"], person.affiliation),
    }
    role["text"] = narrative("PractitionerRole.html.j2", person=person)
    resources.extend([org, role])
    return resources, ("PractitionerRole", role_id)


def reference(resource_type: str, resource_id: str, display: Optional[str]) -> dict[str, Any]:
    """A bundle-internal reference (fullUrl) with its display when there is one."""
    ref: dict[str, Any] = {"reference": full_url(resource_type, resource_id)}
    if display:
        ref["display"] = display
    return ref


def name_key(name: str) -> str:
    return " ".join(name.lower().split())


def telecom_directory(people: list[Person]) -> dict[str, list[dict[str, Any]]]:
    """Named person → every distinct phone/e-mail the record gives them, in order of appearance.

    Registries repeat a person as official, responsible party and central contact, often with the
    phone only in one place; merging by name inside one record makes that one Practitioner.
    """
    directory: dict[str, list[dict[str, Any]]] = {}
    for person in people:
        if person.name:
            directory[name_key(person.name)] = dedupe(directory.get(name_key(person.name), []) + telecom(person))
    return directory


RESPONSIBLE_PARTY_WORDS = {"SPONSOR": "sponsor", "PRINCIPAL_INVESTIGATOR": "principal investigator", "SPONSOR_INVESTIGATOR": "sponsor-investigator"}


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


def location_resources(trial: Trial, site: Location, loc_id: str, *, telecom_only: bool = False) -> list[dict[str, Any]]:
    """A Location per site, plus an Organization for its facility (the site's managing organisation).

    Site contacts are R5 ExtendedContactDetails (purpose, name, telecom); R4B's Location has no
    contact element, so with ``telecom_only`` their phone numbers and e-mails become ``telecom``.
    """
    resources: list[dict[str, Any]] = []
    location: dict[str, Any] = {"resourceType": "Location", "id": loc_id, "identifier": [stable_identifier("Location", loc_id)]}
    if site.facility:
        location["name"] = site.facility
    if site.status:
        location["description"] = f"Site recruitment status: {site.status.replace('_', ' ').lower()}"
    location["mode"] = "instance"
    if site.city or site.state or site.zip or site.country:
        location["address"] = address(site)
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
    if contacts and not telecom_only:
        location["contact"] = contacts
    if site.facility:
        org = organization_resource(site.facility, place=site)
        resources.append(org)
        location["managingOrganization"] = {"reference": full_url("Organization", org["id"]), "display": site.facility}
    location["text"] = narrative("Location.html.j2", site=site)
    points = dedupe(point for detail in contacts for point in detail.get("telecom", []))
    if telecom_only and points:
        location["telecom"] = points
    resources.append(location)
    return resources


_BIOSPECIMEN_WORDS = {"SAMPLES_WITH_DNA": "samples with DNA", "SAMPLES_WITHOUT_DNA": "samples without DNA", "NONE_RETAINED": "none retained"}


def study_design(trial: Trial) -> list[dict[str, Any]]:
    table = load("fhir_r5")["study_design"]  # SEVCO codes; R4B keeps the words only
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


def conditions(trial: Trial) -> list[dict[str, Any]]:
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


def related_artifacts(trial: Trial) -> list[dict[str, Any]]:
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




def oversight_statements(trial: Trial) -> list[tuple[str, Optional[str]]]:
    """The record's oversight flags in words, each with the research-study-classifiers key that
    codes it (only a study that *is* FDA-regulated has a code): data monitoring committee, FDA
    regulated drug / device, results posted. R5 writes them as ``classifier`` (as HL7's
    ClinicalTrials.gov example does), R4B, which has no classifier, as notes."""
    ov = trial.oversight
    out: list[tuple[str, Optional[str]]] = []
    if ov.has_dmc is not None:
        out.append(("Has a data monitoring committee" if ov.has_dmc else "No data monitoring committee", None))
    for flag, product in ((ov.fda_regulated_drug, "drug"), (ov.fda_regulated_device, "device")):
        if flag is not None:
            words = f"Studies a U.S. FDA-regulated {product} product" if flag else f"Does not study a U.S. FDA-regulated {product} product"
            out.append((words, f"fda_regulated_{product}" if flag else None))
    if trial.has_results is not None:
        out.append(("Has results posted on the registry" if trial.has_results else "No results posted on the registry", None))
    return out


def study_notes(trial: Trial, *, status_verified: bool = False, oversight: bool = False) -> list[dict[str, Any]]:
    """Registry facts FHIR has no element for, as annotations (shared by R5 and R4B).

    ``status_verified`` adds the verification date when no status entry carries it; ``oversight``
    states the oversight flags in words for a version without ``ResearchStudy.classifier``.
    """
    notes: list[str] = []
    ov = trial.oversight
    if oversight:
        notes.extend(f"{words}." for words, _ in oversight_statements(trial))
    if ov.unapproved_device:
        notes.append("Includes an unapproved device.")
    if ov.us_export is not None:
        notes.append("Product manufactured in and exported from the U.S." if ov.us_export else "Not a U.S. export.")
    if trial.has_expanded_access is not None:
        notes.append("Expanded access available." if trial.has_expanded_access else "No expanded access.")
    rp = trial.responsible_party
    if rp and rp.type and not rp.name and not (rp.type == "SPONSOR" and trial.sponsor):
        notes.append(f"Responsible party: {RESPONSIBLE_PARTY_WORDS[rp.type]}.")
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
