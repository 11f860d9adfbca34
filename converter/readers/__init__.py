"""Reader registry and input handling: files, directories, zip archives and stdin, detected by content."""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
import zipfile
import zlib
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
STREAM_THRESHOLD_BYTES = 64 << 20  # NDJSON files above this are streamed line by line


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


def _name(path: Path) -> str:
    """The path as text for messages and provenance. A file name that is not UTF-8 comes back from
    the OS with lone surrogates, which no report or output file can encode; its odd bytes are shown
    as ``\\xff`` escapes instead."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _read_bounded(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise ConversionError(f"input is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit", record=_name(path), stage="read")
        return path.read_bytes()
    except OSError as error:  # unreadable, vanished mid-batch, a directory named like a file…
        raise ConversionError(f"cannot read: {error.strerror or error}", record=_name(path), stage="read") from error


# What a damaged or exotic archive member raises on reading: bad CRC or header, corrupt deflate
# data, encryption (RuntimeError), an unsupported compression method, a truncated stream.
_MEMBER_FAILURES = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError)

Item = Union[Input, ConversionError]


def _zip_members(path: Path) -> Iterator[Item]:
    """Each member as an Input; a member that cannot be read is an error and the next one is read."""
    total = 0
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        yield ConversionError(f"unreadable zip archive: {error}", record=_name(path), stage="read")
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            name = f"{_name(path)}!{info.filename}"
            if info.file_size > MAX_ARCHIVE_MEMBER_BYTES:
                yield ConversionError(f"archive member is {info.file_size} bytes, over the limit", record=name, stage="read")
                continue
            total += info.file_size
            if total > MAX_ARCHIVE_TOTAL_BYTES:
                yield ConversionError("archive expands beyond the size limit; its remaining members were not read", record=_name(path), stage="read")
                return
            try:
                with archive.open(info) as member:
                    data = member.read(MAX_ARCHIVE_MEMBER_BYTES + 1)
            except _MEMBER_FAILURES as error:
                yield ConversionError(f"archive member cannot be read: {error}", record=name, stage="read")
                continue
            if len(data) > MAX_ARCHIVE_MEMBER_BYTES:
                yield ConversionError("archive member larger than declared", record=name, stage="read")
                continue
            yield Input(name, data)


def _items(source: Union[str, Path, bytes, Iterable[Union[str, Path]]]) -> Iterator[Item]:
    """Like :func:`iter_inputs`, but an input that cannot be opened is *yielded* as an error, so one
    missing file or broken archive member does not end the walk over everything after it."""
    if isinstance(source, bytes):
        yield Input("<bytes>", source)
        return
    if isinstance(source, (list, tuple)):
        for item in source:
            yield from _items(item)
        return
    if str(source) == "-":
        yield Input("<stdin>", sys.stdin.buffer.read(MAX_INPUT_BYTES + 1))
        return
    path = Path(source)
    if path.is_dir():
        try:
            children = sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        except OSError as error:
            yield ConversionError(f"cannot list directory: {error}", record=_name(path), stage="read")
            return
        for child in children:
            yield from _items(child)
        return
    if not path.exists():
        yield ConversionError("no such file or directory", record=_name(path), stage="read")
        return
    if zipfile.is_zipfile(path):
        yield from _zip_members(path)
        return
    if _is_large_ndjson(path):
        yield from _ndjson_lines(path)
        return
    try:
        data = _read_bounded(path)
    except ConversionError as error:
        yield error
        return
    yield Input(_name(path), data)


def _is_large_ndjson(path: Path) -> bool:
    """A big file whose first line is a whole JSON object: a registry dump in NDJSON form."""
    try:
        if path.stat().st_size <= STREAM_THRESHOLD_BYTES:
            return False
        with open(path, "rb") as handle:
            first = handle.readline(MAX_ARCHIVE_MEMBER_BYTES + 1).strip()
    except OSError:
        return False
    if not first.startswith(b"{") or not first.endswith(b"}"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _ndjson_lines(path: Path) -> Iterator[Item]:
    """Each line of a large NDJSON dump as its own input, read one at a time.

    This is what keeps a 500,000-record dump out of memory: only the current line is held, and the
    file-size limit does not apply (each line is bounded instead). Records are named ``file:line``.
    """
    name = _name(path)
    with open(path, "rb") as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_ARCHIVE_MEMBER_BYTES + 1), b""), start=1):
            if len(line) > MAX_ARCHIVE_MEMBER_BYTES:
                yield ConversionError("line longer than the per-record limit; the rest of the file was not read", record=f"{name}:{number}", stage="read")
                return
            if line.strip():
                yield Input(f"{name}:{number}", line)


def iter_inputs(source: Union[str, Path, bytes, Iterable[Union[str, Path]]]) -> Iterator[Input]:
    """Expand a source (path, directory, zip, '-', raw bytes or several of them) into named blobs.

    Directories are walked recursively in sorted order so batches are deterministic; hidden files
    are skipped. Raises the first input that cannot be opened; :func:`read_source` goes on past it.
    """
    for item in _items(source):
        if isinstance(item, ConversionError):
            raise item
        yield item


_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # 32 first: it starts like 16
_XML_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?\sencoding\s*=\s*)([\"'])[^\"']*\2")


def as_utf8(data: bytes) -> bytes:
    """UTF-16/32 text (with its byte-order mark, as Windows tools save it) re-encoded as UTF-8.

    Every reader sniffs and decodes UTF-8; converting here, once, lets all of them read such files
    instead of calling them an unknown format. An XML declaration's encoding is updated to match.
    Anything else is returned untouched, and undecodable UTF-16 is left for the reader to refuse.
    """
    bom = next((mark for mark in _UTF16_32_BOMS if data.startswith(mark)), None)
    if bom is None:
        return data
    try:
        text = data.decode({codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}.get(bom, "utf-32"))
    except UnicodeDecodeError:
        return data
    return _XML_ENCODING.sub(rb"\1\2UTF-8\2", text.encode("utf-8"), count=1)


ErrorHandler = Callable[[ConversionError], None]


def _raise(error: ConversionError) -> None:
    raise error


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
        reader = detect(data[:SNIFF_BYTES])
        if reader is None:
            on_error(ConversionError("unrecognised input format (not a trial record any reader knows)", record=item.name, stage="detect"))
            return
    try:
        for result in reader.read(data, item.name):
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
    except Exception as error:  # noqa: BLE001 - a reader bug; reported, and the rest of the file is lost
        message = f"internal error in the {reader.name} reader ({type(error).__name__}: {str(error)[:200]}); the rest of this input was not read"
        on_error(ConversionError(message, record=item.name, stage="read"))


def read_source(source: Union[str, Path, bytes, Iterable[Union[str, Path]]], fmt: Optional[str] = None, on_error: ErrorHandler = _raise) -> Iterator[Trial]:
    """All trials in a source, one at a time."""
    try:
        for item in _items(source):
            if isinstance(item, ConversionError):
                on_error(item)
            else:
                yield from read_input(item, fmt, on_error)
    except ConversionError as error:  # an unknown --from format: nothing can be read
        on_error(error)


__all__ = ["Reader", "readers", "detect", "read_source", "read_input", "iter_inputs", "as_utf8", "Input", "ConversionError"]
