"""Patient-facing trial-finder pages ("Powered by AI" summary, Overview / Eligibility / Study details).

The page has no labels for its header facts: after the title come bare lines such as "Recruiting",
"18 years and older", "All", "Phase 4". Each is recognised by what it says, not by where it is, so
a missing line does not shift the others. "Study details" lists the conditions (indented), then the
NCT number, the sponsor and an unlabelled date; that date is kept in provenance.unmapped because the
page does not say which date it is. Everything from the contact form on is site furniture.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..normalize.dates import parse_date
from ..normalize.text import clean, clean_line, clean_list
from . import page_common as pc
from .base import ReadResult, Reader

NAME = "page-finder"

#: Section headings of the page, in page order.
SECTIONS = ("overview", "eligibility", "study details")

#: A line starting the site's contact form / FAQ: everything after it is furniture.
FURNITURE_START = re.compile(r"^(step \d+ get in touch|send a message|enter your contact details|faqs?|learn more about clinical trials|add a private note)\b", re.I)

BOILERPLATE = (r"image", r"powered by ai", r"investigator avatar", r"primary contact")

MARKERS = (b"Powered by AI", b"Study details", b"Get in touch with the nearest study center", b"Learn more about clinical trials", b"Add a private note")


def sniff(head: bytes) -> float:
    if pc.looks_structured(head):
        return 0.0
    hits = sum(marker in head for marker in MARKERS)
    has_sections = b"\nOverview\n" in head and b"\nEligibility\n" in head
    if hits >= 2 and has_sections:
        return 0.9
    if hits >= 1 and has_sections:
        return 0.6
    return 0.0


def _content_lines(text: str) -> list[str]:
    """Page lines up to the contact form, with furniture lines removed (indentation kept)."""
    out: list[str] = []
    for line in text.split("\n"):
        if FURNITURE_START.match(line.strip()):
            break
        if pc.is_boilerplate(line, BOILERPLATE):
            continue
        out.append(line.rstrip())
    return out


def _sections(lines: list[str]) -> dict[str, list[str]]:
    """Split at the known headings; lines before the first heading are the header."""
    out: dict[str, list[str]] = {"header": []}
    current = "header"
    for line in lines:
        key = line.strip().lower()
        if key in SECTIONS and line == line.strip():
            current = key
            out[current] = []
            continue
        out[current].append(line)
    return out


def _header(draft: pc.Draft, lines: list[str]) -> None:
    """Titles, then bare status / age / sex / phase lines recognised by their content."""
    texts = [" ".join(line.split()) for line in lines if line.strip()]  # raw: "Not Applicable" is a phase here
    titles: list[str] = []
    facts_started = False  # titles come first; an unrecognised line after the facts is not a title
    for text in texts:
        if (value := pc.status(text)) and "overall_status" not in draft:
            draft["overall_status"] = value
        elif (phases := pc.phases(text)) and re.fullmatch(r"(?i)(early\s+)?phase.*|not applicable", text):
            draft["phases"] = phases
        elif (sex := pc.lookup(pc.SEX, text)) is not None:
            pc.put(draft, "eligibility.sex", sex)
        elif any(pc.age_range(text)) and re.search(r"\d", text) and len(text) < 40:
            low, high = pc.age_range(text)
            pc.put(draft, "eligibility.minimum_age", low)
            pc.put(draft, "eligibility.maximum_age", high)
        elif not facts_started:
            titles.append(text)
            continue
        else:
            pc.unmapped(draft, "header line", text)
            continue
        facts_started = True
    if titles:
        draft["brief_title"] = titles[0]
    if len(titles) > 1 and titles[1] != titles[0]:
        draft["official_title"] = titles[1]


def _study_details(draft: pc.Draft, lines: list[str]) -> None:
    """Indented lines are conditions; then NCT id, sponsor and an unlabelled date."""
    conditions = [line.strip() for line in lines if line.startswith((" ", "\t")) and line.strip()]
    draft["conditions"] = clean_list(conditions)
    sponsor_seen = False
    for line in lines:
        text = clean_line(line)
        if not text or line.startswith((" ", "\t")):
            continue
        if ids := pc.nct_ids(text):
            pc.registry_id(draft, ids[0])
        elif parse_date(text):
            pc.unmapped(draft, "unlabelled date", text)
            pc.warn(draft, f"the page shows the date {text!r} without saying which date it is; not mapped")
        elif not sponsor_seen:
            draft["sponsor"] = {"name": text}
            sponsor_seen = True
        else:
            pc.unmapped(draft, "study details", text)


def read_text(text: str, source: str) -> ReadResult:
    draft = pc.new_draft(NAME, source)
    parts = _sections(_content_lines(text))
    _header(draft, parts.get("header", []))
    draft["brief_summary"] = clean("\n".join(parts.get("overview", [])))
    pc.set_criteria(draft, "\n".join(parts.get("eligibility", [])))
    _study_details(draft, parts.get("study details", []))
    if not draft.get("id"):
        if ids := pc.nct_ids(text):
            pc.registry_id(draft, ids[0])
    pc.infer_ages_from_criteria(draft)
    pc.infer_phases(draft)
    pc.infer_design(draft)
    for missing in ("overview", "eligibility", "study details"):
        if missing not in parts:
            pc.warn(draft, f"section {missing!r} not found on the page")
    return pc.finish(draft)


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    yield read_text(pc.decode(data), source)


READER = Reader(NAME, "Patient-facing trial-finder page saved as text (Overview / Eligibility / Study details)", sniff, read)

