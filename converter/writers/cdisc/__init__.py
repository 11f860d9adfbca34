"""CDISC SDTM trial design output (TS, TA, TE, TI), one module per concern:

- :mod:`.datasets` — the dataset types (imports nothing else from the package);
- :mod:`.text` — SDTM character-value rules (200 bytes, one line, the XPORT name rule);
- :mod:`.ts` — Trial Summary rows, one section function per group of parameters;
- :mod:`.design` — TA, TE, TI and the assembled datasets of one trial or a stacked batch;
- :mod:`.serialise` and :mod:`.xpt` — Dataset-JSON, CSV and SAS XPORT v5, each written to a stream.

Controlled terminology is :mod:`converter.terminology.sdtm`; conformance checks are
:mod:`converter.validate.cdisc`, applied by the ``cdisc`` target before any byte is written.
"""

from __future__ import annotations

from .datasets import DATASET_ORDER, CdiscResult, Column, Dataset
from .design import build_datasets, flatten_criteria, stack
from .serialise import FORMATS, to_dataset_json, write_csv, write_dataset_json
from .xpt import write_xpt

__all__ = [
    "DATASET_ORDER", "FORMATS", "CdiscResult", "Column", "Dataset", "build_datasets", "flatten_criteria", "stack",
    "to_dataset_json", "write_csv", "write_dataset_json", "write_xpt",
]
