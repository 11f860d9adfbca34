"""The output targets trialconv offers: each builds, validates, then serialises one trial.

Validation happens here, before any bytes exist, so invalid output can never reach a file.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import Trial
from . import Writer, Written


def dumps(value: Any) -> bytes:
    """Canonical JSON: stable key order as built, UTF-8, trailing newline — byte-identical across runs."""
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _fhir_r5(trial: Trial, options: dict[str, Any]) -> Written:
    from ..validate.fhir import check
    from .fhir_r5 import build_bundle

    bundle = build_bundle(trial, options.get("bundle_type", "collection"))
    check(bundle, "R5", trial.id)
    return Written(bundle, {f"{trial.id}.fhir-r5.json": dumps(bundle)})


def _fhir_r4b(trial: Trial, options: dict[str, Any]) -> Written:
    from ..validate.fhir import check
    from .fhir_r4b import build_bundle

    bundle = build_bundle(trial, options.get("bundle_type", "collection"))
    check(bundle, "R4B", trial.id)
    return Written(bundle, {f"{trial.id}.fhir-r4b.json": dumps(bundle)})


def _trial_json(trial: Trial, options: dict[str, Any]) -> Written:
    value = trial.to_json()
    return Written(value, {f"{trial.id}.trial.json": dumps(value)})


WRITERS: list[Writer] = [
    Writer("fhir-r5", "HL7 FHIR R5 Bundle (ResearchStudy, EvidenceVariable, Organization, Location, Practitioner)", _fhir_r5),
    Writer("fhir-r4b", "HL7 FHIR R4B Bundle (ResearchStudy, Group for eligibility, Organization, Location, Practitioner)", _fhir_r4b),
    Writer("trial-json", "trialconv parsed-trial JSON (schemas/trial.schema.json)", _trial_json),
]
