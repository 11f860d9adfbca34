"""SAS XPORT version 5 serialiser for SDTM datasets, via pyreadstat, writing to a binary stream.

XPORT v5 is the format regulators accept, and it is unforgiving: variable names of at most 8
characters, labels of at most 40, character values of at most 200 bytes. pyreadstat would silently
truncate or fail half-way, so the limits are enforced here first and a violation raises the project's
ValidationError naming the dataset, row and variable.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Optional

from ...errors import ValidationError
from .datasets import Dataset
from .text import MAX_BYTES, XPT_NAME, nbytes


def xpt_problems(ds: Dataset) -> list[str]:
    """Every XPORT v5 limit the dataset breaks (empty list when it can be written)."""
    problems: list[str] = []
    if not XPT_NAME.match(ds.name):
        problems.append(f"{ds.name}: dataset name must be 1-8 upper-case letters/digits/underscores starting with a letter")
    if nbytes(ds.label) > 40:
        problems.append(f"{ds.name}: dataset label is {nbytes(ds.label)} bytes, over 40")
    for column in ds.columns:
        if not XPT_NAME.match(column.name):
            problems.append(f"{ds.name} {column.name}: variable name must be 1-8 upper-case letters/digits/underscores starting with a letter")
        if nbytes(column.label) > 40:
            problems.append(f"{ds.name} {column.name}: label is {nbytes(column.label)} bytes, over 40")
    for index, row in enumerate(ds.rows, start=1):
        for column in ds.columns:
            value = row.get(column.name)
            if column.type == "string":
                if value is not None and not isinstance(value, str):
                    problems.append(f"{ds.name} row {index} {column.name}: expected text, got {type(value).__name__}")
                elif value and nbytes(value) > MAX_BYTES:
                    problems.append(f"{ds.name} row {index} {column.name}: value is {nbytes(value)} bytes, over {MAX_BYTES}")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                problems.append(f"{ds.name} row {index} {column.name}: expected an integer, got {value!r}")
    return problems


def _frame(ds: Dataset) -> Any:
    import pandas as pd

    data: dict[str, Any] = {}
    for column in ds.columns:
        values = [row.get(column.name) for row in ds.rows]
        if column.type == "string":
            data[column.name] = pd.Series(["" if v is None else v for v in values], dtype="object")
        else:
            data[column.name] = pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64")
    return pd.DataFrame(data, columns=[c.name for c in ds.columns])


_SAS_STAMP = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")
_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD"


def pin_timestamps(content: bytes, created: datetime) -> bytes:
    """Replace the created/modified stamps pyreadstat puts in the XPORT headers with ``created``.

    The stamps are the clock at write time, which would make two runs over the same input differ;
    only the header records (before the OBS header) are touched, never data values.
    """
    stamp = created.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")
    cut = content.find(_OBS_HEADER)
    head, rest = (content, b"") if cut < 0 else (content[:cut], content[cut:])
    return _SAS_STAMP.sub(stamp, head) + rest


def write_xpt(ds: Dataset, stream: BinaryIO, created: Optional[datetime] = None) -> None:
    """Write the XPORT v5 file to ``stream``, after our own v5 limit checks (pyreadstat does not enforce
    them); header stamps are pinned to ``created`` when given.

    pyreadstat only writes to paths, so the file goes through a private temp folder.
    """
    problems = xpt_problems(ds)
    if problems:
        raise ValidationError(f"{ds.name} cannot be written as SAS XPORT v5", problems=problems, field=ds.name)
    import pyreadstat

    with tempfile.TemporaryDirectory(prefix="trialconv-xpt-") as folder:
        path = Path(folder) / f"{ds.name.lower()}.xpt"
        pyreadstat.write_xport(_frame(ds), str(path), file_label=ds.label, column_labels=[c.label for c in ds.columns],
                               table_name=ds.name, file_format_version=5)
        content = path.read_bytes()
    stream.write(pin_timestamps(content, created) if created else content)
