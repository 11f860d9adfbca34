"""The mapping tables, as reviewed data files in this folder, and the one loader that reads them.

Every table a writer or validator applies (registry value → FHIR code, → CDISC CT term, country
names → ISO 3166-1 alpha-3, SDTMIG dataset structures) is read through :func:`load`, once per
process, so a terminologist changes a mapping by editing JSON, never code. The vendored schemas
under ``schemas/`` go through the same cached reader (:func:`read_json`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def read_json(path: Path) -> Any:
    """A JSON data file, parsed once per process (callers share the result and must not change it)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load(name: str) -> Any:
    """The table ``converter/terminology/<name>.json`` (e.g. ``load("fhir_r5")``)."""
    return read_json(_HERE / f"{name}.json")


def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: "Côte D'Ivoire" → "cotedivoire"."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", ascii_only.casefold())


@lru_cache(maxsize=None)
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for code, entry in load("countries")["countries"].items():
        for name in [entry["name"], *entry.get("aliases", [])]:
            index.setdefault(_fold(name), code)
        index.setdefault(_fold(code), code)
    return index


def country_alpha3(name: str) -> Optional[str]:
    """ISO 3166-1 alpha-3 code for a registry country name, or None when it has none (reported)."""
    return _country_index().get(_fold(name))


def known_alpha3() -> frozenset[str]:
    """Every alpha-3 code the country table knows."""
    return frozenset(load("countries")["countries"])
