"""Batches under faults: a killed or stuck worker, a full disk, a read-only folder, two runs on one
folder, SIGTERM and a rerun. After each, the same checks: no traceback, every input record exactly
once in the report, every record the report calls converted has all of its files and they validate,
no temp file left behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest
from typer.testing import CliRunner

from converter import api, output
from converter.cli import app
from converter.validate.cdisc import check_document
from converter.validate.fhir import validate_file

ROOT = Path(__file__).resolve().parent.parent
SHARED_V2 = ROOT.parent / "shared" / "ctgov" / "v2"
TARGETS = "fhir-r5,cdisc"
runner = CliRunner()


@pytest.fixture(scope="module")
def records() -> list[Path]:
    """Nine small real records (each gives 14 files: a Bundle and the CDISC datasets)."""
    if not SHARED_V2.is_dir():
        pytest.skip("../shared corpus not present")
    return sorted(SHARED_V2.glob("*.json"), key=lambda p: p.stat().st_size)[:9]


def _inputs(tmp_path: Path, records: list[Path]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(parents=True)
    for path in records:
        shutil.copy(path, folder / path.name)
    return folder


def _ids(records: list[Path]) -> list[str]:
    return sorted(p.stem for p in records)


def check_run(out: Path, report: Path, expected_ids: list[str], output_text: str, *, complete: bool = True) -> list[dict]:
    """The invariants every run must keep, whatever happened to it."""
    assert "Traceback" not in output_text, output_text
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)), "a record appears twice in the report"
    if complete:
        assert sorted(ids) == expected_ids, "not every input record is in the report"
    else:
        assert set(ids) <= set(expected_ids)
    for line in lines:
        if line["status"] != "converted":
            assert line["outputs"] == [] and line.get("error")
            continue
        assert len(line["outputs"]) == 14, line
        for name in line["outputs"]:
            path = out / name
            assert path.is_file(), f"report says {name} was written"
            if name.endswith(".fhir-r5.json"):
                assert validate_file(path, "R5") == [], name
            elif name.endswith(".json"):
                check_document(json.loads(path.read_bytes()))
    converted = {line["id"] for line in lines if line["status"] == "converted"}
    for trial_id in expected_ids:  # a record the report does not call converted has none of its files
        if trial_id not in converted and (out / trial_id).exists():
            assert not any((out / trial_id).iterdir()), trial_id
    for folder in {out, report.parent}:
        if folder.exists():
            assert not [p for p in folder.rglob("*.tmp")], "temp files left behind"
    return lines


def _convert(inputs: Path, out: Path, *extra: str, report: Optional[Path] = None):
    args = ["convert", str(inputs), "--to", TARGETS, "--out", str(out), "--quiet", *extra]
    if report is not None:
        args += ["--report", str(report)]
    return runner.invoke(app, args)


def test_a_killed_and_a_stuck_worker_cost_only_their_records(tmp_path: Path, records: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, out = _inputs(tmp_path, records), tmp_path / "out"
    victim, stuck = records[3].stem, records[7].stem
    real = api._convert_one

    def faulty(trial, targets, options):  # runs in the forked workers
        if trial.id == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        if trial.id == stuck:
            time.sleep(60)
        return real(trial, targets, options)

    monkeypatch.setattr(api, "_convert_one", faulty)
    result = _convert(inputs, out, "--jobs", "2", "--record-timeout", "3")
    assert result.exit_code == 1, result.output
    lines = check_run(out, out / "trialconv-report.ndjson", _ids(records), result.output)
    failed = {line["id"]: line for line in lines if line["status"] == "failed"}
    assert set(failed) == {victim, stuck}
    assert failed[victim]["stage"] == "convert" and "SIGKILL" in failed[victim]["error"]
    assert "time limit" in failed[stuck]["error"]
    assert sum(line["status"] == "converted" for line in lines) == len(records) - 2


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if not shutil.which("mount") or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_disk_gives_one_clear_line_and_complete_records_only(tmp_path: Path, records: list[Path]) -> None:
    out = tmp_path / "small"
    if not _mount_tmpfs(out, "size=600k"):
        pytest.skip("mounting a small tmpfs is not permitted here")
    try:
        result = _convert(_inputs(tmp_path, records), out, report=tmp_path / "report.ndjson")
        assert result.exit_code == 3, result.output
        assert result.output.count("CANNOT WRITE") == 1 and "No space left on device" in result.output
        assert "free space" in result.output
        lines = check_run(out, tmp_path / "report.ndjson", _ids(records), result.output)
        statuses = [line["status"] for line in lines]
        assert "converted" in statuses and "failed" in statuses
        assert all(line["stage"] == "write" for line in lines if line["status"] == "failed")
    finally:
        _umount(out)


def test_a_simulated_full_disk_mid_record_keeps_none_of_its_files(tmp_path: Path, records: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same without mounting: the fifth file of the third record hits ENOSPC."""
    inputs, out = _inputs(tmp_path, records[:4]), tmp_path / "out"
    real, calls = os.write, {"n": 0}

    def write(fd, data):
        calls["n"] += 1
        if calls["n"] == 14 * 2 + 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(output.os, "write", write)
    result = _convert(inputs, out, "--record-timeout", "0")
    assert result.exit_code == 3, result.output
    lines = check_run(out, out / "trialconv-report.ndjson", _ids(records[:4]), result.output)
    assert [line["status"] for line in lines] == ["converted", "converted", "failed", "converted"]


def test_a_read_only_out_folder_is_one_line_not_a_traceback(tmp_path: Path, records: list[Path]) -> None:
    out = tmp_path / "ro"
    if os.geteuid() != 0:
        out.mkdir()
        out.chmod(0o555)
    elif not _mount_tmpfs(out, "ro,size=64k"):
        pytest.skip("cannot make a folder read-only for root here")
    try:
        result = _convert(_inputs(tmp_path, records[:3]), out)
        assert result.exit_code == 3, result.output
        assert "Traceback" not in result.output and result.output.count("CANNOT WRITE") == 1
        assert "Read-only file system" in result.output or "Permission denied" in result.output
        # with the report elsewhere, every record is still accounted for
        result = _convert(_inputs(tmp_path / "again", records[:3]), out, report=tmp_path / "report.ndjson")
        assert result.exit_code == 3
        lines = check_run(out, tmp_path / "report.ndjson", _ids(records[:3]), result.output)
        assert {line["status"] for line in lines} == {"failed"}
    finally:
        if os.geteuid() != 0:
            out.chmod(0o755)
        else:
            _umount(out)


def test_two_runs_on_one_out_folder_never_corrupt_each_other(tmp_path: Path, records: list[Path]) -> None:
    inputs, out = _inputs(tmp_path, records[:4]), tmp_path / "out"
    command = [sys.executable, "-m", "converter.cli", "convert", str(inputs), "--to", TARGETS, "--out", str(out), "--quiet"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (out / output.OutputLock.NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    if second.returncode != 0:  # refused while the first held the folder
        assert second.returncode == 2 and "another trialconv run" in second.stderr and "Traceback" not in second.stderr
    check_run(out, out / "trialconv-report.ndjson", _ids(records[:4]), first_err + second.stderr)
    assert not (out / output.OutputLock.NAME).exists()


def test_sigterm_leaves_a_true_report_and_a_rerun_completes(tmp_path: Path, records: list[Path]) -> None:
    inputs, out = _inputs(tmp_path, records), tmp_path / "out"
    command = [sys.executable, "-m", "converter.cli", "convert", str(inputs), "--to", TARGETS, "--out", str(out), "--quiet"]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.fhir-r5.json"))) < 3:
        time.sleep(0.02)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM, stderr
    assert "INTERRUPTED" in stderr
    lines = check_run(out, out / "trialconv-report.ndjson", _ids(records), stderr, complete=False)
    assert 3 <= len(lines) < len(records)
    written = {p.name.split(".")[0] for p in out.glob("*.fhir-r5.json")}
    assert written == {line["id"] for line in lines if line["status"] == "converted"}  # the report tells the truth
    rerun = _convert(inputs, out)
    assert rerun.exit_code == 0, rerun.output
    check_run(out, out / "trialconv-report.ndjson", _ids(records), rerun.output)


def test_a_batch_keeps_going_past_a_worker_that_runs_out_of_memory(tmp_path: Path, records: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, out = _inputs(tmp_path, records[:3]), tmp_path / "out"
    hungry = records[1].stem
    real = api._convert_one

    def greedy(trial, targets, options):
        if trial.id == hungry:
            bytearray(3 << 30)  # beyond the 2 GiB limit below
        return real(trial, targets, options)

    monkeypatch.setattr(api, "_convert_one", greedy)
    result = _convert(inputs, out, "--record-memory", "2048")
    assert result.exit_code == 1, result.output
    lines = check_run(out, out / "trialconv-report.ndjson", _ids(records[:3]), result.output)
    failed = [line for line in lines if line["status"] == "failed"]
    assert [line["id"] for line in failed] == [hungry] and "memory" in failed[0]["error"]
