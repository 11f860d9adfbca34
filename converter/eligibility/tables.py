"""Loads the reviewed data tables in ``data/`` once: concepts (codes + text patterns) and units.

The tables are the part a terminologist reviews; this module only turns them into
:class:`~converter.eligibility.findings.Concept` objects and compiled patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from ..terminology import read_json
from .findings import Concept

_DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> dict[str, Any]:
    """A table of ``data/`` through the project's one JSON loader (parsed once per process)."""
    return read_json(_DATA / name)


def concepts_table() -> dict[str, Any]:
    return _load("concepts.json")


def units_table() -> dict[str, Any]:
    return _load("units.json")


def system_url(alias: str) -> str:
    return concepts_table()["systems"][alias]


@lru_cache(maxsize=None)
def labs_table() -> dict[str, Any]:
    """Laboratory tests and measurements with verified LOINC codes (``data/labs.json``)."""
    return {key: entry for key, entry in _load("labs.json")["labs"].items() if "code" in entry}


def conditions_table() -> dict[str, Any]:
    """Conditions with verified SNOMED CT codes and their text patterns (``data/conditions.json``)."""
    return _load("conditions.json")["conditions"]


@lru_cache(maxsize=None)
def events_table() -> dict[str, Any]:
    """Treatments and procedures with verified SNOMED CT codes (``data/events.json``)."""
    return {key: entry for key, entry in _load("events.json")["events"].items() if "code" in entry}


@lru_cache(maxsize=None)
def concept(group: str, key: str) -> Concept:
    """A concept from a group of ``concepts.json`` ("labs", "conditions", "values", …), or from the
    labs/conditions/events tables."""
    tables = {"labs": labs_table, "conditions": conditions_table, "events": events_table}
    entry = tables[group]()[key] if group in tables and key in tables[group]() else concepts_table()[group][key]
    return Concept(system_url(entry["system"]), entry["code"], entry["display"])


@dataclass(frozen=True)
class LabSpec:
    """One laboratory test: its concept, how it is named in text, and which units make sense."""

    key: str
    concept: Concept
    short: str
    pattern: re.Pattern[str]
    units: tuple[str, ...]
    plausible: dict[str, tuple[float, float]]
    unitless: bool
    variants: tuple[tuple[re.Pattern[str], Concept], ...]


def _alternation(patterns: list[str], case_sensitive: set[str]) -> re.Pattern[str]:
    """One regex for all names of a test; short acronyms ("Hb", "ALT") keep their case."""
    pieces = []
    for pattern in patterns:
        body = pattern if pattern in case_sensitive else f"(?i:{pattern})"
        pieces.append(rf"(?<![\w-]){body}(?![\w])")
    return re.compile("|".join(pieces))


@lru_cache(maxsize=None)
def lab_specs() -> tuple[LabSpec, ...]:
    specs = []
    for key, entry in labs_table().items():
        base = Concept(system_url(entry["system"]), entry["code"], entry["display"])
        variants = tuple(
            (re.compile(pattern, re.I), Concept(base.system, variant["code"], variant["display"]))
            for pattern, variant in entry.get("variants", {}).items()
        )
        specs.append(
            LabSpec(
                key=key,
                concept=base,
                short=entry["short"],
                pattern=_alternation(entry["patterns"], set(entry.get("case_sensitive_patterns", []))),
                units=tuple(entry.get("units", [])),
                plausible={unit: (low, high) for unit, (low, high) in entry.get("plausible", {}).items()},
                unitless=bool(entry.get("unitless")),
                variants=variants,
            )
        )
    return tuple(specs)


@lru_cache(maxsize=None)
def lab_groups() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Group names ("transaminases") and the lab keys they stand for."""
    groups = []
    for key, entry in concepts_table().get("lab_groups", {}).items():
        if key.startswith("_"):
            continue
        groups.append((_alternation(entry["patterns"], set()), tuple(entry["labs"])))
    return tuple(groups)


@lru_cache(maxsize=None)
def unit_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    out = []
    for entry in units_table()["units"]:
        flags = 0 if entry.get("case") else re.I
        out.append((re.compile(entry["pattern"], flags), entry["ucum"]))
    return tuple(out)


@lru_cache(maxsize=None)
def short_names() -> dict[tuple[str, str], str]:
    """Reviewer-friendly names ("Platelets", "ALT") for codes whose display is long."""
    table = concepts_table()
    names: dict[tuple[str, str], str] = {}
    for group in (labs_table(), table["performance"], table["biomarkers"]):
        for entry in group.values():
            if isinstance(entry, dict) and "short" in entry:
                names[(system_url(entry["system"]), entry["code"])] = entry["short"]
                for variant in entry.get("variants", {}).values():
                    names[(system_url(entry["system"]), variant["code"])] = entry["short"]
    return names


def time_unit(word: str) -> Optional[str]:
    return units_table()["time"].get(word.lower())


def number_word(word: str) -> Optional[float]:
    value = units_table()["number_words"].get(word.lower())
    return float(value) if value is not None else None


def reading_table() -> dict[str, Any]:
    """The whole-criterion gate's vocabulary (``data/reading.json``)."""
    return _load("reading.json")
