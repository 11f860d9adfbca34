"""The SDTM dataset types every CDISC module shares: a column, a dataset, and one trial's result.

This module imports nothing from the package, so the writer, its serialisers and the validator
can all depend on it without depending on each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

DATASET_ORDER = ("TS", "TA", "TE", "TI")


@dataclass(frozen=True)
class Column:
    """One variable: SDTM name, label (≤40), Dataset-JSON data type and length (bytes, strings only)."""

    name: str
    label: str
    type: Literal["string", "integer"]
    length: Optional[int] = None


@dataclass
class Dataset:
    """One SDTM dataset: ordered columns and rows keyed by column name (missing text is "")."""

    name: str
    label: str
    columns: list[Column]
    rows: list[dict[str, Any]]

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass
class CdiscResult(Mapping[str, Dataset]):
    """The four trial design datasets of one trial (or a stacked batch) plus what is missing.

    Behaves as a read-only mapping ``{"TS": Dataset, ...}`` so ``build_datasets(trial)["TS"]`` works;
    ``notes`` lists what a submission needs that the record could not give, ``long_text`` keeps the
    full text of values that had to be shortened (key ``"TI.INCL03.IETEST"``), the metadata a
    Define-XML would carry.
    """

    study_id: str
    datasets: dict[str, Dataset]
    notes: list[str] = field(default_factory=list)
    long_text: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Dataset:
        return self.datasets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)
