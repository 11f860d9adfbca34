"""Build a CDISC USDM 4.0 ``Wrapper`` from the canonical Trial.

The registry record becomes one ``Study`` with one ``StudyVersion`` and one study design. What the
registry states is carried with its USDM codes; what USDM requires but a registry never holds
(rationale, epochs, elements, cells, endpoint purpose, …) gets either the smallest honest structure,
marked as derived in ``notes``, or the one placeholder text of ``usdm_map.json`` — never invented
content. Codes come from the vendored USDM CT (``usdm_ct.json``) and the pinned SDTM CT
(``cdisc_ct.json``); a registry value with no term keeps its words and an empty code.

Ids are ``<Class>_<n>``, numbered in build order, so the same trial always gives the same file.
Every human text (criteria, outcome measures, names) is registry text and goes out unchanged in
label/description attributes; the ``text`` attributes USDM defines as HTML get it escaped.
"""

from __future__ import annotations

import html
import uuid
from collections import Counter
from typing import Any, Iterator, Optional

from ...model import Arm, Criterion, Intervention, Trial, TrialDate
from ...terminology import load
from ...terminology import sdtm as ct
from ..cdisc.text import strip_type_prefix
from ..cdisc.ts import _registry_of as registry_of

USDM_VERSION = "4.0.0"
SYSTEM_NAME = "trialconv"
_NAMESPACE = uuid.UUID("6b1f5a7e-3c1d-4f7e-9a55-0c1b2d3e4f50")  # trialconv's own namespace for Study.id


def mapping() -> dict[str, Any]:
    return load("usdm_map")


def usdm_ct() -> dict[str, Any]:
    return load("usdm_ct")


def placeholder() -> str:
    return str(mapping()["placeholder"])


def as_html(text: str) -> str:
    """USDM's text attributes are HTML: registry text escaped, one paragraph per line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines) or "<p></p>"


def _words(value: str) -> str:
    """A registry enumeration value as words: ``SINGLE_GROUP`` → ``Single Group``."""
    return value.replace("_", " ").title()


class _Builder:
    """Numbered ids and coded values for one file."""

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self.counts: Counter[str] = Counter()
        self.version = ct.ct_version()
        self.system = str(mapping()["code_system"])
        self.warnings: list[str] = []

    def id(self, cls: str) -> str:
        self.counts[cls] += 1
        return f"{cls}_{self.counts[cls]}"

    def code(self, code: str, decode: str) -> dict[str, Any]:
        return {"id": self.id("Code"), "code": code, "codeSystem": self.system, "codeSystemVersion": self.version,
                "decode": decode, "instanceType": "Code"}

    def text_only(self, text: str) -> dict[str, Any]:
        """A value with no term: its words kept, the code left empty (never invented)."""
        return self.code("", text)

    def ddf(self, codelist: str, code: Optional[str], text: str = "") -> dict[str, Any]:
        """A term of a USDM codelist (or an attested Protocol/SDTM term) by C-code; no code → text only."""
        if code is None:
            return self.text_only(text or placeholder())
        table = usdm_ct()
        terms = table["codelists"].get(codelist, {}).get("terms") or table["attested"][codelist]
        return self.code(code, terms[code])

    def sdtm(self, key: str, registry_value: str, text: Optional[str] = None) -> dict[str, Any]:
        """A registry value through the pinned SDTM CT mapping (the CDISC writer's), else its words."""
        term = ct.from_registry(key, registry_value)
        return self.code(term.code, term.value) if term else self.text_only(text or _words(registry_value))

    def alias(self, code: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.id("AliasCode"), "standardCode": code, "standardCodeAliases": [], "instanceType": "AliasCode"}

    def note(self, text: str) -> dict[str, Any]:
        return {"id": self.id("CommentAnnotation"), "text": text, "codes": [], "instanceType": "CommentAnnotation"}

    def quantity(self, value: float, unit: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        quantity: dict[str, Any] = {"id": self.id("Quantity"), "value": value}
        if unit is not None:
            quantity["unit"] = self.alias(unit)
        quantity["instanceType"] = "Quantity"
        return quantity


class _Organizations:
    """One Organization per distinct name; the ids roles and identifiers point to."""

    def __init__(self, build: _Builder) -> None:
        self.build = build
        self.items: list[dict[str, Any]] = []
        self.by_name: dict[str, str] = {}

    def get(self, name: str, kind: dict[str, Any], address: Optional[dict[str, Any]] = None) -> str:
        key = name.casefold()
        if key not in self.by_name:
            org: dict[str, Any] = {"id": self.build.id("Organization"), "name": name, "type": kind,
                                   "identifierScheme": placeholder(), "identifier": placeholder()}
            if address:
                org["legalAddress"] = address
            org["instanceType"] = "Organization"
            self.items.append(org)
            self.by_name[key] = org["id"]
        return self.by_name[key]


def _org_type(build: _Builder, role: str, agency_class: Optional[str] = None) -> dict[str, Any]:
    table = mapping()["organization_types"]
    if role == "sponsor":
        return build.ddf(mapping()["role_codes"]["codelist"], mapping()["role_codes"]["sponsor"])
    if role in ("registry", "regulator", "site"):
        if role == "site":
            return build.text_only("Study Facility")
        return build.ddf(table["codelist"], table[role])
    code = table["agency_class"].get(agency_class or "")
    return build.ddf(table["codelist"], code, _words(agency_class) if agency_class else placeholder())


def _identifiers(trial: Trial, build: _Builder, orgs: _Organizations) -> list[dict[str, Any]]:
    """Every registry and sponsor identifier with the organisation that assigned it as its scope."""
    sponsor = trial.sponsor.name if trial.sponsor else None
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for ident in trial.identifiers:
        issuer = ident.issuer
        if ident.kind == "ORG_STUDY_ID" and sponsor and (issuer is None or issuer == sponsor):
            scope = orgs.get(sponsor, _org_type(build, "sponsor"))
        elif ident.type == "NCT_ALIAS":
            scope = orgs.get("ClinicalTrials.gov", _org_type(build, "registry"))
        else:
            registry = registry_of(ident.value, ident.type, issuer) if ident.kind != "ORG_STUDY_ID" else None
            if registry:
                scope = orgs.get(registry, _org_type(build, "registry"))
            elif ident.kind == "REGISTRY":
                scope = orgs.get(issuer or "ClinicalTrials.gov", _org_type(build, "registry"))
            elif issuer and issuer == sponsor:
                scope = orgs.get(issuer, _org_type(build, "sponsor"))
            elif ident.type in mapping()["registry_regulators"]:
                scope = orgs.get(issuer or ident.type, _org_type(build, "regulator"))
            else:
                scope = orgs.get(issuer or placeholder(), _org_type(build, "other"))
        if (scope, ident.value) in seen:
            continue
        seen.add((scope, ident.value))
        found.append({"id": build.id("StudyIdentifier"), "text": ident.value, "scopeId": scope, "instanceType": "StudyIdentifier"})
    return found


def _titles(trial: Trial, build: _Builder) -> list[dict[str, Any]]:
    types = mapping()["title_types"]
    titles = []
    for kind, text in (("brief", trial.brief_title), ("official", trial.official_title), ("acronym", trial.acronym)):
        if text:
            titles.append({"id": build.id("StudyTitle"), "text": text, "type": build.ddf(types["codelist"], types[kind]),
                           "instanceType": "StudyTitle"})
    return titles


def _date_type(build: _Builder, field: str) -> dict[str, Any]:
    spec = mapping()["date_types"][field]
    if "tsparmcd" in spec:
        parameter = ct.parameters()[spec["tsparmcd"]]
        return build.code(parameter["code"], parameter["name"])
    return build.text_only(spec["text"])


def _dates(trial: Trial, build: _Builder, notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registry dates with a full day; a partial date (month or year) is kept as a note, not padded."""
    scope = mapping()["geographic_scope"]
    values = []
    for field in mapping()["date_types"]:
        if field.startswith("_"):
            continue
        value: Optional[TrialDate] = getattr(trial.dates, field)
        if value is None:
            continue
        label = _words(field) + " date"
        if value.precision != "day":
            notes.append(build.note(f"{label}: {value.date} ({(value.type or 'stated').lower()}); only {value.precision} precision, "
                                    "so it is not written as a GovernanceDate, whose dateValue is a full date"))
            continue
        values.append({
            "id": build.id("GovernanceDate"), "name": f"DATE_{len(values) + 1}", "label": label,
            "description": (value.type or "").title() or None, "type": _date_type(build, field), "dateValue": value.date,
            "geographicScopes": [{"id": build.id("GeographicScope"), "type": build.ddf(scope["codelist"], scope["global"]),
                                  "instanceType": "GeographicScope"}],
            "instanceType": "GovernanceDate",
        })
        if values[-1]["description"] is None:
            del values[-1]["description"]
    return values


def _address(location: Any, build: _Builder) -> Optional[dict[str, Any]]:
    parts = [location.city, location.state, location.zip, location.country]
    if not any(parts):
        return None
    address: dict[str, Any] = {"id": build.id("Address"), "text": ", ".join(p for p in parts if p)}
    for key, value in (("city", location.city), ("state", location.state), ("postalCode", location.zip)):
        if value:
            address[key] = value
    address["instanceType"] = "Address"
    return address


def _roles(trial: Trial, build: _Builder, orgs: _Organizations, version_id: str) -> list[dict[str, Any]]:
    """Sponsor, collaborators and site organisations, each role applying to the study version."""
    codes = mapping()["role_codes"]
    roles: list[dict[str, Any]] = []

    def role(code: dict[str, Any], org_ids: list[str]) -> None:
        roles.append({"id": build.id("StudyRole"), "name": f"ROLE_{len(roles) + 1}", "code": code, "appliesToIds": [version_id],
                      "organizationIds": org_ids, "instanceType": "StudyRole"})

    if trial.sponsor:
        role(build.ddf(codes["codelist"], codes["sponsor"]), [orgs.get(trial.sponsor.name, _org_type(build, "sponsor"))])
    collaborators = [orgs.get(c.name, _org_type(build, "other", c.agency_class)) for c in trial.collaborators]
    if collaborators:
        role(build.text_only("Collaborator"), list(dict.fromkeys(collaborators)))
    sites = [orgs.get(loc.facility, _org_type(build, "site"), _address(loc, build)) for loc in trial.locations if loc.facility]
    if sites:
        role(build.ddf(codes["codelist"], codes["site"]), list(dict.fromkeys(sites)))
    return roles


def _masking_roles(trial: Trial, build: _Builder, design_id: str, start: int) -> list[dict[str, Any]]:
    """Who the registry says is masked, as study roles with a Masking, applying to the design."""
    codes = mapping()["role_codes"]
    roles = []
    for who in trial.design.who_masked:
        roles.append({"id": build.id("StudyRole"), "name": f"ROLE_{start + len(roles) + 1}",
                      "code": build.ddf(codes["codelist"], codes["masked"][who]), "appliesToIds": [design_id],
                      "masking": {"id": build.id("Masking"), "text": f"{_words(who)} masked (registry)", "isMasked": True,
                                  "instanceType": "Masking"},
                      "instanceType": "StudyRole"})
    return roles


def _arm_interventions(trial: Trial) -> dict[str, list[int]]:
    """Arm label → indexes of the interventions given in it (either side of the registry's link)."""
    given: dict[str, list[int]] = {arm.label: [] for arm in trial.arms}
    names = {strip_type_prefix(n).casefold(): i for i, iv in enumerate(trial.interventions) for n in [iv.name]}
    for i, iv in enumerate(trial.interventions):
        for label in iv.arm_labels:
            if label in given and i not in given[label]:
                given[label].append(i)
    for arm in trial.arms:
        for name in arm.intervention_names:
            index = names.get(strip_type_prefix(name).casefold())
            if index is not None and index not in given[arm.label]:
                given[arm.label].append(index)
    return given


def _intervention_role(build: _Builder, arm_types: set[str], intervention: Intervention) -> dict[str, Any]:
    roles = mapping()["intervention_roles"]
    if len(arm_types) == 1:
        (arm_type,) = arm_types
        if arm_type == "PLACEBO_COMPARATOR" and "placebo" not in intervention.name.casefold():
            arm_type = ""
        if arm_type in roles:
            return build.ddf(roles["codelist"], roles[arm_type])
    return build.text_only(placeholder())


def _interventions(trial: Trial, build: _Builder, given: dict[str, list[int]]) -> list[dict[str, Any]]:
    arm_type = {arm.label: arm.type or "" for arm in trial.arms}
    found = []
    for index, iv in enumerate(trial.interventions):
        types = {arm_type[label] for label, indexes in given.items() if index in indexes}
        item: dict[str, Any] = {"id": build.id("StudyIntervention"), "name": f"INT_{index + 1}", "label": iv.name}
        if iv.description:
            item["description"] = iv.description
        item["role"] = _intervention_role(build, types, iv)
        item["type"] = build.sdtm("INTTYPE", iv.type) if iv.type else build.text_only(placeholder())
        item["codes"] = []
        item["notes"] = [build.note("Other names: " + "; ".join(iv.other_names))] if iv.other_names else []
        item["instanceType"] = "StudyIntervention"
        found.append(item)
    return found


def _arms(trial: Trial, build: _Builder, derived: str, interventional: bool) -> tuple[list[dict[str, Any]], list[Arm]]:
    """The registry's arms/groups, or one derived arm when it lists none (USDM needs at least one)."""
    types = mapping()["arm_types"]
    origin = mapping()["data_origin"]
    arms = list(trial.arms) or [Arm(label="All participants")]
    prospective = interventional or trial.design.time_perspective == "PROSPECTIVE"
    built = []
    for index, arm in enumerate(arms):
        item: dict[str, Any] = {"id": build.id("StudyArm"), "name": f"ARM_{index + 1}", "label": arm.label}
        if arm.description:
            item["description"] = arm.description
        item["type"] = build.ddf(types["codelist"], types.get(arm.type or ""), _words(arm.type) if arm.type else placeholder())
        item["dataOriginDescription"] = placeholder()
        item["dataOriginType"] = build.ddf(origin["codelist"], origin["within_study"] if prospective else None)
        item["populationIds"] = []
        if not trial.arms:
            item["notes"] = [build.note("Derived by trialconv: the registry record lists no arms or groups; this one arm stands for all participants.")]
        elif arm.derived:
            item["notes"] = [build.note("Derived by trialconv: the registry record lists no arms; this arm is built from what the record "
                                        "states (its description says from what).")]
        else:
            item["notes"] = []
        item["instanceType"] = "StudyArm"
        built.append(item)
    return built, arms


def _structure(trial: Trial, build: _Builder, arms: list[dict[str, Any]], arm_models: list[Arm], given: dict[str, list[int]],
               intervention_ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """One derived epoch, and one element and one cell per arm: the smallest structure USDM allows."""
    derived = str(mapping()["derived_note"])
    epoch_kind = mapping()["epoch"][trial.study_type or ""]
    epoch = {"id": build.id("StudyEpoch"), "name": "EPOCH_1", "label": "Whole study", "type": build.sdtm("EPOCH", epoch_kind),
             "notes": [build.note(derived)], "instanceType": "StudyEpoch"}
    elements, cells = [], []
    for index, (arm, model) in enumerate(zip(arms, arm_models)):
        element = {"id": build.id("StudyElement"), "name": f"ELEMENT_{index + 1}", "label": model.label,
                   "studyInterventionIds": [intervention_ids[i] for i in given.get(model.label, [])],
                   "notes": [build.note(derived)], "instanceType": "StudyElement"}
        elements.append(element)
        cells.append({"id": build.id("StudyCell"), "armId": arm["id"], "epochId": epoch["id"], "elementIds": [element["id"]],
                      "instanceType": "StudyCell"})
    return [epoch], elements, cells


def _timeline(build: _Builder, epoch_id: str) -> dict[str, Any]:
    """The derived main timeline: one scheduled instance (the whole study, in the one epoch), its exit and
    the anchor timing USDM requires — no visits or activities, which a registry does not describe."""
    timing = mapping()["timing"]
    exit_ = {"id": build.id("ScheduleTimelineExit"), "instanceType": "ScheduleTimelineExit"}
    instance = {"id": build.id("ScheduledActivityInstance"), "name": "INSTANCE_1", "label": "Whole study", "epochId": epoch_id,
                "timelineExitId": exit_["id"], "activityIds": [], "instanceType": "ScheduledActivityInstance"}
    anchor = {"id": build.id("Timing"), "name": "TIMING_1", "label": "Study start",
              "type": build.ddf(timing["type_codelist"], timing["fixed_reference"]), "value": "P0D", "valueLabel": "Study start",
              "relativeToFrom": build.ddf(timing["relative_codelist"], timing["start_to_start"]),
              "relativeFromScheduledInstanceId": instance["id"], "instanceType": "Timing"}
    return {"id": build.id("ScheduleTimeline"), "name": "TIMELINE_1", "label": "Whole study",
            "description": str(mapping()["derived_note"]), "mainTimeline": True, "entryCondition": placeholder(),
            "entryId": instance["id"], "exits": [exit_], "timings": [anchor], "instances": [instance], "instanceType": "ScheduleTimeline"}


def _flatten(criteria: list[Criterion], prefix: str = "", category: str = "UNKNOWN") -> Iterator[tuple[str, str, Criterion]]:
    """Criteria in registry order, nested ones right after their parent, numbered ``2``, ``2.1``, …"""
    counters: Counter[str] = Counter()
    for criterion in criteria:
        own = criterion.category if criterion.category != "UNKNOWN" else category
        counters[own] += 1
        number = f"{prefix}{counters[own]}"
        yield number, own, criterion
        yield from _flatten(criterion.children, number + ".", own)


def _criteria(trial: Trial, build: _Builder) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """EligibilityCriterion (design) and EligibilityCriterionItem (version) pairs, chained in order."""
    prefixes = {"INCLUSION": "IN", "EXCLUSION": "EX", "UNKNOWN": "EC"}
    criteria, items = [], []
    for number, category, criterion in _flatten(trial.eligibility.criteria):
        name = f"{prefixes[category]}{number}"
        item = {"id": build.id("EligibilityCriterionItem"), "name": name, "text": as_html(criterion.text),
                "instanceType": "EligibilityCriterionItem"}
        coded = build.sdtm("IECAT", category, placeholder()) if category != "UNKNOWN" else build.text_only(placeholder())
        criteria.append({"id": build.id("EligibilityCriterion"), "name": name, "category": coded, "identifier": number,
                         "criterionItemId": item["id"], "previousId": None, "nextId": None, "instanceType": "EligibilityCriterion"})
        items.append(item)
    for before, after in zip(criteria, criteria[1:]):
        before["nextId"], after["previousId"] = after["id"], before["id"]
    return criteria, items


def _age(build: _Builder, age: Any) -> dict[str, Any]:
    units = mapping()["age_units"]
    return build.quantity(age.value, build.ddf(units["codelist"], units.get(age.unit), _words(age.unit)))


def _population(trial: Trial, build: _Builder, criterion_ids: list[str]) -> dict[str, Any]:
    elig = trial.eligibility
    notes = []
    population: dict[str, Any] = {"id": build.id("StudyDesignPopulation"), "name": "POPULATION_1"}
    if elig.study_population:
        population["description"] = elig.study_population
    if elig.healthy_volunteers is None:
        notes.append(build.note("includesHealthySubjects: not stated in the registry record; false is the stand-in the "
                                "USDM schema requires (a boolean cannot hold a placeholder)."))
    population["includesHealthySubjects"] = bool(elig.healthy_volunteers)
    enrollment = trial.enrollment
    if enrollment is not None:
        if enrollment.type == "ACTUAL":
            notes.append(build.note(f"Actual enrollment (registry): {enrollment.count}"))
        else:
            population["plannedEnrollmentNumber"] = build.quantity(enrollment.count)
    sex = {"ALL": ["FEMALE", "MALE"], "FEMALE": ["FEMALE"], "MALE": ["MALE"]}.get(elig.sex or "", [])
    population["plannedSex"] = [build.sdtm("SEXPOP", s) for s in sex]
    population["criterionIds"] = criterion_ids
    if elig.minimum_age and elig.maximum_age:
        population["plannedAge"] = {"id": build.id("Range"), "minValue": _age(build, elig.minimum_age),
                                    "maxValue": _age(build, elig.maximum_age), "isApproximate": False, "instanceType": "Range"}
    elif elig.minimum_age or elig.maximum_age:
        bound = "Minimum" if elig.minimum_age else "Maximum"
        age = elig.minimum_age or elig.maximum_age
        notes.append(build.note(f"{bound} age (registry): {age.as_text()}; the registry states no "  # type: ignore[union-attr]
                                f"{'maximum' if elig.minimum_age else 'minimum'}, and a USDM Range needs both"))
    if elig.gender_description:
        notes.append(build.note(f"Sex eligibility (registry): {elig.gender_description}"))
    population["notes"] = notes
    population["instanceType"] = "StudyDesignPopulation"
    return population


def _objectives(trial: Trial, build: _Builder) -> list[dict[str, Any]]:
    """One objective per outcome kind the record has, holding that kind's outcome measures as endpoints.

    A registry states outcome measures, not objectives: the objective text is the placeholder and a
    note says so; the endpoint texts are the registry's measures.
    """
    levels, endpoint_levels = mapping()["objective_levels"], mapping()["endpoint_levels"]
    objectives = []
    for kind in ("PRIMARY", "SECONDARY", "OTHER"):
        outcomes = [o for o in trial.outcomes if o.kind == kind]
        if not outcomes:
            continue
        endpoints = []
        for outcome in outcomes:
            endpoint: dict[str, Any] = {"id": build.id("Endpoint"), "name": f"ENDPOINT_{build.counts['Endpoint']}",
                                        "label": outcome.measure}
            if outcome.description:
                endpoint["description"] = outcome.description
            endpoint["text"] = as_html(outcome.measure)
            endpoint["notes"] = [build.note(f"Time frame (registry): {outcome.time_frame}")] if outcome.time_frame else []
            endpoint["purpose"] = placeholder()
            endpoint["level"] = build.ddf(endpoint_levels["codelist"], endpoint_levels[kind])
            endpoint["instanceType"] = "Endpoint"
            endpoints.append(endpoint)
        objectives.append({"id": build.id("Objective"), "name": f"OBJECTIVE_{len(objectives) + 1}",
                           "text": as_html(placeholder()),
                           "notes": [build.note(f"Derived by trialconv: the registry states {kind.lower()} outcome measures, not "
                                                "objectives; this objective groups them.")],
                           "level": build.ddf(levels["codelist"], levels[kind]), "endpoints": endpoints, "instanceType": "Objective"})
    return objectives


def _indications(trial: Trial, build: _Builder) -> list[dict[str, Any]]:
    seen: dict[str, str] = {}
    for condition in trial.conditions:
        seen.setdefault(condition.casefold(), condition)
    return [{"id": build.id("Indication"), "name": f"INDICATION_{i + 1}", "label": text, "codes": [], "isRareDisease": False,
             "notes": [build.note("isRareDisease: not stated in the registry record; false is the stand-in the USDM schema requires.")],
             "instanceType": "Indication"} for i, text in enumerate(seen.values())]


def _biospecimens(trial: Trial, build: _Builder) -> list[dict[str, Any]]:
    retention = trial.design.bio_spec_retention
    if not retention:
        return []
    item: dict[str, Any] = {"id": build.id("BiospecimenRetention"), "name": "BIOSPECIMEN_1", "label": _words(retention)}
    if trial.design.bio_spec_description:
        item["description"] = trial.design.bio_spec_description
    item["isRetained"] = retention != "NONE_RETAINED"
    if retention in ("SAMPLES_WITH_DNA", "SAMPLES_WITHOUT_DNA"):
        item["includesDNA"] = retention == "SAMPLES_WITH_DNA"
    item["instanceType"] = "BiospecimenRetention"
    return [item]


def _characteristics(trial: Trial, build: _Builder) -> list[dict[str, Any]]:
    """Randomised (registry allocation), multicentre / multiple countries (two or more listed)."""
    table = mapping()["characteristics"]
    found = []
    if trial.design.allocation == "RANDOMIZED":
        found.append(build.ddf(table["codelist"], table["randomized"]))
    if len({loc.facility for loc in trial.locations if loc.facility}) > 1:
        found.append(build.ddf(table["codelist"], table["multicentre"]))
    if len({loc.country for loc in trial.locations if loc.country}) > 1:
        found.append(build.ddf(table["codelist"], table["multiple_countries"]))
    return found


def _phase(trial: Trial, build: _Builder) -> Optional[dict[str, Any]]:
    phases = [str(p) for p in trial.phases]
    if phases:
        return build.alias(build.sdtm("TPHASE", "+".join(phases) if "NA" not in phases else "NA", "/".join(phases)))
    if trial.study_type in ("OBSERVATIONAL", "EXPANDED_ACCESS"):
        return build.alias(build.code(ct.term("TPHASE", "NOT APPLICABLE").code, "NOT APPLICABLE"))  # type: ignore[union-attr]
    return None


def _blinding(trial: Trial, build: _Builder) -> Optional[dict[str, Any]]:
    design = trial.design
    if not design.masking:
        return None
    assessor_only = design.masking == "SINGLE" and list(design.who_masked) == ["OUTCOMES_ASSESSOR"]
    return build.alias(build.sdtm("TBLIND", "SINGLE+OUTCOMES_ASSESSOR_ONLY" if assessor_only else str(design.masking)))


def _design(trial: Trial, build: _Builder, study_interventions: list[dict[str, Any]], given: dict[str, list[int]]) -> dict[str, Any]:
    observational = trial.study_type == "OBSERVATIONAL"
    cls = "ObservationalStudyDesign" if observational else "InterventionalStudyDesign"
    design: dict[str, Any] = {"id": build.id(cls), "name": "STUDY_DESIGN_1"}
    if trial.design.intervention_model_description:
        design["description"] = trial.design.intervention_model_description
    if trial.study_type:
        key = "OBSERVATIONAL+PATIENT_REGISTRY" if observational and trial.design.patient_registry else trial.study_type
        design["studyType"] = build.sdtm("STYPE", key)
    phase = _phase(trial, build)
    if phase:
        design["studyPhase"] = phase
    design["characteristics"] = _characteristics(trial, build)
    arms, arm_models = _arms(trial, build, str(mapping()["derived_note"]), not observational)
    intervention_ids = [iv["id"] for iv in study_interventions]
    epochs, elements, cells = _structure(trial, build, arms, arm_models, given, intervention_ids)
    design["arms"] = arms
    design["studyCells"] = cells
    design["rationale"] = placeholder()
    design["epochs"] = epochs
    design["elements"] = elements
    design["indications"] = _indications(trial, build)
    design["studyInterventionIds"] = intervention_ids
    design["objectives"] = _objectives(trial, build)
    criteria, items = _criteria(trial, build)
    design["population"] = _population(trial, build, [c["id"] for c in criteria])
    design["scheduleTimelines"] = [_timeline(build, epochs[0]["id"])]
    design["biospecimenRetentions"] = _biospecimens(trial, build)
    design["eligibilityCriteria"] = criteria
    design["_items"] = items  # moved to the StudyVersion by the caller
    d = trial.design
    if observational:
        design["model"] = build.sdtm("OBSMODEL", d.observational_model) if d.observational_model else build.text_only(placeholder())
        design["timePerspective"] = build.sdtm("OBSTIMP", d.time_perspective) if d.time_perspective else build.text_only(placeholder())
        if trial.eligibility.sampling_method:
            design["samplingMethod"] = build.text_only(_words(trial.eligibility.sampling_method))
    else:
        # The registry's own words ("Sequential Assignment"), so a value without a term is not mistaken
        # for the CDISC term it resembles (SEQUENTIAL, C142568, is a group-sequential design).
        model = d.intervention_model
        design["model"] = build.sdtm("INTMODEL", model, f"{_words(model)} Assignment") if model else build.text_only(placeholder())
        design["intentTypes"] = [build.sdtm("TINDTP", d.primary_purpose)] if d.primary_purpose else []
        blinding = _blinding(trial, build)
        if blinding:
            design["blindingSchema"] = blinding
    design["instanceType"] = cls
    return design


def build_wrapper(trial: Trial, system_version: str = "") -> dict[str, Any]:
    """The USDM ``Wrapper`` for one trial (not yet validated: see :mod:`converter.validate.usdm`)."""
    build = _Builder(trial)
    orgs = _Organizations(build)
    version_id = build.id("StudyVersion")
    notes: list[dict[str, Any]] = []
    identifiers = _identifiers(trial, build, orgs)
    titles = _titles(trial, build)
    dates = _dates(trial, build, notes)
    roles = _roles(trial, build, orgs, version_id)
    given = _arm_interventions(trial)
    interventions = _interventions(trial, build, given)
    design = _design(trial, build, interventions, given)
    items = design.pop("_items")
    roles.extend(_masking_roles(trial, build, design["id"], len(roles)))
    last = trial.dates.last_update_posted or trial.dates.last_update_submitted
    notes.append(build.note(f"Converted by trialconv from the {trial.provenance.source_format} registry record {trial.id}; "
                            f"'{placeholder()}' marks what USDM requires and the registry does not hold."))
    version = {
        "id": version_id,
        "versionIdentifier": last.date if last else placeholder(),
        "rationale": placeholder(),
        "dateValues": dates,
        "studyIdentifiers": identifiers,
        "studyDesigns": [design],
        "titles": titles,
        "eligibilityCriterionItems": items,
        "roles": roles,
        "organizations": orgs.items,
        "studyInterventions": interventions,
        "notes": notes,
        "instanceType": "StudyVersion",
    }
    study: dict[str, Any] = {"id": str(uuid.uuid5(_NAMESPACE, trial.id)), "name": trial.id}
    if trial.acronym:
        study["label"] = trial.acronym
    if trial.brief_summary:
        study["description"] = trial.brief_summary
    study["versions"] = [version]
    study["instanceType"] = "Study"
    return {"study": study, "usdmVersion": USDM_VERSION, "systemName": SYSTEM_NAME, "systemVersion": system_version or None}
