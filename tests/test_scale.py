"""Registry-scale batches (issue 14): FHIR Bulk NDJSON + manifest, stacked CDISC merged from parts
on disk with bounded memory, incremental runs. Small real records; the sizes are in benchmarks/."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from converter.api import iter_convert
from converter.bulk import AGGREGATORS, Staging, merge_stacked, write_bulk
from converter.cli import app
from converter.state import State
from converter.validate.fhir import validate_resource
from converter.writers.targets import _cdisc_stacked

V2 = Path(__file__).resolve().parents[2] / "shared" / "ctgov" / "v2"
RECORDS = ["NCT00410098", "NCT01100827", "NCT04571398"]
runner = CliRunner()


def _study(record: str, new_id: str | None = None, summary_suffix: str = "") -> str:
    study = json.loads((V2 / f"{record}.json").read_text(encoding="utf-8"))
    if new_id:
        study["protocolSection"]["identificationModule"]["nctId"] = new_id
    if summary_suffix:
        study["protocolSection"]["descriptionModule"]["briefSummary"] += summary_suffix
    return json.dumps(study)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Three real records plus a copy of the first under another id (same sponsor and sites)."""
    source = tmp_path / "in"
    source.mkdir()
    for record in RECORDS:
        (source / f"{record}.json").write_text(_study(record), encoding="utf-8")
    (source / "NCT99000001.json").write_text(_study(RECORDS[0], "NCT99000001"), encoding="utf-8")
    return source


def _run(*args: str) -> object:
    result = runner.invoke(app, ["convert", *args, "--quiet"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------ FHIR Bulk NDJSON


def test_bulk_ndjson_has_one_file_per_type_a_manifest_and_each_resource_once(folder: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = tmp_path / "out"
    result = _run(str(folder), "--to", "fhir-r5-ndjson", "--out", str(out))
    assert result.exit_code == 0, result.output
    bulk = out / "fhir-r5-ndjson"
    manifest = json.loads((bulk / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    types = [entry["type"] for entry in manifest["output"]]
    assert types == sorted(types) and {"ResearchStudy", "EvidenceVariable", "Organization"} <= set(types)
    on_disk = {p.name for p in bulk.glob("*.ndjson")}
    assert on_disk == {entry["url"] for entry in manifest["output"]}
    resources: dict[str, dict] = {}
    for entry in manifest["output"]:
        assert entry["url"] == f"{entry['type']}.ndjson"  # relative to the manifest
        lines = _lines(bulk / entry["url"])
        assert len(lines) == entry["count"]
        for resource in lines:
            assert resource["resourceType"] == entry["type"]
            key = f"{resource['resourceType']}/{resource['id']}"
            assert key not in resources, f"{key} written twice"
            resources[key] = resource
    assert sorted(r["id"] for k, r in resources.items() if k.startswith("ResearchStudy/")) == sorted(RECORDS + ["NCT99000001"])
    # the copy shares its sponsor with the original: the Organization is written once for both
    original, copy = ({ref for ref in _references(resources[f"ResearchStudy/{r}"]) if ref.startswith("Organization/")} for r in (RECORDS[0], "NCT99000001"))
    assert original and original == copy and all(ref in resources for ref in original)
    # the newest record's last update, never the clock
    updates = [json.loads((folder / f"{r}.json").read_text())["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] for r in RECORDS]
    assert manifest["transactionTime"] == f"{max(updates)}T00:00:00Z"


def test_every_bulk_line_is_valid_and_every_reference_resolves_in_the_export(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for target, version in (("fhir-r5-ndjson", "R5"), ("fhir-r4b-ndjson", "R4B")):
        result = _run(str(folder / f"{RECORDS[1]}.json"), str(folder / f"{RECORDS[2]}.json"), "--to", target, "--out", str(out))
        assert result.exit_code == 0, result.output
        lines = [r for path in sorted((out / target).glob("*.ndjson")) for r in _lines(path)]
        present = {f"{r['resourceType']}/{r['id']}" for r in lines}
        for resource in lines:
            assert validate_resource(resource, version) == [], resource["id"]
            for ref in _references(resource):  # Bundle-internal urn:uuid references were made literal Type/id
                assert ref in present, f"{resource['resourceType']}/{resource['id']} → {ref}"
        assert any(r["resourceType"] == ("Group" if version == "R4B" else "EvidenceVariable") for r in lines)


def _references(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []


def test_bulk_output_is_byte_identical_whatever_the_input_order_and_worker_count(folder: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    files = sorted(str(p) for p in folder.iterdir())
    first = _run(*files, "--to", "fhir-r5-ndjson,cdisc", "--out", str(tmp_path / "a"))
    second = _run(*reversed(files), "--to", "fhir-r5-ndjson,cdisc", "--out", str(tmp_path / "b"), "--jobs", "2")
    assert first.exit_code == second.exit_code == 0
    a, b = _tree(tmp_path / "a" / "fhir-r5-ndjson"), _tree(tmp_path / "b" / "fhir-r5-ndjson")
    assert a == b and json.loads(a["manifest.json"])["transactionTime"] == "2023-11-14T22:13:20Z"
    assert _tree(tmp_path / "a" / "stacked") == _tree(tmp_path / "b" / "stacked")


def test_bulk_ndjson_needs_an_output_folder(folder: Path) -> None:
    result = runner.invoke(app, ["convert", str(folder), "--to", "fhir-r5-ndjson", "--out", "-"])
    assert result.exit_code == 2 and "folder" in result.output


# ------------------------------------------------------------------------------ stacked CDISC


def test_stacked_cdisc_from_parts_on_disk_equals_the_in_memory_stack(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(str(folder), "--to", "cdisc", "--out", str(out)).exit_code == 0
    results = sorted((r for r in iter_convert(str(folder), "cdisc") if r.ok), key=lambda r: r.trial.id)
    expected = _cdisc_stacked([r.outputs["cdisc"] for r in results])
    assert len(expected) == 12
    for name, data in expected.items():  # Dataset-JSON, CSV and XPT alike, byte for byte
        assert (out / name).read_bytes() == data, name


def _state_with_copies(tmp_path: Path, folder: Path, target: str, copies: int) -> State:
    """A state holding ``copies`` parts (one real record's part under many ids)."""
    result = next(iter_convert(str(folder / f"{RECORDS[1]}.json"), target))
    stamp, data = AGGREGATORS[target].part(result.outputs[target])
    out = tmp_path / f"{target}-{copies}"
    out.mkdir()
    state = State(out, incremental=False)
    for n in range(copies):
        state.record(f"NCT{n:08d}", "", None, [], {target: (stamp, data)})
    return state


def _peak_merging(state: State, target: str, out: Path) -> int:
    staging = Staging(out)
    tracemalloc.start()
    try:
        if target == "cdisc":
            merge_stacked(lambda: state.parts(target), staging, state.newest_stamp(target) or "", state.count(target))
        else:
            write_bulk(state.parts(target), staging, target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        staging.abort()
        state.discard()
    return peak


@pytest.mark.parametrize("target", ["cdisc", "fhir-r5-ndjson"])
def test_merging_batch_files_takes_the_same_memory_for_20_or_400_records(folder: Path, tmp_path: Path, target: str) -> None:
    small = _peak_merging(_state_with_copies(tmp_path, folder, target, 20), target, tmp_path / "s")
    large = _peak_merging(_state_with_copies(tmp_path, folder, target, 400), target, tmp_path / "l")
    # 20x the records: held in memory this would be 20x the peak; streamed it is the same plus noise
    assert large < small * 1.5 + (256 << 10), (small, large)


# ------------------------------------------------------------------------------ incremental runs


def test_incremental_rerun_skips_unchanged_rewrites_changed_and_lists_gone_records(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    targets = "fhir-r5,fhir-r5-ndjson,cdisc"
    first = _run(str(folder), "--to", targets, "--out", str(out), "--incremental")
    assert first.exit_code == 0, first.output
    assert {line["status"] for line in _lines(out / "trialconv-report.ndjson")} == {"converted"}

    again = _run(str(folder), "--to", targets, "--out", str(out), "--incremental")
    assert again.exit_code == 0, again.output  # nothing to convert is not a failure
    report = _lines(out / "trialconv-report.ndjson")
    assert sorted(line["id"] for line in report) == sorted(RECORDS + ["NCT99000001"])
    assert {line["status"] for line in report} == {"unchanged"}
    assert all(line["outputs"] for line in report)

    changed = folder / f"{RECORDS[2]}.json"
    changed.write_text(_study(RECORDS[2], summary_suffix=" Revised."), encoding="utf-8")
    (folder / "NCT99000001.json").unlink()
    third = _run(str(folder), "--to", targets, "--out", str(out), "--incremental")
    assert third.exit_code == 0, third.output
    status = {line["id"]: line["status"] for line in _lines(out / "trialconv-report.ndjson")}
    assert status == {RECORDS[0]: "unchanged", RECORDS[1]: "unchanged", RECORDS[2]: "converted", "NCT99000001": "gone"}
    assert "Revised." in (out / f"{RECORDS[2]}.fhir-r5.json").read_text(encoding="utf-8")
    assert (out / "NCT99000001.fhir-r5.json").exists()  # gone, but removed only with --prune

    fourth = _run(str(folder), "--to", targets, "--out", str(out), "--incremental", "--prune")
    assert fourth.exit_code == 0, fourth.output
    status = {line["id"]: line["status"] for line in _lines(out / "trialconv-report.ndjson")}
    assert status["NCT99000001"] == "pruned" and not (out / "NCT99000001.fhir-r5.json").exists()
    assert not (out / "NCT99000001").exists() or not any((out / "NCT99000001").iterdir())

    # the batch files of the incremental history equal those of one full run over the same input
    fresh = tmp_path / "fresh"
    assert _run(str(folder), "--to", targets, "--out", str(fresh)).exit_code == 0
    for batch in ("fhir-r5-ndjson", "stacked"):
        assert _tree(out / batch) == _tree(fresh / batch), batch


def test_a_new_converter_version_or_other_targets_convert_everything_again(folder: Path, tmp_path: Path, monkeypatch) -> None:
    from converter import state

    out = tmp_path / "out"
    source = str(folder / f"{RECORDS[1]}.json")
    assert _run(source, "--to", "fhir-r5", "--out", str(out), "--incremental").exit_code == 0
    assert _lines(out / "trialconv-report.ndjson")[0]["status"] == "converted"
    assert _run(source, "--to", "fhir-r5", "--out", str(out), "--incremental").exit_code == 0
    assert _lines(out / "trialconv-report.ndjson")[0]["status"] == "unchanged"
    assert _run(source, "--to", "fhir-r4b", "--out", str(out), "--incremental").exit_code == 0
    assert _lines(out / "trialconv-report.ndjson")[0]["status"] == "converted"
    monkeypatch.setattr(state, "converter_version", lambda: "99+other")
    assert _run(source, "--to", "fhir-r4b", "--out", str(out), "--incremental").exit_code == 0
    assert _lines(out / "trialconv-report.ndjson")[0]["status"] == "converted"


def test_an_interrupted_incremental_run_keeps_the_previous_state(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = str(folder / f"{RECORDS[1]}.json")
    assert _run(source, "--to", "fhir-r5-ndjson", "--out", str(out), "--incremental").exit_code == 0
    before = (out / ".trialconv-state.sqlite").read_bytes()
    state = State(out, incremental=True)
    state.forget(RECORDS[1])
    state.discard()  # what an interrupted run does
    assert (out / ".trialconv-state.sqlite").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    shutil.rmtree(out)


# ------------------------------------------------------------------------------ progress


def test_the_total_comes_from_a_folder_a_zip_or_an_ndjson_size(folder: Path, tmp_path: Path, monkeypatch) -> None:
    import zipfile

    from converter import progress

    assert progress.estimate_total([str(folder)]) == 4
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.iterdir()):
            handle.write(path, path.name)
    assert progress.estimate_total([str(archive), str(folder / f"{RECORDS[0]}.json")]) == 5
    dump = tmp_path / "dump.ndjson"
    lines = [_study(r) for r in RECORDS]
    dump.write_text("".join(line + "\n" for line in lines * 20), encoding="utf-8")
    monkeypatch.setattr(progress, "STREAM_THRESHOLD_BYTES", 1000)  # a "large" dump, read line by line
    assert 50 <= progress.estimate_total([str(dump)]) <= 70
    assert progress.estimate_total(["-"]) is None


def test_progress_shows_total_rate_and_eta_on_a_terminal_only(folder: Path) -> None:
    import io

    from rich.console import Console

    from converter.progress import progress_display

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    progress, task = progress_display(console, enabled=True, inputs=[str(folder)])
    with progress:
        for done in range(1, 5):
            progress.update(task, completed=done)
        progress.refresh()
        shown = progress.get_renderable()
        console.print(shown)
    text = screen.getvalue()
    assert "4/4" in text and "rec/s" in text and "ETA" in text
    piped = Console(file=io.StringIO(), force_terminal=False)
    progress, task = progress_display(piped, enabled=True, inputs=[str(folder)])
    assert progress.disable and progress.tasks[0].total is None


def test_quiet_prints_no_summary(folder: Path, tmp_path: Path) -> None:
    result = _run(str(folder / f"{RECORDS[1]}.json"), "--to", "fhir-r5", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0 and result.output == ""
    loud = runner.invoke(app, ["convert", str(folder / f"{RECORDS[1]}.json"), "--to", "fhir-r5", "--out", str(tmp_path / "out2")])
    assert "converted" in loud.output


def test_cdisc_to_stdout_still_works(folder: Path) -> None:
    result = runner.invoke(app, ["convert", str(folder / f"{RECORDS[1]}.json"), "--to", "cdisc", "--out", "-", "--quiet"])
    assert result.exit_code == 0 and '"fileOID":"NCT01100827.TS"' in result.output


def test_an_unchanged_incremental_run_keeps_the_batch_files_as_they_are(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(str(folder), "--to", "fhir-r5-ndjson", "--out", str(out), "--incremental").exit_code == 0
    manifest = out / "fhir-r5-ndjson" / "manifest.json"
    before = manifest.stat().st_ino, _tree(out / "fhir-r5-ndjson")
    assert _run(str(folder), "--to", "fhir-r5-ndjson", "--out", str(out), "--incremental").exit_code == 0
    assert (manifest.stat().st_ino, _tree(out / "fhir-r5-ndjson")) == before  # not rewritten
    manifest.unlink()
    assert _run(str(folder), "--to", "fhir-r5-ndjson", "--out", str(out), "--incremental").exit_code == 0
    assert _tree(out / "fhir-r5-ndjson") == before[1]  # a batch file that went missing is merged again
