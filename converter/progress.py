"""The progress display of a convert run: records done of a total when the input tells it, records
per second and time left, on a terminal only.

The total is counted before the run from what is cheap to know: files in a folder (hidden ones are
skipped, as the reader skips them), members of a zip, and for a large NDJSON dump its size divided
by the mean length of its first lines (an estimate, shown as such). Stdin gives no total.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Iterable, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from .readers.sources import STREAM_THRESHOLD_BYTES

_SAMPLE_BYTES = 1 << 20


class RateColumn(ProgressColumn):
    """Records per second over the recent window Rich keeps."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f} rec/s", style="progress.data.speed")


def _ndjson_estimate(path: Path, size: int) -> Optional[int]:
    try:
        with open(path, "rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
    except OSError:
        return None
    lines = sample.count(b"\n")
    if not lines:
        return 1
    return max(1, round(size * lines / len(sample)))


def _count(path: Path) -> Optional[int]:
    if path.is_dir():
        total = 0
        for _root, folders, files in os.walk(path):
            folders[:] = [f for f in folders if not f.startswith(".")]
            total += sum(1 for f in files if not f.startswith("."))
        return total
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return sum(1 for info in archive.infolist() if not info.is_dir())
        size = path.stat().st_size
    except (OSError, zipfile.BadZipFile):
        return None
    return _ndjson_estimate(path, size) if size > STREAM_THRESHOLD_BYTES else 1


def estimate_total(inputs: Iterable[str]) -> Optional[int]:
    """How many records the inputs hold, as far as can be told cheaply (None: unknown, e.g. stdin).

    A file counts as one record (a ``{"studies": [...]}`` page holds more: the bar then runs past
    its end rather than stopping short)."""
    total = 0
    for item in inputs:
        if item == "-":
            return None
        count = _count(Path(item))
        if count is None:
            return None
        total += count
    return total


def progress_display(console: Console, *, enabled: bool, inputs: Iterable[str]) -> tuple[Progress, int]:
    """The Rich progress display and its task: off unless ``enabled`` and stderr is a terminal."""
    on = enabled and console.is_terminal
    total = estimate_total(list(inputs)) if on else None
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True, disable=not on)
    task = progress.add_task("converting", total=total)
    return progress, task
