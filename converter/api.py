"""The library interface for integration engines: read, convert, iter_convert, validate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from .errors import ConversionError
from .model import Trial
from .readers import read_source
from .writers import Written, writers

Source = Union[str, Path, bytes, Iterable[Union[str, Path]]]


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

    @property
    def warnings(self) -> list[str]:
        return list(self.trial.provenance.warnings) if self.trial else []

    @property
    def notes(self) -> list[str]:
        """What writers could not fill from the record (e.g. TS parameters a submission still needs)."""
        return [note for written in self.outputs.values() for note in written.notes]


def iter_convert(source: Source, to: Union[str, Iterable[str]] = "fhir-r5", *, fmt: Optional[str] = None, **options: Any) -> Iterator[Result]:
    """Convert every trial in ``source``; bad records become failed Results and the batch goes on."""
    targets = [to] if isinstance(to, str) else list(to)
    chosen = [_writer(t) for t in targets]
    errors: list[ConversionError] = []
    for trial in read_source(source, fmt, on_error=errors.append):
        while errors:
            yield Result(None, error=errors.pop(0))
        result = Result(trial)
        for writer in chosen:
            try:
                result.outputs[writer.name] = writer.produce(trial, options)
            except ConversionError as error:
                error.record = error.record or trial.id
                result.error = error
                result.outputs.clear()
                break
            except Exception as error:  # a writer bug must not stop the batch; report it against the record
                result.error = ConversionError(f"internal error in {writer.name} writer: {error!r}", record=trial.id, stage="write")
                result.outputs.clear()
                break
        yield result
    for error in errors:
        yield Result(None, error=error)


def validate(path_or_resource: Union[str, Path, dict[str, Any]], version: str = "R5") -> list[str]:
    """Problems found in a FHIR resource or JSON file (empty list = valid)."""
    from .validate import fhir

    if isinstance(path_or_resource, dict):
        if path_or_resource.get("resourceType") == "Bundle":
            return fhir.validate_bundle(path_or_resource, version)
        return fhir.validate_resource(path_or_resource, version)
    return fhir.validate_file(Path(path_or_resource), version)
