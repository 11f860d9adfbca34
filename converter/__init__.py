"""trialconv: clinical trial records → canonical model → FHIR / CDISC."""

from .errors import ConversionError, ValidationError
from .model import Trial

__all__ = ["ConversionError", "ValidationError", "Trial"]
