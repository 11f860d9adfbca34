"""ClinicalTrials.gov field dumps ("Viewing Study NCT…", then "Key: Value" lines by section).

The dump prints each API field on its own line as "Label: value" with Python-style values (True,
False, None) and lists as Python literals (``['A', 'B']``); long text continues on the following
lines. Repeated things (arms, interventions, outcomes, contacts, locations) are blocks of lines,
each block opened by its first key (:data:`BLOCK_START`).

A line counts as a new field only when its label is known (:data:`FIELDS`) — inside a summary a line
such as "Note: …" is text, not a field. Unknown labels outside text fields go to
provenance.unmapped. Dumps are often cut off mid-record; a last line that stops at a label with no
value and no line end marks the trial as truncated, and the reader says which fields it never saw.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable, Iterator, Optional

from ..normalize.text import clean, clean_line, enum_key, parse_bool
from . import page_common as pc
from .base import ReadResult, Reader

NAME = "page-ctgov-fields"

Setter = Callable[[pc.Draft, str, str], None]

#: Section headings of the dump (lines without a colon).
SECTIONS = frozenset({
    "study overview", "study oversight", "identification", "status", "sponsor and collaborators",
    "conditions", "design", "arms and interventions", "outcomes", "eligibility", "contacts and locations",
    "references", "mesh terms",
})

#: Fields whose value may continue over several lines.
TEXT_FIELDS = frozenset({
    "brief summary", "detailed description", "eligibility criteria", "arm group description",
    "intervention description", "outcome description", "study population", "reference citation",
    "intervention model description", "masking description", "why stopped", "if stopped, why?",
})

#: Keys that open a new repeated item, and the draft list they append to.
BLOCK_START = {
    "arm group label": "arms", "intervention type": "interventions", "primary outcome measure": "outcomes",
    "secondary outcome measure": "outcomes", "other outcome measure": "outcomes", "central contact name": "contacts",
    "overall official name": "officials", "location facility": "locations", "reference citation": "references",
    "secondary id": "identifiers", "collaborator": "collaborators",
}

#: Site furniture of the dump: known, deliberately not mapped.
IGNORED = frozenset({
    "ignite creation date", "ignite modification date", "is not gene therapy", "has adverse events", "delayed posting",
    "if expanded access, nct#", "has expanded access, nct# status", "is a ppsd?", "is an fda aa801 violation?",
    "first submit qc date", "last update submit date",
})


def _literal(value: str) -> Any:
    """Python literal values of the dump (lists, True/False/None); plain text otherwise."""
    text = value.strip()
    if text[:1] in "[{(" or text in ("True", "False", "None"):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def _list(value: str) -> list[str]:
    parsed = _literal(value)
    if isinstance(parsed, (list, tuple)):
        return [str(item) for item in parsed if clean_line(str(item))]
    text = clean_line(parsed) if isinstance(parsed, str) else None
    return [text] if text else []


def _set(path: str, convert: Callable[[str], Any] = lambda v: clean(pc.unescape(v))) -> Setter:
    return lambda draft, label, value: pc.put(draft, path, convert(value))


def _enum(path: str, table: Optional[dict[str, str]] = None) -> Setter:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        mapped = pc.lookup(table, value) if table else enum_key(value)
        if mapped:
            pc.put(draft, path, mapped)
        elif clean_line(value) and clean_line(value) != "None":
            pc.unreadable(draft, label, value, "a value of the registry vocabulary")
    return handle


def _bool(path: str) -> Setter:
    return lambda draft, label, value: pc.put(draft, path, parse_bool(value))


def _date(path: str) -> Setter:
    return lambda draft, label, value: pc.put_date(draft, path, value, label)


def _date_type(path: str) -> Setter:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        node = draft["dates"].get(path)
        kind = enum_key(value)
        if node and kind in ("ACTUAL", "ESTIMATED"):
            node["type"] = kind
    return handle


def _age(path: str) -> Setter:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        low, _ = pc.age_range(f"{value} and older")
        pc.put(draft, path, low)
    return handle


def _nct(draft: pc.Draft, label: str, value: str) -> None:
    for nct in pc.nct_ids(value):
        pc.registry_id(draft, nct)


def _enrollment(draft: pc.Draft, label: str, value: str) -> None:
    found = pc.enrollment(value)
    if found:
        draft["enrollment"] = {"count": found["count"], **({"type": draft["enrollment"]["type"]} if draft.get("enrollment", {}).get("type") else {})}


def _enrollment_type(draft: pc.Draft, label: str, value: str) -> None:
    kind = enum_key(value)
    if draft.get("enrollment") and kind in ("ACTUAL", "ESTIMATED"):
        draft["enrollment"]["type"] = kind


def _mesh(path: str) -> Setter:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        parsed = _literal(value)
        items = parsed if isinstance(parsed, list) else []
        terms = [{"term": i["term"], **({"id": i["id"]} if i.get("id") else {})} if isinstance(i, dict) else {"term": str(i)} for i in items]
        pc.put(draft, path, [t for t in terms if clean_line(t["term"])])
    return handle


def _item(field: str, convert: Callable[[str], Any] = lambda v: clean(pc.unescape(v))) -> Setter:
    """Set a field of the current repeated item (the last arm, intervention, location …)."""
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        item = draft.get("_item")
        converted = convert(value)
        if item is not None and converted not in (None, [], ""):
            item[field] = converted
    return handle


def _start(kind: str, field: str, extra: Optional[dict[str, Any]] = None, convert: Callable[[str], Any] = lambda v: clean_line(pc.unescape(v))) -> Setter:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        item = {field: convert(value), **(extra or {})}
        draft.setdefault(kind, []).append(item)
        draft["_item"] = item
    return handle


def _outcome_start(kind: str) -> Setter:
    return _start("outcomes", "measure", {"kind": kind})


def _organization(draft: pc.Draft, label: str, value: str) -> None:
    """The organisation that assigned the org study id (the dump prints it apart from the id)."""
    draft["_organization"] = clean_line(value)


def _location_contact(draft: pc.Draft, label: str, value: str) -> None:
    location = draft.get("_item")
    if location is not None:
        contact = {"name": clean_line(value)}
        location.setdefault("contacts", []).append(contact)
        draft["_sub"] = contact


def _sub(field: str, convert: Callable[[str], Any]) -> Setter:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        contact = draft.get("_sub")
        if contact is not None and convert(value) is not None:
            contact[field] = convert(value)
    return handle


def _secondary_id(draft: pc.Draft, label: str, value: str) -> None:
    item = {"value": clean_line(value), "kind": "SECONDARY"}
    draft["identifiers"].append(item)
    draft["_item"] = item


FIELDS: dict[str, Setter] = {
    "study nct id": _nct,
    "nct id": _nct,
    "status": _enum("overall_status", pc.STATUS),
    "overall status": _enum("overall_status", pc.STATUS),
    "last known status": _enum("last_known_status", pc.STATUS),
    "last update posted": _date("dates.last_update_posted"),
    "first post": _date("dates.first_posted"),
    "first posted": _date("dates.first_posted"),
    "first submit date": _date("dates.first_submitted"),
    "results first posted": _date("dates.results_first_posted"),
    "brief title": _set("brief_title", lambda v: clean_line(pc.unescape(v))),
    "official title": _set("official_title", lambda v: clean_line(pc.unescape(v))),
    "acronym": _set("acronym", clean_line),
    "sponsor": _set("sponsor", lambda v: {"name": clean_line(v)} if clean_line(v) else None),
    "lead sponsor": _set("sponsor", lambda v: {"name": clean_line(v)} if clean_line(v) else None),
    "lead sponsor class": _set("sponsor.agency_class", enum_key),
    "collaborators": _set("collaborators", lambda v: [{"name": n} for n in _list(v)]),
    "collaborator": _start("collaborators", "name"),
    "collaborator class": _item("agency_class", enum_key),
    "organization": _organization,
    "location contact name": _location_contact,
    "location contact role": _sub("role", enum_key),
    "location contact phone": _sub("phone", clean_line),
    "location contact phone ext": _sub("phone_ext", clean_line),
    "location contact email": _sub("email", clean_line),
    "status verified date": _date("dates.status_verified"),
    "if stopped, why?": _set("why_stopped"),
    "why stopped": _set("why_stopped"),
    "has expanded access": _bool("has_expanded_access"),
    "brief summary": _set("brief_summary"),
    "detailed description": _set("detailed_description"),
    "has oversight dmc": _bool("oversight.has_dmc"),
    "is a fda regulated drug?": _bool("oversight.fda_regulated_drug"),
    "is a fda regulated device?": _bool("oversight.fda_regulated_device"),
    "is an unapproved device?": _bool("oversight.unapproved_device"),
    "is a us export?": _bool("oversight.us_export"),
    "org study id": lambda d, l, v: pc.add_identifier(d, v, "ORG_STUDY_ID"),
    "secondary id": _secondary_id,
    "secondary id type": _item("type", enum_key),
    "secondary id domain": _item("issuer", clean_line),
    "start date": _date("dates.start"),
    "start date type": _date_type("start"),
    "primary completion date": _date("dates.primary_completion"),
    "primary completion date type": _date_type("primary_completion"),
    "completion date": _date("dates.completion"),
    "completion date type": _date_type("completion"),
    "responsible party type": _enum("responsible_party.type", pc.RESPONSIBLE_PARTY),
    "responsible party investigator full name": _set("responsible_party.name", clean_line),
    "responsible party investigator title": _set("responsible_party.title", clean_line),
    "responsible party investigator affiliation": _set("responsible_party.affiliation", clean_line),
    "conditions": _set("conditions", _list),
    "keywords": _set("keywords", _list),
    "condition mesh terms": _mesh("condition_mesh"),
    "intervention mesh terms": _mesh("intervention_mesh"),
    "study type": _enum("study_type", pc.STUDY_TYPE),
    "phases": _set("phases", lambda v: [p for item in _list(v) for p in pc.phases(item) or pc.phases(f"phase {item}")] if "NA" not in _list(v) else ["NA"]),
    "allocation": _enum("design.allocation", pc.ALLOCATION),
    "intervention model": _enum("design.intervention_model", pc.INTERVENTION_MODEL),
    "intervention model description": _set("design.intervention_model_description"),
    "primary purpose": _enum("design.primary_purpose", pc.PRIMARY_PURPOSE),
    "masking": lambda d, l, v: pc.put_masking(d, l, v),
    "who masked": _set("design.who_masked", lambda v: [pc.WHO_MASKED[w.lower()] for w in _list(v) if w.lower() in pc.WHO_MASKED]),
    "masking description": _set("design.masking_description"),
    "observational model": _enum("design.observational_model", pc.OBSERVATIONAL_MODEL),
    "time perspective": _enum("design.time_perspective", pc.TIME_PERSPECTIVE),
    "patient registry": _bool("design.patient_registry"),
    "target duration": _set("design.target_duration", clean_line),
    "enrollment count": _enrollment,
    "enrollment type": _enrollment_type,
    "arm group label": _start("arms", "label"),
    "arm group type": _item("type", lambda v: pc.lookup(pc.ARM_TYPE, v)),
    "arm group description": _item("description"),
    "arm group intervention names": _item("intervention_names", _list),
    "intervention type": _start("interventions", "type", convert=lambda v: pc.lookup(pc.INTERVENTION_TYPE, v)),
    "intervention name": _item("name", clean_line),
    "intervention description": _item("description"),
    "intervention other names": _item("other_names", _list),
    "intervention arm group labels": _item("arm_labels", _list),
    "primary outcome measure": _outcome_start("PRIMARY"),
    "secondary outcome measure": _outcome_start("SECONDARY"),
    "other outcome measure": _outcome_start("OTHER"),
    "outcome time frame": _item("time_frame", lambda v: clean_line(pc.unescape(v))),
    "outcome description": _item("description"),
    "eligibility criteria": lambda d, l, v: pc.set_criteria(d, v),
    "healthy volunteers": _bool("eligibility.healthy_volunteers"),
    "sex": _enum("eligibility.sex", pc.SEX),
    "gender based": _bool("eligibility.gender_based"),
    "minimum age": _age("eligibility.minimum_age"),
    "maximum age": _age("eligibility.maximum_age"),
    "standard ages": _set("eligibility.std_ages", lambda v: [pc.STD_AGES[a.lower()] for a in _list(v) if a.lower() in pc.STD_AGES]),
    "study population": _set("eligibility.study_population"),
    "sampling method": _enum("eligibility.sampling_method"),
    "central contact name": _start("contacts", "name", {"role": "CONTACT"}),
    "central contact role": _item("role", enum_key),
    "central contact phone": _item("phone", clean_line),
    "central contact phone ext": _item("phone_ext", clean_line),
    "central contact email": _item("email", clean_line),
    "overall official name": _start("officials", "name"),
    "overall official affiliation": _item("affiliation", clean_line),
    "overall official role": _item("role", enum_key),
    "location facility": _start("locations", "facility"),
    "location status": _item("status", pc.status),
    "location city": _item("city", clean_line),
    "location state": _item("state", clean_line),
    "location zip": _item("zip", clean_line),
    "location country": _item("country", clean_line),
    "reference citation": _start("references", "citation", convert=lambda v: clean(pc.unescape(v))),
    "reference pmid": _item("pmid", clean_line),
    "reference type": _item("type", enum_key),
}

_KEY = re.compile(r"^([A-Z][^:\n]{0,80}?)\s*:(?:\s(.*)|)$")


def sniff(head: bytes) -> float:
    if pc.looks_structured(head):
        return 0.0
    text = pc.head_text(head)
    score = 0.0
    if re.search(r"(?m)^Viewing Study NCT\d{8}\s*$", text):
        score += 0.5
    keys = sum(bool(re.search(rf"(?m)^{re.escape(k)}:", text)) for k in ("Study NCT ID", "Brief Title", "Official Title", "Status Verified Date", "Has Expanded Access", "Brief Summary", "If Stopped, Why?"))
    score += 0.1 * keys
    return min(score, 0.95)


def _key(line: str) -> Optional[tuple[str, str]]:
    match = _KEY.match(line)
    if not match:
        return None
    return match.group(1).strip(), match.group(2) or ""


def _records(lines: list[str]) -> list[tuple[str, str]]:
    """(label, value) pairs; text fields take the following lines until the next known label."""
    pairs: list[list[str]] = []
    in_text = False
    for line in lines:
        found = _key(line)
        known = found is not None and (found[0].lower() in FIELDS or found[0].lower() in IGNORED)
        if line.strip().lower() in SECTIONS and line == line.strip():
            pairs.append(["§", line.strip()])
            in_text = False
        elif found and (known or not in_text):
            pairs.append([found[0], found[1]])
            in_text = found[0].lower() in TEXT_FIELDS
        elif pairs and (in_text or not line.strip()):
            pairs[-1][1] += "\n" + line
        elif line.strip():
            pairs.append(["", line.strip()])
    return [(label, value) for label, value in pairs]


def _truncation(draft: pc.Draft, text: str) -> None:
    """A dump cut mid-record ends without a line end, on a label with no value or mid-text."""
    last = text.rstrip("\n").split("\n")[-1] if text.strip() else ""
    found = _key(last)
    if not text.endswith("\n") and (found is None or not found[1].strip() or not re.search(r"[.!?)\]]$", found[1].strip())):
        draft["provenance"]["truncated"] = True
        where = found[0] if found else last[:60]
        pc.warn(draft, f"the record is cut off at {where!r}; every field after it is missing")


def read_text(text: str, source: str) -> ReadResult:
    draft = pc.new_draft(NAME, source)
    lines = text.split("\n")
    if lines and (match := re.match(r"^Viewing Study (NCT\d{8})", lines[0].strip())):
        pc.registry_id(draft, match.group(1))
        lines = lines[1:]
    for label, value in _records(lines):
        key = label.lower()
        if label == "§":
            draft.pop("_item", None)
            continue
        if not label:
            pc.unmapped(draft, "unlabelled line", value)
            continue
        if key in IGNORED:
            continue
        handler = FIELDS.get(key)
        if handler is None:
            pc.unmapped(draft, label, value)
            continue
        if key not in BLOCK_START and not key.startswith(("arm group", "intervention ", "outcome ", "central contact", "overall official", "location ", "reference ", "secondary id", "collaborator")):
            draft.pop("_item", None)
        if clean(value) is None and key not in BLOCK_START and value.strip() != "NONE":
            continue  # Python-style None / N/A; an upper-case NONE is a coded answer (masking: open label)
        handler(draft, label, value)
    draft.pop("_item", None)
    draft.pop("_sub", None)
    organization = draft.pop("_organization", None)
    for ident in draft["identifiers"]:
        if ident["kind"] == "ORG_STUDY_ID" and organization:
            ident["issuer"] = organization
    _truncation(draft, text)
    _tidy(draft)
    pc.link_arms(draft)
    pc.infer_phases(draft)
    return pc.finish(draft)


def _tidy(draft: pc.Draft) -> None:
    """Drop repeated items that lost their required field (a cut-off block) and say so."""
    for kind, required in (("arms", "label"), ("interventions", "name"), ("outcomes", "measure"), ("references", "citation")):
        items = draft.get(kind, [])
        kept = [item for item in items if item.get(required)]
        if len(kept) != len(items):
            pc.warn(draft, f"{len(items) - len(kept)} {kind} without a {required} dropped")
        draft[kind] = kept
    for item in draft.get("interventions", []):
        item.setdefault("type", None)


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    yield read_text(pc.decode(data), source)


READER = Reader(NAME, "ClinicalTrials.gov field dump ('Viewing Study NCT…', Key: Value lines)", sniff, read)
