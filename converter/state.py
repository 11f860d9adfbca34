"""The on-disk state of a batch in ``--out``: what each record contributed to the batch files, and
what each input was when it was last converted.

A registry-sized batch (ClinicalTrials.gov: ~560,000 studies) cannot keep every record's output in
memory to stack CDISC datasets or write FHIR Bulk NDJSON at the end. Each record's contribution (a
compressed *part*) goes to an SQLite file as the record is taken; the batch files are merged from the
parts at the end, so memory does not grow with the number of records. The same file lets
``--incremental`` skip inputs whose bytes, targets and converter version are unchanged since the
last run, and name the records that are gone from the input.

SQLite is in the standard library, is transactional (an interrupted run leaves the previous state)
and keeps its cache bounded. The file is ``OUT/.trialconv-state.sqlite``; a run works on a copy
with a per-run temp name, and an ``--incremental`` run renames it into place when it ends
normally (a plain run removes its copy: its parts were only a spill for the batch files).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Optional

from .output import temp_path

STATE_NAME = ".trialconv-state.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,          -- the record id (unique: the batch refuses case-colliding ids)
    input TEXT NOT NULL,          -- digest of the input blob it came from (+ targets, options, version)
    source TEXT,                  -- where it was read from, for the report
    files TEXT NOT NULL           -- JSON list of the per-record files written (relative to --out)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_input ON records (input);
CREATE TABLE IF NOT EXISTS parts (
    target TEXT NOT NULL,
    id TEXT NOT NULL,
    stamp TEXT NOT NULL,          -- the record's last update (ISO), for manifest/header times
    data BLOB NOT NULL,           -- zlib-compressed contribution to the target's batch files
    PRIMARY KEY (target, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
"""


@lru_cache(maxsize=1)
def converter_version() -> str:
    """The installed version plus a digest of the converter's code, mapping tables, templates and schemas:
    a development checkout changes what it writes without a version bump, and an unchanged record
    must be reconverted then too."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("trialconv")
    except PackageNotFoundError:
        release = "0"
    from .resources import schemas_dir, templates_dir

    digest = hashlib.blake2b(digest_size=12)
    package = Path(__file__).resolve().parent
    roots = [package, templates_dir(), schemas_dir()]  # code, tables, templates, vendored schemas (~10 MB: ~0.1 s)
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".j2", ".jinja", ".html", ".md", ".txt", ".xsd")):
            digest.update(str(path.relative_to(root)).encode("utf-8", "backslashreplace"))
            digest.update(path.read_bytes())
    return f"{release}+{digest.hexdigest()}"


def input_digest(data: bytes, config: str) -> str:
    """What decides whether an input must be converted again: its bytes and the run's configuration
    (targets, options, converter version)."""
    digest = hashlib.blake2b(data, digest_size=16)
    digest.update(b"\x00" + config.encode("utf-8"))
    return digest.hexdigest()


def run_config(targets: Iterable[str], options: dict) -> str:
    return json.dumps({"version": converter_version(), "targets": sorted(targets), "options": options}, sort_keys=True, default=str)


class State:
    """One run's view of ``OUT/.trialconv-state.sqlite``.

    ``incremental`` starts from the previous state (a copy, so an interrupted run leaves it as it
    was); otherwise from nothing, so the batch files hold exactly this run's records.
    """

    def __init__(self, out_dir: Path, *, incremental: bool) -> None:
        self.path = out_dir / STATE_NAME
        self.temp = temp_path(self.path)
        self.incremental = incremental
        self.keep = True
        try:
            if incremental and self.path.exists():
                shutil.copyfile(self.path, self.temp)
            self.db = sqlite3.connect(self.temp, isolation_level=None)
            self.db.execute("PRAGMA user_version").fetchone()
            self.db.execute("CREATE TABLE IF NOT EXISTS probe (x)")
        except (OSError, sqlite3.Error):  # a folder nobody can write: the run goes on (and reports what it cannot write)
            self.keep = False
            self.temp = Path(tempfile.mkdtemp(prefix="trialconv-state-")) / STATE_NAME
            self.db = sqlite3.connect(self.temp, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")  # the whole file is the transaction: renamed at the end or removed
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-16000")  # 16 MB page cache whatever the batch size
        self.db.execute("PRAGMA temp_store=FILE")
        self.db.executescript(_SCHEMA)
        previous = self._meta("schema")
        if previous not in (None, str(SCHEMA_VERSION)):  # an older layout: start over rather than misread it
            self.db.executescript("DELETE FROM records; DELETE FROM parts;")
        self.db.execute("DELETE FROM run_seen")
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        self.db.execute("BEGIN")
        self.pending = 0

    def _meta(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # ---------------------------------------------------------------- incremental bookkeeping

    def known(self, digest: str) -> list[tuple[str, Optional[str]]]:
        """The records (id, source) an unchanged input produced last time (empty: convert it)."""
        if not self.incremental:
            return []
        return self.db.execute("SELECT id, source FROM records WHERE input = ? ORDER BY id", (digest,)).fetchall()

    def seen(self, record_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO run_seen VALUES (?)", (record_id,))

    def files_of(self, record_id: str) -> list[str]:
        row = self.db.execute("SELECT files FROM records WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else []

    def record(self, record_id: str, digest: str, source: Optional[str], files: list[str], parts: dict[str, tuple[str, bytes]]) -> None:
        """A converted record: its input digest, its files and its parts (replacing older ones)."""
        self.seen(record_id)
        self.db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (record_id, digest, source, json.dumps(sorted(files))))
        self.db.execute("DELETE FROM parts WHERE id = ?", (record_id,))
        self.db.executemany("INSERT INTO parts VALUES (?, ?, ?, ?)", [(target, record_id, stamp, data) for target, (stamp, data) in parts.items()])
        self.pending += 1
        if self.pending >= 500:  # keep the page cache, not the whole batch, in memory
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self.pending = 0

    def forget(self, record_id: str) -> None:
        """A record that failed this time: it keeps no stale parts in the batch files."""
        self.db.execute("DELETE FROM records WHERE id = ?", (record_id,))
        self.db.execute("DELETE FROM parts WHERE id = ?", (record_id,))

    def gone(self) -> Iterator[tuple[str, Optional[str], list[str]]]:
        """Records of earlier runs not in this run's input: (id, source, files)."""
        cursor = self.db.execute("SELECT id, source, files FROM records WHERE id NOT IN (SELECT id FROM run_seen) ORDER BY id")
        for record_id, source, files in cursor:
            yield record_id, source, json.loads(files)

    def prune(self, record_ids: list[str]) -> None:
        for record_id in record_ids:
            self.forget(record_id)

    # ---------------------------------------------------------------- batch files

    def parts(self, target: str) -> Iterator[tuple[str, str, bytes]]:
        """(id, stamp, data) of every record's part for ``target``, in record-id order (the defined
        order of every batch file, whatever the input order, the worker count or the run history)."""
        yield from self.db.execute("SELECT id, stamp, data FROM parts WHERE target = ? ORDER BY id", (target,))

    def newest_stamp(self, target: str) -> Optional[str]:
        row = self.db.execute("SELECT MAX(stamp) FROM parts WHERE target = ?", (target,)).fetchone()
        return row[0] if row else None

    def count(self, target: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM parts WHERE target = ?", (target,)).fetchone()[0]

    # ---------------------------------------------------------------- end of run

    def commit(self) -> None:
        """Keep an ``--incremental`` run's state for the next one (renamed into place); a plain
        run's parts were only a spill for its batch files and go."""
        self.db.execute("COMMIT")
        self.db.execute("DELETE FROM run_seen")
        self.db.close()
        if not self.keep or not self.incremental:
            self.discard()
            return
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        """An interrupted or failed run: the previous state stays as it was."""
        try:
            self.db.close()
        finally:
            try:
                os.unlink(self.temp)
                if not self.keep:
                    os.rmdir(self.temp.parent)
            except OSError:
                pass


class RunState:
    """What the CLI batch keeps on disk for one run: each input's digest, each converted record's
    files and parts, the records gone from the input, and the batch files merged at the end.

    ``report`` takes a report line (dict) for records that are not converted this run: unchanged
    ones (``--incremental``) and gone ones (``gone``, or ``pruned`` with ``prune``).
    """

    def __init__(self, out_dir: Path, targets: list[str], options: dict, *, incremental: bool, prune: bool, report) -> None:
        from collections import OrderedDict

        from .bulk import AGGREGATORS

        self.out_dir = out_dir
        self.aggregators = [AGGREGATORS[t] for t in targets if t in AGGREGATORS]
        self.state = State(out_dir, incremental=incremental)
        self.incremental = incremental
        self.prune = prune
        self.report = report
        self.config = run_config(targets, options)
        self.pending: "OrderedDict[str, str]" = OrderedDict()  # input name → digest, in read order
        self.unchanged = self.gone = 0
        self.broken: Optional[BaseException] = None  # the state could not be written (disk full): no batch files
        # Batch files need merging again unless an incremental run found every input unchanged.
        self.dirty = not (incremental and self.state.path.exists())
        self.converted_count = 0

    def keep(self, item) -> bool:
        """Read ``item``? Not when an incremental run converted these same bytes with the same
        targets, options and converter version before: its records are reported unchanged."""
        digest = input_digest(item.data, self.config)
        known = self.state.known(digest)
        if not known:
            self.pending[item.name] = digest
            return True
        for record_id, source in known:
            self.state.seen(record_id)
            self.unchanged += 1
            self.report({"id": record_id, "source": source, "status": "unchanged", "outputs": self.state.files_of(record_id)})
        return False

    def _digest(self, source: Optional[str]) -> str:
        """The digest of the input ``source`` (results come back in read order, so older entries go)."""
        while self.pending and next(iter(self.pending)) != source:
            self.pending.popitem(last=False)
        return self.pending.get(source or "", "")

    def converted(self, result, files: list[str]) -> None:
        if self.broken is not None:
            return
        try:
            self._converted(result, files)
        except (OSError, sqlite3.Error) as error:
            self.broken = error

    def _converted(self, result, files: list[str]) -> None:
        self.dirty = True
        self.converted_count += 1
        trial = result.trial
        if self.incremental:
            for stale in set(self.state.files_of(trial.id)) - set(files):
                _remove(self.out_dir, stale)
        parts = {agg.target: agg.part(result.outputs[agg.target]) for agg in self.aggregators}
        self.state.record(trial.id, self._digest(trial.provenance.source_file), trial.provenance.source_file, files, parts)

    def failed(self, result) -> None:
        if result.trial is not None and self.broken is None:
            self.dirty = True
            self.state.seen(result.trial.id)
            self.state.forget(result.trial.id)

    def finish(self) -> int:
        """Report gone records (remove them with ``prune``), merge the batch files, keep the state.
        Returns the number of batch files written; raises WriteFailure with nothing placed."""
        from .bulk import Staging
        from .output import WriteFailure

        staging = Staging(self.out_dir)
        try:
            if self.broken is not None:
                raise self.broken
            return self._finish(staging)
        except WriteFailure:
            staging.abort()
            self.state.discard()
            raise
        except (OSError, sqlite3.Error) as error:
            staging.abort()
            self.state.discard()
            if isinstance(error, sqlite3.Error):
                full = "full" in str(error)
                error = OSError(errno.ENOSPC if full else errno.EIO, "No space left on device" if full else str(error), str(self.state.path))
            raise WriteFailure(error, Path(error.filename or self.state.path)) from error

    def _finish(self, staging) -> int:
        pruned: list[str] = []
        for record_id, source, files in self.state.gone():
            self.gone += 1
            if self.prune:
                for name in files:
                    _remove(self.out_dir, name)
                pruned.append(record_id)
            self.report({"id": record_id, "source": source, "status": "pruned" if self.prune else "gone", "outputs": [] if self.prune else files})
        self.state.prune(pruned)
        if not self.converted_count and not pruned and all(a.present(self.state, self.out_dir) for a in self.aggregators):
            self.state.discard()  # nothing new: --out stays exactly as the last run left it
            return 0
        self.dirty = self.dirty or bool(pruned)
        for aggregator in self.aggregators:
            if self.dirty or not aggregator.present(self.state, self.out_dir):
                aggregator.merge(self.state, staging, self.out_dir)
        placed = staging.commit()
        self.state.commit()
        return len(placed)

    def abandon(self) -> None:
        self.state.discard()


def _remove(out_dir: Path, relative: str) -> None:
    """Remove one earlier output file (a name from the state, kept inside ``out_dir``)."""
    from .output import safe_name

    try:
        os.unlink(out_dir / safe_name(relative))
    except OSError:
        pass


class IdRegistry:
    """The record ids a batch has converted (casefolded id → "id (from source)"), in a private
    on-disk SQLite table rather than a dict, so the duplicate-id check costs no memory per record."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None)  # "" = private temp file, removed on close
        self.db.execute("PRAGMA cache_size=-4000")
        self.db.execute("CREATE TABLE ids (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")

    def get(self, key: str) -> Optional[str]:
        row = self.db.execute("SELECT value FROM ids WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def __setitem__(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO ids VALUES (?, ?)", (key, value))
