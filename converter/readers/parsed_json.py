"""Reader for the model's own JSON ("parsed trial"), for engines that parse records themselves.

Input is validated twice: against the published ``schemas/trial.schema.json`` with jsonschema (the
contract outsiders code against) and by the pydantic model (which adds the placeholder rule).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import jsonschema
from pydantic import ValidationError as PydanticValidationError

from ..errors import ConversionError
from ..model import Trial
from ..resources import load_schema
from .base import ReadResult

NAME = "trial-json"


def _looks_like_trial(obj: Any) -> bool:
    return isinstance(obj, dict) and "provenance" in obj and "id" in obj and "protocolSection" not in obj


def sniff(head: bytes) -> float:
    text = head.lstrip()[:4096]
    if not text.startswith((b"{", b"[")):
        return 0.0
    if b'"provenance"' in head and b'"source_format"' in head and b'"protocolSection"' not in head:
        return 0.9
    return 0.0


def _one(obj: Any, source: str, index: int) -> ReadResult:
    record = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else f"{source}#{index}"
    validator = jsonschema.Draft202012Validator(load_schema("trial.schema.json"))
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = ".".join(str(p) for p in first.absolute_path) or "(root)"
        return ConversionError(f"does not match trial.schema.json: {first.message}", record=record, field=path, stage="read")
    try:
        return Trial.model_validate(obj)
    except PydanticValidationError as error:
        detail = error.errors()[0]
        path = ".".join(str(p) for p in detail["loc"]) or "(root)"
        return ConversionError(detail["msg"], record=record, field=path, stage="read")


def read(data: bytes, source: str) -> Iterator[ReadResult]:
    text = data.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        items = json.loads(text)
    elif stripped.startswith("{") and "\n{" in stripped.rstrip():
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        try:
            items = [json.loads(text)]
        except json.JSONDecodeError as error:
            raise ConversionError(f"invalid JSON: {error}", record=source, stage="read") from error
    for index, obj in enumerate(items):
        yield _one(obj, source, index)


class _Reader:
    name = NAME
    description = "trialconv parsed-trial JSON (schemas/trial.schema.json), single, array or NDJSON"
    sniff = staticmethod(sniff)
    read = staticmethod(read)


READER = _Reader()
