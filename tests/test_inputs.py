"""Input handling and output safety: zips, bounds, folders, file names, atomic writes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from converter import readers
from converter.readers import sources as input_sources
from converter.errors import ConversionError
from converter.output import safe_name, write_atomic

DATA = Path(__file__).parent / "data" / "ctgov"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_archive_members_are_read_in_name_order(tmp_path: Path) -> None:
    v2 = sorted((DATA / "v2").glob("*.json"))[:2]
    archive = _zip(tmp_path / "dump.zip", {f"b/{v2[0].name}": v2[0].read_bytes(), f"a/{v2[1].name}": v2[1].read_bytes()})
    ids = [t.id for t in readers.read_source(archive)]
    assert ids == [v2[1].stem, v2[0].stem]


def test_zip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_sources, "MAX_ARCHIVE_MEMBER_BYTES", 1000)
    archive = _zip(tmp_path / "bomb.zip", {"big.json": b" " * 100_000})
    errors: list[ConversionError] = []
    assert list(readers.read_source(archive, on_error=errors.append)) == []
    assert errors and "over the limit" in str(errors[0]) and "bomb.zip" in str(errors[0])


def test_oversized_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_sources, "MAX_INPUT_BYTES", 10)
    big = tmp_path / "big.json"
    big.write_text("{" + " " * 100 + "}", encoding="utf-8")
    with pytest.raises(ConversionError, match="limit"):
        list(readers.read_source(big))


def test_folders_are_walked_sorted_and_hidden_files_skipped(tmp_path: Path) -> None:
    for name in ("z", "a"):
        (tmp_path / name).mkdir()
    sources = sorted((DATA / "v2").glob("*.json"))[:2]
    (tmp_path / "z" / "one.json").write_bytes(sources[0].read_bytes())
    (tmp_path / "a" / "two.json").write_bytes(sources[1].read_bytes())
    (tmp_path / ".hidden.json").write_bytes(sources[0].read_bytes())
    assert [t.id for t in readers.read_source(tmp_path)] == [sources[1].stem, sources[0].stem]


def test_missing_input_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="no such file"):
        list(readers.read_source(tmp_path / "nope.json"))


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "etc/passwd"),
    ("NCT1.fhir-r5.json", "NCT1.fhir-r5.json"),
    ("a b;rm -rf.json", "a_b_rm_-rf.json"),
    ("/abs/path", "abs/path"),
    (".hidden", "hidden"),
])
def test_output_names_cannot_escape_the_folder(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_atomic_write_leaves_no_temp_files_and_replaces(tmp_path: Path) -> None:
    write_atomic(tmp_path, "x.json", b"one")
    target = write_atomic(tmp_path, "x.json", b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_atomic(tmp_path, "x.json", b"good")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        write_atomic(tmp_path, "x.json", b"new")
    assert (tmp_path / "x.json").read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_large_ndjson_dumps_are_streamed_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setattr(input_sources, "STREAM_THRESHOLD_BYTES", 100)
    monkeypatch.setattr(input_sources, "MAX_INPUT_BYTES", 100)  # the whole file is over the per-file limit: only streaming can read it
    sources = sorted((DATA / "v2").glob("*.json"))[:3]
    lines = [json.dumps(json.loads(p.read_bytes())) for p in sources]
    lines.insert(1, '{"protocolSection": {"identificationModule": {}}}')  # a broken record in the middle
    dump = tmp_path / "dump.ndjson"
    dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors: list[ConversionError] = []
    trials = list(readers.read_source(dump, on_error=errors.append))
    assert [t.id for t in trials] == [p.stem for p in sources]
    assert trials[0].provenance.source_file == f"{dump}:1"
    assert len(errors) == 1 and f"{dump}:2" in str(errors[0])
