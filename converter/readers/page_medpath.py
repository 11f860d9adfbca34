"""MedPath study pages saved as text.

MedPath prints a registry record as label lines followed by value lines, in two shapes: list items
("- Conditions" / "- OligometastasisBreast Cancer") or bare lines ("Conditions" / "Recurrent Breast
Cancer"). Saving the page loses separators inside lists and tables:

* list items run together: "OligometastasisBreast Cancer", "Other: Palliative treatmentProcedure: …";
* the Group / Intervention / Description table becomes one line per row with the cells glued
  ("…immunotherapyNK immunotherapyIn this group…") or the whole table one line with spaces;
* the Name / Time / Method outcome table likewise;
* criteria may lose their Inclusion / Exclusion headings — their items then stay UNKNOWN, never a
  guess.

Labels are a closed list (:data:`LABELS`), so a line is a label only when it is one of them; that
keeps criteria text such as "Status post surgery" from being read as a field.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from ..normalize.text import clean, clean_line, clean_list, parse_bool
from . import page_common as pc
from .base import ReadResult, Reader

NAME = "page-medpath"

#: Field labels (lower case) → draft handler name; "locations (n)" is matched by pattern.
LABELS = {
    "conditions": "conditions", "interventions": "interventions", "registration number": "registration",
    "lead sponsor": "sponsor", "brief summary": "brief_summary", "detailed description": "detailed_description",
    "status": "status", "sex": "sex", "target recruitment": "enrollment", "age": "age", "ages": "age",
    "healthy volunteers": "healthy", "accepts healthy volunteers": "healthy", "study type": "study_type",
    "study design": "study_design", "arm && interventions": "arms", "arms && interventions": "arms",
    "arm & interventions": "arms", "primary outcome measures": "primary", "secondary outcome measures": "secondary",
    "phase": "phase", "locations": "locations",
}
SECTIONS = {"recruitment & eligibility": "eligibility", "study & design": "design", "trial locations": "locations_section"}
#: Fields whose value is one line; anything after it in the eligibility section is criteria text.
SINGLE_VALUE = {"registration", "sponsor", "status", "sex", "enrollment", "age", "healthy", "study_type", "study_design", "phase"}

BOILERPLATE = (r"medpath", r"©.*medpath.*", r"copyright.*medpath.*")

_LOCATIONS = re.compile(r"^locations\s*\((\d+)\)$", re.I)
# Bounded numbers not inside longer ones: an unbounded \d+ is retried from every digit of a long run.
_TIME = re.compile(r"(?:(?:up to|within|at|after|over)\s+)?(?<![\d.])\d{1,6}(?:\.\d{1,3})?\s*(?:-\s*\d{1,6}\s*)?(?:years?|months?|weeks?|days?|hours?)\b", re.I)
_FUNCTION_END = re.compile(r"(?:\b(?:to|of|for|at|in|and|or|the|a|an|by|with|than|after|within|from|over|up)|[,;:(])$", re.I)


def sniff(head: bytes) -> float:
    if pc.looks_structured(head):
        return 0.0
    text = pc.head_text(head)
    labels = sum(bool(re.search(rf"(?mi)^(- )?{re.escape(label)}$", text)) for label in ("Registration Number", "Lead Sponsor", "Target Recruitment", "Recruitment & Eligibility", "Study & Design", "Arm && Interventions", "Trial Locations"))
    bonus = 0.1 if "MedPath" in text else 0.0
    return min(1.0, 0.85 + bonus) if labels >= 3 else 0.5 if labels == 2 else 0.0


def _label(line: str) -> Optional[str]:
    """The handler name when the line is a field label, else None."""
    text = re.sub(r"^-\s+", "", line.strip()).lower()
    if _LOCATIONS.match(text):
        return "locations"
    return LABELS.get(text)


def _section(line: str) -> Optional[str]:
    return SECTIONS.get(re.sub(r"^-\s+", "", line.strip()).lower())


def _fields(lines: list[str]) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """(header lines, [(handler, section, value lines)]) in page order; value lines keep bullets."""
    header: list[str] = []
    fields: list[tuple[str, str, list[str]]] = []
    section = "top"
    for line in lines:
        if pc.is_boilerplate(line, BOILERPLATE):
            continue
        if (name := _section(line)) is not None:
            section = name
            fields.append(("section", section, []))
            continue
        if (handler := _label(line)) is not None:
            fields.append((handler, section, [line.strip()] if handler == "locations" else []))
            continue
        if fields:
            fields[-1][2].append(line)
        else:
            header.append(line)
    return header, fields


def _value(lines: list[str]) -> list[str]:
    """Value lines without list dashes, blank lines and flag emoji."""
    out = []
    for line in lines:
        text = pc.strip_flags(re.sub(r"^\s*-\s+", "", line)).strip()
        if text:
            out.append(text)
    return out


def _header(draft: pc.Draft, lines: list[str]) -> None:
    """Title, then bare phase and status lines (MedPath's page head)."""
    for text in _value(lines):
        if "brief_title" not in draft:
            draft["brief_title"] = clean_line(text)
        elif re.fullmatch(r"(?i)(early\s+)?phase.*|not applicable", text) and pc.phases(text):
            draft["phases"] = pc.phases(text)
        elif pc.status(text):
            pc.put(draft, "overall_status", pc.status(text))
        else:
            pc.unmapped(draft, "page head", text)


def _registration(draft: pc.Draft, value: str) -> None:
    if ids := pc.nct_ids(value):
        pc.registry_id(draft, ids[0])
    elif re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
        draft["id"] = value
        pc.add_identifier(draft, value, "REGISTRY")
    else:
        pc.add_identifier(draft, value, "REGISTRY")


def _interventions(draft: pc.Draft, lines: list[str]) -> None:
    for line in lines:
        for kind, name in pc.split_typed(line):
            draft.setdefault("interventions", []).append({"name": name, "type": kind})


def _arm_rows(text_lines: list[str], known: list[str]) -> list[tuple[str, str, str]]:
    """(group, intervention, description) rows of the flattened arm table."""
    lines = [line for line in (l.strip() for l in text_lines) if line]
    if lines:
        lines[0] = re.sub(r"^Group\s*Intervention\s*Description\s*", "", lines[0])
    lines = [line for line in lines if line]
    if len(lines) == 1 and " " in lines[0] and known:
        return _rows_spaced(lines[0], known)
    return [row for row in (_row_glued(line, known) for line in lines) if row]


def _row_glued(line: str, known: list[str]) -> Optional[tuple[str, str, str]]:
    """"Trastuzumab and NK immunotherapyNK immunotherapyIn this group…": cells glued at case changes."""
    glue = [m.start() for m in re.finditer(r"(?<=[a-z\)\]])(?=[A-Z])", line)]
    for start in glue:
        for name in sorted(known, key=len, reverse=True):
            end = start + len(name)
            if line.startswith(name, start) and (end in glue or end == len(line)):
                return line[:start].strip(), name, line[end:].strip()
    if len(glue) >= 2:
        return line[: glue[0]].strip(), line[glue[0]: glue[1]].strip(), line[glue[1]:].strip()
    return None


def _rows_spaced(text: str, known: list[str]) -> list[tuple[str, str, str]]:
    """Whole table on one line with spaces: a row starts at a sentence start, "<group> <known intervention>"."""
    starts = [0] + [m.end() for m in re.finditer(r"[.!?]\s+", text)]
    rows: list[tuple[int, int, int]] = []  # (group start, name start, name end)
    pattern = re.compile("|".join(rf"\b{re.escape(name)}\b" for name in sorted(known, key=len, reverse=True)))
    for start in starts:
        window_end = len(text) if start == starts[-1] else starts[starts.index(start) + 1]
        for match in pattern.finditer(text, start, window_end):
            group = text[start: match.start()].strip()
            if group and len(group.split()) <= 8 and not group.endswith((",", ";")):
                rows.append((start, match.start(), match.end()))
                break
    out: list[tuple[str, str, str]] = []
    for index, (start, name_start, name_end) in enumerate(rows):
        end = rows[index + 1][0] if index + 1 < len(rows) else len(text)
        out.append((text[start:name_start].strip(), text[name_start:name_end], text[name_end:end].strip()))
    return out


def _arms(draft: pc.Draft, lines: list[str]) -> None:
    interventions = draft.setdefault("interventions", [])
    known = [item["name"] for item in interventions]
    rows = _arm_rows(lines, known)
    if lines and not rows:
        pc.unmapped(draft, "Arm && Interventions", " ".join(_value(lines)))
        pc.warn(draft, "the arm / intervention table could not be split into rows")
    arms: dict[str, dict[str, Any]] = {}
    for group, name, description in rows:
        if name not in known:
            interventions.append({"name": name})
            known.append(name)
            pc.warn(draft, f"intervention {name!r} appears only in the arm table; its type is unknown")
        kind = next((item.get("type") for item in interventions if item["name"] == name), None)
        arm = arms.setdefault(group, {"label": group, "intervention_names": []})
        if description and not arm.get("description"):
            arm["description"] = clean(pc.unescape(description))
        label = pc.intervention_label(kind, name)
        if label not in arm["intervention_names"]:
            arm["intervention_names"].append(label)
    draft["arms"] = list(arms.values())


_ROW_BREAK = re.compile(r"\n|[.)\]](?=[A-Z])")


def _outcomes(draft: pc.Draft, kind: str, lines: list[str]) -> None:
    """Name / Time / Method table: a row is "<measure><time frame><description>"."""
    text = "\n".join(line.strip() for line in lines).strip()
    text = re.sub(r"^Name\s*Time\s*Method\s*", "", text)
    rows: list[dict[str, Any]] = []
    boundary = 0
    # The last row break before each time frame, found by one forward scan (rescanning the text
    # before every time frame made a page of many time frames quadratic). The scan stops at the
    # time frame, so the break's look-ahead cannot see into it, and resumes one character back.
    last_break, scanned = 0, 0
    too_long = -1  # a cut whose measure already had over 20 words: later ones from it only grow
    for match in _TIME.finditer(text):
        if match.start() < boundary:
            continue
        for found in _ROW_BREAK.finditer(text, scanned, match.start()):
            last_break = found.end()
        scanned = max(match.start() - 1, 0)
        cut = max(boundary, last_break)
        if cut == too_long:
            continue
        measure = text[cut: match.start()].strip()
        if len(measure.split(maxsplit=20)) > 20:
            too_long = cut
            continue
        if not measure or _FUNCTION_END.search(measure):
            continue
        if rows:
            rows[-1]["description"] = text[rows[-1]["_end"]: cut]
        rows.append({"kind": kind, "measure": measure, "time_frame": match.group(0).strip(), "_end": match.end()})
        boundary = match.end()
    if rows:
        rows[-1]["description"] = text[rows[-1]["_end"]:]
    elif text:
        pc.unmapped(draft, f"{kind.lower()} outcome table", text)
        pc.warn(draft, f"the {kind.lower()} outcome table could not be split into rows")
    for row in rows:
        row.pop("_end")
        row["measure"] = clean_line(pc.unescape(row["measure"]))
        row["description"] = clean(pc.unescape(row["description"]))
        draft.setdefault("outcomes", []).append(row)


def _locations(draft: pc.Draft, lines: list[str]) -> None:
    """Facility line, then (after an optional flag) "City, State, Country"."""
    declared = _LOCATIONS.match(lines[0].strip().lstrip("- ")) if lines else None
    locations: list[dict[str, Any]] = []
    for text in _value(lines[1:]):
        parts = [p.strip() for p in text.split(",")]
        is_address = len(parts) >= 2 and (parts[-1] in pc.COUNTRIES or ", ".join(parts[-2:]) in pc.COUNTRIES)
        if pc.status(text) and locations:
            locations[-1]["status"] = pc.status(text)
        elif is_address and locations and "country" not in locations[-1]:
            locations[-1].update(pc.address(text))
        elif is_address:
            locations.append(pc.address(text))
        else:
            locations.append({"facility": text})
    draft["locations"] = locations
    if declared and int(declared.group(1)) != len(locations):
        pc.warn(draft, f"the page announces {declared.group(1)} locations but lists {len(locations)}")


def read_text(text: str, source: str) -> ReadResult:
    draft = pc.new_draft(NAME, source)
    header, fields = _fields(text.split("\n"))
    _header(draft, header)
    criteria: list[str] = []
    for handler, section, lines in fields:
        values = _value(lines)
        first = values[0] if values else None
        if handler in SINGLE_VALUE and section == "eligibility" and len(values) > 1:
            # the criteria follow the last single-value field, without a label of their own
            criteria.extend(line for line in lines[_first_index(lines) + 1:])
        elif handler in SINGLE_VALUE and len(values) > 1:
            for extra in values[1:]:
                pc.unmapped(draft, handler, extra)
        if handler == "section":
            continue
        elif handler == "conditions":
            draft["conditions"] = clean_list(item for line in values for item in pc.split_glued(line))
        elif handler == "interventions":
            _interventions(draft, values)
        elif handler == "registration" and first:
            _registration(draft, first)
        elif handler == "sponsor" and first:
            draft["sponsor"] = {"name": clean_line(first)}
        elif handler in ("brief_summary", "detailed_description"):
            pc.put(draft, handler, clean(pc.unescape("\n".join(values))))
        elif handler == "status":
            pc.put(draft, "overall_status", pc.status(first))
        elif handler == "sex":
            pc.put(draft, "eligibility.sex", pc.lookup(pc.SEX, first))
        elif handler == "enrollment":
            found = pc.enrollment(first)
            pc.put(draft, "enrollment", {"count": found["count"]} if found else None)
        elif handler == "age":
            low, high = pc.age_range(first)
            pc.put(draft, "eligibility.minimum_age", low)
            pc.put(draft, "eligibility.maximum_age", high)
        elif handler == "healthy":
            pc.put(draft, "eligibility.healthy_volunteers", parse_bool(first))
        elif handler == "phase":
            pc.put(draft, "phases", pc.phases(first))
        elif handler == "study_type":
            pc.put(draft, "study_type", pc.lookup(pc.STUDY_TYPE, first))
        elif handler == "study_design" and first:
            _study_design(draft, first)
        elif handler == "arms":
            _arms(draft, lines)
        elif handler in ("primary", "secondary"):
            _outcomes(draft, handler.upper(), lines)
        elif handler == "locations":
            _locations(draft, lines)
    # A criteria block with its own headings ("Inclusion Criteria" …) arrives as unlabelled lines
    # after the last field of the eligibility section; collect it from the section too.
    criteria = criteria or _criteria_block(fields)
    pc.set_criteria(draft, "\n".join(criteria))
    pc.link_arms(draft)
    pc.infer_ages_from_criteria(draft)
    pc.infer_phases(draft)
    pc.infer_design(draft)
    pc.infer_arm_types(draft)
    if draft["eligibility"].get("criteria") and all(c.get("category") == "UNKNOWN" for c in draft["eligibility"]["criteria"]):
        pc.warn(draft, "the criteria have no Inclusion/Exclusion headings; their category is UNKNOWN")
    return pc.finish(draft)


def _first_index(lines: list[str]) -> int:
    return next(index for index, line in enumerate(lines) if line.strip())


def _criteria_block(fields: list[tuple[str, str, list[str]]]) -> list[str]:
    """Lines from "Inclusion Criteria" on, inside the last eligibility field (MedPath's bare shape)."""
    for handler, section, lines in fields:
        if section != "eligibility" or handler == "section":
            continue
        for index, line in enumerate(lines):
            if re.match(r"^\s*(-\s+)?(inclusion|exclusion) criteria\b", line, re.I):
                return lines[index:]
    return []


def _study_design(draft: pc.Draft, value: str) -> None:
    if mapped := pc.lookup(pc.INTERVENTION_MODEL, value):
        pc.put(draft, "design.intervention_model", mapped)
    elif mapped := pc.lookup(pc.OBSERVATIONAL_MODEL, value):
        pc.put(draft, "design.observational_model", mapped)
    else:
        pc.unmapped(draft, "Study Design", value)


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    yield read_text(pc.decode(data), source)


READER = Reader(NAME, "MedPath study page saved as text", sniff, read)
