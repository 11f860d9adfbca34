"""CDISC SDTM controlled terminology: lookups for the SDTM trial design writer, its validator and any
later CDISC writer (USDM).

The tables themselves live as reviewed data files next to this module (``cdisc_ct.json``: pinned
CDISC CT package, registry value → submission value; ``countries.json``: ISO 3166-1 alpha-3;
``sdtmig_trial_design.json``: dataset structures), read through :func:`converter.terminology.load`.
This module only answers questions, so a terminologist can change a mapping without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import load
from . import country_alpha3 as country_alpha3  # TS COUNTRY rows and their check use the shared country table
from . import known_alpha3 as known_alpha3


def ct() -> dict[str, Any]:
    """The pinned CDISC CT table (``cdisc_ct.json``)."""
    return load("cdisc_ct")


def structures() -> dict[str, Any]:
    """SDTMIG v3.4 trial design dataset structures (``sdtmig_trial_design.json``)."""
    return load("sdtmig_trial_design")


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


def all_codes() -> frozenset[str]:
    """Every C-code of the pinned table (parameters and codelist terms), for checking a TSVALCD
    that claims CDISC CT on a parameter without a response codelist."""
    table = ct()
    codes = {info["code"] for info in table["tsparmcd"]["parameters"].values()}
    for info in table["codelists"].values():
        codes.update(info["terms"].values())
    return frozenset(codes)


def null_flavors() -> frozenset[str]:
    return frozenset(ct()["null_flavors"]["values"])


# Which TS parameters take their TSVAL from which codelist (TS codetable subset used here).
PARAMETER_CODELIST: dict[str, str] = {
    "TPHASE": "TPHASE", "STYPE": "STYPE", "TBLIND": "TBLIND", "INTMODEL": "INTMODEL", "OBSMODEL": "OBSMODEL",
    "OBSTIMP": "OBSTIMP", "TINDTP": "TINDTP", "TCNTRL": "TCNTRL", "INTTYPE": "INTTYPE", "SEXPOP": "SEXPOP",
    "RANDOM": "NY", "HLTSUBJI": "NY", "ADDON": "NY", "ADAPT": "NY", "EXTTIND": "NY", "ONGOSIND": "NY",
    "DMCIND": "NY", "FDADRIND": "NY", "FDADEIND": "NY",
}
