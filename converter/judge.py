"""Judging existing files: FHIR (R5 or R4B, detected), USDM and Dataset-JSON, for ``trialconv
validate``, :func:`converter.validate` callers and the service's ``POST /validate``.

trialconv holds its own output to a few rules beyond the standards (house rules, e.g. a narrative on
every ResearchStudy). Third-party files are judged by the standard: a house-rule finding is a
warning unless ``house_rules=True`` asks for trialconv's own bar.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

# Findings of trialconv's house rules, which its own output must meet but FHIR does not require:
# a narrative on every ResearchStudy (converter/validate/fhir.py says "trialconv requires" in it;
# FHIR's dom-6 is only a SHOULD), and every reference in a Bundle resolving to one of its entries
# (FHIR lets a Bundle point at resources on a server; a '#id' that does not resolve to a contained
# resource stays an error, as FHIR's ref-1/dom-3 make it).
HOUSE_RULES = (re.compile(r"trialconv requires"), re.compile(r"does not resolve to any entry in the Bundle$"))
NESTED_TOO_DEEPLY = "nested too deeply to be a FHIR resource (the JSON was not read to the end)"


@dataclass
class Verdict:
    """What one document is and what is wrong with it; ``valid`` when ``errors`` is empty."""

    name: str
    kind: str  # "FHIR R5", "FHIR R4B", "USDM", "Dataset-JSON", "unknown"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "valid": self.valid}


def is_house_rule(problem: str) -> bool:
    return any(rule.search(problem) for rule in HOUSE_RULES)


def is_dataset_json(document: Any) -> bool:
    return isinstance(document, dict) and "datasetJSONVersion" in document and "columns" in document


def judge(document: Any, name: str = "<document>", *, fhir_version: Optional[str] = None, house_rules: bool = False) -> Verdict:
    """The verdict on one parsed JSON document."""
    from .validate import fhir, usdm

    try:
        if usdm.is_usdm(document):
            report = usdm.validate_document(document)
            allowed = usdm.registry_lacks()
            return Verdict(name, "USDM", report.errors + [str(f) for f in report.findings if f.rule not in allowed],
                           [str(f) for f in report.findings if f.rule in allowed])
        if is_dataset_json(document):
            from .validate.cdisc import check_dataset_json

            return Verdict(name, "Dataset-JSON", check_dataset_json(document, str(document.get("studyOID", name))))
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            return Verdict(name, "unknown", ["not a FHIR resource, USDM wrapper or Dataset-JSON document (no resourceType)"])
        version = fhir.normalize_version(fhir_version) if fhir_version else fhir.detect_version(document)
        problems = fhir.validate_resource(document, version)
    except RecursionError:
        return Verdict(name, "unknown", [NESTED_TOO_DEEPLY])
    house = [p for p in problems if is_house_rule(p)]
    standard = [p for p in problems if not is_house_rule(p)]
    if house_rules:
        return Verdict(name, f"FHIR {version}", problems)
    return Verdict(name, f"FHIR {version}", standard, [f"house rule: {p}" for p in house])


def judge_file(path: Union[str, Path], *, fhir_version: Optional[str] = None, house_rules: bool = False) -> Verdict:
    """The verdict on a file: one JSON document (FHIR, USDM, Dataset-JSON) or FHIR NDJSON."""
    from .validate import fhir

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return Verdict(name, "unknown", [f"cannot read {path}: {error}"])
    if not text.strip():
        return Verdict(name, "unknown", ["empty file"])
    try:
        document = json.loads(text)
    except RecursionError:
        return Verdict(name, "unknown", [NESTED_TOO_DEEPLY])
    except ValueError:
        try:  # FHIR NDJSON (one resource per line), judged by the FHIR validator's own file reader
            problems = fhir.validate_file(Path(path), fhir_version)
        except RecursionError:
            problems = [NESTED_TOO_DEEPLY]
        kind = f"FHIR {fhir.normalize_version(fhir_version)}" if fhir_version else "FHIR"
        return Verdict(name, kind, [p for p in problems if house_rules or not is_house_rule(p)],
                       [] if house_rules else [f"house rule: {p}" for p in problems if is_house_rule(p)])
    return judge(document, name, fhir_version=fhir_version, house_rules=house_rules)
