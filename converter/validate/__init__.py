"""Validation of trialconv output before it is written.

FHIR validation lives in :mod:`converter.validate.fhir`; the names below are re-exported so callers
write ``from converter.validate import check_fhir`` without knowing the module layout.
"""

from __future__ import annotations

from .fhir import check as check_fhir
from .fhir import detect_version, validate_bundle, validate_file, validate_resource

__all__ = ["check_fhir", "detect_version", "validate_bundle", "validate_file", "validate_resource"]
