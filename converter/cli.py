"""trialconv command line: convert, validate, explain, formats."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .api import iter_convert
from .errors import ConversionError
from .output import write_atomic
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


@app.command()
def convert(
    inputs: list[str] = typer.Argument(..., help="Files, directories (recursive), zip archives, or - for stdin"),
    to: list[str] = typer.Option(["fhir-r5"], "--to", "-t", help=TARGETS_HELP),
    out: str = typer.Option("out", "--out", "-o", help="Output folder, or - to print to stdout"),
    from_format: Optional[str] = typer.Option(None, "--from", "-f", help="Force the input format (see `trialconv formats`)"),
    bundle_type: str = typer.Option("collection", "--bundle-type", help="FHIR Bundle type: collection or transaction"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
    report: Optional[Path] = typer.Option(None, "--report", help="Per-record NDJSON report (default: OUT/trialconv-report.ndjson)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes for building and validating (reading stays ordered)"),
) -> None:
    """Convert trial records; invalid output is never written. Exit code 1 when any record failed."""
    targets = _targets(to)
    if bundle_type not in BUNDLE_TYPES:
        raise typer.BadParameter(f"--bundle-type must be {' or '.join(BUNDLE_TYPES)}")
    to_stdout = out == "-"
    out_dir = Path(out)
    converted = failed = warnings = files = 0
    finishers = _finishers(targets)
    batches: dict[str, list] = {w.name: [] for w in finishers}  # only kept for targets that stack a batch
    report_path = report or (None if to_stdout else out_dir / "trialconv-report.ndjson")
    lines = ReportWriter(report_path)
    with lines, Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                         console=err, transient=True, disable=quiet or to_stdout) as progress:
        task = progress.add_task("converting", total=None)
        for result in iter_convert(inputs, targets, fmt=from_format, jobs=jobs, bundle_type=bundle_type):
            progress.advance(task)
            lines.add(result)
            if not result.ok:
                failed += 1
                err.print(f"[red]FAILED[/red] {escape(str(result.error))}", highlight=False, soft_wrap=True)
                continue
            converted += 1
            warnings += len(result.warnings)
            for written in result.outputs.values():
                for name, data in written.files.items():
                    if to_stdout:
                        sys.stdout.buffer.write(data)
                    else:
                        write_atomic(out_dir, name, data)
                    files += 1
            for name, batch in batches.items():
                batch.append(result.outputs[name])
    for writer in finishers:
        batch = batches[writer.name]
        if len(batch) > 1 and not to_stdout:
            try:
                stacked = writer.finish(batch)  # type: ignore[misc]
            except ConversionError as error:
                failed += 1
                err.print(f"[red]FAILED[/red] {writer.name} batch: {escape(str(error))}", highlight=False, soft_wrap=True)
                continue
            for name, data in stacked.items():
                write_atomic(out_dir, name, data)
                files += 1
    _summary(converted, failed, warnings, files, "stdout" if to_stdout else str(out_dir))
    if failed or converted == 0:
        raise typer.Exit(1)


class ReportWriter:
    """One JSON line per record (id, source, status, warnings, unmapped, notes, error), written to a
    temp file and renamed into place at the end so a crashed run never leaves half a report."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.handle = None
        self.temp: Optional[Path] = None

    def __enter__(self) -> "ReportWriter":
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.temp = self.path.with_name(f".{self.path.name}.tmp")
            self.handle = open(self.temp, "w", encoding="utf-8", errors="backslashreplace")
        return self

    def add(self, result) -> None:
        if self.handle is None:
            return
        trial = result.trial
        line = {
            "id": trial.id if trial else getattr(result.error, "record", None),
            "source": trial.provenance.source_file if trial else None,
            "format": trial.provenance.source_format if trial else None,
            "status": "converted" if result.ok else "failed",
            "outputs": sorted(name for written in result.outputs.values() for name in written.files),
            "warnings": result.warnings,
            "unmapped": list(trial.provenance.unmapped) if trial else [],
            "inferred": list(trial.provenance.inferred) if trial else [],
            "notes": result.notes,
        }
        if result.error is not None:
            line["error"] = str(result.error)
        self.handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()
            os.replace(self.temp, self.path)


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
    from .validate.fhir import validate_file

    bad = 0
    for path in files:
        usdm = _usdm_problems(path)
        problems = usdm if usdm is not None else validate_file(path, fhir_version.upper())
        failing = [p for p in problems if not _is_warning(p)]
        if failing:
            bad += 1
            err.print(f"[red]INVALID[/red] {escape(str(path))}: {len(problems)} problem(s)", highlight=False)
        elif problems:
            err.print(f"[yellow]valid, with warnings[/yellow] {escape(str(path))}: {len(problems)}", highlight=False)
        else:
            err.print(f"[green]valid[/green] {escape(str(path))}", highlight=False)
        for problem in problems[:50]:
            err.print(f"  {problem}", markup=False, highlight=False)
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
    """Show, per criterion, what trialconv understood — for a person to review at a glance."""
    from .eligibility import explain as explain_criteria
    from .readers import read_source

    failed = False
    for trial in read_source(inputs, from_format, on_error=lambda e: err.print(f"[red]FAILED[/red] {escape(str(e))}", highlight=False)):
        typer.echo(f"# {trial.id} — {trial.title}")
        elig = trial.eligibility
        facts = [f"sex={elig.sex}" if elig.sex else None,
                 f"min age={elig.minimum_age.as_text()}" if elig.minimum_age else None,
                 f"max age={elig.maximum_age.as_text()}" if elig.maximum_age else None,
                 f"healthy volunteers={elig.healthy_volunteers}" if elig.healthy_volunteers is not None else None]
        typer.echo("  " + ", ".join(f for f in facts if f))
        typer.echo(explain_criteria(elig.criteria))
        for warning in trial.provenance.warnings:
            typer.echo(f"  warning: {warning}")
        typer.echo("")
    if failed:
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
