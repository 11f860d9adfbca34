"""Stacked SDTM datasets written row by row to open files, for batches too large for memory.

The in-memory path (:func:`.design.stack` then :mod:`.serialise` / :mod:`.xpt`) needs every row of
every trial at once; here the caller first announces the united columns and row count, then hands
over rows as it reads them from disk. The bytes are the same as the in-memory path writes for the
same rows (a test compares them), so a reader cannot tell which path made a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Optional

from ...safety import neutralise_cell
from .datasets import Dataset
from .serialise import to_dataset_json
from .xpt import _OBS_HEADER, pin_timestamps, xpt_problems

_RECORD = 80


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


class DatasetJsonStream:
    """Dataset-JSON v1.1 with the layout of :func:`.serialise.write_dataset_json`, rows appended one at a time."""

    def __init__(self, header: Dataset, stream: BinaryIO, *, records: int, study_oid: str, created: Optional[datetime]) -> None:
        document = to_dataset_json(header, study_oid, created=created)
        document["records"] = records
        self.stream = stream
        self.rows = 0
        self.total = records
        members = []
        for key, value in document.items():
            if key == "rows":
                continue
            if key == "columns" and value:
                inner = ",\n".join(f"  {_dump(item)}" for item in value)
                members.append(f" {_dump(key)}: [\n{inner}\n ]")
            else:
                members.append(f" {_dump(key)}: {_dump(value)}")
        head = "{\n" + ",\n".join(members) + ",\n" + (' "rows": [\n' if records else ' "rows": []\n}\n')
        stream.write(head.encode("utf-8"))

    def add(self, values: list[Any]) -> None:
        self.rows += 1
        tail = ",\n" if self.rows < self.total else "\n ]\n}\n"
        self.stream.write(f"  {_dump(values)}{tail}".encode("utf-8"))


class CsvStream:
    """RFC 4180 CSV with the header and cell rules of :func:`.serialise.write_csv`."""

    def __init__(self, header: Dataset, stream: BinaryIO) -> None:
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text)
        self.writer.writerow(header.column_names)

    def add(self, values: list[Any]) -> None:
        self.writer.writerow(["" if value is None else neutralise_cell(value) for value in values])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


def ibm_double(value: Optional[float]) -> bytes:
    """An IBM System/360 double (the XPORT v5 number format); None or NaN is SAS missing ``.``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return b"." + bytes(7)
    if value == 0:
        return bytes(8)
    sign = 0x80 if value < 0 else 0
    fraction = abs(float(value))
    exponent = 64
    while fraction >= 1:
        fraction /= 16
        exponent += 1
    while fraction < 1 / 16:
        fraction *= 16
        exponent -= 1
    mantissa = int(fraction * (1 << 56))
    return bytes([sign | exponent]) + mantissa.to_bytes(7, "big")


class XptStream:
    """SAS XPORT v5: the headers come from pyreadstat (one synthetic row at each column's full
    width, so its member and variable descriptors are what it would write for the whole dataset),
    the observations are written here, fixed width, and the last 80-byte record padded with blanks."""

    def __init__(self, header: Dataset, stream: BinaryIO, created: Optional[datetime]) -> None:
        from ...errors import ValidationError

        problems = xpt_problems(header)
        if problems:
            raise ValidationError(f"{header.name} cannot be written as SAS XPORT v5", problems=problems, field=header.name)
        self.columns = header.columns
        self.stream = stream
        self.written = 0
        sample = Dataset(header.name, header.label, header.columns,
                         [{c.name: ("x" * (c.length or 1) if c.type == "string" else 1) for c in header.columns}])
        head = _pyreadstat_bytes(sample)
        cut = head.find(_OBS_HEADER)
        head = head[:cut + _RECORD]
        stream.write(pin_timestamps(head, created) if created else head)

    def add(self, values: list[Any]) -> None:
        chunk = bytearray()
        for column, value in zip(self.columns, values):
            if column.type == "string":
                data = ("" if value is None else str(value)).encode("utf-8")
                chunk += data + b" " * ((column.length or 1) - len(data))
            else:
                chunk += ibm_double(None if value is None else float(value))
        self.stream.write(chunk)
        self.written += len(chunk)

    def close(self) -> None:
        rest = self.written % _RECORD
        if rest:
            self.stream.write(b" " * (_RECORD - rest))


def _pyreadstat_bytes(ds: Dataset) -> bytes:
    import pyreadstat

    from .xpt import _frame

    with tempfile.TemporaryDirectory(prefix="trialconv-xpt-") as folder:
        path = Path(folder) / "head.xpt"
        pyreadstat.write_xport(_frame(ds), str(path), file_label=ds.label, column_labels=[c.label for c in ds.columns],
                               table_name=ds.name, file_format_version=5)
        return path.read_bytes()


def write_rows(writers: Iterable[Any], values: list[Any]) -> None:
    for writer in writers:
        writer.add(values)
