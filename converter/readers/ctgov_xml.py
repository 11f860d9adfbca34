"""Reader for legacy ClinicalTrials.gov XML (``<clinical_study>``, the AllPublicXML format).

The legacy format says the same things as API v2 in display words ("Parallel Assignment",
"Double (Participant, Investigator)", "Phase 1/Phase 2"), so the heart of this module is one table,
:data:`VOCAB`, from those words to the model's v2-style codes. The rest mirrors the v2 reader and
shares its bookkeeping: every element read is recorded, and whatever a record holds that was never
read (results, country lists, the download header…) is listed in ``provenance.unmapped``.

Parsing is done with ``defusedxml`` and DTDs forbidden outright: registry dumps never need one, and
refusing them rules out entity expansion and external fetches (no file or URL is ever read).
A file may hold one ``<clinical_study>`` or several under any root; they are parsed incrementally.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any, Literal, Optional
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
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
from ..normalize.text import clean_block, clean_line, clean_list, enum_key, parse_bool
from .base import ReadResult, Reader
from .record import (
    REGISTRY, RecordContext, RecordError, age_limit, brief, build_trial, make, make_date, parse_criteria_safely,
    id_text, pmid_value, provenance, url_value, vocab,
)

NAME = "ctgov-xml"

# Legacy display words → model codes, per field. Lookup ignores case and spacing; a word missing
# here falls back to its code key ("Sponsor-Investigator" → SPONSOR_INVESTIGATOR) and is then
# checked against the model, so an unknown word is reported, never guessed.
VOCAB: dict[str, dict[str, str]] = {
    "status": {
        "Not yet recruiting": "NOT_YET_RECRUITING", "Recruiting": "RECRUITING",
        "Enrolling by invitation": "ENROLLING_BY_INVITATION", "Active, not recruiting": "ACTIVE_NOT_RECRUITING",
        "Suspended": "SUSPENDED", "Terminated": "TERMINATED", "Completed": "COMPLETED", "Withdrawn": "WITHDRAWN",
        "Unknown status": "UNKNOWN", "Available": "AVAILABLE", "No longer available": "NO_LONGER_AVAILABLE",
        "Temporarily not available": "TEMPORARILY_NOT_AVAILABLE", "Approved for marketing": "APPROVED_FOR_MARKETING",
        "Withheld": "WITHHELD",
    },
    "phase": {
        "Early Phase 1": "EARLY_PHASE1", "Phase 0": "EARLY_PHASE1",  # renamed "Early Phase 1" in 2017
        "Phase 1": "PHASE1", "Phase 2": "PHASE2", "Phase 3": "PHASE3", "Phase 4": "PHASE4",
        "N/A": "NA",  # "not applicable" is an answer (device, behavioural trials), not a missing value
    },
    "study_type": {
        "Interventional": "INTERVENTIONAL", "Observational": "OBSERVATIONAL",
        "Observational [Patient Registry]": "OBSERVATIONAL", "Expanded Access": "EXPANDED_ACCESS",
    },
    "allocation": {"Randomized": "RANDOMIZED", "Non-Randomized": "NON_RANDOMIZED", "N/A": "NA"},
    "intervention_model": {
        "Single Group Assignment": "SINGLE_GROUP", "Parallel Assignment": "PARALLEL",
        "Crossover Assignment": "CROSSOVER", "Factorial Assignment": "FACTORIAL", "Sequential Assignment": "SEQUENTIAL",
    },
    "primary_purpose": {
        "Treatment": "TREATMENT", "Prevention": "PREVENTION", "Diagnostic": "DIAGNOSTIC",
        "Supportive Care": "SUPPORTIVE_CARE", "Screening": "SCREENING", "Health Services Research": "HEALTH_SERVICES_RESEARCH",
        "Basic Science": "BASIC_SCIENCE", "Device Feasibility": "DEVICE_FEASIBILITY",
        "Educational/Counseling/Training": "ECT", "Other": "OTHER",
    },
    "masking": {
        "None (Open Label)": "NONE", "Open Label": "NONE", "No masking": "NONE", "None": "NONE",
        "Single": "SINGLE", "Single Blind": "SINGLE", "Double": "DOUBLE", "Double Blind": "DOUBLE",
        "Triple": "TRIPLE", "Triple Blind": "TRIPLE", "Quadruple": "QUADRUPLE", "Quadruple Blind": "QUADRUPLE",
    },
    "who_masked": {
        "Participant": "PARTICIPANT", "Subject": "PARTICIPANT", "Care Provider": "CARE_PROVIDER",
        "Caregiver": "CARE_PROVIDER", "Investigator": "INVESTIGATOR", "Outcomes Assessor": "OUTCOMES_ASSESSOR",
    },
    "observational_model": {
        "Cohort": "COHORT", "Case-Control": "CASE_CONTROL", "Case Control": "CASE_CONTROL", "Case-Only": "CASE_ONLY",
        "Case-Crossover": "CASE_CROSSOVER", "Ecologic or Community": "ECOLOGIC_OR_COMMUNITY",
        "Family-Based": "FAMILY_BASED", "Defined Population": "DEFINED_POPULATION", "Natural History": "NATURAL_HISTORY",
        "Other": "OTHER",
    },
    "time_perspective": {"Prospective": "PROSPECTIVE", "Retrospective": "RETROSPECTIVE", "Cross-Sectional": "CROSS_SECTIONAL", "Other": "OTHER"},
    "arm_type": {
        "Experimental": "EXPERIMENTAL", "Active Comparator": "ACTIVE_COMPARATOR", "Placebo Comparator": "PLACEBO_COMPARATOR",
        "Sham Comparator": "SHAM_COMPARATOR", "No Intervention": "NO_INTERVENTION", "Other": "OTHER",
    },
    "intervention_type": {
        "Drug": "DRUG", "Device": "DEVICE", "Biological": "BIOLOGICAL", "Biological/Vaccine": "BIOLOGICAL",
        "Procedure": "PROCEDURE", "Procedure/Surgery": "PROCEDURE", "Radiation": "RADIATION", "Behavioral": "BEHAVIORAL",
        "Genetic": "GENETIC", "Dietary Supplement": "DIETARY_SUPPLEMENT", "Combination Product": "COMBINATION_PRODUCT",
        "Diagnostic Test": "DIAGNOSTIC_TEST", "Other": "OTHER",
    },
    "sex": {"All": "ALL", "Both": "ALL", "Female": "FEMALE", "Male": "MALE"},
    "sampling_method": {"Probability Sample": "PROBABILITY_SAMPLE", "Non-Probability Sample": "NON_PROBABILITY_SAMPLE"},
    "responsible_party_type": {"Sponsor": "SPONSOR", "Principal Investigator": "PRINCIPAL_INVESTIGATOR", "Sponsor-Investigator": "SPONSOR_INVESTIGATOR"},
    "agency_class": {"NIH": "NIH", "U.S. Fed": "FED", "Industry": "INDUSTRY", "Other": "OTHER"},
    "sharing_ipd": {"Yes": "YES", "No": "NO", "Undecided": "UNDECIDED"},
    "ipd_info_type": {
        "Study Protocol": "STUDY_PROTOCOL", "Statistical Analysis Plan (SAP)": "SAP", "Informed Consent Form (ICF)": "ICF",
        "Clinical Study Report (CSR)": "CSR", "Analytic Code": "ANALYTIC_CODE",
    },
    "biospec_retention": {"None Retained": "NONE_RETAINED", "Samples With DNA": "SAMPLES_WITH_DNA", "Samples Without DNA": "SAMPLES_WITHOUT_DNA"},
    "role": {
        "Principal Investigator": "PRINCIPAL_INVESTIGATOR", "Sub-Investigator": "SUB_INVESTIGATOR",
        "Study Chair": "STUDY_CHAIR", "Study Director": "STUDY_DIRECTOR",
    },
    "count_type": {"Actual": "ACTUAL", "Anticipated": "ESTIMATED", "Estimate": "ESTIMATED", "Estimated": "ESTIMATED"},
}


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


_FOLDED: dict[str, dict[str, str]] = {table: {_fold(word): code for word, code in words.items()} for table, words in VOCAB.items()}


def lookup(table: str, word: Optional[str]) -> Optional[str]:
    """The model code for a legacy display word (None for no word).

    A placeholder word the table does not list ("None" as an agency class) is a missing value, not
    the code "NONE": open-vocabulary fields would carry it into output and the model refuses it.
    """
    if word is None or not word.strip():
        return None
    return _FOLDED[table].get(_fold(word)) or enum_key(word)


# ---------------------------------------------------------------------------------------------
# Text blocks: hard-wrapped, indented, \r-ridden
# ---------------------------------------------------------------------------------------------

_ITEM = re.compile(r"^(?P<marker>[-*•]|\d{1,3}[.)]|[A-Za-z][.)]|\(\w{1,4}\))\s+(?P<text>\S.*)$")
_LEGACY_BULLET = re.compile(r"^-\s{2,}\S")  # the export's own bullet: "-  item"
# The export wrapped text at 100 columns: a line continues the previous one only when its first
# word would not have fitted on that line (measured on the corpus: continuations all score ≥ 96).
_WRAP_AT = 96

Entry = Optional[tuple[int, Optional[str], str]]  # (indent, list marker or None, text); None = blank line


def _wrapped(previous: str, line: str) -> bool:
    """Was ``line`` produced by hard-wrapping ``previous``? (A short previous line means the author
    broke the line, and that break is kept.)"""
    first_word = line.split()[0].split("-")[0]
    return len(previous.rstrip()) + 1 + len(first_word) >= _WRAP_AT


def _logical_lines(lines: list[str]) -> list[Entry]:
    """Undo the hard wrapping: continuation lines are joined to the line they continue."""
    out: list[Entry] = []
    previous = ""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            out.append(None)
        else:
            item = _ITEM.match(stripped)
            last = out[-1] if out else None
            if last is not None and not _LEGACY_BULLET.match(stripped) and _wrapped(previous, line):
                indent, marker, text = last
                out[-1] = (indent, marker, f"{text} {stripped}")
            elif item:
                out.append((len(line) - len(line.lstrip()), item.group("marker"), item.group("text")))
            else:
                out.append((len(line) - len(line.lstrip()), None, stripped))
        previous = line
    return out


def _render(entries: list[Entry]) -> str:
    """Lay out logical lines like v2 text: "* item", nested "  * item", paragraphs between blanks.

    Blank lines between two list items are dropped (the legacy export double-spaced every bullet);
    blank lines around paragraphs and headings are kept as paragraph breaks.
    """
    rendered: list[str] = []
    previous: Entry = None
    open_items: list[int] = []  # indents of the enclosing list items; a paragraph closes the list
    for position, entry in enumerate(entries):
        if entry is None:
            following = next((e for e in entries[position + 1 :] if e is not None), None)
            between_items = previous is not None and previous[1] is not None and following is not None and following[1] is not None
            if rendered and rendered[-1] and not between_items:
                rendered.append("")
            continue
        indent, marker, text = entry
        if marker is None:
            open_items.clear()
            rendered.append(text)
        else:
            while open_items and open_items[-1] >= indent:
                open_items.pop()
            bullet = "*" if marker in "-*•" else marker
            rendered.append(f"{'  ' * len(open_items)}{bullet} {text}")
            open_items.append(indent)
        previous = entry
    return "\n".join(rendered)


def legacy_text(raw: Optional[str]) -> Optional[str]:
    """A legacy textblock as clean text: wrapped lines joined, lists kept with their nesting."""
    if raw is None:
        return None
    text = raw.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    return clean_block(_render(_logical_lines(text.split("\n"))))


# ---------------------------------------------------------------------------------------------
# Element access with path tracking
# ---------------------------------------------------------------------------------------------


def _norm_space(text: Optional[str]) -> Optional[str]:
    """Element text with whitespace collapsed but no placeholder rule ("N/A" phase is an answer)."""
    if text is None:
        return None
    return " ".join(text.split()) or None


class XNode:
    """An element with its path; each accessor records what it read, like the v2 ``Node``.

    ``path`` carries positions ("location[3]/facility") for messages; ``key`` is index-free.
    """

    __slots__ = ("el", "path", "key", "ctx")

    def __init__(self, el: Element, path: str, key: str, ctx: RecordContext) -> None:
        self.el = el
        self.path = path
        self.key = key
        self.ctx = ctx

    def _at(self, tag: str) -> tuple[str, str]:
        return (f"{self.path}/{tag}" if self.path else tag, f"{self.key}/{tag}" if self.key else tag)

    def _elements(self, tag: str, whole: bool) -> list[Element]:
        """Children with this tag; ``whole`` marks them read completely, else entered."""
        found = self.el.findall(tag)
        if found:
            (self.ctx.consumed if whole else self.ctx.entered).add(self._at(tag)[1])
        return found

    def raw(self, tag: str) -> Optional[str]:
        """First child's text, whitespace-collapsed, no placeholder rule; later repeats are listed."""
        found = self._elements(tag, whole=True)
        for extra in found[1:]:
            self.ctx.not_carried(self._at(tag)[0], _norm_space(extra.text), "repeats a single-valued element; not carried")
        return _norm_space(found[0].text) if found else None

    def text(self, tag: str) -> Optional[str]:
        return clean_line(self.raw(tag))

    def texts(self, tag: str) -> list[str]:
        return clean_list(el.text for el in self._elements(tag, whole=True))

    def raws(self, tag: str) -> list[str]:
        return [text for el in self._elements(tag, whole=True) if (text := _norm_space(el.text))]

    def block(self, tag: str) -> Optional[str]:
        """A ``<tag><textblock>…`` (or plain ``<tag>…``) as cleaned multi-line text."""
        found = self._elements(tag, whole=True)
        if not found:
            return None
        textblock = found[0].find("textblock")
        return legacy_text(textblock.text if textblock is not None else found[0].text)

    def attr_of(self, tag: str, name: str) -> Optional[str]:
        """An attribute of the first child (read together with that child's text)."""
        found = self.el.find(tag)
        return _norm_space(found.get(name)) if found is not None else None

    def child(self, tag: str) -> XNode:
        """First child element (an empty node when absent)."""
        path, key = self._at(tag)
        found = self._elements(tag, whole=False)
        return XNode(found[0] if found else Element(tag), path, key, self.ctx)

    def children(self, tag: str) -> list[XNode]:
        path, key = self._at(tag)
        return [XNode(el, f"{path}[{index}]", key, self.ctx) for index, el in enumerate(self._elements(tag, whole=False))]

    def flag(self, tag: str) -> Optional[bool]:
        """Yes/No (and "Accepts Healthy Volunteers"); any other word is listed as not carried."""
        text = self.text(tag)
        value = parse_bool(text)
        if text is not None and value is None:
            self.ctx.not_carried(self._at(tag)[0], text, "is not a yes/no value")
        return value

    def code(self, table: str, tag: str, model: type[Any], field_name: str) -> Optional[str]:
        """A coded child value mapped through :data:`VOCAB` and checked against the model."""
        return vocab(lookup(table, self.raw(tag)), self._at(tag)[0], model, field_name, self.ctx)


def _has_content(el: Element) -> bool:
    return bool((el.text or "").strip() or el.attrib or len(el))


def unread_elements(el: Element, key: str, ctx: RecordContext) -> Iterator[str]:
    """Index-free paths of elements (and attributes) holding content no accessor read."""
    for name in el.attrib:
        if f"{key}@{name}" not in ctx.consumed:
            yield f"{key}@{name}" if key else f"@{name}"
    for child in el:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        child_key = f"{key}/{child.tag}" if key else child.tag
        if child_key in ctx.consumed or not _has_content(child):
            continue
        if child_key in ctx.entered:
            yield from unread_elements(child, child_key, ctx)
        else:
            yield child_key


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _identifiers(study: XNode, nct_id: str) -> list[Identifier]:
    info = study.child("id_info")
    ids = [Identifier(value=nct_id, kind="REGISTRY", issuer=REGISTRY)]
    org_id = info.text("org_study_id")
    if org_id:
        # <source> is the legacy name of the organisation that registered (and numbered) the study.
        ids.append(Identifier(value=org_id, kind="ORG_STUDY_ID", issuer=study.text("source")))
    ids.extend(Identifier(value=value, kind="SECONDARY") for value in info.texts("secondary_id"))
    ids.extend(Identifier(value=alias, kind="SECONDARY", type="NCT_ALIAS", issuer=REGISTRY) for alias in info.texts("nct_alias"))
    return ids


def _dated(study: XNode, tag: str) -> Optional[TrialDate]:
    return make_date(study.text(tag), study.attr_of(tag, "type"), tag, study.ctx)


def _renamed_date(study: XNode, tag: str, old_tag: str) -> Optional[TrialDate]:
    """A date the 2017 schema renamed (firstreceived_date → study_first_submitted): new name wins."""
    new, old = _dated(study, tag), _dated(study, old_tag)
    if new and old and new.date != old.date:
        study.ctx.not_carried(old_tag, old.date, f"differs from {tag}; not carried")
    return new or old


def _dates(study: XNode) -> Dates:
    return Dates(
        start=_dated(study, "start_date"),
        primary_completion=_dated(study, "primary_completion_date"),
        completion=_dated(study, "completion_date"),
        first_submitted=_renamed_date(study, "study_first_submitted", "firstreceived_date"),
        first_posted=_dated(study, "study_first_posted"),
        last_update_submitted=_renamed_date(study, "last_update_submitted", "lastchanged_date"),
        last_update_posted=_dated(study, "last_update_posted"),
        results_first_posted=_dated(study, "results_first_posted"),
        status_verified=_dated(study, "verification_date"),
    )


def _phases(study: XNode) -> list[str]:
    """ "Phase 1/Phase 2" is two phases; each part goes through the table."""
    raw = study.raw("phase")
    if raw is None:
        return []
    phases: list[str] = []
    for part in [raw] if _fold(raw) in _FOLDED["phase"] else raw.split("/"):
        code = vocab(lookup("phase", part), "phase", Trial, "phases", study.ctx)
        if code and code not in phases:
            phases.append(code)
    return phases


def _study_type(study: XNode) -> dict[str, Any]:
    raw = study.raw("study_type")
    result: dict[str, Any] = {"study_type": vocab(lookup("study_type", clean_line(raw)), "study_type", Trial, "study_type", study.ctx)}
    if raw and "patient registry" in raw.lower():
        result["patient_registry"] = True
    return result


_MASKING = re.compile(r"^(?P<level>[^(]*?)\s*(?:\((?P<who>[^)]*)\))?\s*$")
_LEVEL_BY_COUNT = {1: "SINGLE", 2: "DOUBLE", 3: "TRIPLE", 4: "QUADRUPLE"}


def _split_masking(raw: str) -> tuple[Optional[str], list[str]]:
    """ "Double (Participant, Investigator)" → ("Double", [Participant, Investigator]).

    "None (Open Label)" is one table word, not a level plus people; a bare "Participant, Investigator"
    (seen in old records) is people without a level.
    """
    if _fold(raw) in _FOLDED["masking"]:
        return raw, []
    match = _MASKING.match(raw)
    if match and match.group("who"):
        return match.group("level").replace("-", " "), [part.strip() for part in match.group("who").split(",")]
    parts = [part.strip() for part in raw.split(",")]
    if all(_fold(part) in _FOLDED["who_masked"] for part in parts):
        return None, parts
    return raw.replace("-", " "), []


def _masking(design: XNode) -> dict[str, Any]:
    """Masking level and who is masked; a level missing beside a list of people is derived from
    how many are masked (the registry defines the levels that way) and noted as inferred."""
    ctx, raw = design.ctx, design.raw("masking")
    if raw is None:
        return {"masking": None, "who_masked": []}
    level_word, who_words = _split_masking(raw)
    who: list[str] = []
    for index, word in enumerate(who_words):
        code = vocab(lookup("who_masked", word), f"{design.path}/masking({index})", Design, "who_masked", ctx)
        if code and code not in who:
            who.append(code)
    level = lookup("masking", level_word)
    if level_word is None and who:
        level = _LEVEL_BY_COUNT.get(len(who))
        ctx.inferred.append("design.masking")
    return {"masking": vocab(level, f"{design.path}/masking", Design, "masking", ctx), "who_masked": who}


def _number(study: XNode, tag: str) -> Optional[int]:
    raw = study.text(tag)
    if raw is None:
        return None
    # isdecimal, not isdigit: "²" is a digit int() refuses; the length bound keeps int() clear of
    # Python's 4300-digit conversion limit (no real count has 19 digits).
    if raw.isdecimal() and len(raw) <= 18:
        return int(raw)
    study.ctx.not_carried(tag, raw, "is not a whole number")
    return None


def _design(study: XNode, registry: Optional[bool]) -> Design:
    info = study.child("study_design_info")
    ctx = study.ctx
    # number_of_groups is the observational-study name for the same count ("Arms/Groups" in v2 docs).
    arms = _number(study, "number_of_arms")
    groups = _number(study, "number_of_groups")
    design = make(
        Design,
        "study_design_info",
        ctx,
        allocation=info.code("allocation", "allocation", Design, "allocation"),
        intervention_model=info.code("intervention_model", "intervention_model", Design, "intervention_model"),
        intervention_model_description=info.block("intervention_model_description"),
        **_masking(info),
        masking_description=info.block("masking_description"),
        primary_purpose=info.code("primary_purpose", "primary_purpose", Design, "primary_purpose"),
        observational_model=info.code("observational_model", "observational_model", Design, "observational_model"),
        time_perspective=info.code("time_perspective", "time_perspective", Design, "time_perspective"),
        patient_registry=registry,
        target_duration=study.text("target_duration"),
        number_of_arms=arms if arms is not None else groups,
        bio_spec_retention=lookup("biospec_retention", study.raw("biospec_retention")),
        bio_spec_description=study.block("biospec_descr"),
    )
    return design or Design()


def _enrollment(study: XNode) -> Optional[Enrollment]:
    count = _number(study, "enrollment")
    if count is None:
        return None
    kind = vocab(lookup("count_type", study.attr_of("enrollment", "type")), "enrollment@type", Enrollment, "type", study.ctx)
    return make(Enrollment, "enrollment", study.ctx, count=count, type=kind)


def _organization(node: XNode) -> Optional[Organization]:
    name = node.text("agency")
    agency_class = lookup("agency_class", node.raw("agency_class"))
    if name is None:
        if agency_class:
            node.ctx.not_carried(f"{node.path}/agency_class", agency_class, "has no agency name to attach to")
        return None
    return Organization(name=name, agency_class=agency_class)


def _responsible_party(study: XNode) -> Optional[ResponsibleParty]:
    party = study.child("responsible_party")
    name, old_name = party.text("investigator_full_name"), party.text("name_title")
    affiliation, old_org = party.text("investigator_affiliation"), party.text("organization")
    result = ResponsibleParty(
        type=party.code("responsible_party_type", "responsible_party_type", ResponsibleParty, "type"),
        # name_title / organization are the pre-2017 free fields (v2: oldNameTitle / oldOrganization).
        name=name or old_name,
        title=party.text("investigator_title"),
        affiliation=affiliation or old_org,
    )
    return result if result.model_dump(exclude_none=True) else None


def _person_name(node: XNode) -> Optional[str]:
    """Modern files put the whole name (with degrees) in last_name; older ones split it up."""
    parts = [node.text("first_name"), node.text("middle_name"), node.text("last_name")]
    name = " ".join(part for part in parts if part) or None
    degrees = node.text("degrees")
    return f"{name}, {degrees}" if name and degrees else name or degrees


def _person(node: XNode, default_role: Optional[str] = None) -> Optional[Person]:
    role = lookup("role", node.raw("role")) or default_role
    person = Person(
        name=_person_name(node),
        role=role,
        affiliation=node.text("affiliation"),
        phone=node.text("phone"),
        phone_ext=node.text("phone_ext"),
        email=node.text("email"),
    )
    return person if person.model_dump(exclude_none=True, exclude={"role"}) else None


def _location(node: XNode) -> Optional[Location]:
    facility = node.child("facility")
    address = facility.child("address")
    people = [_person(contact, "CONTACT") for contact in node.children("contact") + node.children("contact_backup")]
    people += [_person(investigator, "PRINCIPAL_INVESTIGATOR") for investigator in node.children("investigator")]
    location = make(
        Location,
        node.path,
        node.ctx,
        facility=facility.text("name"),
        city=address.text("city"),
        state=address.text("state"),
        zip=address.text("zip"),
        country=address.text("country"),
        status=lookup("status", node.raw("status")),
        contacts=[person for person in people if person],
    )
    return location if location and location.model_dump(exclude_none=True, exclude_defaults=True) else None


def _interventions(study: XNode) -> list[tuple[Intervention, Optional[str]]]:
    """Interventions, each with its type's display word (needed for the arms' "Drug: x" names)."""
    ctx = study.ctx
    out: list[tuple[Intervention, Optional[str]]] = []
    for node in study.children("intervention"):
        name, word = node.text("intervention_name"), clean_line(node.raw("intervention_type"))
        kind = vocab(lookup("intervention_type", word), f"{node.path}/intervention_type", Intervention, "type", ctx)
        labels, description, other = node.texts("arm_group_label"), node.block("description"), node.texts("other_name")
        if name is None:
            ctx.not_carried(node.path, {"type": kind, "description": description}, "has no name; intervention not carried")
            continue
        if item := make(Intervention, node.path, ctx, name=name, type=kind, description=description, other_names=other, arm_labels=labels):
            out.append((item, word))
    return out


def _names_by_arm(interventions: list[tuple[Intervention, Optional[str]]]) -> dict[str, list[str]]:
    """Arm label → interventions given in it, as v2 writes them ("Drug: Palbociclib").

    Legacy arms do not list their interventions; each intervention lists its arms instead, and the
    display word of its type is exactly v2's prefix.
    """
    by_arm: dict[str, list[str]] = {}
    for item, word in interventions:
        for arm_label in item.arm_labels:
            by_arm.setdefault(arm_label, []).append(f"{word}: {item.name}" if word else item.name)
    return by_arm


def _arms(study: XNode, interventions: list[tuple[Intervention, Optional[str]]]) -> list[Arm]:
    ctx = study.ctx
    given_in = _names_by_arm(interventions)
    arms: list[Arm] = []
    for node in study.children("arm_group"):
        label = node.text("arm_group_label")
        arm_type = node.code("arm_type", "arm_group_type", Arm, "type")
        description = node.block("description")
        if label is None:
            ctx.not_carried(node.path, {"type": arm_type, "description": description}, "has no label; arm not carried")
            continue
        if arm := make(Arm, node.path, ctx, label=label, type=arm_type, description=description, intervention_names=given_in.get(label, [])):
            arms.append(arm)
    if any(arm.intervention_names for arm in arms):
        ctx.inferred.append("arms.intervention_names")
    return arms


OutcomeKind = Literal["PRIMARY", "SECONDARY", "OTHER"]
_OUTCOME_TAGS: tuple[tuple[str, OutcomeKind], ...] = (("primary_outcome", "PRIMARY"), ("secondary_outcome", "SECONDARY"), ("other_outcome", "OTHER"))


def _outcomes(study: XNode) -> list[Outcome]:
    outcomes = []
    for tag, kind in _OUTCOME_TAGS:
        for node in study.children(tag):
            measure, time_frame, description = node.text("measure"), node.text("time_frame"), node.block("description")
            if measure is None:
                study.ctx.not_carried(node.path, {"time_frame": time_frame, "description": description}, "has no measure; outcome not carried")
                continue
            outcomes.append(Outcome(kind=kind, measure=measure, time_frame=time_frame, description=description))
    return outcomes


def _eligibility(study: XNode) -> Eligibility:
    node = study.child("eligibility")
    ctx = study.ctx
    criteria_text = node.block("criteria")
    return Eligibility(
        sex=node.code("sex", "gender", Eligibility, "sex"),
        gender_based=node.flag("gender_based"),
        gender_description=node.block("gender_description"),
        minimum_age=age_limit(node.text("minimum_age"), "eligibility/minimum_age", ctx),
        maximum_age=age_limit(node.text("maximum_age"), "eligibility/maximum_age", ctx),
        healthy_volunteers=node.flag("healthy_volunteers"),
        criteria_text=criteria_text,
        criteria=parse_criteria_safely(criteria_text, "eligibility/criteria", ctx),
        study_population=node.block("study_pop"),
        sampling_method=node.code("sampling_method", "sampling_method", Eligibility, "sampling_method"),
    )


def _oversight(study: XNode) -> Oversight:
    node = study.child("oversight_info")
    return Oversight(
        has_dmc=node.flag("has_dmc"),
        fda_regulated_drug=node.flag("is_fda_regulated_drug"),
        fda_regulated_device=node.flag("is_fda_regulated_device"),
        unapproved_device=node.flag("is_unapproved_device"),
        us_export=node.flag("is_us_export"),
    )


def _references(study: XNode) -> list[Reference]:
    """<reference> holds background citations and <results_reference> result publications."""
    references = []
    kinds: tuple[tuple[str, Literal["BACKGROUND", "RESULT"]], ...] = (("reference", "BACKGROUND"), ("results_reference", "RESULT"))
    for tag, kind in kinds:
        for node in study.children(tag):
            ref = Reference(citation=node.text("citation"), pmid=pmid_value(node.text("PMID"), f"{node.path}/PMID", study.ctx), type=kind)
            if ref.citation or ref.pmid:
                references.append(ref)
    return references


def _links(study: XNode) -> list[Link]:
    links = []
    for node in study.children("link"):
        url, label = url_value(node.text("url"), f"{node.path}/url", study.ctx), node.text("description")
        if url is None:
            if label:
                study.ctx.not_carried(node.path, label, "link without url; not carried")
            continue
        links.append(Link(url=url, label=label))
    return links


def _ipd_sharing(study: XNode) -> Optional[IpdSharing]:
    node = study.child("patient_data")
    ipd = IpdSharing(
        sharing=node.code("sharing_ipd", "sharing_ipd", IpdSharing, "sharing"),
        description=node.block("ipd_description"),
        info_types=[code for word in node.raws("ipd_info_type") if (code := lookup("ipd_info_type", word))],
        time_frame=node.block("ipd_time_frame"),
        access_criteria=node.block("ipd_access_criteria"),
        url=url_value(node.text("ipd_url"), "patient_data/ipd_url", study.ctx),
    )
    return ipd if ipd.model_dump(exclude_none=True, exclude_defaults=True) else None


def _mesh(study: XNode, tag: str) -> list[MeshTerm]:
    """Legacy XML carries MeSH terms without descriptor ids."""
    return [MeshTerm(term=term) for term in study.child(tag).texts("mesh_term")]


def map_study(el: Element, source: str, index: int) -> Trial:
    """Map one ``<clinical_study>`` element to a Trial; raises RecordError for a missing nct_id."""
    ctx = RecordContext()
    study = XNode(el, "", "", ctx)
    id_text(study.child("id_info").raw("nct_id"), "id_info/nct_id")
    nct_id = study.child("id_info").text("nct_id")
    if nct_id is None:
        raise RecordError("id_info/nct_id", "missing; every study needs its NCT number")
    type_fields = _study_type(study)
    sponsors = study.child("sponsors")
    interventions = _interventions(study)
    fields: dict[str, Any] = {
        "id": nct_id,
        "identifiers": _identifiers(study, nct_id),
        "brief_title": study.text("brief_title"),
        "official_title": study.text("official_title"),
        "acronym": study.text("acronym"),
        "overall_status": study.code("status", "overall_status", Trial, "overall_status"),
        "last_known_status": study.code("status", "last_known_status", Trial, "last_known_status"),
        "why_stopped": study.text("why_stopped"),
        "has_expanded_access": study.flag("has_expanded_access"),
        "phases": _phases(study),
        "study_type": type_fields["study_type"],
        "design": _design(study, type_fields.get("patient_registry")),
        "conditions": study.texts("condition"),
        "keywords": study.texts("keyword"),
        "condition_mesh": _mesh(study, "condition_browse"),
        "intervention_mesh": _mesh(study, "intervention_browse"),
        "brief_summary": study.block("brief_summary"),
        "detailed_description": study.block("detailed_description"),
        "sponsor": _organization(sponsors.child("lead_sponsor")),
        "collaborators": [org for node in sponsors.children("collaborator") if (org := _organization(node))],
        "responsible_party": _responsible_party(study),
        "officials": [p for node in study.children("overall_official") if (p := _person(node))],
        "contacts": [p for tag in ("overall_contact", "overall_contact_backup") for node in study.children(tag) if (p := _person(node, "CONTACT"))],
        "dates": _dates(study),
        "enrollment": _enrollment(study),
        "interventions": [item for item, _ in interventions],
        "arms": _arms(study, interventions),
        "outcomes": _outcomes(study),
        "eligibility": _eligibility(study),
        "locations": [loc for node in study.children("location") if (loc := _location(node))],
        "references": _references(study),
        "links": _links(study),
        "oversight": _oversight(study),
        "ipd_sharing": _ipd_sharing(study),
        # Legacy XML has no "no results" flag: results are there or the element is absent.
        "has_results": True if el.find("clinical_results") is not None else None,
    }
    unread = [f"{path} (results present; not carried)" if path == "clinical_results" else path for path in unread_elements(el, "", ctx)]
    fields["provenance"] = provenance(NAME, source, index, ctx, unread)
    return build_trial(fields, "id_info/nct_id")


def read_study(el: Element, source: str, index: int) -> ReadResult:
    """One element → Trial, or a ConversionError naming the record and field."""
    nct = el.find("id_info/nct_id")
    record = clean_line(nct.text) if nct is not None else None
    record = brief(record, 80) if record else f"{source}#{index}"
    try:
        return map_study(el, source, index)
    except RecordError as error:
        return ConversionError(error.message, record=record, field=error.path, stage="read")
    except ValidationError as error:
        # A sub-model built directly (not through ``make``) refused a value: still this record's
        # problem, not the batch's. The model path is the best field name available here.
        detail = error.errors()[0]
        path = ".".join(str(part) for part in detail["loc"]) or "(root)"
        return ConversionError(brief(detail["msg"]), record=record, field=f"{error.title}.{path}", stage="read")


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------


def sniff(head: bytes) -> float:
    """Legacy XML: an XML document that opens a ``<clinical_study>`` element early on."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        return 0.0
    return 0.95 if b"<clinical_study" in head else 0.0


def _study_elements(data: bytes, source: str) -> Iterator[Element]:
    """Each ``<clinical_study>`` as it completes; memory stays at one study even for big wrappers."""
    depth = 0
    try:
        for event, el in SafeET.iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True):
            if el.tag != "clinical_study":
                continue
            if event == "start":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    yield el
                    el.clear()
    except DefusedXmlException as error:
        raise ConversionError(f"refused unsafe XML ({type(error).__name__}): DTDs and entities are not accepted", record=source, stage="read") from error
    except ParseError as error:
        raise ConversionError(f"malformed XML: {error}", record=source, stage="read") from error


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    """Trials from one or several ``<clinical_study>`` elements; unsafe or malformed XML is refused."""
    found = 0
    for index, el in enumerate(_study_elements(data, source)):
        found += 1
        yield read_study(el, source, index)
    if not found:
        raise ConversionError("no <clinical_study> element found", record=source, stage="read")


READER = Reader(NAME, "Legacy ClinicalTrials.gov XML (<clinical_study>, AllPublicXML), one or several per file", sniff, read)
