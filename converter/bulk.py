"""Batch files merged from per-record parts: stacked CDISC datasets and FHIR Bulk Data NDJSON.

Each record's contribution is made small (:meth:`Aggregator.part`, zlib-compressed) and kept in the
run's on-disk state (:mod:`converter.state`) as the record is taken; at the end of the run the batch
files are streamed from the parts, in record-id order, to temp files that are renamed into place
together (:class:`Staging`). Peak memory is one record's part plus fixed buffers, whatever the number
of records, and an ``--incremental`` run rebuilds the batch files from kept and new parts alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Optional

from .output import WriteFailure, file_mode, safe_name, temp_path
from .writers.base import Written
from .writers.bulk import iso_instant


class Staging:
    """Batch files written through temp files and renamed into place all together (or none): the
    streaming counterpart of :func:`converter.output.commit_files`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.staged: list[tuple[Path, Path, BinaryIO]] = []

    def open(self, relative: str) -> BinaryIO:
        target = self.directory / safe_name(relative)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = temp_path(target)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), file_mode())
        except OSError as error:
            raise WriteFailure(error, target) from error
        handle = open(fd, "wb", buffering=1 << 20)
        self.staged.append((temp, target, handle))
        return handle

    def commit(self) -> list[Path]:
        placed: list[Path] = []
        current = self.directory
        try:
            for _, target, handle in self.staged:
                current = target
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
            for temp, target, _ in self.staged:
                current = target
                os.replace(temp, target)
                placed.append(target)
        except OSError as error:
            self.abort()
            for target in placed:
                _unlink(target)
            raise WriteFailure(error, current) from error
        self.staged = []
        return placed

    def abort(self) -> None:
        for temp, _, handle in self.staged:
            try:
                handle.close()
            except OSError:
                pass
            _unlink(temp)
        self.staged = []


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)


def unpack(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


class Aggregator:
    """What one target contributes to the batch files: a part per record, merged at the end."""

    target = ""

    def part(self, written: Written) -> tuple[str, bytes]:
        """(stamp, compressed contribution) of one record."""
        raise NotImplementedError

    def merge(self, state: Any, staging: Staging, out_dir: Path) -> None:
        """Write the batch files from ``state``'s parts for this target (a :class:`converter.state.State`)."""
        raise NotImplementedError

    def present(self, state: Any, out_dir: Path) -> bool:
        """Are this target's batch files in ``out_dir`` as ``state`` needs them (then a run that
        converted nothing new keeps them)?"""
        raise NotImplementedError


# ------------------------------------------------------------------------------------ FHIR Bulk NDJSON


class Seen:
    """Which resources (type/id) a Bulk export already holds, as 8-byte hashes in an SQLite table in
    a private temp file: memory stays bounded however many Organizations and Locations a registry
    has. Two different type/ids sharing a 64-bit hash would drop the second; at a registry's few
    million resources the chance is about 1 in 10^6."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None)  # "" = a private on-disk temp database
        self.db.execute("PRAGMA cache_size=-8000")
        self.db.execute("CREATE TABLE seen (k INTEGER PRIMARY KEY)")
        self.db.execute("BEGIN")

    def first(self, key: bytes) -> bool:
        return self.first_of([key])[0]

    def first_of(self, keys: list[bytes]) -> list[bool]:
        """For each of ``keys`` (distinct), whether it is new; all of them are seen afterwards.
        Two statements per record, not one per resource."""
        numbers = [int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True) for key in keys]
        known: set[int] = set()
        for start in range(0, len(numbers), 500):  # SQLite's limit on bound parameters
            chunk = numbers[start:start + 500]
            known.update(row[0] for row in self.db.execute(f"SELECT k FROM seen WHERE k IN ({','.join('?' * len(chunk))})", chunk))
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", [(n,) for n in numbers if n not in known])
        return [n not in known for n in numbers]

    def close(self) -> None:
        self.db.close()


class BulkNdjson(Aggregator):
    """FHIR Bulk Data output: one ``<Type>.ndjson`` per resource type and a ``manifest.json``
    modelled on the Bulk Data export manifest, in ``OUT/<target>/``.

    Lines are in record-id order, each record's resources in its Bundle's entry order; a resource
    whose type/id an earlier line already has is left out (first wins), so an Organization that
    sponsors ten thousand studies is written once.
    """

    def __init__(self, target: str, version: str) -> None:
        self.target = target
        self.version = version

    def part(self, written: Written) -> tuple[str, bytes]:
        return written.batch_state

    def present(self, state: Any, out_dir: Path) -> bool:
        return (out_dir / self.target / "manifest.json").is_file()

    def merge(self, state: Any, staging: Staging, out_dir: Path) -> None:
        write_bulk(state.parts(self.target), staging, self.target)
        folder = out_dir / self.target
        _remove_unlisted(folder, {path.stem for _, path, _ in staging.staged if path.parent == folder and path.suffix == ".ndjson"})


def write_bulk(parts: Iterable[tuple[str, str, bytes]], staging: Staging, folder: str, target: Optional[str] = None, *,
               suffix: str = "", manifest: bool = True) -> tuple[dict[str, int], str]:
    """Bulk NDJSON files (``<Type><suffix>.ndjson``) and manifest under ``folder`` from parts in
    their order; returns the line count per type and the newest record stamp."""
    handles: dict[str, BinaryIO] = {}
    counts: dict[str, int] = {}
    seen = Seen()
    newest = ""
    try:
        for _, stamp, data in parts:
            newest = max(newest, stamp)
            lines = [line.split(b"\t", 2) for line in zlib.decompress(data).split(b"\n")]
            new = seen.first_of([kind + b"/" + resource_id for kind, resource_id, _ in lines])
            for (kind, _, text), keep in zip(lines, new):
                if not keep:
                    continue
                name = kind.decode("ascii")
                if name not in handles:
                    handles[name] = staging.open(f"{folder}/{name}{suffix}.ndjson")
                    counts[name] = 0
                handles[name].write(text + b"\n")
                counts[name] += 1
    finally:
        seen.close()
    if manifest:
        staging.open(f"{folder}/manifest.json").write(bulk_manifest(target or folder, counts, newest))
    return counts, newest


def transaction_time(newest_stamp: str) -> str:
    """SOURCE_DATE_EPOCH when set, else the newest record's last update: never the clock, so the
    same input gives the same manifest."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return iso_instant(datetime.fromtimestamp(int(epoch), tz=timezone.utc))
    return newest_stamp or "1970-01-01T00:00:00Z"


def bulk_manifest(target: str, counts: dict[str, int], newest_stamp: str, files: Optional[dict[str, list[str]]] = None) -> bytes:
    """The manifest: ``transactionTime``, ``request``, ``requiresAccessToken`` and one ``output``
    entry per file (type, url relative to the manifest, count), sorted by type then url.

    ``files`` (type → urls) is for outputs split over several files (one per Dask partition);
    ``counts`` is then keyed by url."""
    output = []
    for kind in sorted(files or counts):
        for url in (files[kind] if files else [f"{kind}.ndjson"]):
            output.append({"type": kind, "url": url, "count": counts[url if files else kind]})
    manifest = {
        "transactionTime": transaction_time(newest_stamp),
        "request": f"trialconv convert --to {target}",
        "requiresAccessToken": False,
        "output": output,
        "error": [],
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _remove_unlisted(folder: Path, kinds: set[str]) -> None:
    """NDJSON files a previous run wrote for types this run has none of (they would contradict the manifest)."""
    if not folder.is_dir():
        return
    for path in folder.glob("*.ndjson"):
        if path.stem not in kinds:
            _unlink(path)


# ------------------------------------------------------------------------------------ stacked CDISC


class CdiscStack(Aggregator):
    """``OUT/stacked/``: TS, TA, TE and TI over every record, in each requested format, streamed
    from the parts (column union and widths from a first pass, rows from a second)."""

    target = "cdisc"

    def part(self, written: Written) -> tuple[str, bytes]:
        result, created, formats = written.batch_state
        datasets = {name: {"columns": [[c.name, c.label, c.type, c.length] for c in ds.columns],
                           "rows": [[row.get(c.name) for c in ds.columns] for row in ds.rows]} for name, ds in result.datasets.items()}
        return iso_instant(created), pack({"formats": list(formats), "datasets": datasets})

    def merge(self, state: Any, staging: Staging, out_dir: Path) -> None:
        merge_stacked(lambda: state.parts(self.target), staging, state.newest_stamp(self.target) or "", state.count(self.target))

    def present(self, state: Any, out_dir: Path) -> bool:
        return state.count(self.target) <= 1 or (out_dir / "stacked").is_dir()


def merge_stacked(reopen, staging: Staging, newest_stamp: str, records: int) -> None:
    """Two passes over ``reopen()`` (an iterator of parts): the united columns, widths and row
    counts, then the rows. Validation: every record's datasets passed the SDTM checks when it was
    converted; here the united structure and the Dataset-JSON header are checked once more."""
    from .validate.cdisc import check as cdisc_check
    from .validate.cdisc import check_document
    from .writers.cdisc import DATASET_ORDER
    from .writers.cdisc.datasets import Column, Dataset
    from .writers.cdisc.serialise import pinned, to_dataset_json
    from .writers.cdisc.stream import CsvStream, DatasetJsonStream, XptStream
    from .terminology import sdtm

    if records <= 1:
        return
    widths: dict[str, dict[str, int]] = {name: {} for name in DATASET_ORDER}
    rows: dict[str, int] = dict.fromkeys(DATASET_ORDER, 0)
    studies: dict[str, list[str]] = {name: [] for name in DATASET_ORDER}
    extra_tsval = 0
    formats: list[str] = []
    first: dict[str, list[dict[str, Any]]] = {}
    for record_id, _, data in reopen():
        part = unpack(data)
        formats = formats or part["formats"]
        for name, ds in part["datasets"].items():
            for column_name, _, kind, length in ds["columns"]:
                if kind == "string":
                    widths[name][column_name] = max(widths[name].get(column_name, 1), length or 1)
                if name == "TS" and column_name[5:].isdigit() and column_name.startswith("TSVAL"):
                    extra_tsval = max(extra_tsval, int(column_name[5:]))
            rows[name] += len(ds["rows"])
            if ds["rows"] and len(studies[name]) < 2:
                studies[name].append(record_id)
            if name not in first and ds["rows"]:
                first[name] = [dict(zip([c[0] for c in ds["columns"]], row)) for row in ds["rows"]]
    headers: dict[str, Dataset] = {}
    for name in DATASET_ORDER:
        spec = sdtm.structures()["datasets"][name]
        columns: list[Column] = []
        for variable in spec["variables"]:
            columns.append(_stacked_column(variable["name"], variable["label"], variable["type"], widths[name]))
            if name == "TS" and variable["name"] == "TSVAL":
                columns.extend(_stacked_column(f"TSVAL{n}", f"Parameter Value {n}", "Char", widths[name]) for n in range(1, extra_tsval + 1))
        headers[name] = Dataset(name, spec["label"], columns, [])
    created = pinned(datetime.fromisoformat(newest_stamp.replace("Z", "+00:00")) if newest_stamp else None)
    sample = {name: Dataset(name, ds.label, ds.columns, [_fill(row, ds.columns) for row in first.get(name, [])]) for name, ds in headers.items()}
    cdisc_check(sample, "batch")
    streams: dict[str, list[Any]] = {}
    for name in DATASET_ORDER:
        oid = studies[name][0] if len(studies[name]) == 1 else "trialconv-batch"
        document = to_dataset_json(sample[name], oid, created=created)
        document["records"] = len(document["rows"])
        check_document(document)
        streams[name] = []
        for fmt in formats:
            handle = staging.open(f"stacked/{name.lower()}.{fmt}")
            if fmt == "json":
                streams[name].append(DatasetJsonStream(headers[name], handle, records=rows[name], study_oid=oid, created=created))
            elif fmt == "csv":
                streams[name].append(CsvStream(headers[name], handle))
            else:
                streams[name].append(XptStream(headers[name], handle, created))
    for _, _, data in reopen():
        part = unpack(data)
        for name, ds in part["datasets"].items():
            names = [c[0] for c in ds["columns"]]
            for values in ds["rows"]:
                row = dict(zip(names, values))
                full = [row.get(c.name, "" if c.type == "string" else None) for c in headers[name].columns]
                for stream in streams[name]:
                    stream.add(full)
    for name in DATASET_ORDER:
        for stream in streams[name]:
            if hasattr(stream, "close"):
                stream.close()


def _stacked_column(name: str, label: str, sas_type: str, widths: dict[str, int]) -> Any:
    from .writers.cdisc.datasets import Column

    if sas_type == "Num":
        return Column(name, label, "integer", None)
    return Column(name, label, "string", max(widths.get(name, 1), 1))


def _fill(row: dict[str, Any], columns: list) -> dict[str, Any]:
    return {c.name: row.get(c.name, "" if c.type == "string" else None) for c in columns}


# Targets whose only output is batch files: they need --out to be a folder.
FOLDER_ONLY = frozenset({"fhir-r5-ndjson", "fhir-r4b-ndjson"})

AGGREGATORS: dict[str, Aggregator] = {
    "cdisc": CdiscStack(),
    "fhir-r5-ndjson": BulkNdjson("fhir-r5-ndjson", "R5"),
    "fhir-r4b-ndjson": BulkNdjson("fhir-r4b-ndjson", "R4B"),
}
