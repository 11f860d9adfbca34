"""Writing results safely.

* one file: temp + rename (:func:`write_atomic`), so a crash never leaves half a file;
* one record: all of its files staged, then renamed together, or all removed (:func:`commit_files`),
  so a record has every file or none;
* one output folder: one run at a time (:class:`OutputLock`); temp names carry a per-run tag so two
  runs (or a leftover from a killed one) never share a temp file.

Files get the mode the process umask allows (like any file a user creates), not the 0600 of a temp.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Optional

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Every temp file trialconv creates: ``.<name>.trialconv-<run>.tmp`` (the run tag is unique per run).
TEMP_MARK = ".trialconv-"
_STALE_TEMP = re.compile(r"^\..*\.trialconv-[0-9a-f]{12}\.[0-9a-f]{8}\.tmp$")
RUN_TAG = uuid.uuid4().hex[:12]

_umask_lock = threading.Lock()


def safe_name(name: str) -> str:
    """A file name that cannot escape the output folder or surprise a shell (ids come from untrusted text)."""
    parts = [(_UNSAFE.sub("_", part).lstrip(".") or "_") for part in Path(name).parts if part not in ("", ".", "..", "/")]
    return "/".join(parts) or "_"


def file_mode() -> int:
    """0666 less the process umask: what ``open()`` would give a new file (read without changing it
    for long, under a lock, since the umask can only be read by setting it)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def temp_path(target: Path) -> Path:
    """The staging name for ``target``: hidden, in the same folder (so the rename is atomic), tagged
    with this run and unique per call (threads of one run may write at once)."""
    return target.with_name(f".{target.name}{TEMP_MARK}{RUN_TAG}.{uuid.uuid4().hex[:8]}.tmp")


def _stage(target: Path, data: bytes, mode: int, sync: bool = True) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(target)
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        os.fchmod(handle, mode)  # O_CREAT's mode is masked already; this keeps it exact if the umask changed
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
        if sync:
            os.fsync(handle)
    except BaseException:
        os.close(handle)
        _unlink(temp)
        raise
    os.close(handle)
    return temp


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_atomic(directory: Path, relative: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/relative`` via a temp file in the same folder and an atomic rename."""
    return commit_files(directory, {relative: data})[0]


class WriteFailure(OSError):
    """A record's files could not be written; ``path`` is the file that failed, nothing of the record was kept."""

    def __init__(self, error: OSError, path: Path) -> None:
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.path = path

    def advice(self) -> str:
        """What the operator can do about it."""
        if self.errno in (errno.ENOSPC, errno.EDQUOT):
            return "free space on that disk or choose another --out, then rerun"
        if self.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return "make the folder writable or choose another --out, then rerun"
        return "fix the cause or choose another --out, then rerun"


def commit_files(directory: Path, files: dict[str, bytes], *, sync: bool = True) -> list[Path]:
    """Write all of ``files`` (relative name → bytes) under ``directory``, or none of them.

    Every file is first staged to a temp file (and synced, unless ``sync`` is False because the
    caller syncs the whole batch once, see :func:`sync_all`); only when all are staged are they renamed
    into place. A failure while staging removes the temps and raises :class:`WriteFailure` naming the
    path; a failure while renaming also removes the files already renamed, so the record is absent
    rather than half there (a rerun writes it whole).
    """
    mode = file_mode()
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    current = directory
    try:
        for relative, data in files.items():
            current = directory / safe_name(relative)
            staged.append((_stage(current, data, mode, sync), current))
        for temp, target in staged:
            current = target
            os.replace(temp, target)
            placed.append(target)
    except BaseException as error:
        for temp, _ in staged:
            _unlink(temp)
        for target in placed:
            _unlink(target)
        if isinstance(error, OSError) and not isinstance(error, WriteFailure):
            raise WriteFailure(error, current) from error
        raise
    return placed


def sync_all() -> None:
    """Flush every file written so far to disk with one call, instead of one fsync per file.

    A batch writes thousands of small files; syncing each before its rename costs a disk round trip
    per file in the parent process. The CLI calls this once, before the report is renamed into place,
    so a report that exists never lists a file that a power cut could still lose.
    """
    os.sync()


def remove_stale_temps(directory: Path) -> int:
    """Delete temp files a killed run left in ``directory`` (only call while holding its lock)."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.rglob(".*.tmp"):
        if _STALE_TEMP.match(path.name):
            _unlink(path)
            removed += 1
    return removed


class LockedError(Exception):
    """Another run holds the output folder."""


class OutputLock:
    """An exclusive lock on an output folder for one run (``fcntl.flock`` on ``.trialconv.lock``).

    The kernel drops the lock when the holder dies, so a killed run never blocks the next one (its
    file stays behind, harmless). Where flock is not available the lock is a no-op.
    """

    NAME = ".trialconv.lock"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.NAME
        self.handle: Optional[int] = None

    def acquire(self) -> "OutputLock":
        if os.name != "posix":  # pragma: no cover - no flock there
            return self
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), file_mode())
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
                os.close(handle)
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise LockedError(f"another trialconv run{f' (pid {holder})' if holder.isdigit() else ''} is writing to "
                                      f"{self.path.parent}; wait for it to finish or choose another --out") from None
                raise
            try:  # the holder before us removes the file on release: make sure ours is still the one in place
                if os.stat(self.path).st_ino == os.fstat(handle).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(handle)
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode("ascii"), 0)
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            _unlink(self.path)  # removed while still held; a run that opened it meanwhile sees it is gone and retries
            os.close(self.handle)
            self.handle = None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
