"""CDISC USDM 4.0 export: every shared record and seed converts, validates, and carries its facts.

The corpus is converted once (module fixture) and each test reads the results:

* schema and reference integrity have zero errors on every record, and the USDM rule findings are
  only those of the documented registry-lacks list (``registry_lacks`` in ``usdm_rules.json``);
* field coverage: titles, identifiers, phase, study type, arms, interventions, endpoints by level,
  population facts and every eligibility criterion are counted in the record and in the file;
* the official examples pass schema and references, a broken copy of each fails naming the path,
  and their rule verdicts are the ones listed (and justified) in ``docs/usdm.md``.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import SHARED
from converter.model import Trial
from converter.readers import read_source
from converter.terminology import load
from converter.terminology import sdtm
from converter.validate import usdm as V
from converter.writers.targets import dumps
from converter.writers.usdm import build_wrapper
from converter.writers.usdm.study import _flatten, placeholder

EXAMPLES = SHARED / "usdm" / "examples"


def _records() -> list[Path]:
    return sorted((SHARED / "ctgov" / "v2").glob("*")) + sorted((SHARED / "ctgov" / "xml").glob("*")) + sorted((SHARED / "seeds").glob("*"))


@pytest.fixture(scope="module")
def converted(shared_dir: Path) -> list[tuple[str, Trial, dict[str, Any], V.Report]]:
    """Every record of ../shared/ctgov (v2, xml) and every seed: trial, USDM file (as JSON text), report."""
    out = []
    for path in _records():
        errors: list[Exception] = []
        for trial in read_source([str(path)], None, on_error=errors.append):
            wrapper = json.loads(dumps(build_wrapper(trial)))
            out.append((f"{path.parent.name}/{path.name}", trial, wrapper, V.validate_document(wrapper)))
        assert not errors, (path, errors)
    assert len(out) >= 440
    return out


def _version(wrapper: dict[str, Any]) -> dict[str, Any]:
    return wrapper["study"]["versions"][0]


def _design(wrapper: dict[str, Any]) -> dict[str, Any]:
    return _version(wrapper)["studyDesigns"][0]


def test_every_record_valid_schema_and_references(converted) -> None:
    bad = {name: report.errors[:3] for name, _, _, report in converted if report.errors}
    assert not bad, bad


def test_rule_findings_only_registry_lacks(converted) -> None:
    allowed = V.registry_lacks()
    outside = [f"{name}: {f}" for name, _, _, report in converted for f in report.findings if f.rule not in allowed]
    assert not outside, outside[:20]
    seen = Counter(f.rule for _, _, _, report in converted for f in report.findings)
    print("\nregistry-lacks findings over the corpus:", dict(sorted(seen.items())))
    assert set(seen) <= set(allowed)


def test_field_coverage(converted) -> None:
    """Counts per field, record versus file (the FHIR corpus test's style); every count must match."""
    source: Counter[str] = Counter()
    target: Counter[str] = Counter()
    title_codes = load("usdm_map")["title_types"]
    for _, trial, wrapper, _ in converted:
        version, design = _version(wrapper), _design(wrapper)
        titles = {t["type"]["code"]: t["text"] for t in version["titles"]}
        for kind, text in (("brief", trial.brief_title), ("official", trial.official_title), ("acronym", trial.acronym)):
            if text:
                source[f"title.{kind}"] += 1
                target[f"title.{kind}"] += titles.get(title_codes[kind]) == text
        idents = {i["text"] for i in version["studyIdentifiers"]}
        for ident in trial.identifiers:
            source["identifier"] += 1
            target["identifier"] += ident.value in idents
        if trial.phases:
            source["phase"] += 1
            target["phase"] += bool(design.get("studyPhase", {}).get("standardCode", {}).get("decode"))
        if trial.study_type:
            source["study_type"] += 1
            target["study_type"] += bool(design.get("studyType", {}).get("code"))
        source["arm"] += len(trial.arms)
        target["arm"] += sum(1 for a in design["arms"] if trial.arms and a["label"] in {x.label for x in trial.arms})
        source["intervention"] += len(trial.interventions)
        target["intervention"] += sum(1 for iv, si in zip(trial.interventions, version["studyInterventions"]) if si["label"] == iv.name)
        linked = {label: ids for label, ids in ((e["label"], e["studyInterventionIds"]) for e in design["elements"])}
        source["arm.interventions_linked"] += sum(1 for arm in trial.arms if arm.intervention_names)
        target["arm.interventions_linked"] += sum(1 for arm in trial.arms if arm.intervention_names and linked.get(arm.label))
        levels = {o["level"]["code"]: [e["label"] for e in o["endpoints"]] for o in design["objectives"]}
        for kind, code in load("usdm_map")["objective_levels"].items():
            if kind != "codelist":
                source[f"endpoint.{kind}"] += sum(1 for o in trial.outcomes if o.kind == kind)
                target[f"endpoint.{kind}"] += len(levels.get(code, []))
        elig, population = trial.eligibility, design["population"]
        if elig.sex:
            source["population.sex"] += 1
            target["population.sex"] += bool(population["plannedSex"])
        if elig.minimum_age and elig.maximum_age:
            source["population.age_range"] += 1
            target["population.age_range"] += population["plannedAge"]["minValue"]["value"] == elig.minimum_age.value
        if elig.healthy_volunteers is not None:
            source["population.healthy_volunteers"] += 1
            target["population.healthy_volunteers"] += population["includesHealthySubjects"] == elig.healthy_volunteers
        if trial.enrollment and trial.enrollment.type != "ACTUAL":
            source["population.planned_enrollment"] += 1
            target["population.planned_enrollment"] += population["plannedEnrollmentNumber"]["value"] == trial.enrollment.count
        texts = Counter(re.sub(r"</?p>", " ", item["text"]) for item in version["eligibilityCriterionItems"])
        for _, _, criterion in _flatten(elig.criteria):
            source["criterion"] += 1
            target["criterion"] += sum(html.unescape(t).split() == criterion.text.split() for t in texts if texts[t]) > 0
        source["criterion.order"] += 1
        target["criterion.order"] += [c["criterionItemId"] for c in design["eligibilityCriteria"]] == \
            [i["id"] for i in version["eligibilityCriterionItems"]]
    print("\nfield                          record   file")
    for key in sorted(source):
        print(f"{key:30} {source[key]:6} {target[key]:6}")
    assert source["criterion"] > 4000 and source["endpoint.PRIMARY"] > 500
    assert {k: target[k] for k in source} == dict(source)


def test_codes_come_from_vendored_or_pinned_terminology(converted) -> None:
    """Every non-empty CDISC code written is a term of the USDM CT, the pinned SDTM CT, a TS parameter
    concept or an attested term — never invented. Empty codes carry registry words or the placeholder."""
    known = {code for entry in load("usdm_ct")["codelists"].values() for code in entry["terms"]}
    known |= {code for entry in sdtm.ct()["codelists"].values() for code in entry["terms"].values()}
    known |= {p["code"] for p in sdtm.parameters().values()}
    known |= {code for terms in load("usdm_ct")["attested"].values() for code in terms}
    empty: Counter[str] = Counter()
    for name, _, wrapper, _ in converted:
        for node in V.index(wrapper).by_class["Code"]:
            code = node.obj["code"]
            assert code == "" or code in known, f"{name} {node.path}: {code}"
            assert node.obj["codeSystemVersion"] == sdtm.ct_version()
            if code == "":
                empty[node.obj["decode"]] += 1
    assert empty[placeholder()] > 0


def test_deterministic_and_ids_unique(converted) -> None:
    name, trial, wrapper, _ = max(converted, key=lambda item: len(item[1].locations))
    first, second = dumps(build_wrapper(trial)), dumps(build_wrapper(trial))
    assert first == second
    assert first == dumps(wrapper), next((first[i - 200:i + 80], dumps(wrapper)[i - 200:i + 80]) for i in range(len(first)) if first[i] != dumps(wrapper)[i])
    ids = [node.obj["id"] for node in V.index(wrapper).nodes if "id" in node.obj]
    assert len(ids) == len(set(ids)) > 200, name


def test_derived_structure_is_marked(converted) -> None:
    for name, trial, wrapper, _ in converted:
        design = _design(wrapper)
        assert len(design["epochs"]) == 1 and "Derived by trialconv" in design["epochs"][0]["notes"][0]["text"], name
        assert len(design["studyCells"]) == len(design["arms"]) == max(1, len(trial.arms)), name
        assert design["rationale"] == _version(wrapper)["rationale"] == placeholder()


# --- official examples -----------------------------------------------------------------------------------------

#: Rule verdicts on the official examples, checked by hand against each rule's text (docs/usdm.md).
EXAMPLE_VERDICTS: dict[str, set[str]] = {
    "Alexion_NCT04573309_Wilsons.json": {
        "DDF00006", "DDF00035", "DDF00039", "DDF00075", "DDF00080", "DDF00101", "DDF00115", "DDF00126", "DDF00143",
        "DDF00146", "DDF00153", "DDF00164", "DDF00165", "DDF00182", "DDF00188", "DDF00189", "DDF00191", "DDF00199",
        "DDF00203", "DDF00236", "DDF00247",
    },
    "CDISC_Pilot_Study.json": {
        "DDF00010", "DDF00034", "DDF00035", "DDF00075", "DDF00080", "DDF00084", "DDF00101", "DDF00115", "DDF00143",
        "DDF00146", "DDF00153", "DDF00163", "DDF00164", "DDF00165", "DDF00188", "DDF00189", "DDF00192", "DDF00199",
        "DDF00203", "DDF00213", "DDF00218", "DDF00236", "DDF00247",
    },
    "EliLilly_NCT03421379_Diabetes.json": {
        "DDF00010", "DDF00034", "DDF00075", "DDF00080", "DDF00101", "DDF00115", "DDF00126", "DDF00132", "DDF00143",
        "DDF00146", "DDF00153", "DDF00164", "DDF00165", "DDF00172", "DDF00188", "DDF00201", "DDF00236", "DDF00247",
    },
    "observational.json": {
        "DDF00010", "DDF00035", "DDF00039", "DDF00115", "DDF00126", "DDF00143", "DDF00146", "DDF00153",
        "DDF00164", "DDF00165", "DDF00172", "DDF00183", "DDF00188", "DDF00201", "DDF00218", "DDF00232", "DDF00236",
        "DDF00246", "DDF00247",
    },
}


def _example_names() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []


@pytest.fixture(scope="module")
def examples(shared_dir: Path) -> dict[str, dict[str, Any]]:
    return {name: json.loads((EXAMPLES / name).read_text(encoding="utf-8")) for name in _example_names()}


def test_examples_pass_schema_and_references(examples) -> None:
    assert len(examples) == 4
    for name, document in examples.items():
        report = V.validate_document(document)
        assert report.errors == [], (name, report.errors[:5])


def test_broken_examples_fail_naming_the_path(examples) -> None:
    for name, document in examples.items():
        broken = copy.deepcopy(document)
        del broken["study"]["versions"][0]["studyDesigns"][0]["arms"][0]["type"]
        errors = V.schema_errors(broken)
        assert any(e.startswith("$.study.versions[0].studyDesigns[0].arms[0]") and "'type'" in e for e in errors), (name, errors)
        dangling = copy.deepcopy(document)
        dangling["study"]["versions"][0]["studyDesigns"][0]["studyCells"][0]["armId"] = "StudyArm_missing"
        errors = V.validate_document(dangling).errors
        assert errors == ["$.study.versions[0].studyDesigns[0].studyCells[0].armId: 'StudyArm_missing' does not resolve to any object in the file"], (name, errors)


def test_example_rule_verdicts(examples) -> None:
    verdicts = {name: {f.rule for f in V.validate_document(document).findings} for name, document in examples.items()}
    for name, rules in sorted(verdicts.items()):
        print(f"\n{name}: {sorted(rules)}")
    assert verdicts == EXAMPLE_VERDICTS
    doc = (Path(__file__).resolve().parent.parent / "docs" / "usdm.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"DDF\d{5}", doc))
    missing = (set().union(*verdicts.values()) | set(V.registry_lacks())) - listed
    assert not missing, f"docs/usdm.md does not justify {sorted(missing)}"


def test_cli_validate_accepts_usdm(tmp_path, examples, converted) -> None:
    """``trialconv validate`` judges a USDM file as the writer judges its own output: schema/reference
    errors and findings outside the registry-lacks list fail (exit 1); listed findings are warnings."""
    from typer.testing import CliRunner

    from converter.cli import app

    name, _, wrapper, report = next(item for item in converted if any(f.severity == "ERROR" for f in item[3].findings))
    own = tmp_path / "own.json"
    own.write_text(json.dumps(wrapper), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(own)])
    assert result.exit_code == 0 and "valid, with warnings" in result.output and "warning: DDF" in result.output, name
    bad = tmp_path / "bad.json"
    broken = copy.deepcopy(examples["observational.json"])
    broken["usdmVersion"] = 4
    bad.write_text(json.dumps(broken), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and "$.usdmVersion" in result.output
    example = tmp_path / "example.json"
    example.write_text(json.dumps(examples["observational.json"]), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(example)])
    assert result.exit_code == 1 and "DDF00246 (ERROR)" in result.output


def test_vendored_usdm_files_are_current(shared_dir: Path) -> None:
    """``scripts/vendor_usdm.py`` regenerates exactly the committed schema, CT and model from ../shared/usdm."""
    pytest.importorskip("openpyxl")
    pytest.importorskip("yaml")
    from scripts import vendor_usdm

    source = shared_dir / "usdm"
    root = Path(__file__).resolve().parent.parent
    assert json.loads((root / "schemas/usdm/usdm.schema.json").read_text(encoding="utf-8")) == vendor_usdm.schema(source)
    assert load("usdm_ct") == vendor_usdm.terminology(source)
    assert load("usdm_model") == vendor_usdm.model(source)
    assert (root / "schemas/usdm/LICENSE").read_bytes() == (source / "LICENSE").read_bytes()
    official = set(load("usdm_rules")["rules"])  # every rule of USDM_CORE_Rules.xlsx marked for version 4.0
    assert len(official) == 210 and all(r.get("status") in ("checked", "schema", "references", "not_checked") for r in V.rules().values())
    assert all(r.get("why") for r in V.rules().values() if r["status"] == "not_checked")
    assert set(V.registry_lacks()) <= {rid for rid, r in V.rules().items() if r["status"] == "checked"}
    specs = [s for r in V.rules().values() if r.get("check") for s in (r["check"] if isinstance(r["check"], list) else [r["check"]])]
    assert {s["kind"] for s in specs} == set(V.KINDS), "every check kind is used by a rule and exists in the code"


def test_target_validates_before_writing(converted, monkeypatch) -> None:
    """The ``usdm`` target writes ``<id>.usdm.json`` with registry-lacks findings as the record's
    warnings (in the library result and the report), and refuses the file when a finding is not on that list."""
    from converter.errors import ValidationError
    from converter.writers import writers

    name, trial, wrapper, report = next(item for item in converted if item[3].findings)
    written = writers()["usdm"].produce(trial, {})
    assert list(written.files) == [f"{trial.id}.usdm.json"]
    assert json.loads(written.files[f"{trial.id}.usdm.json"])["study"] == wrapper["study"]
    assert {warning.split()[1] for warning in written.warnings} == {f.rule for f in report.findings}
    assert not written.notes
    from converter.api import Result

    result = Result(trial, {"usdm": written})
    assert set(written.warnings) <= set(result.warnings)
    monkeypatch.setattr(V, "registry_lacks", lambda: {})
    with pytest.raises(ValidationError) as failure:
        writers()["usdm"].produce(trial, {})
    assert failure.value.record == trial.id and report.findings[0].path in str(failure.value)
