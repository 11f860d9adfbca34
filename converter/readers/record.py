"""Record bookkeeping shared by the readers: what one record's mapping read, could not carry or had
to infer, and the small value checks every reader applies the same way.

A value the model cannot hold is listed in ``provenance.unmapped`` with its path and value instead
of failing the whole record; a record-level problem is a :class:`RecordError` naming the source path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Optional, TypeVar, get_origin

from pydantic import BaseModel, ValidationError

from ..model import (
    PLACEHOLDERS,
    Age,
    Arm,
    Criterion,
    Enrollment,
    Intervention,
    Provenance,
    Trial,
    TrialDate,
)
from ..normalize.ages import parse_age
from ..eligibility.criteria import parse_criteria
from ..normalize.dates import parse_date, trial_date
from ..normalize.text import clean_line
from ..safety import LINK_SCHEMES, for_terminal, has_unshowable, is_safe_link

# The registry the ClinicalTrials.gov readers (API v2 JSON, legacy XML) name in identifiers.
REGISTRY = "ClinicalTrials.gov"

M = TypeVar("M", bound=BaseModel)

# Registry text is untrusted: a value quoted back in a message or in provenance is cut to this many
# characters, so a 1 MB field cannot turn one error line into a 1 MB log entry.
QUOTE_LIMIT = 200


def brief(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` for a message, shortened to ``limit`` characters."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class RecordError(Exception):
    """A record-level problem at a known source path; becomes a ConversionError for that record."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass
class RecordContext:
    """What one record's mapping read and could not carry, so unread fields can be reported.

    ``consumed`` holds paths read completely (a leaf, or a subtree taken as a whole); ``entered``
    holds containers the mapper walked into, whose unread children are reported individually.
    Paths are index-free ("a.b.c"), so a field read in one list item covers all items.
    """

    consumed: set[str] = field(default_factory=set)
    entered: set[str] = field(default_factory=set)
    unmapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inferred: list[str] = field(default_factory=list)

    def not_carried(self, path: str, value: object, why: str) -> None:
        """Record a value the source had but the model cannot hold, with the reason.

        It is also a warning: a value a reader could not map ("WEIRD" as a status, "2015-13-45"
        as a date) is a fault of the record the user must see in the report and summary, not
        only in the unmapped list (issue 17).
        """
        text = f"{path}: {brief(repr(value))} {why}"
        self.unmapped.append(text)
        self.warnings.append(f"value not mapped: {text}")


# Model classes whose required fields must be filled to probe one other field's vocabulary.
_PROBE_BASE: dict[type[BaseModel], dict[str, Any]] = {
    Trial: {"id": "NCT00000000", "provenance": {"source_format": "probe"}},
    Enrollment: {"count": 0},
    Arm: {"label": "probe"},
    Intervention: {"name": "probe"},
    TrialDate: {"date": "2000"},
}


@cache
def accepts(model: type[BaseModel], field_name: str, value: str) -> bool:
    """Does the model accept ``value`` for this field? The model itself is the vocabulary authority.

    Probing by construction (not by reading the Literal) also honours the model's placeholder rule,
    so a value the model would refuse is reported instead of crashing the whole record.
    """
    data = dict(_PROBE_BASE.get(model, {}))
    annotation = model.model_fields[field_name].annotation
    data[field_name] = [value] if get_origin(annotation) is list else value
    try:
        model(**data)
    except ValidationError:
        return False
    return True


def vocab(value: Optional[str], path: str, model: type[BaseModel], field_name: str, ctx: RecordContext) -> Optional[str]:
    """A coded value the model accepts, or None with the value listed as not carried."""
    if value is None:
        return None
    if accepts(model, field_name, value):
        return value
    ctx.not_carried(path, value, f"not accepted for {model.__name__}.{field_name}")
    return None


def codes(values: list[str], path: str, model: type[BaseModel], field_name: str, ctx: RecordContext) -> list[str]:
    """The members of a coded list the model accepts, in source order; the others are listed."""
    accepted = []
    for index, value in enumerate(values):
        code = vocab(value, f"{path}[{index}]", model, field_name, ctx)
        if code:
            accepted.append(code)
    return accepted


def make(model: type[M], path: str, ctx: RecordContext, **data: Any) -> Optional[M]:
    """Build a sub-model, or list it as not carried when the model refuses the values.

    Vocabulary is checked beforehand, so this only catches odd values (e.g. a negative count);
    one odd member must not cost the whole trial.
    """
    try:
        return model(**data)
    except ValidationError as error:
        detail = error.errors()[0]
        ctx.not_carried(path, {k: v for k, v in data.items() if v not in (None, [])}, f"not carried: {detail['msg']}")
        return None


# Registry date types: "Anticipated" and "Estimate" are the legacy words for estimated dates.
DATE_TYPES: dict[str, str] = {"actual": "ACTUAL", "estimated": "ESTIMATED", "estimate": "ESTIMATED", "anticipated": "ESTIMATED"}


def make_date(text: Optional[str], kind: Optional[str], path: str, ctx: RecordContext) -> Optional[TrialDate]:
    """A TrialDate at the precision given; unreadable dates or types are listed, not guessed."""
    if text is None:
        return None
    if parse_date(text) is None:
        ctx.not_carried(path, text, "is not a readable date")
        return None
    date_kind = DATE_TYPES.get(kind.lower()) if kind else None
    if kind and date_kind is None:
        ctx.not_carried(f"{path} type", kind, "is not a known date type (ACTUAL/ESTIMATED)")
    return trial_date(text, date_kind)


_PMID = re.compile(r"[0-9]{1,12}")


def id_text(raw: Optional[str], path: str) -> None:
    """Refuse a record id holding control, bidi or zero-width characters instead of cleaning them away:
    an id with a NUL removed is another registry's id, and a wrong id is worse than a failed record."""
    if raw is not None and has_unshowable(raw.strip()):
        raise RecordError(path, f"id {for_terminal(repr(raw))[:80]} holds a control, bidi or zero-width character; refused rather than altered")


def url_value(text: Optional[str], path: str, ctx: RecordContext) -> Optional[str]:
    """A URL, or None with the value listed: text with blanks inside is no URL (FHIR refuses it,
    and one broken link must not cost the trial its whole output), and a scheme other than
    http(s)/ftp/urn (``javascript:``, ``data:``) is dropped with a warning, since a viewer following
    it could run the registry's text as code."""
    if text is None:
        return None
    if any(char.isspace() for char in text):
        ctx.not_carried(path, text, "is not a URL (it contains blanks)")
        return None
    if not is_safe_link(text):
        ctx.not_carried(path, text, f"is not a link trialconv writes (only {', '.join(LINK_SCHEMES)} URLs are)")
        ctx.warnings.append(f"{path}: link {brief(repr(text), 80)} dropped: only {', '.join(LINK_SCHEMES)} URLs are written")
        return None
    return text


def pmid_value(text: Optional[str], path: str, ctx: RecordContext) -> Optional[str]:
    """A PubMed id (digits), or None with the value listed: writers turn it into a PubMed link."""
    if text is None or _PMID.fullmatch(text):
        return text
    ctx.not_carried(path, text, "is not a PubMed id (digits only)")
    return None


def parse_criteria_safely(text: Optional[str], path: str, ctx: RecordContext) -> list[Criterion]:
    """Structured criteria; a parser failure leaves them empty with a warning (the text is kept)."""
    if not text:
        return []
    try:
        return parse_criteria(text)
    except Exception as error:  # the parser is a separate component; one bad text must not lose the trial
        ctx.warnings.append(f"{path}: criteria parser failed ({type(error).__name__}: {error}); criteria_text kept")
        return []


def age_limit(text: Optional[str], path: str, ctx: RecordContext) -> Optional[Age]:
    """Age limit; placeholders ("N/A") are already None, anything else unreadable is listed."""
    if text is None:
        return None
    age = parse_age(text)
    if age is None:
        ctx.not_carried(path, text, "is not a readable age")
    return age


def is_empty(value: Any) -> bool:
    """No information: None, blank or placeholder strings, empty containers (False is information)."""
    # Iterative, not recursive: untrusted JSON may nest as deep as the parser allows, and a
    # RecursionError here would cost the whole file instead of one line of provenance.
    pending = [value]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        if isinstance(item, str):
            if item.strip().lower() not in PLACEHOLDERS:
                return False
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            return False
    return True


def dedupe(items: list[str]) -> list[str]:
    """Keep the first of repeated messages (a field unread in 400 locations is one message)."""
    return list(dict.fromkeys(items))


def provenance(fmt: str, source: str, index: int, ctx: RecordContext, unread: list[str]) -> Provenance:
    """Where the record came from, and everything the mapping could not carry or had to infer.

    Unread paths are made of the source's own key names, which are untrusted text: they are
    cleaned (no control characters or lone surrogates, which no writer could encode) and shortened.
    """
    unread = [brief(clean_line(path) or repr(path)) for path in unread]
    return Provenance(
        source_format=fmt,
        source_file=source,
        record_index=index,
        unmapped=dedupe(ctx.unmapped + unread),
        warnings=dedupe(ctx.warnings),
        inferred=dedupe(ctx.inferred),
    )


def build_trial(fields: dict[str, Any], id_path: str) -> Trial:
    """The Trial, or a RecordError naming the field the values broke.

    Sub-models were validated as they were built, so in practice only the trial id can fail here
    (e.g. "NCT 123/4" is not file-name safe); that error names the id's source path.
    """
    try:
        return Trial(**fields)
    except ValidationError as error:
        detail = error.errors()[0]
        path = ".".join(str(part) for part in detail["loc"]) or "(root)"
        raise RecordError(id_path if path == "id" else path, brief(detail["msg"])) from error


def loads(text: str) -> Any:
    """``json.loads`` whose every refusal is a ValueError with a plain-words reason.

    The standard parser also raises RecursionError (nesting deeper than the interpreter's stack)
    and a ValueError that is no JSONDecodeError (an integer over 4300 digits); untrusted files
    produce both, and neither may escape as anything but "this is not JSON we can read".
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{error.msg}: line {error.lineno} column {error.colno} (char {error.pos})") from error
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    except ValueError as error:
        raise ValueError(brief(str(error), 120)) from error


_PADDED_MESH_UI = re.compile(r"^D000(\d{6})$")


def mesh_ui(value: Optional[str]) -> Optional[str]:
    """MeSH descriptor UI as NLM writes it.

    ClinicalTrials.gov pads old six-digit UIs to nine digits in some records ("D000001943" for
    D001943, Breast Neoplasms) and not in others. Only numbers clearly from the six-digit era
    (below 60000) are unpadded; newer nine-digit UIs (D000091642) and the uncertain band near the
    switch are kept exactly as the source wrote them.
    """
    if value is None:
        return None
    match = _PADDED_MESH_UI.match(value)
    if match and int(match.group(1)) < 60000:
        return f"D{match.group(1)}"
    return value
