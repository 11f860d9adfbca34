"""ClinicalTrials.gov classic study record page (the pre-2023 site) saved as text.

What survives of the page: two-cell rows "Study Type : | Interventional (Clinical Trial) |", the
"Condition or disease | Intervention/treatment | Phase" table as one row, the "Arm |
Intervention/treatment" table with multi-line cells each closed by "|", outcome lines
"- Name [ Time Frame: … ]description", the criteria text, contact and location rows, and the
"More Information" rows at the end, where keywords and MeSH terms follow as unlabelled lines with
their items run together (split with :mod:`page_vocab`).

The reader is a single pass over lines that switches *zones* (summary, arms, outcomes, criteria,
locations, tail) on the page's own landmarks, and reads labelled rows anywhere through the
:data:`ROWS` table.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, Optional

from ..normalize.text import clean, clean_line, clean_list, enum_key, parse_bool
from . import page_common as pc
from . import page_vocab
from .base import ReadResult, Reader

NAME = "page-ctgov-classic"

BOILERPLATE = (
    r"!\[\]\(\)", r"", r"- (study details|tabular view|no results posted|results submitted|study results|disclaimer|how to read a study record)",
    r"the safety and scientific validity of this study.*", r"choosing to participate in a study is an important personal decision.*",
    r"to learn more about this study, you or your doctor may contact.*", r"please refer to this study by its clinicaltrials\.gov identifier.*",
    r"(layout table for|go to|hide|show) .*", r"(sponsors and collaborators|investigators|locations|contacts and locations|more information|criteria|study description|study design|arms and interventions|outcome measures|eligibility criteria)",
    r"brief summary:?", r"key record dates",
)

#: A row label ("Estimated Primary Completion Date") → handler(draft, label, value).
Handler = Callable[[pc.Draft, str, str], None]


def _study_type(draft: pc.Draft, label: str, value: str) -> None:
    study_type = pc.lookup(pc.STUDY_TYPE, re.sub(r"\s*[\[(].*$", "", value))
    pc.put(draft, "study_type", study_type)
    if study_type == "OBSERVATIONAL":  # the page tags registries "Observational [Patient Registry]"
        pc.put(draft, "design.patient_registry", "patient registry" in value.lower())


def _design(field: str, table: dict[str, str]) -> Handler:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        mapped = pc.lookup(table, value)
        if mapped:
            pc.put(draft, f"design.{field}", mapped)
        else:
            pc.unreadable(draft, label, value, f"a known {field.replace('_', ' ')}")
    return handle


def _allocation(draft: pc.Draft, label: str, value: str) -> None:
    """"N/A" here is the registry's coded answer (single-arm study), not a missing value."""
    if value.strip().upper() in ("N/A", "NA"):
        pc.put(draft, "design.allocation", "NA")
    else:
        _design("allocation", pc.ALLOCATION)(draft, label, value)


def _masking(draft: pc.Draft, label: str, value: str) -> None:
    pc.put_masking(draft, label, value)


def _text(path: str) -> Handler:
    return lambda draft, label, value: pc.put(draft, path, clean_line(pc.unescape(value)))


def _date(path: str) -> Handler:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        value = re.sub(r"\s*key record dates\s*$", "", value, flags=re.I)
        pc.put_date(draft, path, value, label)
    return handle


def _enrollment(draft: pc.Draft, label: str, value: str) -> None:
    pc.put(draft, "enrollment", pc.enrollment(value, label))


def _ages(draft: pc.Draft, label: str, value: str) -> None:
    low, high = pc.age_range(value)
    pc.put(draft, "eligibility.minimum_age", low)
    pc.put(draft, "eligibility.maximum_age", high)
    pc.put(draft, "eligibility.std_ages", pc.std_ages(value))


def _bool(path: str) -> Handler:
    return lambda draft, label, value: pc.put(draft, path, parse_bool(value))


def _official(role: str) -> Handler:
    def handle(draft: pc.Draft, label: str, value: str) -> None:
        parts = [p.strip() for p in value.split("|") if p.strip()]
        if parts:
            official = {"name": parts[0], "role": role}
            if len(parts) > 1:
                official["affiliation"] = parts[1]
            draft.setdefault("officials", []).append(official)
    return handle


def _responsible(draft: pc.Draft, label: str, value: str) -> None:
    draft["_responsible"] = value  # resolved at the end, once the sponsor is known


def _other_ids(draft: pc.Draft, label: str, value: str) -> None:
    for index, line in enumerate(l.strip() for l in value.split("\n") if l.strip()):
        match = re.match(r"^(.*?)\s*\(\s*(.*?)\s*\)$", line)
        ident, note = (match.group(1), match.group(2)) if match else (line, None)
        kind = "ORG_STUDY_ID" if index == 0 and not note else "SECONDARY"
        issuer = None
        if note and ":" in note:
            note, issuer = (part.strip() for part in note.split(":", 1))
        pc.add_identifier(draft, ident, kind, type=_ID_TYPES.get(note.lower()) if note else None, issuer=issuer)


_ID_TYPES = {"u.s. nih grant/contract": "NIH", "u.s. fda grant/contract": "FDA", "eudract number": "EUDRACT_NUMBER", "ctis": "CTIS", "other grant/funding number": "OTHER_GRANT", "registry": "REGISTRY", "other identifier": "OTHER"}


def _sponsor(draft: pc.Draft, label: str, value: str) -> None:
    name = clean_line(value)
    if name:
        draft["sponsor"] = {"name": name}


def _collaborators(draft: pc.Draft, label: str, value: str) -> None:
    draft["collaborators"] = [{"name": name} for name in clean_list(value.split("\n"))]


def _nct(draft: pc.Draft, label: str, value: str) -> None:
    for nct in pc.nct_ids(value):
        pc.registry_id(draft, nct)


ROWS: dict[str, Handler] = {
    "study type": _study_type,
    "enrollment": _enrollment,
    "allocation": _allocation,
    "intervention model": _design("intervention_model", pc.INTERVENTION_MODEL),
    "intervention model description": _text("design.intervention_model_description"),
    "masking": _masking,
    "masking description": _text("design.masking_description"),
    "primary purpose": _design("primary_purpose", pc.PRIMARY_PURPOSE),
    "observational model": _design("observational_model", pc.OBSERVATIONAL_MODEL),
    "time perspective": _design("time_perspective", pc.TIME_PERSPECTIVE),
    "target follow-up duration": _text("design.target_duration"),
    "biospecimen retention": _text("design.bio_spec_retention"),
    "biospecimen description": _text("design.bio_spec_description"),
    "official title": _text("official_title"),
    "acronym": _text("acronym"),
    "study start date": _date("dates.start"),
    "primary completion date": _date("dates.primary_completion"),
    "study completion date": _date("dates.completion"),
    "ages eligible for study": _ages,
    "sexes eligible for study": lambda d, l, v: pc.put(d, "eligibility.sex", pc.lookup(pc.SEX, v)),
    "gender based": _bool("eligibility.gender_based"),
    "accepts healthy volunteers": _bool("eligibility.healthy_volunteers"),
    "sampling method": lambda d, l, v: pc.put(d, "eligibility.sampling_method", enum_key(v)),
    "principal investigator": _official("PRINCIPAL_INVESTIGATOR"),
    "study director": _official("STUDY_DIRECTOR"),
    "study chair": _official("STUDY_CHAIR"),
    "responsible party": _responsible,
    "clinicaltrials.gov identifier": _nct,
    "other study id numbers": _other_ids,
    "first posted": _date("dates.first_posted"),
    "last update posted": _date("dates.last_update_posted"),
    "results first posted": _date("dates.results_first_posted"),
    "last verified": _date("dates.status_verified"),
    "sponsor": _sponsor,
    "sponsors and collaborators": _sponsor,
    "collaborators": _collaborators,
    "has data monitoring committee": _bool("oversight.has_dmc"),
    "studies a u.s. fda-regulated drug product": _bool("oversight.fda_regulated_drug"),
    "studies a u.s. fda-regulated device product": _bool("oversight.fda_regulated_device"),
}

_ROW = re.compile(r"^([A-Za-z][^|:]{1,60}?)\s*:\s*\|\s*(.*?)\s*$")
_DATE_LABEL = re.compile(r"^(actual|estimated|anticipated)\s+", re.I)
_OUTCOME_START = re.compile(r"-\s+")
_TIME_FRAME = re.compile(r"\s\[\s*Time Frame:")
_OUTCOME_HEAD = re.compile(r"^(primary|secondary|other(?: pre-specified)?) outcome measures?\s*:?\s*\|?$", re.I)
_ARM_HEAD = re.compile(r"^(arm|group/cohort)\s*\|\s*intervention/treatment\s*\|?$", re.I)
_COND_HEAD = re.compile(r"^condition or disease\s*\|", re.I)
_TYPED_ARM = re.compile(r"^(" + "|".join(re.escape(k.title()) for k in pc.ARM_TYPE) + r"):\s*(.*)$", re.I)
_INTERVENTION_LINE = re.compile(r"^(" + "|".join(re.escape(k.title()) for k in pc.INTERVENTION_TYPE if "/" not in k) + r"):\s*(.+)$")
_PERSON_ROLE = re.compile(r"^(contact|principal investigator|sub-investigator|study director|study chair)\s*:\s*(?!\|)(.*)$", re.I)


def sniff(head: bytes) -> float:
    if pc.looks_structured(head):
        return 0.0
    text = pc.head_text(head)
    hits = sum(marker in text for marker in ("ClinicalTrials.gov Identifier:", "Recruitment Status :", "Study Type : |", "Condition or disease | Intervention/treatment", "[ Time Frame:", "Ages Eligible for Study:"))
    return 0.95 if hits >= 3 else 0.5 if hits == 2 else 0.0


# ---------------------------------------------------------------------------------------------
# Rows that may span lines: "Other Study ID Numbers: |\nMA 0918 |"
# ---------------------------------------------------------------------------------------------


def _logical_lines(lines: list[str]) -> list[str]:
    """Join a labelled row whose value continues on later lines until the closing "|".

    Only rows whose label the reader knows are joined; prose lines with a colon are left alone.
    """
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _ROW.match(line)
        if match and _label_key(match.group(1)) in ROWS and not line.rstrip().endswith("|"):
            parts = [line]
            while index + 1 < len(lines) and not parts[-1].rstrip().endswith("|"):
                index += 1
                parts.append(lines[index])
            line = "\n".join(parts)
        elif match and _label_key(match.group(1)) in ROWS and match.group(2) in ("", "|"):
            # "Other Study ID Numbers: |" with the value on the following lines
            parts = [line.rstrip()]
            while index + 1 < len(lines) and lines[index + 1].strip():
                index += 1
                parts.append(lines[index])
                if lines[index].rstrip().endswith("|"):
                    break
            line = "\n".join(parts)
        out.append(line)
        index += 1
    return out


def _outcome(text: str) -> Optional[tuple[str, str, str]]:
    """(measure, time frame, description) of "- Measure [ Time Frame: 6 months ]description".

    Reads exactly as ``^-\\s+(.*)\\s\\[\\s*Time Frame:\\s*(.*?)\\s*\\]\\s*(.*)$`` would, but in linear
    time: that regex retries every "[ Time Frame:" against the rest of the line, and one line of
    them in untrusted text took minutes. The measure runs to the last "[ Time Frame:" that a "]"
    still follows; the time frame to the first "]" after it.
    """
    head = _OUTCOME_START.match(text)
    close = text.rfind("]")
    if head is None or close < 0 or "\n" in text:
        return None
    last = None
    for last in _TIME_FRAME.finditer(text, 2, close):  # noqa: B007 - only the last match is wanted
        pass
    if last is None:
        return None
    end = text.index("]", last.end())
    return text[min(head.end(), last.start()):last.start()], text[last.end():end].strip(), text[end + 1:].lstrip()


def _label_key(label: str) -> str:
    key = _DATE_LABEL.sub("", label.strip().lower())
    return re.sub(r"\s+", " ", key)


def _row(line: str) -> Optional[tuple[str, str, str]]:
    """(key, label, value) of a labelled row; value keeps inner newlines, loses the closing "|"."""
    match = re.match(r"^([A-Za-z][^|:\n]{1,60}?)\s*:\s*\|\s*(.*)$", line, re.S)
    if not match:
        return None
    key = _label_key(match.group(1))
    if key not in ROWS:
        return None
    value = re.sub(r"\s*\|\s*$", "", match.group(2).strip())
    return key, match.group(1).strip(), value.strip()


# ---------------------------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------------------------


def _header(draft: pc.Draft, line: str) -> bool:
    """Unlabelled-by-pipe header facts; True when the line was one of them."""
    text = line.strip().rstrip("|").strip()
    if match := re.match(r"^ClinicalTrials\.gov Identifier:\s*(NCT\d{8})", text):
        pc.registry_id(draft, match.group(1))
    elif match := re.match(r"^Recruitment Status\s*:\s*(.+)$", text):
        pc.put_status(draft, "overall_status", match.group(1), "Recruitment Status")
    elif match := re.match(r"^Recruitment status was\s*:\s*(.+)$", text, re.I):
        pc.put_status(draft, "last_known_status", match.group(1), "Recruitment status was")
    elif match := re.match(r"^Verified\s+(\w+\s+\d{4})\s+by\s+(.+?)\.?$", text):
        pc.put(draft, "dates.status_verified", pc.date(match.group(1)))
        pc.unmapped(draft, "verified by", match.group(2))
    elif match := re.match(r"^(First Posted|Last Update Posted|Results First Posted)\s*:\s*(.+)$", text):
        field = {"first posted": "first_posted", "last update posted": "last_update_posted", "results first posted": "results_first_posted"}[match.group(1).lower()]
        pc.put_date(draft, f"dates.{field}", re.sub(r"\s*key record dates\s*$", "", match.group(2), flags=re.I), match.group(1))
    else:
        return False
    return True


def _conditions_row(draft: pc.Draft, row: str) -> None:
    """"Conditions | Drug: a Drug: b | Phase 2 |": conditions run together, interventions typed."""
    parts = [c.strip() for c in row.rstrip().rstrip("|").split("|")]
    if parts and parts[0]:
        draft["_conditions_raw"] = parts[0]  # split at the end, when the page's other lists are known
    if len(parts) > 1:
        for kind, name in pc.split_typed(parts[1]):
            _add_intervention(draft, kind, name)
    if len(parts) > 2:
        pc.put(draft, "phases", pc.phases(parts[2]))


def _add_intervention(draft: pc.Draft, kind: Optional[str], name: str) -> dict[str, Any]:
    for existing in draft.setdefault("interventions", []):
        if existing["name"] == name and existing.get("type") in (kind, None):
            if kind:
                existing["type"] = kind
            return existing
    item: dict[str, Any] = {"name": name, "type": kind}
    draft["interventions"].append(item)
    return item


def _arms(draft: pc.Draft, lines: list[str]) -> None:
    """Arm table: arm cell lines up to a closing "|", then intervention cell lines up to the next."""
    cells_: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip() in ("---|---|", "---|---"):
            continue
        closed = line.rstrip().endswith("|")
        current.append(line.rstrip().rstrip("|").rstrip() if closed else line.rstrip())
        if closed:
            cells_.append(current)
            current = []
    if current:
        cells_.append(current)
    for arm_cell, treat_cell in zip(cells_[0::2], cells_[1::2] + [[]] * (len(cells_) % 2)):
        _arm(draft, arm_cell, treat_cell)


def _arm(draft: pc.Draft, arm_cell: list[str], treat_cell: list[str]) -> None:
    head = clean_line(arm_cell[0]) or ""
    arm: dict[str, Any] = {}
    if match := _TYPED_ARM.match(head):
        arm["type"] = pc.ARM_TYPE[match.group(1).lower()]
        arm["label"] = match.group(2).strip()
    else:
        arm["label"] = head
    description = clean(pc.unescape("\n".join(arm_cell[1:])))
    if description:
        arm["description"] = description
    names: list[str] = []
    current: Optional[dict[str, Any]] = None
    text_lines: list[str] = []

    def close() -> None:
        if current is not None and text_lines and not current.get("description"):
            current["description"] = clean(pc.unescape("\n".join(text_lines)))
        text_lines.clear()

    for line in treat_cell:
        text = line.strip()
        if match := _INTERVENTION_LINE.match(text):
            close()
            kind = pc.INTERVENTION_TYPE[match.group(1).lower()]
            name = clean_line(match.group(2)) or ""
            current = _add_intervention(draft, kind, name)
            names.append(pc.intervention_label(kind, name))
        elif (match := re.match(r"^Other Names?:\s*(.+)$", text)) and current is not None:
            for other in clean_list(re.split(r";\s*", match.group(1))):
                if other not in current.setdefault("other_names", []):
                    current["other_names"].append(other)
        elif text:
            text_lines.append(line)
    close()
    arm["intervention_names"] = names
    if arm["label"]:
        draft.setdefault("arms", []).append(arm)


def _outcomes(draft: pc.Draft, lines: list[str]) -> None:
    """Outcome lines; kinds come from the section headings, or are inferred when the page lost them."""
    kind: Optional[str] = None
    saw_heading = False
    items: list[dict[str, Any]] = []
    for line in lines:
        text = line.strip()
        if match := _OUTCOME_HEAD.match(text):
            kind = {"primary": "PRIMARY", "secondary": "SECONDARY"}.get(match.group(1).lower(), "OTHER")
            saw_heading = True
        elif parts := _outcome(text):
            measure, time_frame, description = parts
            item = {"kind": kind, "measure": clean_line(pc.unescape(measure)), "time_frame": clean_line(pc.unescape(time_frame))}
            if description := clean_line(pc.unescape(description)):
                item["description"] = description
            items.append(item)
        elif text and items:
            previous = items[-1]
            previous["description"] = clean(f"{previous.get('description') or ''}\n{pc.unescape(text)}")
    if items and not saw_heading:
        for index, item in enumerate(items):
            item["kind"] = "PRIMARY" if index == 0 else "SECONDARY"
        pc.infer(draft, "outcomes.kind")
        pc.warn(draft, "the page lost its Primary/Secondary outcome headings; the first outcome is taken as primary, the rest as secondary")
    draft["outcomes"] = [o for o in items if o.get("measure")]


def _locations(draft: pc.Draft, lines: list[str]) -> None:
    """Central contacts, then country headings, facility rows, address rows and site contacts."""
    location: Optional[dict[str, Any]] = None
    heading_country: Optional[str] = None
    rows = [line for line in lines if pc.cells(line)]
    for index, line in enumerate(rows):
        parts = pc.cells(line)
        if not parts:
            continue
        if match := _PERSON_ROLE.match(line.strip()):
            role = pc.PERSON_ROLE.get(match.group(1).lower(), "CONTACT")
            found = pc.person(" ".join(pc.cells(match.group(2))) or "", role)
            if found is None:
                continue
            if location is None:
                draft.setdefault("contacts", []).append(found)
            else:
                location.setdefault("contacts", []).append(found)
            continue
        first = parts[0]
        status = pc.status(parts[1]) if len(parts) > 1 else None
        if status:
            location = {"facility": first, "status": status}
            draft.setdefault("locations", []).append(location)
        elif location is not None and "facility" in location and "country" not in location and _is_address(first, heading_country):
            location.update(pc.address(first))
        elif (country := _heading(first)) is not None:
            heading_country = country
            location = None
        elif _is_address(first, heading_country) and not _next_is_address(rows, index, heading_country):
            location = pc.address(first)
            draft.setdefault("locations", []).append(location)
        else:
            location = {"facility": first}
            draft.setdefault("locations", []).append(location)


def _next_is_address(rows: list[str], index: int, country: Optional[str]) -> bool:
    """A facility name may itself end in ", Greece"; the address line right after it settles it."""
    if index + 1 >= len(rows):
        return False
    nxt = pc.cells(rows[index + 1])
    return len(nxt) == 1 and _is_address(nxt[0], country) and not _PERSON_ROLE.match(rows[index + 1].strip())


def _heading(text: str) -> Optional[str]:
    """"Denmark" or "United States, Texas" (a country heading of the locations table) → the country."""
    if text in pc.COUNTRIES:
        return text
    head = text.split(",")[0].strip()
    return head if head in pc.COUNTRIES and text.count(",") == 1 else None


def _is_address(text: str, country: Optional[str]) -> bool:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2:
        return False
    if country and country in parts[1:]:
        return True
    return any(part in pc.COUNTRIES or ", ".join(parts[i:i + 2]) in pc.COUNTRIES for i, part in enumerate(parts) if i > 0)


def _responsible_party(draft: pc.Draft) -> None:
    value = draft.pop("_responsible", None)
    if not value:
        return
    sponsor = (draft.get("sponsor") or {}).get("name")
    if sponsor and clean_line(value) == sponsor:
        draft["responsible_party"] = {"type": "SPONSOR"}
        return
    if match := re.match(r"^(.*?),\s*Responsible Party was entered in the old format as (.*),\s*([^,]+)$", value, re.S):
        pc.unmapped(draft, "responsible party (old format)", match.group(2))
        draft["responsible_party"] = {"name": clean_line(match.group(1)), "affiliation": clean_line(match.group(3))}
        return
    parts = [p.strip() for p in value.split(",") if p.strip()]
    party: dict[str, Any] = {"name": parts[0]}
    if len(parts) > 1:
        party["affiliation"] = parts[-1]
    if len(parts) > 2:
        party["title"] = ", ".join(parts[1:-1])
    draft["responsible_party"] = party


def _tail(draft: pc.Draft, lines: list[str]) -> None:
    """Keywords and MeSH terms: unlabelled lines after "Last Verified" (or labelled, on full pages)."""
    mesh_text: list[str] = []
    for line in lines:
        text = line.strip().rstrip("|").strip()
        if not text:
            continue
        if match := re.match(r"^Keywords provided by [^:]*:\s*\|?\s*(.*)$", text):
            draft["_keywords_raw"] = match.group(1).strip()
            continue
        if match := re.match(r"^Additional relevant MeSH terms:\s*\|?\s*(.*)$", text):
            mesh_text.append(match.group(1))
            continue
        if not mesh_text and "_keywords_raw" not in draft and not _mostly_mesh(text, draft):
            draft["_keywords_raw"] = text
        else:
            mesh_text.append(text)
    draft["_mesh_raw"] = " ".join(t for t in mesh_text if t)


def _split_lists(draft: pc.Draft) -> None:
    """Split the run-together MeSH, condition and keyword cells, each helped by the page's other lists."""
    names: dict[str, str] = {}
    for item in draft.get("interventions", []):
        for name in [item["name"], *item.get("other_names", [])]:
            names[name] = "intervention"
    drug_words = dict(names)
    for name in names:
        for word in re.findall(r"[A-Za-z][A-Za-z-]{4,}", name):  # "Phentolamine" of "Phentolamine mesylate"
            drug_words.setdefault(word, "intervention")
    mesh_raw = draft.pop("_mesh_raw", "")
    conditions_mesh: list[dict] = []
    if mesh_raw:
        conditions_mesh, interventions_mesh, unknown = page_vocab.split_mesh(mesh_raw, drug_words)
        # The page lists the record's own terms, then their broader ancestors: only the own ones
        # are the record's MeSH terms; ancestors are kept apart, never as conditions (issue 17).
        conditions_mesh, condition_ancestors = page_vocab.split_ancestors(conditions_mesh)
        interventions_mesh, intervention_ancestors = page_vocab.split_ancestors(interventions_mesh, drug_words)
        draft["condition_mesh"] = conditions_mesh
        draft["intervention_mesh"] = interventions_mesh
        draft["condition_mesh_ancestors"] = condition_ancestors
        draft["intervention_mesh_ancestors"] = intervention_ancestors
        for piece in unknown:
            pc.warn(draft, f"MeSH text {piece!r} is not a known term; kept as one term")
    local = [*names, *(m["term"] for m in conditions_mesh)]
    if raw := draft.pop("_conditions_raw", None):
        draft["conditions"] = _split(draft, "conditions", raw, local)
    if raw := draft.pop("_keywords_raw", None):
        draft["keywords"] = _split(draft, "keywords", raw, [*local, *draft.get("conditions", [])])


def _split(draft: pc.Draft, field: str, text: str, local: list[str]) -> list[str]:
    items, known = page_vocab.split_phrases(text, local)
    if not known and len(text.split()) > 3:
        pc.warn(draft, f"{field} {text!r} may be several items run together; kept as one")
    return clean_list(items)


def _mostly_mesh(text: str, draft: pc.Draft) -> bool:
    """Keywords or MeSH? MeSH lines are made of known terms, the page's own drug names among them."""
    local = {word for item in draft.get("interventions", []) for name in [item["name"], *item.get("other_names", [])]
             for word in [name, *re.findall(r"[A-Za-z][A-Za-z0-9-]{4,}", name)]}
    pieces, unknown = page_vocab.segment(text, frozenset(page_vocab.vocabulary()["mesh"]) | local, fold_case=False)
    known_words = sum(len(p.split()) for p in pieces) - sum(len(u.split()) for u in unknown)
    return known_words >= 0.6 * len(text.split())


# ---------------------------------------------------------------------------------------------
# The pass over the page
# ---------------------------------------------------------------------------------------------


#: Lines that end the criteria text (the contacts part of the page begins).
_CRITERIA_END = re.compile(r"^(to learn more about this study|please refer to this study|contact\s*:|contacts and locations$|locations$|sponsors and collaborators|investigators$)", re.I)


def _zones(lines: list[str], draft: pc.Draft) -> dict[str, list[str]]:
    """One pass: labelled rows and header facts go straight into the draft, other lines into zones."""
    zones: dict[str, list[str]] = {name: [] for name in ("summary", "arms", "outcomes", "population", "criteria", "locations", "tail")}
    zone = "header"
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        text = line.strip()
        if "brief_title" not in draft:
            if text and not pc.is_boilerplate(text, BOILERPLATE):
                draft["brief_title"] = clean_line(text)
            continue
        if row := _row(line):
            key, label, value = row
            ROWS[key](draft, label, value)
            if key == "last verified":
                zone = "tail"
            elif key in ("accepts healthy volunteers", "sampling method"):
                zone = "criteria"
            elif zone in ("header", "summary", "arms", "outcomes"):
                zone = "design"
            continue
        if zone in ("header", "summary", "design") and _header(draft, text):
            continue
        if _COND_HEAD.match(text):
            index += 1 if index < len(lines) and lines[index].strip().startswith("---") else 0
            if index < len(lines):
                _conditions_row(draft, lines[index])
                index += 1
            zone = "design"
            continue
        if _ARM_HEAD.match(text):
            zone = "arms"
            continue
        if zone in ("summary", "design", "arms") and (_OUTCOME_HEAD.match(text) or _outcome(text)):
            zone = "outcomes"
        elif zone in ("criteria", "population") and _CRITERIA_END.match(text):
            zone = "locations"
        elif zone == "criteria" and text.lower() == "study population":
            zone = "population"
            continue
        elif zone == "population" and text.lower() == "criteria":
            zone = "criteria"
            continue
        if zone not in ("arms", "criteria", "population") and pc.is_boilerplate(text, BOILERPLATE):
            if zone == "header" and re.match(r"^- (how to read a study record|disclaimer)", text, re.I):
                zone = "summary"
            continue
        if zone == "header" and text:
            zone = "summary"
        if zone in zones:
            zones[zone].append(line)
    return zones


def read_text(text: str, source: str) -> ReadResult:
    draft = pc.new_draft(NAME, source)
    zones = _zones(_logical_lines([line.rstrip() for line in text.split("\n")]), draft)
    _summary(draft, zones["summary"])
    _arms(draft, zones["arms"])
    _outcomes(draft, zones["outcomes"])
    pc.put(draft, "eligibility.study_population", clean(pc.unescape("\n".join(zones["population"]))))
    pc.set_criteria(draft, "\n".join(zones["criteria"]))
    _locations(draft, zones["locations"])
    _responsible_party(draft)
    _tail(draft, zones["tail"])
    _split_lists(draft)
    pc.link_arms(draft)
    pc.infer_ages_from_criteria(draft)
    pc.infer_phases(draft)
    if not draft.get("sponsor"):
        pc.warn(draft, "the page does not name the sponsor")
    return pc.finish(draft)


def _summary(draft: pc.Draft, lines: list[str]) -> None:
    """Brief summary, and the detailed description when the page labels it."""
    text = "\n".join(lines)
    brief, _, detail = text.partition("\nDetailed Description:\n") if "\nDetailed Description:\n" in text else (text, "", "")
    pc.put(draft, "brief_summary", clean(pc.unescape(brief)))
    pc.put(draft, "detailed_description", clean(pc.unescape(detail)))


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    yield read_text(pc.decode(data), source)


READER = Reader(NAME, "ClinicalTrials.gov classic study record page saved as text", sniff, read)
