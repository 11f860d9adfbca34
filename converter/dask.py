"""Converting a registry on a Dask cluster: ``dask.bag`` partitions → FHIR Bulk NDJSON per partition,
one merged manifest. Install with ``pip install 'trialconv[dask]'``.

Converting one record is a pure function of its input bytes (:func:`convert_blob`), so any engine
can spread the work; this module is the thin adapter for Dask, which schedules, retries and moves
data. Nothing here starts or manages workers::

    import dask
    from converter.dask import bag_of_files, bag_of_ndjson, to_bulk_ndjson

    bag = bag_of_files(sorted(Path("ctgov/").glob("*.json")), npartitions=64)   # or bag_of_ndjson("dump.ndjson")
    with dask.config.set(scheduler="processes"):                               # or a distributed.Client
        summary = to_bulk_ndjson(bag, "out/", target="fhir-r5-ndjson")

Each partition writes ``OUT/<target>/<Type>.<partition>.ndjson`` (records in id order within the
partition, each resource once per partition) through temp files. The client then drops resources an
earlier partition already holds (same type/id; on-disk hashes, :class:`converter.bulk.Seen`) and
writes ``manifest.json`` listing every file in partition order. The lines are then the same as
``trialconv convert --to fhir-r5-ndjson`` writes when the partitions are contiguous runs of the
inputs in id order. Records that fail are listed in the summary (id or source, error), never written.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .bulk import AGGREGATORS, Seen, Staging, bulk_manifest, write_bulk

_PREFIX = re.compile(rb'^\{"resourceType":"([A-Za-z]+)","id":"([^"\\]+)"')


def convert_blob(name: str, data: bytes, target: str = "fhir-r5-ndjson", fmt: Optional[str] = None, **options: Any) -> list[dict[str, Any]]:
    """Every record in one input blob converted to ``target``: a pure function of its arguments.

    Returns one dict per record: ``id``, ``source``, and either ``part`` (stamp, compressed
    contribution to the batch files) or ``error``.
    """
    from .api import _convert_one
    from .readers import Input, read_input

    errors: list[Any] = []
    out: list[dict[str, Any]] = []
    for trial in read_input(Input(name, data), fmt, on_error=errors.append):
        result = _convert_one(trial, [target], options)
        if result.ok:
            out.append({"id": trial.id, "source": name, "part": AGGREGATORS[target].part(result.outputs[target])})
        else:
            out.append({"id": trial.id, "source": name, "error": str(result.error)})
    out.extend({"id": getattr(error, "record", None), "source": name, "error": str(error)} for error in errors)
    return out


def convert_partition(items: Iterable[tuple[str, bytes]], index: int, out_dir: str, target: str = "fhir-r5-ndjson",
                      fmt: Optional[str] = None, **options: Any) -> dict[str, Any]:
    """One Dask partition: convert its blobs, write its NDJSON files, return a small summary.

    The parts wait in an SQLite file in a private temp folder (not in memory) until the partition
    is sorted by id and written; a record id seen twice in the partition keeps its first copy.
    """
    from .state import State

    out = Path(out_dir)
    failed: list[tuple[Optional[str], str]] = []
    converted = 0
    with tempfile.TemporaryDirectory(prefix="trialconv-dask-") as scratch:
        state = State(Path(scratch), incremental=False)
        try:
            for name, data in items:
                for record in convert_blob(name, data, target, fmt, **options):
                    if "error" in record:
                        failed.append((record["id"] or record["source"], record["error"]))
                    elif state.db.execute("SELECT 1 FROM parts WHERE id = ?", (record["id"],)).fetchone():
                        failed.append((record["id"], "duplicate record id in this partition; the first copy was kept"))
                    else:
                        state.record(record["id"], "", record["source"], [], {target: record["part"]})
                        converted += 1
            staging = Staging(out)
            try:
                counts, newest = write_bulk(state.parts(target), staging, target, suffix=f".{index:05d}", manifest=False)
                staging.commit()
            except BaseException:
                staging.abort()
                raise
        finally:
            state.discard()
    files = {f"{kind}.{index:05d}.ndjson": count for kind, count in counts.items()}
    return {"partition": index, "files": files, "newest": newest, "converted": converted, "failed": failed}


def to_bulk_ndjson(bag: Any, out_dir: Union[str, Path], *, target: str = "fhir-r5-ndjson", fmt: Optional[str] = None, **options: Any) -> dict[str, Any]:
    """Convert a bag of ``(name, bytes)`` items to FHIR Bulk NDJSON under ``out_dir/<target>/``.

    Runs on whatever scheduler Dask is configured with; returns the manifest plus ``converted``
    and ``failed`` (id or source, error) over all partitions.
    """
    import dask

    if target not in ("fhir-r5-ndjson", "fhir-r4b-ndjson"):
        raise ValueError(f"target must be fhir-r5-ndjson or fhir-r4b-ndjson, not {target!r}")
    out = Path(out_dir)
    tasks = [dask.delayed(convert_partition)(part, index, str(out), target, fmt, **options) for index, part in enumerate(bag.to_delayed())]
    summaries = sorted(dask.compute(*tasks), key=lambda s: s["partition"])
    manifest = merge_partitions(out / target, target, summaries)
    return {"manifest": manifest, "converted": sum(s["converted"] for s in summaries), "failed": [f for s in summaries for f in s["failed"]]}


def merge_partitions(folder: Path, target: str, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Drop resources an earlier partition already wrote, then write the one manifest."""
    seen = Seen()
    counts: dict[str, int] = {}
    files: dict[str, list[str]] = {}
    staging = Staging(folder)
    try:
        for summary in summaries:
            for url in sorted(summary["files"]):
                kept = _filter(folder / url, seen, staging, url)
                if kept:
                    kind = url.split(".", 1)[0]
                    files.setdefault(kind, []).append(url)
                    counts[url] = kept
        newest = max((s["newest"] for s in summaries), default="")
        data = bulk_manifest(target, counts, newest, files)
        staging.open("manifest.json").write(data)
        placed = {path.name for path in staging.commit()}
    finally:
        seen.close()
        staging.abort()
    for summary in summaries:
        for url in summary["files"]:
            if url not in placed:  # every line of it was already in an earlier partition
                (folder / url).unlink(missing_ok=True)
    return json.loads(data)


def _filter(path: Path, seen: Seen, staging: Staging, url: str) -> int:
    """Copy ``path`` without the resources already seen; returns the lines kept (0: no file)."""
    kept = 0
    handle = None
    with open(path, "rb") as source:
        for line in source:
            match = _PREFIX.match(line)
            if match:
                key = match.group(1) + b"/" + match.group(2)
            else:
                resource = json.loads(line)
                key = f"{resource['resourceType']}/{resource['id']}".encode("utf-8")
            if not seen.first(key):
                continue
            if handle is None:
                handle = staging.open(url)
            handle.write(line)
            kept += 1
    return kept


def bag_of_files(paths: Iterable[Union[str, Path]], npartitions: int = 8) -> Any:
    """A bag of ``(name, bytes)``, one item per file, read on the workers."""
    import dask.bag as db

    return db.from_sequence([str(p) for p in paths], npartitions=npartitions).map(lambda p: (p, Path(p).read_bytes()))


def bag_of_ndjson(path: Union[str, Path], blocksize: Union[int, str] = "64MiB") -> Any:
    """A bag of ``(name, bytes)``, one item per line of an NDJSON dump, split in byte blocks that
    the workers read themselves (``dask.bag.read_text``)."""
    import dask.bag as db

    name = str(path)
    return db.read_text(name, blocksize=blocksize, encoding="utf-8").filter(lambda line: line.strip()).map(lambda line: (name, line.encode("utf-8")))
