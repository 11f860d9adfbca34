"""trialconv: clinical trial records → one canonical model → validated FHIR, CDISC and USDM.

Library use (see docs/api.md)::

    from converter import convert, conversion, iter_convert
    bundle = convert("NCT02513394.json", to="fhir-r5")          # one trial → the Bundle dict
    done = conversion(record_dict, to="all"); done.write("out/")  # everything, written as the CLI does
"""

__version__ = "0.1.0"

# The subpackage converter.validate must be imported before the function of the same name is bound
# here: importing a submodule for the first time sets the package attribute, which would otherwise
# replace ``converter.validate`` (the function) with the module as soon as any code imported it.
from . import validate as _validate_package  # noqa: E402,F401

from .api import Conversion, Convertible, Result, all_targets, conversion, convert, iter_convert, read, validate  # noqa: E402
from .errors import ConversionError, ValidationError  # noqa: E402
from .model import Trial  # noqa: E402
from .writers import Written  # noqa: E402

__all__ = [
    "__version__", "read", "convert", "conversion", "iter_convert", "validate", "all_targets",
    "Conversion", "Result", "Convertible", "Written", "Trial", "ConversionError", "ValidationError",
]
