"""trialconv command line: convert, validate, explain, formats."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .api import Result, iter_convert
from .bulk import AGGREGATORS, FOLDER_ONLY
from .errors import ConversionError
from .output import LockedError, OutputLock, WriteFailure, commit_files, file_mode, remove_stale_temps, temp_path
from .progress import progress_display
from .readers.sources import SkippedInput
from .safety import for_terminal
from .state import IdRegistry, RunState
from .writers import writers
from .writers.fhir.common import BUNDLE_TYPES

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Convert clinical trial records to validated FHIR and CDISC.")
err = Console(stderr=True)

TARGETS_HELP = f"Target(s): {', '.join(writers())}, all (repeat or comma-separate)"


def all_targets() -> list[str]:
    """What ``--to all`` means: every registered writer marked as part of it, in registry order."""
    return [name for name, writer in writers().items() if writer.in_all]


@app.callback()
def main() -> None:
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


class Interrupted(Exception):
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
            say(f"[yellow]SKIPPED[/yellow] {shown(result.error)}")
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
            for data in files.values():
                sys.stdout.buffer.write(data)
            written = list(files)
        else:
            try:
                written = [str(path.relative_to(self.out_dir)) for path in commit_files(self.out_dir, files)]
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
                commit_files(self.out_dir, stacked)
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
    inputs: list[str] = typer.Argument(..., help="Files, directories (recursive), zip archives, or - for stdin"),
    to: list[str] = typer.Option(["fhir-r5"], "--to", "-t", help=TARGETS_HELP),
    out: str = typer.Option("out", "--out", "-o", help="Output folder, or - to print to stdout"),
    from_format: Optional[str] = typer.Option(None, "--from", "-f", help="Force the input format (see `trialconv formats`)"),
    bundle_type: str = typer.Option("collection", "--bundle-type", help="FHIR Bundle type: collection or transaction"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display and no summary table (errors are still printed)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Per-record NDJSON report (default: OUT/trialconv-report.ndjson)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes for building and validating (reading stays ordered)"),
    record_timeout: float = typer.Option(DEFAULT_RECORD_TIMEOUT, "--record-timeout", min=0.0,
                                         help="Seconds one record may take before it is reported failed and the batch goes on (0: no limit)"),
    record_memory: int = typer.Option(DEFAULT_RECORD_MEMORY_MB, "--record-memory", min=0,
                                      help="Megabytes of memory a worker may add for one record (0: no limit)"),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks", help="Read symbolic links that lead outside an input folder"),
    incremental: bool = typer.Option(False, "--incremental", help="Skip inputs unchanged since the last run into --out (same bytes, targets, "
                                     "options and converter version); records gone from the input are listed in the report"),
    prune: bool = typer.Option(False, "--prune", help="With --incremental: remove the outputs of records gone from the input"),
) -> None:
    """Convert trial records; invalid output is never written. Exit code 1 when any record failed,
    2 when the run could not start, 3 when output could not be written, 130/143 when interrupted."""
    targets = _targets(to)
    if bundle_type not in BUNDLE_TYPES:
        raise typer.BadParameter(f"--bundle-type must be {' or '.join(BUNDLE_TYPES)}")
    _check_from(from_format)
    to_stdout = out == "-"
    if to_stdout and (incremental or any(t in FOLDER_ONLY for t in targets)):
        raise typer.BadParameter("--incremental and the Bulk NDJSON targets write to an output folder, not stdout", param_hint="--out")
    if prune and not incremental:
        raise typer.BadParameter("--prune goes with --incremental", param_hint="--prune")
    out_dir = Path(out)
    report_path = report or (None if to_stdout else out_dir / "trialconv-report.ndjson")
    lock = _lock(out_dir) if not to_stdout else None
    try:
        lines = ReportWriter(report_path).open()
    except OSError as error:
        if lock is not None:
            lock.release()
        _cannot_write(error, report_path)
    run_state = None
    if not to_stdout and (incremental or any(t in AGGREGATORS for t in targets)):
        run_state = RunState(out_dir, targets, {"bundle_type": bundle_type}, incremental=incremental, prune=prune, report=lines.note)
    batch = Batch(None if to_stdout else out_dir, lines, _finishers(targets), run_state)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
    for sig in previous:
        signal.signal(sig, batch.on_signal)
    interrupted: Optional[Interrupted] = None
    results = iter_convert(inputs, targets, fmt=from_format, jobs=jobs, bundle_type=bundle_type, record_timeout=record_timeout or None,
                           record_memory_mb=record_memory or None, follow_symlinks=follow_symlinks,
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


def _display(name: Optional[str]) -> Optional[str]:
    return None if name is None else for_terminal(name)


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
        trial = result.trial
        line = {
            "id": trial.id if trial else _display(getattr(result.error, "record", None)),
            "source": trial.provenance.source_file if trial else None,
            "format": trial.provenance.source_format if trial else None,
            "status": status or ("converted" if result.ok else "failed"),
            "outputs": sorted(outputs),
            "warnings": result.warnings,
            "unmapped": list(trial.provenance.unmapped) if trial else [],
            "inferred": list(trial.provenance.inferred) if trial else [],
            "notes": result.notes if result.ok else [],
        }
        if result.error is not None:
            line["error"] = str(result.error)
            if result.error.stage:
                line["stage"] = result.error.stage
        self.handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def note(self, line: dict) -> None:
        """A report line for a record not converted this run (unchanged, gone, pruned)."""
        if self.handle is not None:
            self.handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        """Flush, sync and rename the report into place (raises OSError when the disk refuses)."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            try:
                handle.flush()
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


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="FHIR JSON files (Bundle or single resources) or CDISC USDM JSON files"),
    fhir_version: str = typer.Option("R5", "--fhir-version", help="R5 or R4B"),
) -> None:
    """Validate existing FHIR or USDM JSON exactly as trialconv validates its own output.

    A file with ``usdmVersion`` and ``study`` is USDM: schema, references and the USDM rules. Every
    finding is printed; the file is invalid when it has a schema or reference error or a rule finding
    outside the registry-lacks list of docs/usdm.md (those are printed as warnings).
    """
    from .api import NESTED_TOO_DEEPLY
    from .validate.fhir import validate_file

    bad = 0
    for path in files:
        try:
            usdm = _usdm_problems(path)
            problems = usdm if usdm is not None else validate_file(path, fhir_version.upper())
        except RecursionError:
            problems = [NESTED_TOO_DEEPLY]
        failing = [p for p in problems if not _is_warning(p)]
        if failing:
            bad += 1
            say(f"[red]INVALID[/red] {shown(path)}: {len(problems)} problem(s)")
        elif problems:
            say(f"[yellow]valid, with warnings[/yellow] {shown(path)}: {len(problems)}")
        else:
            say(f"[green]valid[/green] {shown(path)}")
        for problem in problems[:50]:
            err.print(f"  {for_terminal(problem)}", markup=False, highlight=False)
    if bad:
        raise typer.Exit(1)


def _usdm_problems(path: Path) -> Optional[list[str]]:
    """The USDM problems of ``path`` when it is a USDM file, else None (then it is checked as FHIR)."""
    from .validate import usdm

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not usdm.is_usdm(document):
        return None
    report = usdm.validate_document(document)
    allowed = usdm.registry_lacks()
    return report.errors + [f"warning: {f}" if f.rule in allowed else str(f) for f in report.findings]


def _is_warning(problem: str) -> bool:
    return problem.startswith("warning: ")


@app.command()
def explain(
    inputs: list[str] = typer.Argument(..., help="Trial records to explain"),
    from_format: Optional[str] = typer.Option(None, "--from", "-f", help="Force the input format"),
) -> None:
    """Show, per criterion, what trialconv understood — for a person to review at a glance.
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
        typer.echo(for_terminal(explain_criteria(elig.criteria)))
        for warning in trial.provenance.warnings:
            typer.echo(for_terminal(f"  warning: {warning}"))
        typer.echo("")
    if explained == 0:
        raise typer.Exit(1)


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
def schema() -> None:
    """Print the JSON schema of the canonical trial model."""
    from .model import trial_json_schema

    typer.echo(json.dumps(trial_json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    app()
