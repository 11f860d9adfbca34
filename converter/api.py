"""The library interface for integration engines: read, convert, iter_convert, validate."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

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
    return read_source(source, fmt)


def _writer(to: str):
    found = writers().get(to)
    if found is None:
        raise ConversionError(f"unknown output target {to!r}; known: {', '.join(sorted(writers()))}", stage="write")
    return found


def convert(source_or_trial: Union[Source, Trial], to: str = "fhir-r5", *, fmt: Optional[str] = None, **options: Any) -> Any:
    """Convert exactly one trial and return its validated output as plain JSON-ready data.

    For ``fhir-r5`` that is the Bundle dict. A source holding several trials is an error here
    (use :func:`iter_convert`) because silently picking one would lose data.
    """
    writer = _writer(to)
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
        """The reader's warnings and the eligibility engine's warnings about criterion text."""
        if self.trial is None:
            return []
        return list(self.trial.provenance.warnings) + criterion_warnings(self.trial.eligibility.criteria)

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
        except Exception as error:  # a writer bug must not stop the batch; report it against the record
            result.error = ConversionError(f"internal error in {writer.name} writer: {error!r}", record=trial.id, stage="write")
        if result.error is not None:
            result.outputs.clear()
            break
    return result


def _items(source: Source, fmt: Optional[str]) -> Iterator[Union[Trial, ConversionError]]:
    """Trials and read errors, interleaved in source order."""
    errors: list[ConversionError] = []
    for trial in read_source(source, fmt, on_error=errors.append):
        yield from errors
        errors.clear()
        yield trial
    yield from errors


def iter_convert(source: Source, to: Union[str, Iterable[str]] = "fhir-r5", *, fmt: Optional[str] = None,
                 jobs: int = 1, **options: Any) -> Iterator[Result]:
    """Convert every trial in ``source``; bad records become failed Results and the batch goes on.

    ``jobs > 1`` builds and validates in that many worker processes (validation is CPU-bound), while
    reading stays in this process and results come back in source order. At most a few records per
    worker are in flight, so memory stays flat whatever the size of the dump.
    """
    targets = [to] if isinstance(to, str) else list(to)
    for name in targets:
        _writer(name)  # unknown targets fail before any work
    items = _items(source, fmt)
    if jobs <= 1:
        for item in items:
            yield Result(None, error=item) if isinstance(item, ConversionError) else _convert_one(item, targets, options)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    window = jobs * 4
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque = deque()
        for item in items:
            if isinstance(item, ConversionError):
                pending.append(Result(None, error=item))
            else:
                pending.append(pool.submit(_convert_one, item, targets, options))
            while len(pending) >= window or (pending and isinstance(pending[0], Result)):
                head = pending.popleft()
                yield head if isinstance(head, Result) else head.result()
        while pending:
            head = pending.popleft()
            yield head if isinstance(head, Result) else head.result()


def validate(path_or_resource: Union[str, Path, dict[str, Any]], version: str = "R5") -> list[str]:
    """Problems found in a FHIR resource or JSON file (empty list = valid)."""
    from .validate import fhir

    if isinstance(path_or_resource, dict):
        if path_or_resource.get("resourceType") == "Bundle":
            return fhir.validate_bundle(path_or_resource, version)
        return fhir.validate_resource(path_or_resource, version)
    return fhir.validate_file(Path(path_or_resource), version)
