"""Serialisers for SDTM datasets that write to a binary stream: Dataset-JSON v1.1 and CSV (SAS XPORT
is :mod:`.xpt`). A batch can stream stacked datasets to disk; one trial's files go to memory.

Nothing here validates: the ``cdisc`` target checks datasets and documents before any byte is written.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timezone
from typing import Any, BinaryIO, Optional

from ...safety import neutralise_cell
from ...terminology import sdtm
from .datasets import Dataset

DATASET_JSON_VERSION = "1.1.0"
FORMATS = ("json", "xpt", "csv")


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("trialconv")
    except Exception:  # running from a checkout without installed metadata
        return "0.0.0"


def pinned(created: Optional[datetime]) -> Optional[datetime]:
    """The timestamp to stamp into files: explicit, else SOURCE_DATE_EPOCH, else None (the clock)."""
    if created is not None:
        return created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc) if epoch else None


def _creation_time(created: Optional[datetime]) -> str:
    """Honour SOURCE_DATE_EPOCH so repeated runs can produce byte-identical Dataset-JSON."""
    if created is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        created = datetime.fromtimestamp(int(epoch), tz=timezone.utc) if epoch else datetime.now(timezone.utc)
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_dataset_json(
    ds: Dataset,
    study_oid: Optional[str] = None,
    *,
    created: Optional[datetime] = None,
    originator: str = "trialconv",
    metadata_version_oid: Optional[str] = None,
) -> dict[str, Any]:
    """CDISC Dataset-JSON v1.1 document for one dataset (checked by the caller, before writing it).

    ``study_oid`` defaults to the single STUDYID of the rows (or "trialconv-batch" for a stack).
    Missing text is "" as in SAS, so XPT, CSV and JSON carry identical values.
    """
    study_ids = sorted({str(row.get("STUDYID", "")) for row in ds.rows})
    oid = study_oid or (study_ids[0] if len(study_ids) == 1 else "trialconv-batch")
    keys = sdtm.structures()["datasets"].get(ds.name, {}).get("keys", [])
    columns: list[dict[str, Any]] = []
    for column in ds.columns:
        entry: dict[str, Any] = {"itemOID": f"IT.{ds.name}.{column.name}", "name": column.name, "label": column.label, "dataType": column.type}
        if column.length is not None:
            entry["length"] = column.length
        if column.name in keys:
            entry["keySequence"] = keys.index(column.name) + 1
        columns.append(entry)
    document: dict[str, Any] = {
        "datasetJSONCreationDateTime": _creation_time(created),
        "datasetJSONVersion": DATASET_JSON_VERSION,
        "fileOID": f"{oid}.{ds.name}",
        "originator": originator,
        "sourceSystem": {"name": "trialconv", "version": _package_version()},
        "studyOID": oid,
        "metaDataVersionOID": metadata_version_oid or "MDV.SDTMIG.3.4.SDTM.2.0",
        "itemGroupOID": f"IG.{ds.name}",
        "records": len(ds.rows),
        "name": ds.name,
        "label": ds.label,
        "columns": columns,
        "rows": [[row.get(column.name) for column in ds.columns] for row in ds.rows],
    }
    return document


def write_dataset_json(document: dict[str, Any], stream: BinaryIO) -> None:
    """Dataset-JSON text with one line per top-level member, column and row: compact, yet diffable."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    members: list[str] = []
    for key, value in document.items():
        if key in ("columns", "rows") and value:
            inner = ",\n".join(f"  {dump(item)}" for item in value)
            members.append(f" {dump(key)}: [\n{inner}\n ]")
        else:
            members.append(f" {dump(key)}: {dump(value)}")
    stream.write(("{\n" + ",\n".join(members) + "\n}\n").encode("utf-8"))


def write_csv(ds: Dataset, stream: BinaryIO) -> None:
    """RFC 4180 CSV in UTF-8: header of variable names, then rows in column order ("" for missing).

    Cells are registry text, so a value a spreadsheet would run as a formula (``=HYPERLINK(…)``,
    ``+cmd|…``, ``@SUM(…)``) is written with a leading apostrophe (OWASP CSV injection advice); the
    Dataset-JSON and XPT files keep the value unchanged."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(ds.column_names)
    for row in ds.rows:
        writer.writerow(["" if row.get(name) is None else neutralise_cell(row.get(name)) for name in ds.column_names])
    text.flush()
    text.detach()  # the caller owns the stream
