"""The README's main job: every bundled sample converts to every target, and no page boilerplate
(contact forms, FAQs, template placeholders) reaches any output file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from converter.cli import app
from test_pages_seeds import BOILERPLATE

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(app, ["convert", str(SAMPLES), "--to", "all", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_every_sample_converts_to_every_target(converted: Path) -> None:
    samples = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    bundles = sorted(converted.glob("*.fhir-r5.json"))
    assert len(samples) == 7 and len(bundles) == len(samples)
    assert len(list(converted.glob("*.fhir-r4b.json"))) == len(samples)
    for bundle in bundles:
        trial_dir = converted / bundle.name.split(".fhir-r5.json")[0]
        assert {"ts.json", "ts.xpt", "ts.csv", "ti.json", "ta.json", "te.json", "synopsis.html", "synopsis.md"} <= {p.name for p in trial_dir.iterdir()}


def test_seed_pages_keep_their_registry_ids(converted: Path) -> None:
    names = {p.name for p in converted.glob("*.fhir-r5.json")}
    assert {"NCT04158843.fhir-r5.json", "NCT07132502.fhir-r5.json"} <= names


def test_no_boilerplate_in_any_output(converted: Path) -> None:
    leaks = []
    for path in converted.rglob("*"):
        if path.is_file() and path.suffix not in (".xpt", ".sqlite"):  # binary: XPORT, the batch state
            text = path.read_text(encoding="utf-8")
            leaks.extend(f"{path.name}: {phrase}" for phrase in BOILERPLATE if phrase in text)
    assert not leaks
