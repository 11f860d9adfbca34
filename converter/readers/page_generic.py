"""Fallback for registry pages of a layout no specific reader knows.

It reads only what can be found without knowing the layout — a registry id, a title, a few widely
used "Label: value" lines and the Inclusion / Exclusion criteria — and says in
provenance.warnings and provenance.unmapped what it left behind, so a user knows the trial is partial.
Its sniff score is deliberately low (:data:`CONFIDENCE`): any specific reader that recognises the
page wins, and JSON, XML and binary inputs are never claimed.
"""

from __future__ import annotations

import re
from typing import Iterator, Optional

from ..normalize.text import clean, clean_line, clean_list, parse_bool
from . import page_common as pc
from .base import ReadResult, Reader

NAME = "page-generic"
CONFIDENCE = 0.2

#: Registry ids by pattern; the first that matches a page becomes its id (after NCT).
REGISTRY_IDS = (
    ("ISRCTN", r"\bISRCTN\d{8}\b"), ("EudraCT", r"\b\d{4}-\d{6}-\d{2}\b"), ("EU CT", r"\b\d{4}-\d{6}-\d{2}-\d{2}\b"),
    ("ChiCTR", r"\bChiCTR[-\w]*\d{6,}\b"), ("ANZCTR", r"\bACTRN\d{14}\b"), ("DRKS", r"\bDRKS\d{8}\b"),
    ("jRCT", r"\bjRCT\w?\d{9,}\b"), ("CTRI", r"\bCTRI/\d{4}/\d+/\d+\b"), ("UMIN", r"\bUMIN\d{9}\b"),
    ("KCT", r"\bKCT\d{7}\b"), ("IRCT", r"\bIRCT\w+\b"), ("PACTR", r"\bPACTR\d{15}\b"), ("NTR", r"\bNTR\d{3,5}\b"),
)

#: Label → draft path for the few labels many registries share.
LABELS = {
    "title": "brief_title", "brief title": "brief_title", "public title": "brief_title", "scientific title": "official_title",
    "official title": "official_title", "status": "overall_status", "recruitment status": "overall_status",
    "overall status": "overall_status", "phase": "phases", "study type": "study_type", "sponsor": "sponsor",
    "lead sponsor": "sponsor", "primary sponsor": "sponsor", "conditions": "conditions", "condition": "conditions",
    "health condition(s) or problem(s) studied": "conditions", "enrollment": "enrollment", "target sample size": "enrollment",
    "sex": "sex", "gender": "sex", "age": "age", "ages": "age", "healthy volunteers": "healthy",
}

_HEADING_END = re.compile(
    r"^(primary |secondary )?(outcomes?|outcome measures?|contacts?|contact information|locations?|study locations|sponsors?|"
    r"collaborators|investigators|study (design|details|plan)|arms?( and interventions)?|interventions?|references|publications|"
    r"more information|keywords|mesh terms|recruitment|results)\b.{0,40}$", re.I)
_LABEL_LINE = re.compile(r"^([A-Z][\w ()/,'-]{1,60}?)\s*:\s*(.+)$")


# A trial page may cite a few related trials; a text naming more is a list of trials (an index,
# a manifest, a search result), which this reader must not turn into one bogus trial.
MAX_IDS_ON_ONE_PAGE = 5


def sniff(head: bytes) -> float:
    if pc.looks_structured(head) or b"\x00" in head[:4096]:
        return 0.0
    text = pc.head_text(head)
    if len(set(pc.nct_ids(text))) > MAX_IDS_ON_ONE_PAGE:
        return 0.0  # a listing or manifest of many trials, not one trial's page
    if pc.nct_ids(text) or any(re.search(pattern, text) for _, pattern in REGISTRY_IDS) or re.search(r"(?i)\binclusion criteria\b", text):
        return CONFIDENCE
    return 0.0


def _registry_id(draft: pc.Draft, text: str) -> None:
    if ids := pc.nct_ids(text):
        pc.registry_id(draft, ids[0])
        for other in ids[1:]:
            pc.unmapped(draft, "other NCT number on the page", other)
        return
    for registry, pattern in REGISTRY_IDS:
        if match := re.search(pattern, text):
            value = match.group(0)
            pc.add_identifier(draft, value, "REGISTRY", issuer=registry)
            safe = re.sub(r"[^A-Za-z0-9._-]", "-", value)[:64]
            draft["id"] = safe
            return


def _title(lines: list[str]) -> Optional[str]:
    """The first line that reads like a title: several words, no label, not furniture, not a sentence."""
    for line in lines[:40]:
        text = clean_line(line)
        if not text or pc.is_boilerplate(text) or _LABEL_LINE.match(text) or pc.nct_ids(text) == [text]:
            continue
        if 3 <= len(text.split()) <= 40 and not text.endswith((".", ":")):
            return text
    return None


def _labelled(draft: pc.Draft, lines: list[str]) -> None:
    for line in lines:
        match = _LABEL_LINE.match(line.strip())
        if not match:
            continue
        label, value = match.group(1).strip().lower(), match.group(2).strip().strip("|").strip()
        target = LABELS.get(label)
        if target is None:
            if not re.match(r"(?i)(inclusion|exclusion) criteria", label):
                pc.unmapped(draft, match.group(1), value)
            continue
        if target in ("brief_title", "official_title"):
            pc.put(draft, target, clean_line(value))
        elif target == "overall_status":
            pc.put_status(draft, target, value, match.group(1).strip())
        elif target == "phases":
            pc.put(draft, target, pc.phases(value))
        elif target == "study_type":
            pc.put(draft, target, pc.lookup(pc.STUDY_TYPE, value))
        elif target == "sponsor" and clean_line(value):
            pc.put(draft, target, {"name": clean_line(value)})
        elif target == "conditions":
            pc.put(draft, target, clean_list(re.split(r"\s*[;|]\s*", value)))
        elif target == "enrollment":
            pc.put(draft, target, pc.enrollment(value))
        elif target == "sex":
            pc.put(draft, "eligibility.sex", pc.lookup(pc.SEX, value))
        elif target == "age":
            low, high = pc.age_range(value)
            pc.put(draft, "eligibility.minimum_age", low)
            pc.put(draft, "eligibility.maximum_age", high)
        elif target == "healthy":
            pc.put(draft, "eligibility.healthy_volunteers", parse_bool(value))


def _criteria(lines: list[str]) -> Optional[str]:
    """From the first Inclusion/Exclusion heading to the next section heading of another kind."""
    start = next((i for i, line in enumerate(lines) if re.match(r"(?i)^\s*[-•*]?\s*(key\s+)?(inclusion|exclusion|eligibility) criteria\b", line)), None)
    if start is None:
        return None
    block: list[str] = []
    for line in lines[start:]:
        if block and _HEADING_END.match(line.strip()) and len(line.split()) <= 6:
            break
        block.append(line)
    return "\n".join(block)


def read_text(text: str, source: str) -> ReadResult:
    draft = pc.new_draft(NAME, source)
    lines = [line.rstrip() for line in text.split("\n") if not pc.is_boilerplate(line)]
    _registry_id(draft, text)
    _labelled(draft, lines)
    if "brief_title" not in draft and (title := _title(lines)):
        draft["brief_title"] = title
    pc.set_criteria(draft, _criteria(lines))
    pc.infer_phases(draft)
    pc.infer_design(draft)
    pc.infer_ages_from_criteria(draft)
    read = [name for name in ("id", "brief_title", "overall_status", "phases", "sponsor", "conditions") if draft.get(name)]
    if draft["eligibility"].get("criteria_text"):
        read.append("eligibility criteria")
    pc.warn(draft, "page layout not recognised; the generic reader read only: " + (", ".join(read) or "nothing"))
    if not draft["eligibility"].get("criteria_text"):
        pc.warn(draft, "no Inclusion/Exclusion criteria section found")
    if not draft.get("id") and not draft.get("brief_title"):
        summary = clean(text)
        pc.unmapped(draft, "page text", summary)
    return pc.finish(draft)


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    yield read_text(pc.decode(data), source)


READER = Reader(NAME, "Any other registry page saved as text: id, title and criteria only (low-confidence fallback)", sniff, read)
