"""Writing results safely: atomic files (temp + rename) so a crash never leaves half-written output."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name that cannot escape the output folder or surprise a shell (ids come from untrusted text)."""
    parts = [(_UNSAFE.sub("_", part).lstrip(".") or "_") for part in Path(name).parts if part not in ("", ".", "..", "/")]
    return "/".join(parts) or "_"


def write_atomic(directory: Path, relative: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/relative`` via a temp file in the same folder and an atomic rename."""
    target = directory / safe_name(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return target
