"""trialconv command line: convert, validate, explain, formats."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from pathlib import Path
from typing import Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .api import REPORT_NAME, TRANSACTION_MODES, Result, all_targets, iter_convert, report_text
from .bulk import AGGREGATORS
from .errors import ConversionError
from .output import LockedError, OutputLock, WriteFailure, commit_files, file_mode, remove_stale_temps, sync_all, temp_path
from .progress import progress_display
from .readers.sources import SkippedInput
from .safety import for_terminal
from .state import IdRegistry, RunState
from .writers import writers
from .writers.fhir.common import BUNDLE_TYPES

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="Convert clinical trial records to validated FHIR and CDISC.")
err = Console(stderr=True)

TARGETS_HELP = f"Target(s): {', '.join(writers())}, all (repeat or comma-separate)"
# Targets whose every output is JSON, so ``--out -`` can print them as NDJSON (CDISC: its Dataset-JSON).
NDJSON_TARGETS = ("fhir-r5", "fhir-r4b", "cdisc", "usdm", "trial-json")


def _reader_names() -> list[str]:
    from .readers import readers

    return sorted(readers())


# Choices shown in --help and checked by the parser (an unknown one is a usage error, exit 2).
ReaderName = Literal[tuple(_reader_names())]  # type: ignore[valid-type]
BundleType = Literal[BUNDLE_TYPES]  # type: ignore[valid-type]
TransactionMode = Literal[TRANSACTION_MODES]  # type: ignore[valid-type]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"trialconv {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                      help="Print the version and exit")) -> None:
    """Convert clinical trial records to validated FHIR and CDISC."""


def _targets(to: list[str]) -> list[str]:
    chosen: list[str] = []
    for item in to:
        for name in item.split(","):
            name = name.strip()
            expanded = all_targets() if name == "all" else [name]
            chosen.extend(t for t in expanded if t not in chosen)
    unknown = [t for t in chosen if t not in writers()]
    if unknown:
        raise typer.BadParameter(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(writers()))}, all")
    return chosen


def _check_stdout(targets: list[str]) -> None:
    """``--out -`` prints NDJSON: refuse, before any work, targets that are not JSON documents."""
    other = [t for t in targets if t not in NDJSON_TARGETS]
    if other:
        raise typer.BadParameter(f"--out - writes NDJSON (one JSON document per line); {', '.join(other)} is not JSON: "
                                 f"write it to a folder (JSON targets: {', '.join(NDJSON_TARGETS)})", param_hint="--to")


def ndjson_lines(result: Result) -> list[bytes]:
    """A converted record as NDJSON lines: each Bundle, USDM or trial JSON, and each CDISC dataset
    as its Dataset-JSON document, compact on one line."""
    lines: list[bytes] = []
    for name, written in result.outputs.items():
        documents = list(written.value["datasets"].values()) if name == "cdisc" else [written.value]
        lines.extend((json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8") for document in documents)
    return lines


def _summary(converted: int, failed: int, warnings: int, written: int, out: str) -> None:
    table = Table(title="trialconv convert", show_header=True)
    for column in ("converted", "failed", "warnings", "files written", "output"):
        table.add_column(column)
    table.add_row(str(converted), str(failed), str(warnings), str(written), out)
    err.print(table)


# Exit codes: 1 some record failed; 2 refused to start (bad option, --out busy); 3 output could not
# be written (disk full, read-only folder); 130/143 interrupted by SIGINT/SIGTERM.
EXIT_OUTPUT = 3
DEFAULT_RECORD_TIMEOUT = 300.0
DEFAULT_RECORD_MEMORY_MB = 4096


def say(message: str) -> None:
    """One line on stderr; registry text in it is escaped for the terminal (no escape sequences,
    bidi overrides or zero-width characters reach it) and for Rich markup."""
    err.print(message, highlight=False, soft_wrap=True)


def shown(text: object) -> str:
    """Untrusted text (ids, file names, messages) made safe to print inside a Rich markup line."""
    return escape(for_terminal(text))


class Interrupted(BaseException):  # like KeyboardInterrupt: no `except Exception` (a reader's, a writer's) may swallow it
    """SIGINT/SIGTERM arrived; raised at a point where no record is half written."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Batch:
    """The CLI side of one convert run: writes each record's files all together, then its report
    line from what was really written; refuses duplicate and case-colliding ids; stacks only
    records whose files are complete."""

    def __init__(self, out_dir: Optional[Path], report: "ReportWriter", finishers: list, run_state=None) -> None:
        self.out_dir = out_dir
        self.report = report
        self.run_state = run_state  # converter.state.RunState: parts on disk, incremental runs
        if run_state is not None:  # these batch files are merged from parts on disk, not kept in memory
            finishers = [w for w in finishers if w.name not in {a.target for a in run_state.aggregators}]
        self.batches: dict[str, list] = {w.name: [] for w in finishers}
        self.finishers = finishers
        self.seen = IdRegistry()  # casefolded id → the id and source that took it (on disk: no memory per record)
        self.converted = self.failed = self.skipped = self.warnings = self.files = 0
        self.write_failures = 0
        self.first_write_failure: Optional[WriteFailure] = None
        self.in_commit = False
        self.pending_signal: Optional[int] = None
        self.quiet = False

    def on_signal(self, signum: int, frame: object) -> None:
        if self.in_commit:
            self.pending_signal = signum  # the record being placed is finished first
        else:
            raise Interrupted(signum)

    def take(self, result) -> None:
        self.in_commit = True
        try:
            self._take(result)
        finally:
            self.in_commit = False
        if self.pending_signal is not None:
            raise Interrupted(self.pending_signal)

    def _take(self, result) -> None:
        if isinstance(result.error, SkippedInput):
            self.skipped += 1
            say(f"[yellow]SKIPPED[/yellow] {shown(result.error)}")  # an input not read: shown even with --quiet
            self.report.add(result, [], status="skipped")
            return
        if result.ok:
            clash = self._clash(result.trial)
            if clash:
                result = Result(result.trial, error=ConversionError(clash, record=result.trial.id, field="id", stage="batch"))
        if not result.ok:
            self.failed += 1
            say(f"[red]FAILED[/red] {shown(result.error)}")
            self.report.add(result, [])
            if self.run_state is not None:
                self.run_state.failed(result)
            return
        files = {name: data for written in result.outputs.values() for name, data in written.files.items()}
        if self.out_dir is None:
            for line in ndjson_lines(result):
                sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            written = list(files)
        else:
            try:
                written = [str(path.relative_to(self.out_dir)) for path in commit_files(self.out_dir, files, sync=False)]
            except WriteFailure as failure:
                self._write_failed(result, failure)
                return
        self.seen[result.trial.id.casefold()] = f"{result.trial.id} (from {result.trial.provenance.source_file})"
        self.converted += 1
        self.warnings += len(result.warnings)
        self.files += len(written)
        self.report.add(result, written)
        if self.run_state is not None:
            self.run_state.converted(result, written)
        for name, batch in self.batches.items():
            batch.append(result.outputs[name])

    def _clash(self, trial) -> Optional[str]:
        """Why this record may not be written: its id (or the same id in other letter case, which
        is one file on a case-insensitive disk) was already converted in this batch."""
        earlier = self.seen.get(trial.id.casefold())
        if earlier is None:
            return None
        if earlier.split(" ", 1)[0] == trial.id:
            return f"duplicate record id in this batch: {earlier} was already converted; this copy was not written"
        return f"record id differs only in letter case from {earlier}, which would share its files on a case-insensitive disk; not written"

    def _write_failed(self, result, failure: WriteFailure) -> None:
        self.failed += 1
        self.write_failures += 1
        error = ConversionError(f"cannot write {failure.path}: {failure.strerror}; none of this record's files were kept", record=result.trial.id, stage="write")
        self.report.add(Result(result.trial, error=error), [])
        if self.first_write_failure is None:
            self.first_write_failure = failure
            say(f"[red]CANNOT WRITE[/red] record {shown(result.trial.id)}: {shown(failure.path)}: {shown(failure.strerror)} — {failure.advice()}")

    def finish(self) -> None:
        """Stacked files (e.g. CDISC over all trials), from the records whose files were all written."""
        if self.out_dir is None:
            return
        if self.run_state is not None:
            try:
                self.files += self.run_state.finish()
            except ConversionError as error:
                self.failed += 1
                say(f"[red]FAILED[/red] batch files: {shown(error)}")
            except WriteFailure as failure:
                self.write_failures += 1
                if self.first_write_failure is None:
                    self.first_write_failure = failure
                    say(f"[red]CANNOT WRITE[/red] batch files: {shown(failure.path)}: {shown(failure.strerror)} — {failure.advice()}")
        for writer in self.finishers:
            batch = self.batches[writer.name]
            if len(batch) <= 1:
                continue
            try:
                stacked = writer.finish(batch)
                commit_files(self.out_dir, stacked, sync=False)
            except ConversionError as error:
                self.failed += 1
                say(f"[red]FAILED[/red] {writer.name} batch: {shown(error)}")
                continue
            except WriteFailure as failure:
                self.write_failures += 1
                if self.first_write_failure is None:  # one line per run: later failures have the same cause
                    self.first_write_failure = failure
                    say(f"[red]CANNOT WRITE[/red] {writer.name} batch: {shown(failure.path)}: {shown(failure.strerror)} — {failure.advice()}")
                continue
            self.files += len(stacked)


@app.command()
def convert(
    inputs: list[str] = typer.Argument(..., metavar="INPUT", hidden=True),
    to: list[str] = typer.Option(["fhir-r5"], "--to", "-t", metavar="TARGET", help=TARGETS_HELP),
    out: str = typer.Option("out", "--out", "-o", metavar="DIR", help="Output folder, or - to print to stdout"),
    from_format: Optional[ReaderName] = typer.Option(None, "--from", "-f",
                                              help="Force the input format instead of detecting it (see `trialconv formats`)"),
    bundle_type: BundleType = typer.Option("collection", "--bundle-type", help="FHIR Bundle type"),
    transaction_mode: TransactionMode = typer.Option("create", "--transaction-mode",
                                         help="In a transaction Bundle: create (POST, if none exists) or update (conditional PUT on the identifier)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (no progress, no summary)"),
    report: Optional[Path] = typer.Option(None, "--report", metavar="FILE", help="Per-record NDJSON report (default: OUT/trialconv-report.ndjson)"),
    jobs: int = typer.Option(1, "--jobs", "-j", metavar="N", min=1, help="Worker processes for building and validating (reading stays ordered)"),
    record_timeout: float = typer.Option(DEFAULT_RECORD_TIMEOUT, "--record-timeout", metavar="SECONDS", min=0.0,
                                         help="Seconds one record may take before it is reported failed and the batch goes on (0: no limit)"),
    record_memory: int = typer.Option(DEFAULT_RECORD_MEMORY_MB, "--record-memory", metavar="MB", min=0,
                                      help="Megabytes of memory a worker may add for one record (0: no limit)"),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks", help="Read symbolic links that lead outside an input folder"),
    strict: bool = typer.Option(False, "--strict", help="Also validate every FHIR resource with fhir.resources and pure-Python jsonschema (the oracle; about 10x slower)"),
    incremental: bool = typer.Option(False, "--incremental", help="Skip inputs unchanged since the last run into --out (same bytes, targets, "
                                     "options and converter version); records gone from the input are listed in the report"),
    prune: bool = typer.Option(False, "--prune", help="With --incremental: remove the outputs of records gone from the input"),
) -> None:
    """Convert trial records (INPUT: files, folders walked recursively, zip archives, or - for stdin);
    invalid output is never written. Exit code 1 when any record failed, 2 when the run could not
    start, 3 when output could not be written, 130/143 when interrupted."""
    targets = _targets(to)
    if bundle_type not in BUNDLE_TYPES:
        raise typer.BadParameter(f"--bundle-type must be {' or '.join(BUNDLE_TYPES)}")
    _check_from(from_format)
    to_stdout = out == "-"
    if to_stdout:
        _check_stdout(targets)
        if incremental:
            raise typer.BadParameter("--incremental keeps its state in an output folder, not stdout", param_hint="--out")
    if prune and not incremental:
        raise typer.BadParameter("--prune goes with --incremental", param_hint="--prune")
    out_dir = Path(out)
    report_path = report or (None if to_stdout else out_dir / REPORT_NAME)
    lock = _lock(out_dir) if not to_stdout else None
    try:
        lines = ReportWriter(report_path).open()
    except OSError as error:
        if lock is not None:
            lock.release()
        _cannot_write(error, report_path)
    run_state = None
    if not to_stdout and (incremental or any(t in AGGREGATORS for t in targets)):
        run_state = RunState(out_dir, targets, {"bundle_type": bundle_type, "transaction_mode": transaction_mode},
                             incremental=incremental, prune=prune, report=lines.note)
    batch = Batch(None if to_stdout else out_dir, lines, _finishers(targets), run_state)
    batch.quiet = quiet
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
    for sig in previous:
        signal.signal(sig, batch.on_signal)
    interrupted: Optional[Interrupted] = None
    results = iter_convert(inputs, targets, fmt=from_format, jobs=jobs, bundle_type=bundle_type, transaction_mode=transaction_mode,
                           record_timeout=record_timeout or None,
                           record_memory_mb=record_memory or None, follow_symlinks=follow_symlinks, strict=strict,
                           keep_input=run_state.keep if run_state is not None else None)
    try:
        progress, task = progress_display(err, enabled=not (quiet or to_stdout), inputs=inputs)
        with progress:
            for result in results:
                batch.take(result)
                progress.update(task, completed=batch.converted + batch.failed + batch.skipped + (run_state.unchanged if run_state else 0))
    except Interrupted as signalled:
        interrupted = signalled
    finally:
        batch.in_commit = True  # a signal from here on only marks the run interrupted
        try:
            results.close()
            if interrupted is None:
                batch.finish()
            elif run_state is not None:
                run_state.abandon()
            lines.close()
        except OSError as error:
            lines.discard()
            say(f"[red]CANNOT WRITE[/red] the report {shown(report_path)}: {shown(error.strerror or error)} — "
                f"{WriteFailure(error, Path(str(report_path))).advice()}")
            batch.write_failures += 1
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if lock is not None:
                lock.release()
    interrupted = interrupted or (Interrupted(batch.pending_signal) if batch.pending_signal else None)
    if not quiet:
        _summary(batch.converted, batch.failed, batch.warnings, batch.files, "stdout" if to_stdout else shown(out_dir))
    if interrupted is not None:
        say(f"[yellow]INTERRUPTED[/yellow] by {interrupted}: the report lists the {batch.converted + batch.failed + batch.skipped} "
            "record(s) finished; every record it calls converted has all its files. Rerun to convert the rest.")
        raise typer.Exit(128 + interrupted.signum)
    if batch.write_failures:
        if batch.write_failures > 1:
            say(f"[red]{batch.write_failures} record(s) or batch file(s) could not be written[/red] (see the report)")
        raise typer.Exit(EXIT_OUTPUT)
    if batch.failed or batch.converted + (run_state.unchanged if run_state else 0) == 0:
        raise typer.Exit(1)


def _check_from(from_format: Optional[str]) -> None:
    from .readers import readers

    if from_format is not None and from_format not in readers():
        raise typer.BadParameter(f"unknown input format {from_format!r}; known: {', '.join(sorted(readers()))}", param_hint="--from")


def _cannot_write(error: OSError, where: object) -> None:
    where = error.filename or where
    say(f"[red]CANNOT WRITE[/red] {shown(where)}: {shown(error.strerror or error)} — {WriteFailure(error, Path(str(where))).advice()}")
    raise typer.Exit(EXIT_OUTPUT) from None


def _lock(out_dir: Path) -> Optional[OutputLock]:
    """Hold ``--out`` for this run and clear what a killed run left there. A folder nobody can write
    (read-only) needs no lock: the run goes on and reports every record it cannot write."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _cannot_write(error, out_dir)
    try:
        lock = OutputLock(out_dir).acquire()
    except LockedError as error:
        say(f"[red]REFUSED[/red] {shown(error)}")
        raise typer.Exit(2) from None
    except OSError as error:
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return None
        _cannot_write(error, out_dir)
    remove_stale_temps(out_dir)
    return lock


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class ReportWriter:
    """One JSON line per record (id, source, status, outputs, warnings, unmapped, notes, error),
    written after the record's files from what was really written, to a temp file with a per-run
    name that is renamed into place at the end, so no run ever leaves half a report or cuts another's."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.handle = None
        self.temp: Optional[Path] = None

    def open(self) -> "ReportWriter":
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.temp = temp_path(self.path)
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
            self.handle = open(fd, "w", encoding="utf-8", errors="backslashreplace")
        return self

    def add(self, result, outputs: list[str], status: Optional[str] = None) -> None:
        if self.handle is None:
            return
        self.handle.write(report_text(result.report_line(outputs, status)))

    def note(self, line: dict) -> None:
        """A report line for a record not converted this run (unchanged, gone, pruned)."""
        if self.handle is not None:
            self.handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        """Flush, sync (with every output file of the run: one sync per batch, not one per file) and
        rename the report into place (raises OSError when the disk refuses)."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            try:
                handle.flush()
                sync_all()
                os.fsync(handle.fileno())
            finally:
                handle.close()
            os.replace(self.temp, self.path)

    def discard(self) -> None:
        """Remove the temp report after a failure to write it (no half report is ever left)."""
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError:
                pass
            self.handle = None
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except OSError:
                pass


def _finishers(targets: list[str]):
    return [writers()[t] for t in targets if writers()[t].finish]


FhirVersion = Literal["auto", "R5", "R4B"]
OutputFormat = Literal["text", "json"]


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE", hidden=True),
    fhir_version: FhirVersion = typer.Option("auto", "--fhir-version", help="FHIR version; auto detects it from the resource"),
    output_format: OutputFormat = typer.Option("text", "--format", help="text for people, json for machines (one document on stdout)"),
    house_rules: bool = typer.Option(False, "--house-rules", help="Also fail on trialconv's own rules beyond the standard (a narrative on every ResearchStudy, references resolving inside the Bundle)"),
) -> None:
    """Validate existing FHIR (JSON or NDJSON), USDM or Dataset-JSON files as trialconv validates its own output.

    FHIR is judged by the standard (R5 or R4B, detected from the resource unless --fhir-version);
    trialconv's house rules are warnings unless --house-rules. USDM: schema, references and the USDM
    rules (registry-lacks findings of docs/usdm.md are warnings). Dataset-JSON: the CDISC v1.1
    schema and row/column consistency. Exit code 1 when any file is invalid.
    """
    from .judge import judge_file

    version = None if fhir_version == "auto" else fhir_version
    verdicts = [judge_file(path, fhir_version=version, house_rules=house_rules) for path in files]
    if output_format == "json":
        typer.echo(json.dumps([verdict.to_json() for verdict in verdicts], ensure_ascii=False, indent=2))
    else:
        for verdict in verdicts:
            _print_verdict(verdict)
    if any(not verdict.valid for verdict in verdicts):
        raise typer.Exit(1)


def _print_verdict(verdict) -> None:
    """One status line, then each finding on its own unwrapped line (paths stay whole for grep)."""
    if verdict.errors:
        say(f"[red]INVALID[/red] {shown(verdict.name)} ({verdict.kind}): {len(verdict.errors)} problem(s)")
    elif verdict.warnings:
        say(f"[yellow]valid, with warnings[/yellow] {shown(verdict.name)} ({verdict.kind}): {len(verdict.warnings)}")
    else:
        say(f"[green]valid[/green] {shown(verdict.name)} ({verdict.kind})")
    for problem in verdict.errors[:50]:
        err.print(f"  {for_terminal(problem)}", markup=False, highlight=False, soft_wrap=True)
    for warning in verdict.warnings[:50]:
        err.print(f"  warning: {for_terminal(warning)}", markup=False, highlight=False, soft_wrap=True)


EXPLAIN_LEGEND = ("Legend: INCL inclusion, EXCL exclusion, ???? the record does not say which; "
                  "after → what was coded, or why it stays text")


@app.command()
def explain(
    inputs: list[str] = typer.Argument(..., metavar="INPUT", hidden=True),
    from_format: Optional[ReaderName] = typer.Option(None, "--from", "-f", help="Force the input format"),
) -> None:
    """Show, per criterion of each INPUT (trial records), what trialconv understood — for a person to review at a glance.
    Exit code 1 when no input could be read."""
    from .eligibility import explain as explain_criteria
    from .readers import read_source

    _check_from(from_format)
    failures: list[ConversionError] = []

    def failed(error: ConversionError) -> None:
        failures.append(error)
        say(f"[red]FAILED[/red] {shown(error)}")

    explained = 0
    for trial in read_source(inputs, from_format, on_error=failed):
        explained += 1
        typer.echo(for_terminal(f"# {trial.id} — {trial.title}"))
        elig = trial.eligibility
        facts = [f"sex={elig.sex}" if elig.sex else None,
                 f"min age={elig.minimum_age.as_text()}" if elig.minimum_age else None,
                 f"max age={elig.maximum_age.as_text()}" if elig.maximum_age else None,
                 f"healthy volunteers={elig.healthy_volunteers}" if elig.healthy_volunteers is not None else None]
        typer.echo("  " + ", ".join(f for f in facts if f))
        typer.echo(for_terminal(explain_criteria(elig.criteria, trial.conditions)))
        for warning in trial.provenance.warnings:
            typer.echo(for_terminal(f"  warning: {warning}"))
        typer.echo("")
    if explained == 0:
        raise typer.Exit(1)
    typer.echo(EXPLAIN_LEGEND)


@app.command()
def formats() -> None:
    """List input formats and output targets."""
    from .readers import readers

    typer.echo("Input formats (--from):")
    for name, reader in sorted(readers().items()):
        typer.echo(f"  {name:18} {reader.description}")
    typer.echo("Output targets (--to):")
    for name, writer in sorted(writers().items()):
        typer.echo(f"  {name:18} {writer.description}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Address to listen on (loopback by default)"),
    port: int = typer.Option(8000, "--port", metavar="PORT", min=0, max=65535, help="Port to listen on"),
    max_body: int = typer.Option(16, "--max-body", metavar="MB", min=1, help="Largest request body accepted (413 above)"),
    time_limit: float = typer.Option(120.0, "--time-limit", metavar="SECONDS", min=1.0, help="Longest a request may run (503 after)"),
) -> None:
    """Serve trialconv over HTTP (needs the extra: pip install 'trialconv[serve]'); OpenAPI at /openapi.json."""
    import importlib.util

    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        say(f"[red]REFUSED[/red] the HTTP service needs {' and '.join(missing)}: pip install 'trialconv\\[serve]'")
        raise typer.Exit(2)
    from .service import serve as run

    run(host, port, max_body_bytes=max_body << 20, time_limit=time_limit)


@app.command()
def schema() -> None:
    """Print the JSON schema of the canonical trial model."""
    from .model import trial_json_schema

    typer.echo(json.dumps(trial_json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    app()
