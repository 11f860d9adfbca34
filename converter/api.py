"""The library interface for integration engines: read, convert, conversion, iter_convert, validate.

Everything here takes what an engine holds — a path, bytes, text, a parsed dict or a
:class:`~converter.model.Trial` — and never prints; diagnostics go to the ``trialconv`` logger.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Union

from .eligibility.reading import criterion_warnings
from .errors import ConversionError
from .model import Trial
from .readers import Source, read_source
from .readers.sources import Input
from .writers import Written, writers

__all__ = [
    "Conversion", "Result", "Written", "Convertible", "REPORT_NAME", "OPTIONS",
    "all_targets", "expand_targets", "read", "convert", "conversion", "iter_convert", "validate",
]

log = logging.getLogger("trialconv")

#: What a caller may hand over: a path (file, folder, zip, ``-`` for stdin), raw bytes, text of a
#: record (JSON, XML or a registry page), a parsed dict (ClinicalTrials.gov v2 study or trialconv
#: trial JSON), a :class:`Trial`, or a list of any of these.
Convertible = Union[str, Path, bytes, bytearray, Mapping[str, Any], Trial, Iterable[Any]]

#: The per-record report the CLI and :meth:`Conversion.write` put next to the outputs.
REPORT_NAME = "trialconv-report.ndjson"

# A path never holds a line break and rarely starts like a document; longer than any file system
# allows is text too.
_TEXT_STARTS = ("{", "[", "<")
_PATH_MAX = 4096


def all_targets() -> list[str]:
    """What ``to="all"`` (``--to all``) means: every registered writer marked as part of it, in registry order."""
    return [name for name, writer in writers().items() if writer.in_all]


def _looks_like_text(value: str) -> bool:
    """A str argument is record text (not a path) when it holds a line break, starts like a JSON or
    XML document, or is longer than any path can be."""
    stripped = value.lstrip("\ufeff \t\r\n")
    return "\n" in value or stripped.startswith(_TEXT_STARTS) or len(value) > _PATH_MAX


def _as_input(item: Any, where: str = "source") -> Union[Source, Input, Trial]:
    """One source element in the form the readers take: text and dicts become named bytes."""
    if isinstance(item, Trial):
        return item
    if isinstance(item, (bytes, bytearray)):
        return Input("<bytes>", bytes(item))
    if isinstance(item, Path):
        return item
    if isinstance(item, str):
        return Input("<text>", item.encode("utf-8")) if _looks_like_text(item) else item
    if isinstance(item, Mapping):
        try:
            return Input("<dict>", json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        except (TypeError, ValueError) as error:
            raise ConversionError(f"the dict is not JSON data: {error}", field=where, stage="read") from error
    raise ConversionError(f"{where} must be a path, bytes, text, a dict, a Trial or a list of them, not {_kind(item)}",
                          field=where, stage="read")


def _elements(source: Any) -> list[Any]:
    """The source as a list of elements (a single thing is a list of one); iterables are taken as
    given, so a generator of records streams."""
    if isinstance(source, (str, Path, bytes, bytearray, Mapping, Trial)):
        return [source]
    return source  # type: ignore[no-any-return]


def _input_format(from_format: Optional[str], fmt: Optional[str]) -> Optional[str]:
    """``from_format`` (the CLI's ``--from``) and its older alias ``fmt``; both given must agree."""
    if from_format is not None and fmt is not None and from_format != fmt:
        raise ConversionError(f"from_format={from_format!r} and its alias fmt={fmt!r} disagree; give one", field="from_format", stage="read")
    return from_format if from_format is not None else fmt


def read(source: Convertible, fmt: Optional[str] = None, *, from_format: Optional[str] = None) -> Iterator[Trial]:
    """Trials in ``source`` (see :data:`Convertible`), one at a time; ``from_format`` (alias ``fmt``)
    forces the input format instead of detecting it.

    Raises :class:`ConversionError` (record + field) on the first bad record; use
    :func:`iter_convert` to go on past bad records.
    """
    fmt = _input_format(from_format, fmt)
    _check_source(source)
    _check_fmt(fmt)
    return _read_all(source, fmt)


def _read_all(source: Any, fmt: Optional[str]) -> Iterator[Trial]:
    for element in _elements(source):
        item = _as_input(element)
        if isinstance(item, Trial):
            yield item
        else:
            yield from read_source(item, fmt)


# Options the writers understand (``convert(..., bundle_type="transaction")``); anything else is a typo.
OPTIONS: dict[str, str] = {
    "bundle_type": "FHIR Bundle type: collection (default) or transaction",
    "transaction_mode": "in a transaction Bundle: create (create if absent, the default) or update (conditional update)",
    "cdisc_formats": "CDISC file formats, a list drawn from json, xpt, csv (default: all three)",
    "strict": "True: also validate every FHIR resource with fhir.resources and pure-Python jsonschema (the oracle)",
}
TRANSACTION_MODES = ("create", "update")


def _check_source(source: Any) -> None:
    """Refuse, naming the argument, what no reader can take, rather than failing later with a
    TypeError from deep inside the file walk. Lists are checked element by element."""
    if isinstance(source, (list, tuple)):
        for item in source:
            _as_input(item)
        return
    if isinstance(source, (str, Path, bytes, bytearray, Mapping, Trial)):
        _as_input(source)
        return
    if isinstance(source, Iterable):
        return  # a generator: its elements are checked as they come
    _as_input(source)


def _check_fmt(fmt: Any) -> None:
    from .readers import readers

    if fmt is not None and (not isinstance(fmt, str) or fmt not in readers()):
        raise ConversionError(f"unknown input format {fmt!r}; known: {', '.join(sorted(readers()))}", field="fmt", stage="read")


def _check_options(options: dict[str, Any]) -> None:
    from .writers.fhir.common import BUNDLE_TYPES

    for name in options:
        if name not in OPTIONS:
            raise ConversionError(f"unknown option {name!r}; known: {', '.join(sorted(OPTIONS))}", field=name, stage="write")
    bundle_type = options.get("bundle_type")
    if bundle_type is not None and bundle_type not in BUNDLE_TYPES:
        raise ConversionError(f"bundle_type must be one of {', '.join(BUNDLE_TYPES)}, not {bundle_type!r}", field="bundle_type", stage="write")
    mode = options.get("transaction_mode")
    if mode is not None and mode not in TRANSACTION_MODES:
        raise ConversionError(f"transaction_mode must be one of {', '.join(TRANSACTION_MODES)}, not {mode!r}", field="transaction_mode", stage="write")
    if options.get("strict") not in (None, True, False):
        raise ConversionError(f"strict must be True or False, not {options['strict']!r}", field="strict", stage="write")
    formats = options.get("cdisc_formats")
    if formats is not None:
        from .writers.cdisc import FORMATS

        if isinstance(formats, str) or not all(isinstance(f, str) and f in FORMATS for f in formats):
            raise ConversionError(f"cdisc_formats must be a list drawn from {', '.join(FORMATS)}, not {formats!r}", field="cdisc_formats", stage="write")


def _kind(value: Any) -> str:
    return "None" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"


def _writer(to: Any):
    if not isinstance(to, str):
        raise ConversionError(f"an output target is a name such as 'fhir-r5', not {_kind(to)}", field="to", stage="write")
    found = writers().get(to)
    if found is None:
        raise ConversionError(f"unknown output target {to!r}; known: {', '.join(sorted(writers()))}, all", field="to", stage="write")
    return found


def expand_targets(to: Union[str, Iterable[str]]) -> list[str]:
    """Target names from ``to``: one name, a list, comma-separated names, ``"all"``; unknown names
    raise :class:`ConversionError` before any work is done."""
    given = [to] if isinstance(to, str) else list(to) if isinstance(to, (list, tuple)) else [to]
    chosen: list[str] = []
    for item in given:
        names = [part.strip() for part in item.split(",")] if isinstance(item, str) else [item]
        for name in names:
            for target in all_targets() if name == "all" else [name]:
                if target not in chosen:
                    chosen.append(target)
    if not chosen:
        raise ConversionError("no output target given", field="to", stage="write")
    for name in chosen:
        _writer(name)
    return chosen


def _one_trial(source: Any, fmt: Optional[str]) -> Trial:
    if isinstance(source, Trial):
        return source
    _check_source(source)
    _check_fmt(fmt)
    trials = list(_read_all(source, fmt))
    if len(trials) != 1:
        raise ConversionError(f"source holds {len(trials)} trials; convert() takes exactly one — use iter_convert()", stage="read")
    return trials[0]


def convert(source: Convertible, to: Union[str, Iterable[str]] = "fhir-r5", *, from_format: Optional[str] = None,
            fmt: Optional[str] = None, **options: Any) -> Any:
    """Convert exactly one trial and return its validated output as plain JSON-ready data.

    With one target (``to="fhir-r5"``) that is the target's value: the Bundle dict for FHIR,
    ``{"datasets": {...}, "notes": [...]}`` for ``cdisc``, ``{"synopsis.html": text, ...}`` for the
    synopsis. With several (a list, comma-separated names or ``"all"``) it is a dict target → value.
    ``from_format`` (alias ``fmt``) forces the input format (see ``trialconv formats``).
    A source holding several trials is an error here (use :func:`iter_convert`) because silently
    picking one would lose data. Unknown targets and options raise before anything is read.
    :func:`conversion` returns the same with warnings, notes, files and :meth:`Conversion.write`.
    """
    done = conversion(source, to, from_format=from_format, fmt=fmt, **options)
    if isinstance(to, str) and "," not in to and to != "all":
        return done.value
    return done.values


def conversion(source: Convertible, to: Union[str, Iterable[str]] = "fhir-r5", *, from_format: Optional[str] = None,
               fmt: Optional[str] = None, **options: Any) -> "Conversion":
    """Convert exactly one trial and return the whole :class:`Conversion`: every target's value,
    the files the CLI would write, warnings, notes and the trial. Raises :class:`ConversionError`
    when the record cannot be read or its output fails validation."""
    fmt = _input_format(from_format, fmt)
    chosen = expand_targets(to)
    _check_options(options)
    trial = _one_trial(source, fmt)
    done = _convert_one(trial, chosen, options)
    if done.error is not None:
        raise done.error
    return done


@dataclass
class Conversion:
    """One record's outcome: the trial, what each target produced (already validated), or the error.

    ``values`` holds JSON-ready data per target, ``files`` the exact bytes the CLI writes (relative
    name → bytes), :meth:`write` puts them in a folder the way the CLI does. ``iter_convert`` yields
    these too; a failed one has ``ok`` False and the :class:`ConversionError` in ``error``.
    """

    trial: Optional[Trial]
    outputs: dict[str, Written] = field(default_factory=dict)
    error: Optional[ConversionError] = None

    @property
    def ok(self) -> bool:
        """True when every target was produced and validated."""
        return self.error is None

    @property
    def values(self) -> dict[str, Any]:
        """Target → its JSON-ready value (Bundle dict, Dataset-JSON documents, rendered pages, …)."""
        return {name: written.value for name, written in self.outputs.items()}

    @property
    def value(self) -> Any:
        """The value of the only target (``ValueError`` when there were several or none)."""
        if len(self.outputs) != 1:
            raise ValueError(f"this conversion has {len(self.outputs)} targets; use .values")
        return next(iter(self.outputs.values())).value

    @property
    def files(self) -> dict[str, bytes]:
        """Relative file name → bytes, exactly what the CLI writes for this record."""
        return {name: data for written in self.outputs.values() for name, data in written.files.items()}

    @cached_property
    def warnings(self) -> list[str]:
        """The reader's warnings, the eligibility engine's warnings about criterion text and the
        writers' findings on their output (e.g. USDM rules the registry record cannot satisfy)."""
        if self.trial is None:
            return []
        written = [warning for output in self.outputs.values() for warning in output.warnings]
        return list(self.trial.provenance.warnings) + criterion_warnings(self.trial.eligibility.criteria) + written

    @property
    def notes(self) -> list[str]:
        """What writers could not fill from the record (e.g. TS parameters a submission still needs)."""
        return [note for written in self.outputs.values() for note in written.notes]

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The CDISC datasets as tables: ``{"TS": [row dict, …], "TA": …}`` (empty without ``cdisc``)."""
        written = self.outputs.get("cdisc")
        if written is None or written.batch_state is None:
            return {}
        datasets = written.batch_state[0]
        return {name: [dict(row) for row in datasets[name].rows] for name in datasets}

    def resources(self, target: str = "fhir-r5") -> Any:
        """The FHIR Bundle of ``target`` as a ``fhir.resources`` object (R5 or R4B classes)."""
        written = self.outputs.get(target)
        if written is None or target not in ("fhir-r5", "fhir-r4b"):
            raise ValueError(f"no FHIR output {target!r} in this conversion (have: {', '.join(self.outputs) or 'none'})")
        if target == "fhir-r5":
            from fhir.resources.bundle import Bundle
        else:
            from fhir.resources.R4B.bundle import Bundle
        return Bundle.model_validate(written.value)

    def report_line(self, outputs: Optional[list[str]] = None, status: Optional[str] = None) -> dict[str, Any]:
        """This record's line of ``trialconv-report.ndjson`` (``outputs``: the files really written)."""
        from .safety import for_terminal

        record = getattr(self.error, "record", None)
        trial = self.trial
        line: dict[str, Any] = {
            "id": trial.id if trial else (None if record is None else for_terminal(record)),
            "source": trial.provenance.source_file if trial else None,
            "format": trial.provenance.source_format if trial else None,
            "status": status or ("converted" if self.ok else "failed"),
            "outputs": sorted(outputs or []),
            "warnings": self.warnings,
            "unmapped": list(trial.provenance.unmapped) if trial else [],
            "inferred": list(trial.provenance.inferred) if trial else [],
            "notes": self.notes if self.ok else [],
        }
        if self.error is not None:
            line["error"] = str(self.error)
            if self.error.stage:
                line["stage"] = self.error.stage
        return line

    def write(self, folder: Union[str, Path], *, report: bool = True) -> list[Path]:
        """Write this record's files into ``folder`` as ``trialconv convert --out folder`` does:
        the same names and bytes, all files of the record or none (staged, then renamed), then its
        line appended to ``trialconv-report.ndjson`` (``report=False`` leaves the report alone).
        A failed conversion writes only its report line. Returns the paths written."""
        from .output import commit_files

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = commit_files(folder, self.files) if self.ok else []
        if report:
            line = self.report_line([str(path.relative_to(folder)) for path in written])
            append_report_line(folder / REPORT_NAME, line)
        return written


#: The name ``iter_convert`` results had before :class:`Conversion` (kept for existing callers).
Result = Conversion


def report_text(line: dict[str, Any]) -> str:
    """One report line as the CLI writes it (compact JSON, UTF-8 kept, newline-terminated)."""
    return json.dumps(line, ensure_ascii=False) + "\n"


def append_report_line(path: Path, line: dict[str, Any]) -> None:
    """Append one line with a single write on an O_APPEND descriptor (a short line is never
    interleaved with another writer's)."""
    from .output import file_mode

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, file_mode())
    try:
        os.write(fd, report_text(line).encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)


def _convert_one(trial: Trial, targets: list[str], options: dict[str, Any]) -> Conversion:
    """Every target for one trial; the first failing target fails the record (no partial outputs)."""
    result = Conversion(trial)
    for name in targets:
        writer = _writer(name)
        try:
            result.outputs[writer.name] = writer.produce(trial, options)
        except ConversionError as error:
            error.record = error.record or trial.id
            result.error = error
        except MemoryError:
            result.error = ConversionError(f"ran out of memory in the {writer.name} writer (the per-record memory limit)", record=trial.id, stage="write")
        except Exception as error:  # a writer bug must not stop the batch; report it against the record
            log.exception("internal error in the %s writer on record %s", writer.name, trial.id)
            result.error = ConversionError(f"internal error in {writer.name} writer: {error!r}", record=trial.id, stage="write")
        if result.error is not None:
            result.outputs.clear()
            break
    return result


def _items(source: Any, fmt: Optional[str], follow_symlinks: bool = False,
           keep: Optional[Callable[[Any], bool]] = None) -> Iterator[Union[Trial, ConversionError]]:
    """Trials and read errors, interleaved in source order; an element no reader can take is an
    error in its place, never an exception that ends the stream."""
    for element in _elements(source):
        try:
            item = _as_input(element)
        except ConversionError as error:
            yield error
            continue
        if isinstance(item, Trial):
            yield item
            continue
        errors: list[ConversionError] = []
        for trial in read_source(item, fmt, on_error=errors.append, follow_symlinks=follow_symlinks, keep=keep):
            yield from errors
            errors.clear()
            yield trial
        yield from errors


def iter_convert(source: Convertible, to: Union[str, Iterable[str]] = "fhir-r5", *, from_format: Optional[str] = None, fmt: Optional[str] = None,
                 jobs: int = 1, record_timeout: Optional[float] = None, record_memory_mb: Optional[int] = None,
                 follow_symlinks: bool = False, keep_input: Optional[Callable[[Any], bool]] = None, **options: Any) -> Iterator[Conversion]:
    """Convert every trial in ``source``; bad records become failed :class:`Conversion` objects and
    the stream goes on. ``source`` may be anything :func:`convert` takes, or an iterable (a list, a
    generator) of them, mixed freely.

    Arguments (targets, options, ``jobs``…) are checked before the first record is read and raise
    :class:`ConversionError`; after that nothing raises for a record.

    ``jobs > 1`` builds and validates in that many worker processes (validation is CPU-bound), while
    reading stays in this process and results come back in source order. At most a few records per
    worker are in flight, so memory stays flat whatever the size of the dump.

    With ``record_timeout`` (seconds) or ``record_memory_mb`` the work runs in supervised worker
    processes even for ``jobs=1``: a record that takes longer, exhausts its memory, or kills its
    worker is a failed result (stage ``convert``) and a fresh worker takes the next record.

    ``keep_input`` (an input blob → convert it?) is how an incremental run skips inputs it has
    converted before, before they are parsed.
    """
    fmt = _input_format(from_format, fmt)
    if not isinstance(source, (list, tuple)) or not source:
        _check_source(source)
    _check_fmt(fmt)
    _check_options(options)
    chosen = expand_targets(to)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConversionError(f"jobs must be a whole number of at least 1, not {jobs!r}", field="jobs", stage="convert")
    if record_timeout is not None and (isinstance(record_timeout, bool) or not isinstance(record_timeout, (int, float)) or not record_timeout > 0):
        raise ConversionError(f"record_timeout must be a positive number of seconds, not {record_timeout!r}", field="record_timeout", stage="convert")
    if record_memory_mb is not None and (isinstance(record_memory_mb, bool) or not isinstance(record_memory_mb, int) or record_memory_mb < 0):
        raise ConversionError(f"record_memory_mb must be a whole number of megabytes, not {record_memory_mb!r}", field="record_memory_mb", stage="convert")
    return _stream(source, chosen, fmt, jobs, record_timeout, record_memory_mb, follow_symlinks, options, keep_input)


def _stream(source: Any, targets: list[str], fmt: Optional[str], jobs: int, record_timeout: Optional[float],
            record_memory_mb: Optional[int], follow_symlinks: bool, options: dict[str, Any],
            keep_input: Optional[Callable[[Any], bool]] = None) -> Iterator[Conversion]:
    items = _items(source, fmt, follow_symlinks, keep_input)
    if jobs <= 1 and record_timeout is None and not record_memory_mb:
        for item in items:
            yield Conversion(None, error=item) if isinstance(item, ConversionError) else _convert_one(item, targets, options)
        return
    from .pool import supervised

    _warm_up(targets, options)
    yield from supervised(items, lambda trial: _convert_one(trial, targets, options), jobs=jobs, timeout=record_timeout,
                          memory_mb=record_memory_mb or None, failed=lambda trial, error: Conversion(trial, error=error),
                          passed=lambda error: Conversion(None, error=error))


def _warm_up(targets: list[str], options: dict[str, Any]) -> None:
    """Load writers, schemas and terminology once, here, before workers are forked: they inherit it,
    so a fresh worker (after one was stopped) does not spend seconds of its record's time limit
    loading them."""
    trial = Trial(id="NCT00000000", provenance={"source_format": "warm-up"})
    _convert_one(trial, targets, options)
    # "fhir-r5", "fhir-r5-ndjson" → R5 (the Bulk targets validate the same Bundles)
    versions = sorted({name.split("-")[1].upper() for name in targets if name.startswith("fhir-")})
    if versions:
        from .validate.fhir import warm
        from .writers.fhir.common import warm_templates

        warm_templates()
        for version in versions:
            warm(version)


def validate(path_or_resource: Union[str, Path, Mapping[str, Any]], version: Optional[str] = None, *,
             house_rules: bool = False) -> list[str]:
    """Problems found in a FHIR resource or JSON file (empty list = valid).

    ``version`` is ``"R5"`` or ``"R4B"``; by default it is detected from the resource (elements only
    one version has), R5 when nothing tells them apart. FHIR from elsewhere is judged by the
    standard; ``house_rules=True`` adds trialconv's own rules (a narrative on every ResearchStudy).
    """
    from .judge import is_house_rule

    problems = _validate(path_or_resource, version)
    return problems if house_rules else [p for p in problems if not is_house_rule(p)]


def _validate(path_or_resource: Any, version: Optional[str]) -> list[str]:
    from .validate import fhir

    if version is not None and version not in ("R5", "R4B"):
        raise ConversionError(f"version must be R5 or R4B, not {version!r}", field="version", stage="validate")
    try:
        if isinstance(path_or_resource, Mapping):
            resource = dict(path_or_resource)
            chosen = version or fhir.detect_version(resource)
            if resource.get("resourceType") == "Bundle":
                return fhir.validate_bundle(resource, chosen)
            return fhir.validate_resource(resource, chosen)
        if not isinstance(path_or_resource, (str, Path)):
            raise ConversionError(f"validate() takes a path or a resource dict, not {_kind(path_or_resource)}", field="path_or_resource", stage="validate")
        return fhir.validate_file(Path(path_or_resource), version)
    except RecursionError:
        return [NESTED_TOO_DEEPLY]


NESTED_TOO_DEEPLY = "nested too deeply to be a FHIR resource (the JSON was not read to the end)"
