"""Reader for ClinicalTrials.gov API v2 JSON: one study, a page ``{"studies": [...]}``, an array or NDJSON.

The v2 vocabulary *is* the model's vocabulary, so this reader is mostly a faithful copy with cleaning.
Two rules shape the code:

* **Nothing is silently dropped.** Every read goes through :class:`Node`, which records the path it
  read; after mapping, whatever the record holds that was never read is listed in
  ``provenance.unmapped``. Values the model cannot hold (an unknown phase, an unreadable date) are
  listed there too, with their value, instead of failing the whole record.
* **Shape errors name their field.** A wrong JSON type (a string where an object belongs) or a
  missing ``nctId`` makes the record a :class:`ConversionError` naming the record and field path;
  the reader then goes on with the next study.

The record-bookkeeping helpers (:class:`RecordContext`, :func:`vocab`, :func:`make`, :func:`make_date`)
live in :mod:`converter.readers.record`, shared with the legacy XML reader, which maps the same fields.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Any, Literal, Optional

from pydantic import ValidationError

from ..errors import ConversionError
from ..model import (
    Arm,
    Dates,
    Design,
    Eligibility,
    Enrollment,
    Identifier,
    Intervention,
    IpdSharing,
    Link,
    Location,
    MeshTerm,
    Organization,
    Outcome,
    Oversight,
    Person,
    Reference,
    ResponsibleParty,
    Trial,
    TrialDate,
)
from ..normalize.text import clean_block, clean_line, clean_list, code_key, enum_key, parse_bool
from .base import ReadResult, Reader
from .record import (
    REGISTRY, RecordContext, RecordError, age_limit, mesh_ui, brief, build_trial, codes, is_empty, loads, make, make_date,
    id_text, parse_criteria_safely, pmid_value, provenance, url_value, vocab,
)

NAME = "ctgov-v2"

# ---------------------------------------------------------------------------------------------
# JSON access with path tracking
# ---------------------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), type(value).__name__)


class Node:
    """A JSON object with its path; every accessor records the path it read in the context.

    ``path`` is the display path with list indices (for error messages), ``key`` the index-free path
    used for bookkeeping. Accessors raise :class:`RecordError` on a wrong JSON type.
    """

    __slots__ = ("data", "path", "key", "ctx")

    def __init__(self, data: dict[str, Any], path: str, key: str, ctx: RecordContext) -> None:
        self.data = data
        self.path = path
        self.key = key
        self.ctx = ctx

    def _at(self, name: str) -> tuple[str, str]:
        return (f"{self.path}.{name}" if self.path else name, f"{self.key}.{name}" if self.key else name)

    def raw(self, name: str) -> Any:
        """The value as is, taken whole."""
        self.ctx.consumed.add(self._at(name)[1])
        return self.data.get(name)

    def obj(self, name: str) -> Node:
        """A child object (empty when absent)."""
        path, key = self._at(name)
        value = self.data.get(name)
        if value is None:
            return Node({}, path, key, self.ctx)
        if not isinstance(value, dict):
            raise RecordError(path, f"expected an object, got {_json_type(value)}")
        self.ctx.entered.add(key)
        return Node(value, path, key, self.ctx)

    def objs(self, name: str) -> list[Node]:
        """A list of child objects (empty when absent)."""
        path, key = self._at(name)
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise RecordError(path, f"expected an array, got {_json_type(value)}")
        self.ctx.entered.add(key)
        nodes = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise RecordError(f"{path}[{index}]", f"expected an object, got {_json_type(item)}")
            nodes.append(Node(item, f"{path}[{index}]", key, self.ctx))
        return nodes

    def _scalar(self, name: str) -> Optional[str]:
        path, _ = self._at(name)
        value = self.raw(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise RecordError(path, f"expected a string, got {_json_type(value)}")

    def text(self, name: str) -> Optional[str]:
        """One-line cleaned text; placeholders become None."""
        return clean_line(self._scalar(name))

    def block(self, name: str) -> Optional[str]:
        """Multi-line cleaned text keeping line structure and indentation."""
        return clean_block(self._scalar(name))

    def code(self, name: str) -> Optional[str]:
        """A registry enumeration key ("Active, not recruiting" → ACTIVE_NOT_RECRUITING)."""
        return code_key(self._scalar(name))

    def open_code(self, name: str) -> Optional[str]:
        """A code for a field with an open vocabulary (agency class, role, id type, site status).

        Unlike :meth:`code`, placeholders ("None", "null") are missing values here: these fields
        have no coded "NONE" answer, and the model refuses the placeholder outright, which would
        otherwise cost the whole trial for one junk word.
        """
        return enum_key(self._scalar(name))

    def _strings(self, name: str) -> list[str]:
        path, _ = self._at(name)
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise RecordError(path, f"expected an array of strings, got {_json_type(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise RecordError(f"{path}[{index}]", f"expected a string, got {_json_type(item)}")
        return value

    def texts(self, name: str) -> list[str]:
        """A list of strings, cleaned, placeholders and exact repeats dropped, order kept."""
        return clean_list(self._strings(name))

    def codes(self, name: str) -> list[str]:
        """A list of registry codes in source order (no placeholder rule: "NA" is a phase)."""
        return [key for item in self._strings(name) if (key := code_key(item))]

    def flag(self, name: str) -> Optional[bool]:
        """A boolean; "Yes"/"No" strings are accepted, other strings are listed as not carried."""
        path, _ = self._at(name)
        value = self.raw(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            parsed = parse_bool(value)
            if parsed is None and clean_line(value) is not None:
                self.ctx.not_carried(path, value, "is not a yes/no value")
            return parsed
        raise RecordError(path, f"expected a boolean, got {_json_type(value)}")

    def integer(self, name: str) -> Optional[int]:
        """A whole number; digit strings are accepted."""
        path, _ = self._at(name)
        value = self.raw(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        # isdecimal, not isdigit: "²" is a digit int() refuses; the length bound keeps int() clear
        # of Python's 4300-digit conversion limit (no real count has 19 digits).
        if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 18:
            return int(value.strip())
        raise RecordError(path, f"expected a whole number, got {_json_type(value)} {brief(repr(value))}")

    def number(self, name: str) -> Optional[float]:
        """A finite number; NaN and Infinity (which Python's JSON parser lets through) are listed
        as not carried, since no output format can hold them."""
        path, _ = self._at(name)
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                return number
            self.ctx.not_carried(path, value, "is not a finite number")
            return None
        raise RecordError(path, f"expected a number, got {_json_type(value)}")


def unread_paths(data: dict[str, Any], key: str, ctx: RecordContext) -> Iterator[str]:
    """Index-free paths holding information that no accessor read, shallowest first."""
    for name, value in data.items():
        child = f"{key}.{name}" if key else name
        if child in ctx.consumed or is_empty(value):
            continue
        if child in ctx.entered:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    yield from unread_paths(item, child, ctx)
        else:
            yield child


# ---------------------------------------------------------------------------------------------
# Mapping: one function per model area
# ---------------------------------------------------------------------------------------------


def _identifiers(ident: Node, nct_id: str) -> list[Identifier]:
    ids = [Identifier(value=nct_id, kind="REGISTRY", issuer=REGISTRY)]
    org = ident.obj("orgStudyIdInfo")
    org_id = org.text("id")
    if org_id:
        link = url_value(org.text("link"), f"{org.path}.link", ident.ctx)
        ids.append(Identifier(value=org_id, kind="ORG_STUDY_ID", type=org.open_code("type"), issuer=ident.obj("organization").text("fullName"), link=link))
    for secondary in ident.objs("secondaryIdInfos"):
        value = secondary.text("id")
        if value:
            link = url_value(secondary.text("link"), f"{secondary.path}.link", ident.ctx)
            ids.append(Identifier(value=value, kind="SECONDARY", type=secondary.open_code("type"), issuer=secondary.text("domain"), link=link))
    for alias in ident.texts("nctIdAliases"):
        ids.append(Identifier(value=alias, kind="SECONDARY", type="NCT_ALIAS", issuer=REGISTRY))
    return ids


def _date_struct(status: Node, name: str) -> Optional[TrialDate]:
    struct = status.obj(name)
    return make_date(struct.text("date"), struct.text("type"), struct.path, status.ctx)


def _dates(status: Node) -> Dates:
    ctx = status.ctx
    return Dates(
        start=_date_struct(status, "startDateStruct"),
        primary_completion=_date_struct(status, "primaryCompletionDateStruct"),
        completion=_date_struct(status, "completionDateStruct"),
        first_submitted=make_date(status.text("studyFirstSubmitDate"), None, f"{status.path}.studyFirstSubmitDate", ctx),
        first_posted=_date_struct(status, "studyFirstPostDateStruct"),
        last_update_submitted=make_date(status.text("lastUpdateSubmitDate"), None, f"{status.path}.lastUpdateSubmitDate", ctx),
        last_update_posted=_date_struct(status, "lastUpdatePostDateStruct"),
        results_first_posted=_date_struct(status, "resultsFirstPostDateStruct"),
        status_verified=make_date(status.text("statusVerifiedDate"), None, f"{status.path}.statusVerifiedDate", ctx),
    )


def _status(status: Node) -> dict[str, Any]:
    ctx = status.ctx
    return {
        "overall_status": vocab(status.code("overallStatus"), f"{status.path}.overallStatus", Trial, "overall_status", ctx),
        "last_known_status": vocab(status.code("lastKnownStatus"), f"{status.path}.lastKnownStatus", Trial, "last_known_status", ctx),
        "why_stopped": status.text("whyStopped"),
        "has_expanded_access": status.obj("expandedAccessInfo").flag("hasExpandedAccess"),
        "dates": _dates(status),
    }


def _organization(node: Node, name_key: str) -> Optional[Organization]:
    name = node.text(name_key)
    agency_class = node.open_code("class")
    if name is None:
        if agency_class:
            node.ctx.not_carried(f"{node.path}.class", agency_class, "has no organisation name to attach to")
        return None
    return Organization(name=name, agency_class=agency_class)


def _responsible_party(party: Node) -> Optional[ResponsibleParty]:
    ctx = party.ctx
    old_name, old_org = party.text("oldNameTitle"), party.text("oldOrganization")
    name = party.text("investigatorFullName")
    affiliation = party.text("investigatorAffiliation")
    for new, old, old_key in ((name, old_name, "oldNameTitle"), (affiliation, old_org, "oldOrganization")):
        if new and old and new != old:
            ctx.not_carried(f"{party.path}.{old_key}", old, "superseded by the investigator field")
    result = ResponsibleParty(
        type=vocab(party.code("type"), f"{party.path}.type", ResponsibleParty, "type", ctx),
        # oldNameTitle is the pre-2017 free "name/title" field; it names the party more often than not.
        name=name or old_name,
        title=party.text("investigatorTitle"),
        affiliation=affiliation or old_org,
    )
    return result if result.model_dump(exclude_none=True) else None


def _sponsors(module: Node) -> dict[str, Any]:
    return {
        "sponsor": _organization(module.obj("leadSponsor"), "name"),
        "collaborators": [org for node in module.objs("collaborators") if (org := _organization(node, "name"))],
        "responsible_party": _responsible_party(module.obj("responsibleParty")),
    }


def _oversight(module: Node) -> Oversight:
    return Oversight(
        has_dmc=module.flag("oversightHasDmc"),
        fda_regulated_drug=module.flag("isFdaRegulatedDrug"),
        fda_regulated_device=module.flag("isFdaRegulatedDevice"),
        unapproved_device=module.flag("isUnapprovedDevice"),
        us_export=module.flag("isUsExport"),
    )


def _design(module: Node) -> dict[str, Any]:
    ctx = module.ctx
    info = module.obj("designInfo")
    masking = info.obj("maskingInfo")
    bio = module.obj("bioSpec")
    design = make(
        Design,
        module.path,
        ctx,
        allocation=vocab(info.code("allocation"), f"{info.path}.allocation", Design, "allocation", ctx),
        intervention_model=vocab(info.code("interventionModel"), f"{info.path}.interventionModel", Design, "intervention_model", ctx),
        intervention_model_description=info.block("interventionModelDescription"),
        masking=vocab(masking.code("masking"), f"{masking.path}.masking", Design, "masking", ctx),
        who_masked=codes(masking.codes("whoMasked"), f"{masking.path}.whoMasked", Design, "who_masked", ctx),
        masking_description=masking.block("maskingDescription"),
        primary_purpose=vocab(info.code("primaryPurpose"), f"{info.path}.primaryPurpose", Design, "primary_purpose", ctx),
        observational_model=vocab(info.code("observationalModel"), f"{info.path}.observationalModel", Design, "observational_model", ctx),
        time_perspective=vocab(info.code("timePerspective"), f"{info.path}.timePerspective", Design, "time_perspective", ctx),
        patient_registry=module.flag("patientRegistry"),
        target_duration=module.text("targetDuration"),
        bio_spec_retention=bio.open_code("retention"),
        bio_spec_description=bio.block("description"),
    )
    enrollment = module.obj("enrollmentInfo")
    count = enrollment.integer("count")
    enrollment_type = vocab(enrollment.code("type"), f"{enrollment.path}.type", Enrollment, "type", ctx)
    return {
        "study_type": vocab(module.code("studyType"), f"{module.path}.studyType", Trial, "study_type", ctx),
        "phases": codes(module.codes("phases"), f"{module.path}.phases", Trial, "phases", ctx),
        "design": design or Design(),
        "enrollment": make(Enrollment, enrollment.path, ctx, count=count, type=enrollment_type) if count is not None else None,
    }


def _arms(module: Node) -> list[Arm]:
    ctx = module.ctx
    arms = []
    for node in module.objs("armGroups"):
        label = node.text("label")
        arm_type = vocab(node.code("type"), f"{node.path}.type", Arm, "type", ctx)
        description = node.block("description")
        names = node.texts("interventionNames")
        if label is None:
            ctx.not_carried(node.path, {"type": arm_type, "description": description}, "has no label; arm not carried")
            continue
        if arm := make(Arm, node.path, ctx, label=label, type=arm_type, description=description, intervention_names=names):
            arms.append(arm)
    return arms


def _interventions(module: Node) -> list[Intervention]:
    ctx = module.ctx
    out = []
    for node in module.objs("interventions"):
        name = node.text("name")
        kind = vocab(node.code("type"), f"{node.path}.type", Intervention, "type", ctx)
        description = node.block("description")
        other_names, labels = node.texts("otherNames"), node.texts("armGroupLabels")
        if name is None:
            ctx.not_carried(node.path, {"type": kind, "description": description}, "has no name; intervention not carried")
            continue
        if item := make(Intervention, node.path, ctx, name=name, type=kind, description=description, other_names=other_names, arm_labels=labels):
            out.append(item)
    return out


_OUTCOME_LISTS: tuple[tuple[str, Literal["PRIMARY", "SECONDARY", "OTHER"]], ...] = (
    ("primaryOutcomes", "PRIMARY"), ("secondaryOutcomes", "SECONDARY"), ("otherOutcomes", "OTHER"),
)


def _outcomes(module: Node) -> list[Outcome]:
    ctx = module.ctx
    out = []
    for key, kind in _OUTCOME_LISTS:
        for node in module.objs(key):
            measure, time_frame, description = node.text("measure"), node.text("timeFrame"), node.block("description")
            if measure is None:
                ctx.not_carried(node.path, {"timeFrame": time_frame, "description": description}, "has no measure; outcome not carried")
                continue
            out.append(Outcome(kind=kind, measure=measure, time_frame=time_frame, description=description))
    return out


def _eligibility(module: Node) -> Eligibility:
    ctx = module.ctx
    criteria_text = module.block("eligibilityCriteria")
    return Eligibility(
        sex=vocab(module.code("sex"), f"{module.path}.sex", Eligibility, "sex", ctx),
        gender_based=module.flag("genderBased"),
        gender_description=module.block("genderDescription"),
        minimum_age=age_limit(module.text("minimumAge"), f"{module.path}.minimumAge", ctx),
        maximum_age=age_limit(module.text("maximumAge"), f"{module.path}.maximumAge", ctx),
        std_ages=codes(module.codes("stdAges"), f"{module.path}.stdAges", Eligibility, "std_ages", ctx),
        healthy_volunteers=module.flag("healthyVolunteers"),
        criteria_text=criteria_text,
        criteria=parse_criteria_safely(criteria_text, f"{module.path}.eligibilityCriteria", ctx),
        study_population=module.block("studyPopulation"),
        sampling_method=vocab(module.code("samplingMethod"), f"{module.path}.samplingMethod", Eligibility, "sampling_method", ctx),
    )


def _person(node: Node) -> Optional[Person]:
    person = Person(
        name=node.text("name"),
        role=node.open_code("role"),
        affiliation=node.text("affiliation"),
        phone=node.text("phone"),
        phone_ext=node.text("phoneExt"),
        email=node.text("email"),
    )
    return person if person.model_dump(exclude_none=True) else None


def _location(node: Node) -> Optional[Location]:
    geo = node.obj("geoPoint")
    location = make(
        Location,
        node.path,
        node.ctx,
        facility=node.text("facility"),
        city=node.text("city"),
        state=node.text("state"),
        zip=node.text("zip"),
        country=node.text("country"),
        status=node.open_code("status"),
        latitude=geo.number("lat"),
        longitude=geo.number("lon"),
        contacts=[person for contact in node.objs("contacts") if (person := _person(contact))],
    )
    return location if location and location.model_dump(exclude_none=True, exclude_defaults=True) else None


def _location_nodes(module: Node) -> list[Node]:
    """Site list; some exports carry a nonstandard ``locations_nested`` copy, or only that key."""
    nested = module.data.get("locations_nested")
    if "locations" not in module.data and nested is not None:
        module.ctx.warnings.append(f"{module.path}: sites read from nonstandard key 'locations_nested'")
        return module.objs("locations_nested")
    nodes = module.objs("locations")
    if nested is not None:
        module.raw("locations_nested")
        if nested != module.data.get("locations"):
            module.ctx.not_carried(f"{module.path}.locations_nested", f"{len(nested) if isinstance(nested, list) else '?'} sites", "differs from 'locations'; not carried")
    return nodes


def _contacts_locations(module: Node) -> dict[str, Any]:
    return {
        "contacts": [person for node in module.objs("centralContacts") if (person := _person(node))],
        "officials": [person for node in module.objs("overallOfficials") if (person := _person(node))],
        "locations": [loc for node in _location_nodes(module) if (loc := _location(node))],
    }


def _references(module: Node) -> dict[str, Any]:
    ctx = module.ctx
    references = []
    for node in module.objs("references"):
        pmid = pmid_value(node.text("pmid"), f"{node.path}.pmid", ctx)
        ref = Reference(citation=node.text("citation"), pmid=pmid, type=vocab(node.code("type"), f"{node.path}.type", Reference, "type", ctx))
        if ref.model_dump(exclude_none=True):
            references.append(ref)
    links = []
    for node in module.objs("seeAlsoLinks"):
        url, label = url_value(node.text("url"), f"{node.path}.url", ctx), node.text("label")
        if url is None:
            if label:
                ctx.not_carried(node.path, label, "link without url; not carried")
            continue
        links.append(Link(url=url, label=label))
    return {"references": references, "links": links}


def _ipd_sharing(module: Node) -> Optional[IpdSharing]:
    ipd = IpdSharing(
        sharing=vocab(module.code("ipdSharing"), f"{module.path}.ipdSharing", IpdSharing, "sharing", module.ctx),
        description=module.block("description"),
        info_types=module.codes("infoTypes"),
        time_frame=module.block("timeFrame"),
        access_criteria=module.block("accessCriteria"),
        url=url_value(module.text("url"), f"{module.path}.url", module.ctx),
    )
    return ipd if ipd.model_dump(exclude_none=True, exclude_defaults=True) else None


def _meshes(module: Node, key: str = "meshes") -> list[MeshTerm]:
    terms = []
    for node in module.objs(key):
        term, mesh_id = node.text("term"), node.text("id")
        if term is None:
            if mesh_id:
                module.ctx.not_carried(node.path, mesh_id, "MeSH id without term; not carried")
            continue
        terms.append(MeshTerm(term=term, id=mesh_ui(mesh_id)))
    return terms


def _record_id(study: dict[str, Any]) -> Optional[str]:
    """The nctId if it can be found without validation, for naming the record in errors."""
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    text = clean_line(value) if isinstance(value, str) else None
    return brief(text, 80) if text else None


def map_study(study: dict[str, Any], source: str, index: int) -> Trial:
    """Map one v2 study object to a Trial; raises RecordError for shape problems."""
    ctx = RecordContext()
    root = Node(study, "", "", ctx)
    protocol = root.obj("protocolSection")
    if not protocol.data:
        raise RecordError("protocolSection", "missing; not a ClinicalTrials.gov v2 study")
    ident = protocol.obj("identificationModule")
    id_text(ident._scalar("nctId"), f"{ident.path}.nctId")
    nct_id = ident.text("nctId")
    if nct_id is None:
        raise RecordError(f"{ident.path}.nctId", "missing; every study needs its NCT number")
    derived = root.obj("derivedSection")
    has_results = root.flag("hasResults")
    fields: dict[str, Any] = {
        "id": nct_id,
        "identifiers": _identifiers(ident, nct_id),
        "brief_title": ident.text("briefTitle"),
        "official_title": ident.text("officialTitle"),
        "acronym": ident.text("acronym"),
        "has_results": has_results,
        **_status(protocol.obj("statusModule")),
        **_sponsors(protocol.obj("sponsorCollaboratorsModule")),
        "oversight": _oversight(protocol.obj("oversightModule")),
        "brief_summary": protocol.obj("descriptionModule").block("briefSummary"),
        "detailed_description": protocol.obj("descriptionModule").block("detailedDescription"),
        "conditions": protocol.obj("conditionsModule").texts("conditions"),
        "keywords": protocol.obj("conditionsModule").texts("keywords"),
        **_design(protocol.obj("designModule")),
        "arms": _arms(protocol.obj("armsInterventionsModule")),
        "interventions": _interventions(protocol.obj("armsInterventionsModule")),
        "outcomes": _outcomes(protocol.obj("outcomesModule")),
        "eligibility": _eligibility(protocol.obj("eligibilityModule")),
        **_contacts_locations(protocol.obj("contactsLocationsModule")),
        **_references(protocol.obj("referencesModule")),
        "ipd_sharing": _ipd_sharing(protocol.obj("ipdSharingStatementModule")),
        "condition_mesh": _meshes(derived.obj("conditionBrowseModule")),
        "intervention_mesh": _meshes(derived.obj("interventionBrowseModule")),
        "condition_mesh_ancestors": _meshes(derived.obj("conditionBrowseModule"), "ancestors"),
        "intervention_mesh_ancestors": _meshes(derived.obj("interventionBrowseModule"), "ancestors"),
    }
    if has_results and is_empty(study.get("resultsSection")):
        ctx.unmapped.append("hasResults: the study has posted results; they are not carried")
    unread = [f"{path} (results present; not carried)" if path == "resultsSection" else path for path in unread_paths(study, "", ctx)]
    fields["provenance"] = provenance(NAME, source, index, ctx, unread)
    return build_trial(fields, f"{ident.path}.nctId")


def read_study(study: Any, source: str, index: int) -> ReadResult:
    """One study → Trial, or a ConversionError naming the record and field."""
    record = (_record_id(study) if isinstance(study, dict) else None) or f"{source}#{index}"
    if not isinstance(study, dict):
        return ConversionError(f"expected a study object, got {_json_type(study)}", record=record, field="(root)", stage="read")
    try:
        return map_study(study, source, index)
    except RecordError as error:
        return ConversionError(error.message, record=record, field=error.path, stage="read")
    except ValidationError as error:
        # A sub-model built directly (not through ``make``) refused a value: still this record's
        # problem, not the batch's. The model path is the best field name available here.
        detail = error.errors()[0]
        path = ".".join(str(part) for part in detail["loc"]) or "(root)"
        return ConversionError(brief(detail["msg"]), record=record, field=f"{error.title}.{path}", stage="read")


# ---------------------------------------------------------------------------------------------
# Input shapes
# ---------------------------------------------------------------------------------------------

_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"


def sniff(head: bytes) -> float:
    """v2 JSON: a JSON document or NDJSON whose first bytes mention ``protocolSection``."""
    text = head.lstrip(_BOM_AND_SPACE)
    if not text.startswith((b"{", b"[")):
        return 0.0
    return 0.95 if b'"protocolSection"' in head else 0.0


def _is_ndjson(text: str) -> bool:
    """NDJSON when the first non-blank line is a complete JSON object and more lines follow."""
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    if end == -1 or not text[end:].strip():
        return False
    try:
        return isinstance(loads(text[start:end]), dict)
    except ValueError:
        return False


def _ndjson(text: str, source: str) -> Iterator[tuple[int, Any] | ConversionError]:
    """One study per line, decoded as it is reached so a large dump never sits in memory as objects."""
    index = 0
    for line_number, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            yield index, loads(line)
        except ValueError as error:
            yield ConversionError(f"invalid JSON on line {line_number}: {error}", record=f"{source}#{index}", field=f"line {line_number}", stage="read")
        index += 1


def _studies(data: bytes, source: str) -> Iterator[tuple[int, Any] | ConversionError]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConversionError(f"not UTF-8 text: {error}", record=source, stage="read") from error
    if _is_ndjson(text):
        yield from _ndjson(text, source)
        return
    try:
        document = loads(text)
    except ValueError as error:
        raise ConversionError(f"invalid JSON: {error}", record=source, stage="read") from error
    if isinstance(document, dict) and "protocolSection" not in document and isinstance(document.get("studies"), list):
        studies = document["studies"]
    elif isinstance(document, list):
        studies = document
    else:
        studies = [document]
    yield from enumerate(studies)


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    """Trials from any v2 shape; each broken study becomes a ConversionError and reading goes on."""
    for item in _studies(data, source):
        if isinstance(item, ConversionError):
            yield item
        else:
            index, study = item
            yield read_study(study, source, index)


READER = Reader(NAME, "ClinicalTrials.gov API v2 JSON: one study, a page {'studies': [...]}, an array or NDJSON", sniff, read)
