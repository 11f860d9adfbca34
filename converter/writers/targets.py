"""The output targets trialconv offers: each builds, validates, then serialises one trial.

Validation happens here, before any bytes exist, so invalid output can never reach a file.
"""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence

import orjson

from ..model import Trial
from ..validate.cdisc import check as cdisc_check
from ..validate.cdisc import check_document
from .base import Writer, Written
from .bulk import produce as bulk_produce
from .cdisc import DATASET_ORDER, FORMATS, Dataset, build_datasets, stack, to_dataset_json, write_csv, write_dataset_json, write_xpt
from .cdisc.serialise import pinned


def _float_forms_differ(data: bytes) -> bool:
    """Whether orjson may have written a float unlike ``json.dumps``: only numbers under 1e-4 differ
    (``1e-7`` vs ``1e-07``, ``0.00001`` vs ``1e-05``). A bare number token ends at ``,`` or a line end
    (a string never holds a raw newline), so an ``e-`` inside a uuid or a word is not one; ``0.0000``
    inside text only costs the slow path. Byte searches, no regex: this runs on every output file."""
    if b"0.0000" in data:
        return True
    at = data.find(b"e-")
    while at != -1:
        if at and data[at - 1:at].isdigit():
            end = at + 2
            while data[end:end + 1].isdigit():
                end += 1
            if end > at + 2 and data[end:end + 1] in (b",", b"\n"):
                return True
        at = data.find(b"e-", at + 2)
    return False


def dumps(value: Any) -> bytes:
    """Canonical JSON: stable key order as built, UTF-8, trailing newline — byte-identical across runs.

    orjson writes the same bytes as ``json.dumps(value, ensure_ascii=False, indent=2)`` some twenty
    times faster; where the two could differ (tiny floats, see :func:`_float_forms_differ`, or values
    orjson refuses such as integers over 64 bits or non-string keys) the standard library writes it,
    so the bytes never depend on which one ran.
    """
    try:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except (TypeError, orjson.JSONEncodeError):
        data = None
    if data is None or _float_forms_differ(data):
        return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return data


def _requests(bundle: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """A transaction's entries as conditional updates when ``transaction_mode="update"``."""
    if options.get("transaction_mode") == "update":
        from .fhir.transaction import conditional_update

        return conditional_update(bundle)
    return bundle


def _fhir_r5(trial: Trial, options: dict[str, Any]) -> Written:
    from ..validate.fhir import check
    from .fhir.r5 import build_bundle

    bundle = _requests(build_bundle(trial, options.get("bundle_type", "collection")), options)
    check(bundle, "R5", trial.id, strict=bool(options.get("strict")))
    return Written(bundle, {f"{trial.id}.fhir-r5.json": dumps(bundle)})


def _fhir_r4b(trial: Trial, options: dict[str, Any]) -> Written:
    from ..validate.fhir import check
    from .fhir.r4b import build_bundle

    bundle = _requests(build_bundle(trial, options.get("bundle_type", "collection")), options)
    check(bundle, "R4B", trial.id, strict=bool(options.get("strict")))
    return Written(bundle, {f"{trial.id}.fhir-r4b.json": dumps(bundle)})


def stamp(trial: Trial) -> datetime:
    """The creation time written into Dataset-JSON / XPT headers, pinned so output is reproducible.

    SOURCE_DATE_EPOCH wins (the reproducible-builds convention); otherwise the record's own last
    update, so re-converting an unchanged record gives byte-identical files.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    dates = trial.dates
    for value in (dates.last_update_posted, dates.last_update_submitted, dates.first_posted, dates.first_submitted, dates.start):
        if value:
            year, month, day = (value.date.split("-") + ["01", "01"])[:3]
            return datetime(int(year), int(month), int(day), tzinfo=timezone.utc)
    return datetime(1970, 1, 1, tzinfo=timezone.utc)


def cdisc_files(
    result: Mapping[str, Dataset], formats: Sequence[str] = FORMATS, *, record: Optional[str] = None, created: Optional[datetime] = None
) -> dict[str, bytes]:
    """Checked, then serialised: ``{"ts.json": b"…", "ts.xpt": …, …}`` for the CLI/registry to place.

    Every dataset passes the SDTM conformance checks before the first file exists, and each
    Dataset-JSON document passes the CDISC schema before it is serialised.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown CDISC format(s) {unknown}; known: {', '.join(FORMATS)}")
    cdisc_check(result, record or getattr(result, "study_id", None) or "batch")
    files: dict[str, bytes] = {}
    for name in DATASET_ORDER:
        if name not in result:
            continue
        ds = result[name]
        for fmt in formats:
            stream = io.BytesIO()
            if fmt == "json":
                document = to_dataset_json(ds, created=created)
                check_document(document)
                write_dataset_json(document, stream)
            elif fmt == "csv":
                write_csv(ds, stream)
            else:
                write_xpt(ds, stream, pinned(created))
            files[f"{name.lower()}.{fmt}"] = stream.getvalue()
    return files


def _cdisc(trial: Trial, options: dict[str, Any]) -> Written:
    result = build_datasets(trial)
    created = stamp(trial)
    formats = tuple(options.get("cdisc_formats") or FORMATS)
    produced = cdisc_files(result, formats, created=created)
    files = {f"{trial.id}/{name}": data for name, data in produced.items()}
    if result.notes:
        files[f"{trial.id}/cdisc-notes.txt"] = ("\n".join(result.notes) + "\n").encode("utf-8")
    value = {"datasets": {name[:-5].upper(): json.loads(data) for name, data in produced.items() if name.endswith(".json")}, "notes": list(result.notes)}
    return Written(value, files, list(result.notes), batch_state=(result, created, formats))


def _cdisc_stacked(batch: list[Written]) -> dict[str, bytes]:
    """All trials of a run stacked into one TS/TA/TE/TI (first copy wins when a study appears twice)."""
    stacked = stack([w.batch_state[0] for w in batch], duplicates="first")
    latest = max(w.batch_state[1] for w in batch)
    formats = batch[0].batch_state[2]
    return {f"stacked/{name}": data for name, data in cdisc_files(stacked, formats, record="batch", created=latest).items()}


def _synopsis(trial: Trial, options: dict[str, Any]) -> Written:
    from .synopsis import render_synopsis

    pages = render_synopsis(trial, build_datasets(trial))
    return Written(pages, {f"{trial.id}/{name}": text.encode("utf-8") for name, text in pages.items()})


def _usdm(trial: Trial, options: dict[str, Any]) -> Written:
    from ..validate.usdm import check
    from .usdm import build_wrapper

    wrapper = build_wrapper(trial, _version())
    warnings = check(wrapper, trial.id)
    return Written(wrapper, {f"{trial.id}.usdm.json": dumps(wrapper)}, warnings=warnings)


def _version() -> str:
    """trialconv's version for the USDM ``systemVersion`` (the installed distribution's)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trialconv")
    except PackageNotFoundError:
        return ""


def _trial_json(trial: Trial, options: dict[str, Any]) -> Written:
    value = trial.to_json()
    return Written(value, {f"{trial.id}.trial.json": dumps(value)})


WRITERS: list[Writer] = [
    Writer("fhir-r5", "HL7 FHIR R5 Bundle (ResearchStudy, EvidenceVariable, Organization, Location, Practitioner)", _fhir_r5),
    Writer("fhir-r4b", "HL7 FHIR R4B Bundle (ResearchStudy, Group for eligibility, Organization, Location, Practitioner)", _fhir_r4b),
    Writer("cdisc", "CDISC SDTM trial design datasets TS, TA, TE, TI as Dataset-JSON v1.1, SAS XPORT v5 and CSV", _cdisc, _cdisc_stacked),
    Writer("usdm", "CDISC USDM 4.0 study definition (Wrapper JSON: study, version, design, criteria, objectives)", _usdm),
    Writer("synopsis", "Readable trial synopsis (HTML and Markdown)", _synopsis),
    Writer("fhir-r5-ndjson", "HL7 FHIR R5 Bulk Data NDJSON, one file per resource type plus manifest.json, in OUT/fhir-r5-ndjson/",
           bulk_produce("R5", stamp), in_all=False),
    Writer("fhir-r4b-ndjson", "HL7 FHIR R4B Bulk Data NDJSON, one file per resource type plus manifest.json, in OUT/fhir-r4b-ndjson/",
           bulk_produce("R4B", stamp), in_all=False),
    Writer("trial-json", "trialconv parsed-trial JSON (schemas/trial.schema.json)", _trial_json, in_all=False),
]
