"""trialconv: clinical trial records → one canonical model → validated FHIR and CDISC.

Library use::

    from converter import convert, read
    bundle = convert("NCT02513394.json", to="fhir-r5")
"""

from .api import Result, convert, iter_convert, read, validate
from .errors import ConversionError, ValidationError
from .model import Trial

__all__ = ["read", "convert", "iter_convert", "validate", "Result", "Trial", "ConversionError", "ValidationError"]
