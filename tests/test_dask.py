"""The Dask adapter (issue 14): partitions → Bulk NDJSON per partition, one merged manifest, on a
local scheduler with a few real records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from converter.cli import app
from test_scale import RECORDS, _study

dask = pytest.importorskip("dask")

from converter.dask import bag_of_files, bag_of_ndjson, convert_blob, to_bulk_ndjson  # noqa: E402


@pytest.fixture()
def inputs(tmp_path: Path) -> list[Path]:
    """Three real records and a copy of the first under another id (shares its Organizations)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for record in RECORDS:
        (folder / f"{record}.json").write_text(_study(record), encoding="utf-8")
    (folder / "NCT99000001.json").write_text(_study(RECORDS[0], "NCT99000001"), encoding="utf-8")
    (folder / "broken.json").write_text('{"protocolSection": {"identificationModule": {}}}', encoding="utf-8")
    return sorted(folder.glob("*.json"))


def _lines_by_type(folder: Path) -> dict[str, list[bytes]]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    lines: dict[str, list[bytes]] = {}
    for entry in manifest["output"]:
        data = (folder / entry["url"]).read_bytes().splitlines()
        assert len(data) == entry["count"]
        lines.setdefault(entry["type"], []).extend(data)
    return lines


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_dask_partitions_give_the_lines_the_cli_writes(inputs: list[Path], tmp_path: Path, scheduler: str, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "dask"
    with dask.config.set(scheduler=scheduler):
        summary = to_bulk_ndjson(bag_of_files(inputs, npartitions=2), out)
    assert summary["converted"] == 4
    assert len(summary["failed"]) == 1 and "broken.json" in str(summary["failed"][0])
    manifest = summary["manifest"]
    assert manifest == json.loads((out / "fhir-r5-ndjson" / "manifest.json").read_text(encoding="utf-8"))
    urls = [entry["url"] for entry in manifest["output"]]
    assert {u.split(".")[1] for u in urls} == {"00000", "00001"}  # files of both partitions, listed
    assert sorted(p.name for p in (out / "fhir-r5-ndjson").glob("*.ndjson")) == sorted(urls)

    cli_out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["convert", *map(str, inputs), "--to", "fhir-r5-ndjson", "--out", str(cli_out), "--quiet"])
    assert result.exit_code == 1  # the broken record
    assert _lines_by_type(out / "fhir-r5-ndjson") == _lines_by_type(cli_out / "fhir-r5-ndjson")
    keys = [(json.loads(line)["resourceType"], json.loads(line)["id"]) for lines in _lines_by_type(out / "fhir-r5-ndjson").values() for line in lines]
    assert len(keys) == len(set(keys))  # across partitions too, each resource once


def test_dask_reads_ndjson_partitions(inputs: list[Path], tmp_path: Path) -> None:
    dump = tmp_path / "dump.ndjson"
    dump.write_text("".join(_study(r) + "\n" for r in RECORDS[1:]), encoding="utf-8")
    with dask.config.set(scheduler="synchronous"):
        summary = to_bulk_ndjson(bag_of_ndjson(dump, blocksize=dump.stat().st_size // 2 + 1), tmp_path / "out", target="fhir-r4b-ndjson")
    assert summary["converted"] == 2 and not summary["failed"]
    studies = [line for entry in summary["manifest"]["output"] if entry["type"] == "ResearchStudy"
               for line in (tmp_path / "out" / "fhir-r4b-ndjson" / entry["url"]).read_text(encoding="utf-8").splitlines()]
    assert sorted(json.loads(s)["id"] for s in studies) == sorted(RECORDS[1:])


def test_converting_a_blob_is_a_pure_function(inputs: list[Path]) -> None:
    data = inputs[0].read_bytes()
    assert convert_blob("a", data) == convert_blob("a", data)
