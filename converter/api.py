"""The library interface for integration engines: read, convert, iter_convert, validate."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from .eligibility.reading import criterion_warnings
from .errors import ConversionError
from .model import Trial
from .readers import Source, read_source
from .writers import Written, writers


def read(source: Source, fmt: Optional[str] = None) -> Iterator[Trial]:
    """Trials in ``source`` (file, directory, zip, ``-`` for stdin, or raw bytes), one at a time.

    Raises :class:`ConversionError` (record + field) on the first bad record; use
    :func:`iter_convert` to go on past bad records.
    """
    _check_source(source)
    _check_fmt(fmt)
    return read_source(source, fmt)


# Options the writers understand (``convert(..., bundle_type="transaction")``); anything else is a typo.
OPTIONS = {"bundle_type": ("collection", "transaction"), "cdisc_formats": None}


def _check_source(source: Any) -> None:
    """A source must be a path, a list of paths, '-' or bytes: say so, naming the argument, rather
    than failing later with a TypeError from deep inside the file walk."""
    if isinstance(source, (str, Path, bytes)):
        return
    if isinstance(source, (list, tuple)) and all(isinstance(item, (str, Path)) for item in source):
        return
    raise ConversionError(f"source must be a path, a list of paths, '-' or bytes, not {_kind(source)}", field="source", stage="read")


def _check_fmt(fmt: Any) -> None:
    from .readers import readers

    if fmt is not None and (not isinstance(fmt, str) or fmt not in readers()):
        raise ConversionError(f"unknown input format {fmt!r}; known: {', '.join(sorted(readers()))}", field="fmt", stage="read")


def _check_options(options: dict[str, Any]) -> None:
    for name, value in options.items():
        if name not in OPTIONS:
            raise ConversionError(f"unknown option {name!r}; known: {', '.join(sorted(OPTIONS))}", field=name, stage="write")
        allowed = OPTIONS[name]
        if allowed is not None and value not in allowed:
            raise ConversionError(f"{name} must be one of {', '.join(allowed)}, not {value!r}", field=name, stage="write")
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
        raise ConversionError(f"unknown output target {to!r}; known: {', '.join(sorted(writers()))}", field="to", stage="write")
    return found


def convert(source_or_trial: Union[Source, Trial], to: str = "fhir-r5", *, fmt: Optional[str] = None, **options: Any) -> Any:
    """Convert exactly one trial and return its validated output as plain JSON-ready data.

    For ``fhir-r5`` that is the Bundle dict. A source holding several trials is an error here
    (use :func:`iter_convert`) because silently picking one would lose data.
    """
    writer = _writer(to)
    _check_options(options)
    if isinstance(source_or_trial, Trial):
        trial = source_or_trial
    else:
        trials = list(read(source_or_trial, fmt))
        if len(trials) != 1:
            raise ConversionError(f"source holds {len(trials)} trials; convert() takes exactly one — use iter_convert()", stage="read")
        trial = trials[0]
    try:
        return writer.produce(trial, options).value
    except ConversionError as error:
        error.record = error.record or trial.id
        raise


@dataclass
class Result:
    """One record's outcome in a batch: the trial, what each target produced, or the error."""

    trial: Optional[Trial]
    outputs: dict[str, Written] = field(default_factory=dict)
    error: Optional[ConversionError] = None

    @property
    def ok(self) -> bool:
        return self.error is None

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


def _convert_one(trial: Trial, targets: list[str], options: dict[str, Any]) -> Result:
    """Every target for one trial; the first failing target fails the record (no partial outputs)."""
    result = Result(trial)
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
            result.error = ConversionError(f"internal error in {writer.name} writer: {error!r}", record=trial.id, stage="write")
        if result.error is not None:
            result.outputs.clear()
            break
    return result


def _items(source: Source, fmt: Optional[str], follow_symlinks: bool = False, keep: Optional[Callable[[Any], bool]] = None) -> Iterator[Union[Trial, ConversionError]]:
    """Trials and read errors, interleaved in source order."""
    errors: list[ConversionError] = []
    for trial in read_source(source, fmt, on_error=errors.append, follow_symlinks=follow_symlinks, keep=keep):
        yield from errors
        errors.clear()
        yield trial
    yield from errors


def iter_convert(source: Source, to: Union[str, Iterable[str]] = "fhir-r5", *, fmt: Optional[str] = None,
                 jobs: int = 1, record_timeout: Optional[float] = None, record_memory_mb: Optional[int] = None,
                 follow_symlinks: bool = False, keep_input: Optional[Callable[[Any], bool]] = None, **options: Any) -> Iterator[Result]:
    """Convert every trial in ``source``; bad records become failed Results and the batch goes on.

    ``jobs > 1`` builds and validates in that many worker processes (validation is CPU-bound), while
    reading stays in this process and results come back in source order. At most a few records per
    worker are in flight, so memory stays flat whatever the size of the dump.

    With ``record_timeout`` (seconds) or ``record_memory_mb`` the work runs in supervised worker
    processes even for ``jobs=1``: a record that takes longer, exhausts its memory, or kills its
    worker is a failed Result (stage ``convert``) and a fresh worker takes the next record.

    ``keep_input`` (an input blob → convert it?) is how an incremental run skips inputs it has
    converted before, before they are parsed.
    """
    _check_source(source)
    _check_fmt(fmt)
    _check_options(options)
    targets = [to] if isinstance(to, str) else list(to) if isinstance(to, (list, tuple)) else [to]
    if not targets:
        raise ConversionError("no output target given", field="to", stage="write")
    for name in targets:
        _writer(name)  # unknown targets fail before any work
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConversionError(f"jobs must be a whole number of at least 1, not {jobs!r}", field="jobs", stage="convert")
    if record_timeout is not None and (isinstance(record_timeout, bool) or not isinstance(record_timeout, (int, float)) or not record_timeout > 0):
        raise ConversionError(f"record_timeout must be a positive number of seconds, not {record_timeout!r}", field="record_timeout", stage="convert")
    if record_memory_mb is not None and (isinstance(record_memory_mb, bool) or not isinstance(record_memory_mb, int) or record_memory_mb < 0):
        raise ConversionError(f"record_memory_mb must be a whole number of megabytes, not {record_memory_mb!r}", field="record_memory_mb", stage="convert")
    items = _items(source, fmt, follow_symlinks, keep_input)
    if jobs <= 1 and record_timeout is None and not record_memory_mb:
        for item in items:
            yield Result(None, error=item) if isinstance(item, ConversionError) else _convert_one(item, targets, options)
        return
    from .pool import supervised

    _warm_up(targets, options)
    yield from supervised(items, lambda trial: _convert_one(trial, targets, options), jobs=jobs, timeout=record_timeout,
                          memory_mb=record_memory_mb or None, failed=lambda trial, error: Result(trial, error=error),
                          passed=lambda error: Result(None, error=error))


def _warm_up(targets: list[str], options: dict[str, Any]) -> None:
    """Load writers, schemas and terminology once, here, before workers are forked: they inherit it,
    so a fresh worker (after one was stopped) does not spend seconds of its record's time limit
    loading them."""
    trial = Trial(id="NCT00000000", provenance={"source_format": "warm-up"})
    _convert_one(trial, targets, options)


def validate(path_or_resource: Union[str, Path, dict[str, Any]], version: str = "R5") -> list[str]:
    """Problems found in a FHIR resource or JSON file (empty list = valid)."""
    from .validate import fhir

    if version not in ("R5", "R4B"):
        raise ConversionError(f"version must be R5 or R4B, not {version!r}", field="version", stage="validate")
    try:
        if isinstance(path_or_resource, dict):
            if path_or_resource.get("resourceType") == "Bundle":
                return fhir.validate_bundle(path_or_resource, version)
            return fhir.validate_resource(path_or_resource, version)
        if not isinstance(path_or_resource, (str, Path)):
            raise ConversionError(f"validate() takes a path or a resource dict, not {_kind(path_or_resource)}", field="path_or_resource", stage="validate")
        return fhir.validate_file(Path(path_or_resource), version)
    except RecursionError:
        return [NESTED_TOO_DEEPLY]


NESTED_TOO_DEEPLY = "nested too deeply to be a FHIR resource (the JSON was not read to the end)"
