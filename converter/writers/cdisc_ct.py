"""CDISC terminology lookups for the SDTM trial design writer and its validator.

The tables themselves live as reviewed data files in ``converter/terminology/`` (``cdisc_ct.json``:
pinned CDISC CT package, registry value → submission value; ``countries.json``: ISO 3166-1 alpha-3;
``sdtmig_trial_design.json``: dataset structures). This module only loads them once and answers
questions, so a terminologist can change a mapping without touching code.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

_TERMINOLOGY = Path(__file__).resolve().parent.parent / "terminology"


@lru_cache(maxsize=None)
def _load(name: str) -> Any:
    with open(_TERMINOLOGY / name, encoding="utf-8") as handle:
        return json.load(handle)


def ct() -> dict[str, Any]:
    """The pinned CDISC CT table (``cdisc_ct.json``)."""
    return _load("cdisc_ct.json")


def structures() -> dict[str, Any]:
    """SDTMIG v3.4 trial design dataset structures (``sdtmig_trial_design.json``)."""
    return _load("sdtmig_trial_design.json")


def ct_version() -> str:
    """CT package date written to TSVCDVER, e.g. ``2025-03-28``."""
    return str(ct()["package"]["version"])


CT_REF = "CDISC CT"
ISO8601 = "ISO 8601"
ISO3166 = "ISO 3166-1 Alpha-3"


@dataclass(frozen=True)
class Term:
    """One CDISC CT term: the submission value and its NCI C-code."""

    value: str
    code: str


def parameter_name(parmcd: str) -> str:
    """TSPARM for a TSPARMCD, from the TSPARM codelist (C67152)."""
    return str(ct()["tsparmcd"]["parameters"][parmcd]["name"])


def parameters() -> dict[str, dict[str, str]]:
    return ct()["tsparmcd"]["parameters"]


def codelist(key: str) -> dict[str, Any]:
    return ct()["codelists"][key]


def term(key: str, submission_value: str) -> Optional[Term]:
    """The term with this submission value in codelist ``key`` (e.g. ``"TBLIND"``), if any."""
    code = codelist(key)["terms"].get(submission_value)
    return Term(submission_value, code) if code else None


_UNMAPPED = object()


def from_registry(key: str, registry_value: str) -> Optional[Term]:
    """Map a registry enumeration value through ``from_registry`` of codelist ``key``.

    Returns None when the table says CDISC has no term (an explicit ``null``); raises KeyError for a
    value the table does not list at all, so a new registry value is noticed instead of dropped.
    """
    mapping = codelist(key)["from_registry"]
    if registry_value not in mapping:
        raise KeyError(f"{key}: registry value {registry_value!r} is not in converter/terminology/cdisc_ct.json")
    target = mapping[registry_value]
    if target is None:
        return None
    found = term(key, target)
    if found is None:  # the data file contradicts itself; fail loudly
        raise KeyError(f"{key}: mapped value {target!r} is not a term of {codelist(key)['codelist']}")
    return found


def null_flavors() -> frozenset[str]:
    return frozenset(ct()["null_flavors"]["values"])


# Which TS parameters take their TSVAL from which codelist (TS codetable subset used here).
PARAMETER_CODELIST: dict[str, str] = {
    "TPHASE": "TPHASE", "STYPE": "STYPE", "TBLIND": "TBLIND", "INTMODEL": "INTMODEL", "OBSMODEL": "OBSMODEL",
    "OBSTIMP": "OBSTIMP", "TINDTP": "TINDTP", "TCNTRL": "TCNTRL", "INTTYPE": "INTTYPE", "SEXPOP": "SEXPOP",
    "RANDOM": "NY", "HLTSUBJI": "NY", "ADDON": "NY", "ADAPT": "NY", "EXTTIND": "NY", "ONGOSIND": "NY",
    "DMCIND": "NY", "FDADRIND": "NY", "FDADEIND": "NY",
}


def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: "Côte D'Ivoire" → "cotedivoire"."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", ascii_only.casefold())


@lru_cache(maxsize=None)
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for code, entry in _load("countries.json")["countries"].items():
        for name in [entry["name"], *entry.get("aliases", [])]:
            index.setdefault(_fold(name), code)
        index.setdefault(_fold(code), code)
    return index


def country_alpha3(name: str) -> Optional[str]:
    """ISO 3166-1 alpha-3 code for a registry country name, or None when it has none (reported)."""
    return _country_index().get(_fold(name))


def known_alpha3() -> frozenset[str]:
    return frozenset(_load("countries.json")["countries"])
