"""The CLI end to end: conversion, batch failure isolation, stdout, validation command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from converter.cli import app
from test_fhir_r5_writer import _trial

runner = CliRunner()


def _write_trial(path: Path, **overrides) -> Path:
    path.write_text(json.dumps(_trial(**overrides).to_json()), encoding="utf-8")
    return path


def test_convert_writes_one_validated_bundle_per_trial(tmp_path: Path) -> None:
    source = _write_trial(tmp_path / "record")  # no extension: detected by content
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(source), "--to", "fhir-r5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == ["NCT00000042.fhir-r5.json", "trialconv-report.ndjson"]
    bundle = json.loads((out / written[0]).read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["entry"][0]["resource"]["resourceType"] == "ResearchStudy"


def test_bad_record_fails_alone_and_batch_goes_on(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    _write_trial(src / "a.json")
    broken = _trial(id="NCT00000043").to_json()
    broken["eligibility"]["sex"] = "SOMETIMES"
    (src / "b.json").write_text(json.dumps(broken), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(src), "--out", str(out)])
    assert result.exit_code == 1
    assert "NCT00000043" in result.output and "eligibility.sex" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["NCT00000042.fhir-r5.json", "trialconv-report.ndjson"]
    assert not list(out.glob(".*.tmp"))
    report = [json.loads(line) for line in (out / "trialconv-report.ndjson").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["status"]) for r in report] == [("NCT00000042", "converted"), ("NCT00000043", "failed")]
    assert "eligibility.sex" in report[1]["error"]


def test_stdout_output_is_the_bundle(tmp_path: Path) -> None:
    source = _write_trial(tmp_path / "record.json")
    result = runner.invoke(app, ["convert", str(source), "--out", "-", "--to", "fhir-r4b"])
    assert result.exit_code == 0
    start = result.stdout.index("{")
    end = result.stdout.rindex("}") + 1
    assert json.loads(result.stdout[start:end])["resourceType"] == "Bundle"


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    source = _write_trial(tmp_path / "record.json")
    for name in ("one", "two"):
        assert runner.invoke(app, ["convert", str(source), "--out", str(tmp_path / name)]).exit_code == 0
    assert (tmp_path / "one" / "NCT00000042.fhir-r5.json").read_bytes() == (tmp_path / "two" / "NCT00000042.fhir-r5.json").read_bytes()


def test_validate_command_reports_invalid_files(tmp_path: Path) -> None:
    source = _write_trial(tmp_path / "record.json")
    out = tmp_path / "out"
    runner.invoke(app, ["convert", str(source), "--out", str(out)])
    good = out / "NCT00000042.fhir-r5.json"
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 0
    bundle = json.loads(good.read_text(encoding="utf-8"))
    bundle["entry"][0]["resource"]["status"] = "bogus"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and "bogus" in result.output


def test_unrecognised_input_is_a_named_failure(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"\x00\x01 binary junk")
    result = runner.invoke(app, ["convert", str(junk), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "notes.txt" in result.output


def test_to_all_writes_fhir_cdisc_and_synopsis_reproducibly(tmp_path: Path) -> None:
    source = Path(__file__).parent / "data" / "ctgov" / "v2" / "NCT02513394.json"
    for name in ("one", "two"):
        result = runner.invoke(app, ["convert", str(source), str(source.parent.parent / "xml" / "NCT00081588.xml"), "--to", "all", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    one, two = tmp_path / "one", tmp_path / "two"
    files = sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file())
    assert {"NCT02513394.fhir-r5.json", "NCT02513394.fhir-r4b.json", "NCT02513394/ts.json", "NCT02513394/ts.xpt",
            "NCT02513394/ti.csv", "NCT02513394/synopsis.html", "NCT02513394/cdisc-notes.txt", "stacked/ts.json"} <= set(files)
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_explain_shows_what_each_criterion_was_understood_as() -> None:
    seed = Path(__file__).resolve().parent.parent / "samples" / "000_c680d2a7bcdf8e98.txt"
    result = runner.invoke(app, ["explain", str(seed)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("# NCT06230055")
    platelets = next(line for line in lines if "Platelet count" in line)
    assert "777-3" in platelets and ">= 80" in platelets
    hemoglobin = next(line for line in lines if line.strip().startswith("INCL  Hemoglobin"))
    assert "not coded" in hemoglobin and "implausible" in hemoglobin  # 8 g/L: flagged, and so not coded
    assert any("(text only)" in line for line in lines)


def test_parallel_jobs_give_the_same_files_in_the_same_order(tmp_path: Path) -> None:
    source = Path(__file__).parent / "data" / "ctgov"
    for name, jobs in (("serial", "1"), ("parallel", "2")):
        result = runner.invoke(app, ["convert", str(source), "--to", "fhir-r5", "--out", str(tmp_path / name), "--jobs", jobs, "--quiet"])
        # NCT02513394 is there as JSON and as XML: the second copy is refused, never a silent overwrite
        assert result.exit_code == 1 and result.output.count("FAILED") == 1 and "duplicate record id" in result.output, result.output
    serial = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert serial == sorted(p.name for p in (tmp_path / "parallel").iterdir()) and len(serial) > 5
    for name in serial:
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "parallel" / name).read_bytes(), name


def test_errors_survive_the_trip_from_worker_processes() -> None:
    import pickle

    from converter.errors import ValidationError

    error = pickle.loads(pickle.dumps(ValidationError("bad bundle", problems=["Bundle.type: missing"], record="NCT1", field="Bundle")))
    assert (error.record, error.field, error.problems) == ("NCT1", "Bundle", ["Bundle.type: missing"])
    assert "NCT1" in str(error)


def test_all_and_the_to_help_come_from_the_writer_registry() -> None:
    from converter.cli import all_targets
    from converter.writers import writers

    assert all_targets() == ["fhir-r5", "fhir-r4b", "cdisc", "usdm", "synopsis"]
    assert set(all_targets()) == {name for name, writer in writers().items() if writer.in_all}
    help_text = " ".join(runner.invoke(app, ["convert", "--help"]).output.split())
    assert all(name in help_text for name in writers())


def test_criterion_warnings_reach_the_report_and_the_summary(tmp_path: Path) -> None:
    seed = Path(__file__).resolve().parent.parent / "samples" / "000_c680d2a7bcdf8e98.txt"
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(seed), "--to", "fhir-r5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in (out / "trialconv-report.ndjson").read_text(encoding="utf-8").splitlines()]
    criterion = [w for w in line["warnings"] if w.startswith("criterion ")]
    assert criterion == ["criterion 'Hemoglobin ≥8g/L': Hemoglobin 8 g/L is implausible; probably g/dL"]
    assert str(len(line["warnings"])) in result.output  # the summary's warnings column counts them
