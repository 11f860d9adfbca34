"""Reader registry and format detection (by content). Where the bytes come from is :mod:`.sources`."""

from __future__ import annotations

from typing import Callable, Iterator, Optional

from ..errors import ConversionError
from ..model import Trial
from ..normalize.completion import complete
from .base import ReadResult, Reader
from . import parsed_json
from .sources import Input, SkippedInput, Source, as_utf8, items, iter_inputs

SNIFF_BYTES = 64 * 1024


def _registry() -> dict[str, Reader]:
    """Reader name → reader. One line per format; order breaks sniff ties (more specific first)."""
    from . import ctgov_v2, ctgov_xml, pages, parsed_json

    readers: list[Reader] = [parsed_json.READER, ctgov_v2.READER, ctgov_xml.READER, *pages.READERS]
    return {reader.name: reader for reader in readers}


READERS: dict[str, Reader] = {}


def readers() -> dict[str, Reader]:
    if not READERS:
        READERS.update(_registry())
    return READERS


def detect(head: bytes) -> Optional[Reader]:
    """Pick the reader most confident about these bytes; None when no reader claims them."""
    best: tuple[float, Optional[Reader]] = (0.0, None)
    for reader in readers().values():
        score = reader.sniff(head)
        if score > best[0]:
            best = (score, reader)
    return best[1]


ErrorHandler = Callable[[ConversionError], None]


def _raise(error: ConversionError) -> None:
    if isinstance(error, SkippedInput):  # a deliberate skip is a warning, not the end of the read
        import warnings

        warnings.warn(str(error), stacklevel=2)
        return
    raise error


def knows(head: bytes) -> bool:
    """True when some reader claims these first bytes (used to refuse archive members early)."""
    return detect(as_utf8(head)[:SNIFF_BYTES]) is not None


def _unrecognised(data: bytes, name: str) -> ConversionError:
    """Why no reader took ``data``: an empty file says so; anything else is an unknown format."""
    if not data.strip():
        return ConversionError("empty file (nothing to read)", record=name, stage="detect")
    return ConversionError("unrecognised input format (not a trial record any reader knows)", record=name, stage="detect")


_REPORT_KEYS = {"id", "source", "format", "status", "outputs", "warnings"}


def _is_report(data: bytes) -> bool:
    """First line is a trialconv report line (``trialconv-report.ndjson``, whatever it is named)."""
    import json

    first = data.lstrip().split(b"\n", 1)[0]
    try:
        line = json.loads(first)
    except ValueError:
        return False
    return isinstance(line, dict) and _REPORT_KEYS <= set(line) and line.get("status") in ("converted", "failed", "skipped")


def read_input(item: Input, fmt: Optional[str] = None, on_error: ErrorHandler = _raise) -> Iterator[Trial]:
    """Read one blob with the forced or detected reader.

    A reader that crashes (anything but ConversionError) is a bug, but one input must not end a
    batch: the crash is reported against this input like any other error and the batch goes on.
    """
    data = as_utf8(item.data)
    if fmt:
        reader = readers().get(fmt)
        if reader is None:
            raise ConversionError(f"unknown input format {fmt!r}; known: {', '.join(sorted(readers()))}", stage="read")
    else:
        if _is_report(data[:SNIFF_BYTES]):
            on_error(SkippedInput("skipped: a trialconv report file, not a trial record", record=item.name, stage="detect"))
            return
        reader = detect(data[:SNIFF_BYTES])
        if reader is None and len(data) > SNIFF_BYTES and parsed_json.claims(data):
            reader = readers()[parsed_json.NAME]  # the model's JSON, its telling keys past the first bytes
        if reader is None:
            on_error(_unrecognised(data, item.name))
            return
    try:
        for result in reader.read(data, item.name):
            if isinstance(result, ConversionError):
                if result.record is None:
                    result.record = item.name
                on_error(result)
            else:
                yield complete(result)
    except ConversionError as error:
        if error.record is None:
            error.record = item.name
        on_error(error)
    except Exception as error:  # noqa: BLE001 - a reader bug; reported, and the rest of the file is lost
        message = f"internal error in the {reader.name} reader ({type(error).__name__}: {str(error)[:200]}); the rest of this input was not read"
        on_error(ConversionError(message, record=item.name, stage="read"))


def read_source(source: Source, fmt: Optional[str] = None, on_error: ErrorHandler = _raise, *, follow_symlinks: bool = False,
                keep: Optional[Callable[[Input], bool]] = None) -> Iterator[Trial]:
    """All trials in a source, one at a time.

    ``keep`` (input blob → read it?) lets an incremental run pass over inputs unchanged since the
    last run before they are parsed.

    Errors go to ``on_error`` (default: raised); a skipped input (:class:`SkippedInput`, e.g. a link
    leaving its folder) goes there too, and by default is only a Python warning.
    """
    if fmt is not None and fmt not in readers():
        on_error(ConversionError(f"unknown input format {fmt!r}; known: {', '.join(sorted(readers()))}", field="fmt", stage="read"))
        return
    try:
        for item in items(source, sniff=None if fmt else knows, follow_symlinks=follow_symlinks):
            if isinstance(item, ConversionError):
                on_error(item)
            elif keep is None or keep(item):
                yield from read_input(item, fmt, on_error)
    except ConversionError as error:  # an unknown --from format: nothing can be read
        on_error(error)


__all__ = ["Reader", "ReadResult", "Source", "readers", "detect", "read_source", "read_input", "iter_inputs", "as_utf8", "Input", "ConversionError", "SkippedInput"]
