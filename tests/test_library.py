"""Issue 16, library contract: what an integration engine holds goes in, one rich result comes out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import converter
from converter import Conversion, ConversionError, all_targets, conversion, convert, iter_convert
from converter.cli import app

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "samples" / "NCT02513394.json"
XML = ROOT / "samples" / "NCT00496288.xml"
PAGE = ROOT / "samples" / "000_c680d2a7bcdf8e98.txt"
runner = CliRunner()


def _ids(bundle: dict) -> str:
    return bundle["entry"][0]["resource"]["id"]


@pytest.fixture(scope="module")
def study() -> dict:
    return json.loads(V2.read_text(encoding="utf-8"))


def test_every_kind_of_source_gives_the_same_bundle(study: dict) -> None:
    from_path = convert(V2)
    assert convert(str(V2)) == from_path
    assert convert(V2.read_bytes()) == from_path
    assert convert(study) == from_path                        # a parsed v2 study
    assert convert(json.dumps(study)) == from_path            # its text (was: OSError file name too long)
    assert convert(bytearray(V2.read_bytes())) == from_path
    trial = next(converter.read(V2))
    assert convert(trial) == from_path                        # a Trial
    assert convert(trial.to_json()) == from_path              # the model's own JSON as a dict
    assert convert([study]) == from_path                      # a list of one


def test_text_of_xml_and_registry_pages_is_read_as_text() -> None:
    assert _ids(convert(XML.read_text(encoding="utf-8"))) == _ids(convert(XML))
    assert _ids(convert(PAGE.read_text(encoding="utf-8"))) == _ids(convert(PAGE))


def test_from_format_and_its_alias_fmt_force_the_reader_and_are_checked(study: dict) -> None:
    assert convert(study, fmt="ctgov-v2") == convert(study, from_format="ctgov-v2") == convert(study)
    with pytest.raises(ConversionError, match="disagree"):
        convert(study, from_format="ctgov-v2", fmt="ctgov-xml")
    with pytest.raises(ConversionError, match="does not match trial.schema.json|unrecognised|not"):
        convert(study, from_format="trial-json")  # forced: a v2 study read as the model's JSON fails
    with pytest.raises(ConversionError, match="unknown input format 'nope'"):
        convert(study, fmt="nope")


def test_unknown_options_and_targets_raise_at_once(study: dict) -> None:
    with pytest.raises(ConversionError, match="unknown option 'bundletype'"):
        convert(study, bundletype="transaction")
    with pytest.raises(ConversionError, match="unknown output target 'fhir-r6'"):
        convert(study, to="fhir-r6")
    with pytest.raises(ConversionError, match="bundle_type must be one of"):
        convert(study, bundle_type="batchy")
    with pytest.raises(ConversionError, match="transaction_mode must be one of"):
        convert(study, transaction_mode="upsert")
    with pytest.raises(ConversionError, match="unknown output target"):
        iter_convert([study], to=["fhir-r5", "nope"])  # raised on the call, before any record is read
    with pytest.raises(ConversionError, match="source must be"):
        convert(42)


def test_all_and_lists_of_targets(study: dict) -> None:
    values = convert(study, to="all")
    assert list(values) == all_targets() == ["fhir-r5", "fhir-r4b", "cdisc", "usdm", "synopsis"]
    assert values["fhir-r4b"]["resourceType"] == "Bundle"
    assert set(values["cdisc"]["datasets"]) == {"TS", "TA", "TE", "TI"}
    assert values["synopsis"]["synopsis.html"].startswith("<!DOCTYPE html>")
    assert list(convert(study, to=["usdm", "fhir-r5"])) == ["usdm", "fhir-r5"]
    assert list(convert(study, to="fhir-r5,trial-json")) == ["fhir-r5", "trial-json"]


def test_conversion_is_the_rich_result(study: dict) -> None:
    done = conversion(study, to=["fhir-r5", "fhir-r4b", "cdisc"])
    assert isinstance(done, Conversion) and done.ok and done.trial.id == "NCT02513394"
    assert done.values["fhir-r5"] == convert(study)
    assert "NCT02513394.fhir-r5.json" in done.files and "NCT02513394/ts.xpt" in done.files
    tables = done.tables()
    assert tables["TS"][0]["TSPARMCD"] and len(tables["TI"]) == len(done.values["cdisc"]["datasets"]["TI"]["rows"])
    bundle = done.resources("fhir-r5")
    assert type(bundle).__module__ == "fhir.resources.bundle" and bundle.entry[0].resource.id == _ids(done.values["fhir-r5"])
    assert type(done.resources("fhir-r4b")).__module__.startswith("fhir.resources.R4B")
    with pytest.raises(ValueError):
        done.resources("cdisc")
    with pytest.raises(ValueError):
        _ = done.value  # several targets: .values
    assert isinstance(done.warnings, list) and done.notes  # CDISC notes what a submission still needs


def test_write_is_byte_identical_to_the_cli(tmp_path: Path) -> None:
    cli_out, lib_out = tmp_path / "cli", tmp_path / "lib"
    result = runner.invoke(app, ["convert", str(V2), "--to", "all", "--out", str(cli_out), "-q"])
    assert result.exit_code == 0, result.output
    written = conversion(str(V2), to="all").write(lib_out)
    assert written and all(path.is_file() for path in written)

    def tree(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    cli, lib = tree(cli_out), tree(lib_out)
    assert "trialconv-report.ndjson" in cli and len(cli) > 10
    assert cli == lib


def test_write_of_a_failed_record_writes_only_its_report_line(tmp_path: Path) -> None:
    results = list(iter_convert([b"not a record", V2], to="fhir-r5"))
    for result in results:
        result.write(tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "trialconv-report.ndjson").read_text(encoding="utf-8").splitlines()]
    assert [line["status"] for line in lines] == ["failed", "converted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NCT02513394.fhir-r5.json", "trialconv-report.ndjson"]


def test_iter_convert_streams_past_bad_records_of_any_kind(study: dict) -> None:
    def engine_queue():
        yield study
        yield 42                    # not something any reader takes
        yield "{ broken json"
        yield b""
        yield XML.read_bytes()

    results = list(iter_convert(engine_queue(), to="fhir-r5"))
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert "source must be" in str(results[1].error)
    assert "empty file" in str(results[3].error)
    assert results[4].trial.id == "NCT00496288"


def test_no_printing(capsys: pytest.CaptureFixture[str], study: dict) -> None:
    list(iter_convert([study, b"junk"], to="all"))
    convert(study)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_public_names_are_typed_exported_and_documented() -> None:
    import converter.api as api

    assert (Path(converter.__file__).parent / "py.typed").is_file()
    assert converter.__version__ and isinstance(converter.__version__, str)
    assert converter.Written is converter.writers.Written
    for name in converter.__all__:
        assert hasattr(converter, name), name
        if name not in ("__version__", "Convertible"):  # a string and a type alias
            assert (getattr(converter, name).__doc__ or "").strip(), f"{name} has no docstring"
    for name in api.__all__:
        assert hasattr(api, name), name
    assert converter.Result is Conversion


def test_version_is_the_packaged_version() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "converter/__init__.py"
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"trialconv {converter.__version__}"


def test_api_page_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import doctest

    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    failures, tried = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 10 and failures == 0


def test_readme_library_section_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Library**"):readme.index("**Service**")]
    code = section[section.index("```python") + len("```python"):section.rindex("```")]
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("False [detect] record <bytes>") and all(line.startswith("True ") for line in printed[:-1])
    assert len(printed) == 8 and (tmp_path / "out" / "NCT00496288.fhir-r5.json").is_file()
