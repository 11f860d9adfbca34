"""Where input bytes come from: files, folders (walked in sorted order), zip archives, large NDJSON
dumps (streamed line by line), stdin and raw bytes; UTF-16/32 text with a byte-order mark is
re-encoded as UTF-8 once here so every reader sees UTF-8.

Nothing here knows a format: it yields named blobs (:class:`Input`) and, for an input that cannot be
opened, a :class:`ConversionError` in its place so one bad file does not end a batch.
"""

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

# Limits on untrusted input: a single record file and the total a zip archive may expand to.
MAX_INPUT_BYTES = 1 << 30  # 1 GiB per file
MAX_ARCHIVE_MEMBER_BYTES = 256 << 20
MAX_ARCHIVE_TOTAL_BYTES = 4 << 30
# Deflate cannot shrink text much beyond ~1000:1, and registry JSON/XML compresses ~5-30:1, so a member
# that claims more than this is a bomb; it is refused before a byte of it is inflated.
MAX_ARCHIVE_MEMBER_RATIO = 200
ARCHIVE_SNIFF_BYTES = 64 * 1024  # inflated first, so a member no reader claims is refused early
STREAM_THRESHOLD_BYTES = 64 << 20  # NDJSON files above this are streamed line by line

# What a caller may hand over as input: a path (file, folder, zip, or "-" for stdin), raw bytes, or several paths.
Source = Union[str, Path, bytes, Iterable[Union[str, Path]]]


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

class SkippedInput(ConversionError):
    """An input deliberately not read (a symlink leaving its folder): a warning, not a failed record."""


# Says whether the first bytes of an input look like something a reader knows (None: read everything).
Sniffer = Optional[Callable[[bytes], bool]]

Item = Union[Input, ConversionError]


def _zip_members(path: Path, sniff: Sniffer = None) -> Iterator[Item]:
    """Each member as an Input; a member that cannot be read is an error and the next one is read.

    A member is refused before it is inflated when its declared size or compression ratio is beyond
    the limits, and after only its first bytes when ``sniff`` says no reader knows them: a zip bomb
    costs a few kilobytes of work, not gigabytes.
    """
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
            if info.file_size > MAX_ARCHIVE_MEMBER_RATIO * max(info.compress_size, 1) and info.file_size > ARCHIVE_SNIFF_BYTES:
                yield ConversionError(f"archive member expands {info.file_size // max(info.compress_size, 1)}:1, over the "
                                      f"{MAX_ARCHIVE_MEMBER_RATIO}:1 limit for a record (a zip bomb?); not inflated", record=name, stage="read")
                continue
            total += info.file_size
            if total > MAX_ARCHIVE_TOTAL_BYTES:
                yield ConversionError("archive expands beyond the size limit; its remaining members were not read", record=_name(path), stage="read")
                return
            try:
                with archive.open(info) as member:
                    data = member.read(ARCHIVE_SNIFF_BYTES)
                    if sniff is not None and data and not sniff(as_utf8(data)):
                        yield ConversionError("unrecognised input format (not a trial record any reader knows); member not inflated further",
                                              record=name, stage="detect")
                        continue
                    data += member.read(MAX_ARCHIVE_MEMBER_BYTES + 1 - len(data))
            except _MEMBER_FAILURES as error:
                yield ConversionError(f"archive member cannot be read: {error}", record=name, stage="read")
                continue
            if len(data) > MAX_ARCHIVE_MEMBER_BYTES:
                yield ConversionError("archive member larger than declared", record=name, stage="read")
                continue
            yield Input(name, data)


def _walk(folder: Path, follow_symlinks: bool) -> Iterator[Union[Path, ConversionError]]:
    """Files under ``folder`` in sorted order, hidden ones left out.

    A symlink that resolves outside the folder is skipped with a warning unless ``follow_symlinks``:
    an unpacked upload could otherwise point a link at any file the converter can read and have its
    text copied into outputs and reports. Links to folders are not descended into (no loops).
    """
    root = folder.resolve()
    found: list[Path] = []
    skipped: list[Path] = []
    for directory, subdirs, files in os.walk(folder, onerror=_raise_walk):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        here = Path(directory)
        for name in files + [d for d in subdirs if (here / d).is_symlink()]:
            if name.startswith("."):
                continue
            child = here / name
            if child.is_symlink() and not follow_symlinks:
                try:
                    target = child.resolve()
                except (OSError, RuntimeError):  # a loop of links
                    skipped.append(child)
                    continue
                if target != root and root not in target.parents:
                    skipped.append(child)
                    continue
            if child.is_file() or child in skipped:
                found.append(child)
    for child in sorted(found + skipped):
        if child in skipped:
            yield SkippedInput("skipped: a symbolic link that leads outside the input folder (--follow-symlinks reads it)",
                               record=_name(child), stage="read")
        else:
            yield child


def _raise_walk(error: OSError) -> None:
    raise error


def items(source: Source, *, sniff: Sniffer = None, follow_symlinks: bool = False) -> Iterator[Item]:
    """Like :func:`iter_inputs`, but an input that cannot be opened is *yielded* as an error, so one
    missing file or broken archive member does not end the walk over everything after it.

    ``sniff`` (first bytes → known format?) lets archive members nobody can read be refused before
    they are inflated; ``follow_symlinks`` reads links that leave an input folder (off by default).
    """
    if isinstance(source, Input):  # already named bytes (text or a dict handed to the library)
        yield source
        return
    if isinstance(source, bytes):
        yield Input("<bytes>", source)
        return
    if isinstance(source, (list, tuple)):
        for item in source:
            yield from items(item, sniff=sniff, follow_symlinks=follow_symlinks)
        return
    if not isinstance(source, (str, Path)):
        raise ConversionError(f"an input must be a path, a list of paths, '-' or bytes, not {type(source).__name__}", field="source", stage="read")
    if str(source) == "-":
        yield Input("<stdin>", sys.stdin.buffer.read(MAX_INPUT_BYTES + 1))
        return
    if "\x00" in str(source):
        yield ConversionError("a path cannot contain a NUL character", record=repr(str(source)), stage="read")
        return
    path = Path(source)
    if path.is_dir():
        try:
            children = list(_walk(path, follow_symlinks))
        except OSError as error:
            yield ConversionError(f"cannot list directory: {error}", record=_name(path), stage="read")
            return
        for child in children:
            if isinstance(child, ConversionError):
                yield child
            else:
                yield from items(child, sniff=sniff, follow_symlinks=follow_symlinks)
        return
    if not path.exists():
        yield ConversionError("no such file or directory", record=_name(path), stage="read")
        return
    if zipfile.is_zipfile(path):
        yield from _zip_members(path, sniff)
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


def iter_inputs(source: Source) -> Iterator[Input]:
    """Expand a source (path, directory, zip, '-', raw bytes or several of them) into named blobs.

    Directories are walked recursively in sorted order so batches are deterministic; hidden files
    are skipped. Raises the first input that cannot be opened; :func:`converter.readers.read_source` goes on past it.
    """
    for item in items(source):
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
