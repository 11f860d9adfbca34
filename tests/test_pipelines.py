"""Issue 16, the CLI in pipelines: NDJSON on stdout, conditional update, validate (version detection,
JSON output, Dataset-JSON, unwrapped messages, house rules), detection of the model's own JSON,
report files skipped, --version, completion, readable help, --quiet, exit codes, empty files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from converter import __version__, conversion
from converter.cli import app

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "samples" / "NCT02513394.json"
XML = ROOT / "samples" / "NCT00496288.xml"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_stdout_is_ndjson_one_document_per_line() -> None:
    result = run("convert", V2, XML, "--to", "fhir-r5,usdm", "--out", "-")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    documents = [json.loads(line) for line in lines]  # each line alone is one JSON document
    assert [d.get("resourceType", "usdm") for d in documents] == ["Bundle", "usdm", "Bundle", "usdm"]
    assert documents[0] == conversion(V2).value


def test_stdout_cdisc_is_its_dataset_json() -> None:
    result = run("convert", V2, "--to", "cdisc", "--out", "-", "-q")
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["name"] for d in documents] == ["TS", "TA", "TE", "TI"]
    assert all("datasetJSONVersion" in d for d in documents)


@pytest.mark.parametrize("target", ["synopsis", "all"])
def test_stdout_refuses_targets_that_are_not_json(tmp_path: Path, target: str) -> None:
    result = run("convert", V2, "--to", target, "--out", "-")
    assert result.exit_code == 2
    assert "NDJSON" in result.output and "synopsis" in result.output
    assert "Bundle" not in result.stdout


def test_transaction_update_is_a_conditional_put() -> None:
    created = json.loads(run("convert", V2, "--bundle-type", "transaction", "--out", "-", "-q").stdout)
    updated = json.loads(run("convert", V2, "--bundle-type", "transaction", "--transaction-mode", "update", "--out", "-", "-q").stdout)
    study_create, study_update = created["entry"][0]["request"], updated["entry"][0]["request"]
    assert study_create == {"method": "POST", "url": "ResearchStudy", "ifNoneExist": "identifier=http://clinicaltrials.gov|NCT02513394"}
    assert study_update == {"method": "PUT", "url": "ResearchStudy?identifier=http://clinicaltrials.gov|NCT02513394"}
    assert all(e["request"]["method"] == "PUT" and "?identifier=" in e["request"]["url"] for e in updated["entry"])
    assert [e["resource"] for e in created["entry"]] == [e["resource"] for e in updated["entry"]]


def _converted(tmp_path: Path, target: str) -> Path:
    out = tmp_path / target
    result = run("convert", V2, "--to", target, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    return out


def test_validate_detects_r4b_and_r5(tmp_path: Path) -> None:
    r4b = _converted(tmp_path, "fhir-r4b") / "NCT02513394.fhir-r4b.json"
    r5 = _converted(tmp_path, "fhir-r5") / "NCT02513394.fhir-r5.json"
    result = run("validate", r4b, r5, "--format", "json")
    assert result.exit_code == 0, result.output
    verdicts = json.loads(result.stdout)
    assert [(v["kind"], v["valid"], v["errors"]) for v in verdicts] == [("FHIR R4B", True, []), ("FHIR R5", True, [])]
    forced = run("validate", r4b, "--fhir-version", "R5")  # the version matters: R4B judged as R5 fails
    assert forced.exit_code == 1


def test_validate_messages_are_not_wrapped_and_match_json(tmp_path: Path) -> None:
    path = _converted(tmp_path, "fhir-r5") / "NCT02513394.fhir-r5.json"
    bundle = json.loads(path.read_text(encoding="utf-8"))
    bundle["entry"][0]["resource"]["status"] = "a-status-no-value-set-has-ever-held-in-any-version"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    machine = run("validate", path, "--format", "json")
    assert machine.exit_code == 1
    errors = json.loads(machine.stdout)[0]["errors"]
    assert errors and any(len(e) > 80 for e in errors)
    text = run("validate", path)
    lines = text.output.splitlines()
    for error in errors:
        assert f"  {error}" in lines  # whole, on one line


def test_validate_dataset_json(tmp_path: Path) -> None:
    ts = _converted(tmp_path, "cdisc") / "NCT02513394" / "ts.json"
    result = run("validate", ts, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["kind"] == "Dataset-JSON"
    document = json.loads(ts.read_text(encoding="utf-8"))
    document["records"] += 1
    ts.write_text(json.dumps(document), encoding="utf-8")
    broken = run("validate", ts, "--format", "json")
    assert broken.exit_code == 1 and "rows" in json.loads(broken.stdout)[0]["errors"][0]


def test_house_rules_are_warnings_for_third_party_fhir(tmp_path: Path) -> None:
    bundle = conversion(V2).value
    del bundle["entry"][0]["resource"]["text"]  # FHIR allows it; trialconv's own output always has one
    path = tmp_path / "third-party.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    judged = run("validate", path, "--format", "json")
    assert judged.exit_code == 0, judged.output
    verdict = json.loads(judged.stdout)[0]
    assert verdict["valid"] and any("narrative missing" in w for w in verdict["warnings"])
    assert run("validate", path, "--house-rules").exit_code == 1


def _big_trial_json(tmp_path: Path, order: str) -> Path:
    trial = conversion(V2, to="trial-json").value
    trial["detailed_description"] = ("A long description of the study design. " * 3000).strip()  # ~120 KB before provenance
    if order == "sorted":
        trial = dict(sorted(trial.items()))
    elif order == "provenance-first":
        trial = {"provenance": trial["provenance"], **{k: v for k, v in trial.items() if k != "provenance"}}
    path = tmp_path / f"{order}.trial.json"
    path.write_text(json.dumps(trial, indent=2), encoding="utf-8")
    assert path.stat().st_size > 100_000
    return path


@pytest.mark.parametrize("order", ["as-written", "sorted", "provenance-first"])
def test_model_json_of_any_size_and_key_order_is_recognised(tmp_path: Path, order: str) -> None:
    path = _big_trial_json(tmp_path, order)
    out = tmp_path / "out"
    result = run("convert", path, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "trialconv-report.ndjson").read_text(encoding="utf-8"))
    assert report["status"] == "converted" and report["id"] == "NCT02513394"  # was: unrecognised input format


def test_model_json_past_the_first_bytes_is_recognised_without_telling_keys(tmp_path: Path) -> None:
    trial = conversion(V2, to="trial-json").value
    filler = {"arms": trial["arms"] * 1, "detailed_description": "x " * 40000}
    rest = {k: v for k, v in trial.items() if k not in filler}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({**filler, **rest}), encoding="utf-8")
    result = run("convert", path, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output


def test_own_report_in_an_input_folder_is_skipped(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(V2, inputs)
    first = run("convert", inputs, "--out", inputs / "out", "-q")
    assert first.exit_code == 0, first.output
    (inputs / "out" / "NCT02513394.fhir-r5.json").unlink()  # only the report is left in the folder
    second = run("convert", inputs, "--out", tmp_path / "out2")
    assert second.exit_code == 0, second.output
    lines = [json.loads(line) for line in (tmp_path / "out2" / "trialconv-report.ndjson").read_text(encoding="utf-8").splitlines()]
    assert [line["status"] for line in lines] == ["converted", "skipped"]
    assert "a trialconv report file" in lines[1]["error"]


def test_version_completion_and_readable_help() -> None:
    assert run("--version").output.strip() == f"trialconv {__version__}"
    top = run("--help").output
    assert "--install-completion" in top and "--show-completion" in top
    help_text = runner.invoke(app, ["convert", "--help"], terminal_width=200).output
    assert not re.search(r"<(list\[str\]|bool|str|int range|float range|path)>", help_text)
    assert "ctgov-v2|ctgov-xml" in help_text and "collection|transaction" in help_text and "create|update" in help_text
    assert "--to TARGET" in help_text or "-t, --to TARGET" in help_text


def test_quiet_prints_nothing_but_errors(tmp_path: Path) -> None:
    quiet = run("convert", V2, "--out", tmp_path / "a", "-q")
    assert quiet.exit_code == 0 and quiet.output == ""
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    failing = run("convert", tmp_path / "bad.json", "--out", tmp_path / "b", "-q")
    assert failing.exit_code == 1 and failing.output.startswith("FAILED") and "converted" not in failing.output


def test_exit_codes_usage_errors_create_nothing(tmp_path: Path) -> None:
    for args in (["--from", "nope"], ["--to", "nope"], ["--bundle-type", "nope"]):
        out = tmp_path / args[1].strip("-")
        result = run("convert", V2, "--out", out, *args)
        assert result.exit_code == 2, (args, result.output)
        assert not out.exists()


def test_empty_file_is_said_as_such(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_bytes(b"")
    result = run("convert", tmp_path / "empty.json", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "empty file" in result.output and "unrecognised" not in result.output


def test_explain_has_a_legend() -> None:
    result = run("explain", ROOT / "samples" / "000_c680d2a7bcdf8e98.txt")
    assert result.exit_code == 0
    assert "Legend:" in result.output and "????" in result.output.split("Legend:")[1]


def test_readme_documents_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| Exit code |"):]
    for code in ("0", "1", "2", "3", "130", "143"):
        assert re.search(rf"^\| (\d+ / )?{code}( / \d+)? \|", table, re.M), code


def test_contained_resources_without_narrative_are_standard_fhir() -> None:
    """The shape of HL7's R5 example ResearchStudy-example-ctgov-study-record: contained
    EvidenceVariables, Group and Location without narrative. FHIR allows it (narrative is a SHOULD,
    dom-6); only trialconv's house rule asks for a narrative, and only with house_rules=True."""
    from converter import validate

    study = dict(conversion(V2).value["entry"][0]["resource"])
    study.pop("text")
    study["contained"] = [
        {"resourceType": "EvidenceVariable", "id": "drug-ap303", "status": "active", "title": "AP303 50 μg",
         "description": "AP303 tablet"},
        {"resourceType": "Group", "id": "cg0", "active": True, "membership": "definitional", "type": "person",
         "characteristic": [{"code": {"text": "Exposed to"}, "valueReference": {"reference": "#drug-ap303"}, "exclude": False}]},
        {"resourceType": "Location", "id": "site0", "name": "Nucleus Network Pty Ltd",
         "address": {"city": "Melbourne", "state": "Victoria", "postalCode": "3004", "country": "Australia"},
         "position": {"longitude": 144.96332, "latitude": -37.814}},
    ]
    study["site"] = [{"reference": "#site0", "type": "Location"}]
    study["comparisonGroup"] = [{"name": "AP303", "intendedExposure": [{"reference": "#drug-ap303"}],
                                 "observedGroup": {"reference": "#cg0"}}]
    assert validate(study) == []
    assert validate(study, house_rules=True) == ["ResearchStudy.text: narrative missing (trialconv requires one on every ResearchStudy)"]


def test_a_bundle_pointing_at_server_resources_is_valid_fhir(tmp_path: Path) -> None:
    """A Bundle may reference resources it does not hold (on the receiving server); that every
    reference resolves inside the Bundle is trialconv's rule for its own output."""
    bundle = conversion(V2).value
    bundle["entry"][0]["resource"]["recruitment"] = {"eligibility": {"reference": "Group/112075", "type": "Group"}}
    path = tmp_path / "refs.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    verdict = json.loads(run("validate", path, "--format", "json").stdout)[0]
    assert verdict["valid"] and any("'Group/112075' does not resolve" in w for w in verdict["warnings"])
    strict = json.loads(run("validate", path, "--format", "json", "--house-rules").stdout)[0]
    assert not strict["valid"]
