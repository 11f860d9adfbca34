"""trialconv command line (typer)."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Convert clinical trial records to FHIR and CDISC.")


@app.callback()
def main() -> None:
    """Convert clinical trial records to FHIR and CDISC."""


@app.command()
def formats() -> None:
    """List the input formats trialconv can read."""
    from .readers import readers

    for name, reader in sorted(readers().items()):
        typer.echo(f"{name:14} {reader.description}")


if __name__ == "__main__":
    app()
