"""Reader registry and input handling: files, directories, zip archives and stdin, detected by content."""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Union

from ..errors import ConversionError
from ..model import Trial
from .base import ReadResult, Reader

# Limits on untrusted input: a single record file and the total a zip archive may expand to.
MAX_INPUT_BYTES = 1 << 30  # 1 GiB per file
MAX_ARCHIVE_MEMBER_BYTES = 256 << 20
MAX_ARCHIVE_TOTAL_BYTES = 4 << 30
SNIFF_BYTES = 64 * 1024


def _registry() -> dict[str, Reader]:
    """Reader name → reader. One line per format; order breaks sniff ties (more specific first)."""
    from . import ctgov_v2, ctgov_xml, parsed_json

    readers: list[Reader] = [parsed_json.READER, ctgov_v2.READER, ctgov_xml.READER]
    try:  # text-page readers arrive with their own issue; the registry works without them
        from . import pages

        readers.extend(pages.READERS)
    except ImportError:
        pass
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


@dataclass(frozen=True)
class Input:
    """One input blob with a name for messages."""

    name: str
    data: bytes


def _read_bounded(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise ConversionError(f"input is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit", record=str(path), stage="read")
    return path.read_bytes()


def _zip_members(path: Path) -> Iterator[Input]:
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            if info.file_size > MAX_ARCHIVE_MEMBER_BYTES:
                raise ConversionError(f"archive member is {info.file_size} bytes, over the limit", record=f"{path}!{info.filename}", stage="read")
            total += info.file_size
            if total > MAX_ARCHIVE_TOTAL_BYTES:
                raise ConversionError("archive expands beyond the size limit", record=str(path), stage="read")
            with archive.open(info) as member:
                data = member.read(MAX_ARCHIVE_MEMBER_BYTES + 1)
            if len(data) > MAX_ARCHIVE_MEMBER_BYTES:
                raise ConversionError("archive member larger than declared", record=f"{path}!{info.filename}", stage="read")
            yield Input(f"{path}!{info.filename}", data)


def iter_inputs(source: Union[str, Path, bytes, Iterable[Union[str, Path]]]) -> Iterator[Input]:
    """Expand a source (path, directory, zip, '-', raw bytes or several of them) into named blobs.

    Directories are walked recursively in sorted order so batches are deterministic; hidden files
    are skipped.
    """
    if isinstance(source, bytes):
        yield Input("<bytes>", source)
        return
    if isinstance(source, (list, tuple)):
        for item in source:
            yield from iter_inputs(item)
        return
    if str(source) == "-":
        yield Input("<stdin>", sys.stdin.buffer.read(MAX_INPUT_BYTES + 1))
        return
    path = Path(source)
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)):
            yield from iter_inputs(child)
        return
    if not path.exists():
        raise ConversionError("no such file or directory", record=str(path), stage="read")
    if zipfile.is_zipfile(path):
        yield from _zip_members(path)
        return
    yield Input(str(path), _read_bounded(path))


ErrorHandler = Callable[[ConversionError], None]


def _raise(error: ConversionError) -> None:
    raise error


def read_input(item: Input, fmt: Optional[str] = None, on_error: ErrorHandler = _raise) -> Iterator[Trial]:
    """Read one blob with the forced or detected reader."""
    if fmt:
        reader = readers().get(fmt)
        if reader is None:
            raise ConversionError(f"unknown input format {fmt!r}; known: {', '.join(sorted(readers()))}", stage="read")
    else:
        reader = detect(item.data[:SNIFF_BYTES])
        if reader is None:
            on_error(ConversionError("unrecognised input format (not a trial record any reader knows)", record=item.name, stage="detect"))
            return
    try:
        for result in reader.read(item.data, item.name):
            if isinstance(result, ConversionError):
                if result.record is None:
                    result.record = item.name
                on_error(result)
            else:
                yield result
    except ConversionError as error:
        if error.record is None:
            error.record = item.name
        on_error(error)


def read_source(source: Union[str, Path, bytes, Iterable[Union[str, Path]]], fmt: Optional[str] = None, on_error: ErrorHandler = _raise) -> Iterator[Trial]:
    """All trials in a source, one at a time."""
    try:
        for item in iter_inputs(source):
            yield from read_input(item, fmt, on_error)
    except ConversionError as error:
        on_error(error)


__all__ = ["Reader", "readers", "detect", "read_source", "read_input", "iter_inputs", "Input", "ConversionError"]
