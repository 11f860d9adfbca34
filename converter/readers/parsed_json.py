"""Reader for the model's own JSON ("parsed trial"), for engines that parse records themselves.

Input is validated twice: against the published ``schemas/trial.schema.json`` with jsonschema (the
contract outsiders code against) and by the pydantic model (which adds the placeholder rule).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterator, Optional

import jsonschema
from pydantic import ValidationError as PydanticValidationError

from ..errors import ConversionError
from ..model import Trial
from ..resources import load_schema
from .base import ReadResult, Reader
from .record import brief, loads

NAME = "trial-json"


def _looks_like_trial(obj: Any) -> bool:
    return isinstance(obj, dict) and "provenance" in obj and "id" in obj and "protocolSection" not in obj


# Top-level keys only the model's JSON has (snake_case; registry formats use camelCase or XML). The
# writer puts ``provenance`` last, so a large file's first 64 KiB may not show it: any two of these,
# in any order, claim the file; :func:`claims` settles what the first bytes cannot.
_MODEL_KEYS = tuple(f'"{key}"'.encode() for key in (
    "provenance", "source_format", "brief_title", "official_title", "overall_status", "study_type",
    "condition_mesh", "intervention_mesh", "brief_summary", "detailed_description", "responsible_party",
    "ipd_sharing", "has_expanded_access", "last_known_status", "why_stopped", "identifiers"))


def sniff(head: bytes) -> float:
    text = head.lstrip()[:4096]
    if not text.startswith((b"{", b"[")) or b'"protocolSection"' in head:
        return 0.0
    if sum(key in head for key in _MODEL_KEYS) >= 2:
        return 0.9
    return 0.0


def claims(data: bytes) -> bool:
    """Whether a whole JSON document (beyond what :func:`sniff` saw) is the model's own: an object
    (or an array of them) whose keys include ``id`` and ``provenance``, wherever they are written."""
    if data.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        document = loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return False
    first = document[0] if isinstance(document, list) and document else document
    return _looks_like_trial(first)


# Text no writer can carry: control characters and the noncharacters U+FFFE/U+FFFF (XML and XHTML
# narrative refuse them) and lone surrogates (UTF-8 cannot encode them). The other readers clean
# these away; this format is the model's own, so it is held to that contract and refused, naming
# the field.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_PLACEHOLDER_MSG = re.compile(r"^Value error, (\w+): placeholder value")


def _unwritable(obj: Any) -> Optional[tuple[str, str]]:
    """(path, reason) of the first value no output can carry, or None: text with control characters,
    noncharacters or lone surrogates, and NaN / Infinity (Python's JSON parser accepts them; JSON
    does not).
    Iterative, so deep nesting cannot exhaust the stack."""
    pending: list[tuple[str, Any]] = [("", obj)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if _UNWRITABLE.search(value):
                return path or "(root)", f"text holds a control character, noncharacter or lone surrogate, which no output can carry: {brief(repr(value), 80)}"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return path or "(root)", f"{value} is not a finite number"
        elif isinstance(value, dict):
            pending.extend((f"{path}.{key}" if path else str(key), child) for key, child in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}" if path else str(index), child) for index, child in enumerate(value))
    return None


def _model_path(detail: Any) -> str:
    """Dotted path of a pydantic error; the model's placeholder check reports on the object, so the
    key it names in its message is added to point at the field itself."""
    path = [str(part) for part in detail["loc"]]
    if match := _PLACEHOLDER_MSG.match(detail["msg"]):
        path.append(match.group(1))
    return ".".join(path) or "(root)"


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The innermost cause of a schema error. An optional field is ``anyOf [X, null]`` in the
    schema, so a bad member of it is first reported on the whole object ("not valid under any of
    the given schemas"); the branch error deepest in the instance names the actual field."""
    while error.context:
        error = max(error.context, key=lambda cause: (len(cause.absolute_path), cause.validator != "type"))
    return error


def _one(obj: Any, source: str, index: int) -> ReadResult:
    record = brief(obj["id"], 80) if isinstance(obj, dict) and isinstance(obj.get("id"), str) and obj["id"].strip() else f"{source}#{index}"
    validator = jsonschema.Draft202012Validator(load_schema("trial.schema.json"))
    try:
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    except RecursionError:
        return ConversionError("nested too deeply to validate", record=record, field="(root)", stage="read")
    if errors:
        first = _deepest(errors[0])
        path = ".".join(str(p) for p in first.absolute_path) or "(root)"
        return ConversionError(f"does not match trial.schema.json: {brief(first.message)}", record=record, field=path, stage="read")
    if found := _unwritable(obj):
        path, reason = found
        return ConversionError(reason, record=record, field=path, stage="read")
    try:
        return Trial.model_validate(obj)
    except PydanticValidationError as error:
        detail = error.errors()[0]
        return ConversionError(brief(detail["msg"]), record=record, field=_model_path(detail), stage="read")


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    """Trials from one object, an array or NDJSON; a broken NDJSON line is that record's error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConversionError(f"not UTF-8 text: {error}", record=source, stage="read") from error
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" in stripped.rstrip():
        index = 0
        # split("\n"), not splitlines(): JSON strings may hold U+2028 or U+0085 raw, and
        # splitlines() would cut a record in two there.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except ValueError as error:
                yield ConversionError(f"invalid JSON on line {number}: {error}", record=f"{source}#{index}", field=f"line {number}", stage="read")
            else:
                yield _one(obj, source, index)
            index += 1
        return
    try:
        document = loads(text)
    except ValueError as error:
        raise ConversionError(f"invalid JSON: {error}", record=source, stage="read") from error
    for index, obj in enumerate(document if isinstance(document, list) else [document]):
        yield _one(obj, source, index)


READER = Reader(NAME, "trialconv parsed-trial JSON (schemas/trial.schema.json), single, array or NDJSON", sniff, read)
