"""Issue 17 (points 1, 2, 8): titles as HL7 maps them, no MeSH ancestor as a condition, and values a
reader could not map reported as warnings — on records of every input format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converter import convert, iter_convert
from converter.readers import read_source
from converter.writers.fhir.r4b import build_bundle as build_r4b
from converter.writers.fhir.r5 import build_bundle as build_r5

from conftest import ROOT, SHARED

LABEL_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.label"
SEEDS = SHARED / "seeds"


def _study(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def _r4b_labels(study: dict) -> dict[str, str]:
    out = {}
    for ext in study.get("extension", []):
        if ext["url"] == LABEL_EXT:
            parts = {p["url"]: p for p in ext["extension"]}
            out[parts["type"]["valueCodeableConcept"]["coding"][0]["code"]] = parts["value"]["valueString"]
    return out


def _records() -> list[Path]:
    paths = [ROOT / "samples" / "NCT02513394.json", ROOT / "samples" / "NCT00496288.xml"]
    return paths + sorted(SEEDS.glob("*.txt"))


@pytest.mark.parametrize("path", _records(), ids=lambda p: p.name)
def test_title_is_the_brief_title_with_official_title_and_acronym_as_labels(path: Path) -> None:
    if not path.exists():
        pytest.skip("shared seeds not present")
    trial = next(iter(read_source(path)))
    r5, r4b = _study(build_r5(trial)), _study(build_r4b(trial))
    expected = trial.brief_title or trial.official_title
    assert r5["title"] == r4b["title"] == expected
    labels = {label["type"]["coding"][0]["code"]: label["value"] for label in r5.get("label", [])}
    wanted = {code: value for code, value in (("official", trial.official_title), ("acronym", trial.acronym)) if value and value != expected}
    assert labels == wanted
    assert _r4b_labels(r4b) == wanted


def test_real_records_of_each_format_have_brief_titles_and_official_labels() -> None:
    """The v2 sample carries all three (brief, official, acronym); the XML sample and the classic page
    have brief and official titles: the assertion above must not be vacuous."""
    v2 = next(iter(read_source(ROOT / "samples" / "NCT02513394.json")))
    study = _study(build_r5(v2))
    assert study["title"] == "PALbociclib CoLlaborative Adjuvant Study"
    assert {label["type"]["coding"][0]["code"] for label in study["label"]} == {"official", "acronym"}
    assert _r4b_labels(_study(build_r4b(v2)))["acronym"] == "PALLAS"
    xml = next(iter(read_source(ROOT / "samples" / "NCT00496288.xml")))
    assert _study(build_r5(xml))["title"].startswith("Prophylactic Irradiation to the Contralateral Breast")
    assert _r4b_labels(_study(build_r4b(xml)))["official"].startswith("Phase II Multicenter Clinical Trial")


# --- point 8: values a reader could not map are warnings ---------------------------------------------------------


def _weird_v2(tmp_path: Path) -> Path:
    data = json.loads((ROOT / "samples" / "NCT02513394.json").read_text(encoding="utf-8"))
    data["protocolSection"]["statusModule"]["overallStatus"] = "WEIRD"
    data["protocolSection"]["statusModule"]["startDateStruct"]["date"] = "2015-13-45"
    path = tmp_path / "weird.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _weird_xml(tmp_path: Path) -> Path:
    text = (ROOT / "samples" / "NCT00496288.xml").read_text(encoding="utf-8")
    text = text.replace("<overall_status>Recruiting</overall_status>", "<overall_status>WEIRD</overall_status>")
    text = text.replace("<start_date>March 2008</start_date>", "<start_date>2015-13-45</start_date>")
    path = tmp_path / "weird.xml"
    path.write_text(text, encoding="utf-8")
    return path


def _weird_fields_page(tmp_path: Path) -> Path:
    if not (SEEDS / "004_cf0a217b1bebf5ab.txt").exists():
        pytest.skip("shared seeds not present")
    text = (SEEDS / "004_cf0a217b1bebf5ab.txt").read_text(encoding="utf-8")
    assert "Status: NOT_YET_RECRUITING" in text and "Status Verified Date: 2025-08" in text
    text = text.replace("Status: NOT_YET_RECRUITING", "Status: WEIRD").replace("Status Verified Date: 2025-08", "Status Verified Date: 2015-13-45")
    path = tmp_path / "weird.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("make", [_weird_v2, _weird_xml, _weird_fields_page], ids=["v2-json", "legacy-xml", "fields-page"])
def test_unmappable_status_and_date_are_warnings_in_the_result(make, tmp_path: Path) -> None:
    path = make(tmp_path)
    trial = next(iter(read_source(path)))
    assert trial.overall_status is None
    warnings = " | ".join(trial.provenance.warnings)
    assert "WEIRD" in warnings and "2015-13-45" in warnings
    assert any("WEIRD" in u for u in trial.provenance.unmapped)  # still listed where it was
    result = next(iter(iter_convert(path, to="fhir-r5")))
    assert result.ok
    counted = [w for w in result.warnings if "WEIRD" in w or "2015-13-45" in w]
    assert len(counted) == 2


def test_a_clean_record_gains_no_warning() -> None:
    trial = next(iter(read_source(ROOT / "samples" / "NCT02513394.json")))
    assert trial.provenance.warnings == []


# --- point 2: MeSH ancestors are never conditions -------------------------------------------------------------------


def _condition_texts(study: dict) -> list[str]:
    return [c.get("text", "") for c in study.get("condition", [])]


@pytest.mark.parametrize("path", _records(), ids=lambda p: p.name)
def test_conditions_are_the_registry_conditions_and_own_mesh_terms_only(path: Path) -> None:
    if not path.exists():
        pytest.skip("shared seeds not present")
    trial = next(iter(read_source(path)))
    own = {c.lower() for c in trial.conditions} | {m.term.lower() for m in trial.condition_mesh}
    for bundle in (build_r5(trial), build_r4b(trial)):
        texts = _condition_texts(_study(bundle))
        assert {t.lower() for t in texts} == own
        assert not {m.term for m in trial.condition_mesh_ancestors} - set(trial.conditions) & set(texts)
    for concept in _study(build_r5(trial)).get("condition", []):
        for coding in concept.get("coding", []):
            assert coding["system"] == "https://www.nlm.nih.gov/mesh"


def test_the_classic_page_seed_keeps_its_ancestors_apart() -> None:
    """Seed 001 lists 13 condition MeSH terms: 4 its own, 9 ancestors ("Neoplasms by Site", "Skin Diseases",
    "Pathologic Processes", …); before issue 17 every one became a ResearchStudy.condition."""
    path = SEEDS / "001_699d8be317e90364.txt"
    if not path.exists():
        pytest.skip("shared seeds not present")
    trial = next(iter(read_source(path)))
    assert [m.term for m in trial.condition_mesh] == ["Breast Neoplasms", "Neoplasm Metastasis", "Neoplasms, Second Primary", "Liver Neoplasms"]
    ancestors = [m.term for m in trial.condition_mesh_ancestors]
    assert {"Neoplasms by Site", "Skin Diseases", "Pathologic Processes", "Neoplasms"} <= set(ancestors) and len(ancestors) == 9
    assert [m.term for m in trial.intervention_mesh] == ["Capecitabine", "Oxaliplatin", "Trastuzumab"]
    study = _study(build_r5(trial))
    texts = _condition_texts(study)
    assert texts[:2] == ["Metastatic Breast Cancer", "Liver Metastases"]
    for word in ("Neoplasms by Site", "Skin Diseases", "Pathologic Processes", "Neoplasms", "Breast Diseases"):
        assert word not in texts
    focus = json.dumps(study.get("focus", []))
    assert "Antineoplastic Agents" not in focus and "Molecular Mechanisms" not in focus
    breast = next(c for c in study["condition"] if c["text"] == "Breast Neoplasms")
    assert breast["coding"] == [{"system": "https://www.nlm.nih.gov/mesh", "code": "D001943", "display": "Breast Neoplasms"}]
    # ancestors stay in the trial model (trial JSON), where no one reads them as conditions
    assert "Neoplasms by Site" in json.dumps(trial.to_json()["condition_mesh_ancestors"])


def test_v2_corpus_ancestors_never_become_conditions(shared_dir: Path) -> None:
    checked = 0
    for path in sorted((shared_dir / "ctgov" / "v2").glob("*.json")):
        trial = next(iter(read_source(path)))
        if not trial.condition_mesh_ancestors:
            continue
        texts = set(_condition_texts(_study(build_r5(trial))))
        own = set(trial.conditions) | {m.term for m in trial.condition_mesh}
        assert not ({m.term for m in trial.condition_mesh_ancestors} - own) & texts, trial.id
        checked += 1
    assert checked >= 50


# --- point 7: HL7's own ClinicalTrials.gov example, element by element ---------------------------------------------

HL7 = json.loads((ROOT / "tests" / "data" / "hl7" / "NCT05503693.facts.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hl7_pair(tmp_path_factory) -> tuple[dict, dict, dict]:
    path = tmp_path_factory.mktemp("hl7") / "NCT05503693.json"
    path.write_text(json.dumps(HL7["record"], ensure_ascii=False), encoding="utf-8")
    bundle = convert(path, to="fhir-r5")  # validated, as the CLI writes it
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    study = next(r for r in by_url.values() if r["resourceType"] == "ResearchStudy")
    return HL7["example"], study, by_url


def test_adopted_title_and_official_title_label(hl7_pair) -> None:
    example, study, _ = hl7_pair
    assert study["title"] == example["title"]
    assert [{"type": {k: l["type"]["coding"][0][k] for k in ("system", "code")}, "value": l["value"]} for l in study["label"]] == example["label"]


def test_adopted_oversight_flags_and_results_as_classifiers(hl7_pair) -> None:
    """The example holds DMC, FDA drug/device and has-results as four text classifiers; trialconv
    writes the same four facts (in plain words) as classifiers, no longer as notes."""
    example, study, _ = hl7_pair
    texts = [c["text"] for c in study["classifier"]]
    assert len(texts) == len(example["classifier_texts"]) == 4
    assert texts == ["Has a data monitoring committee", "Does not study a U.S. FDA-regulated drug product",
                     "Does not study a U.S. FDA-regulated device product", "No results posted on the registry"]
    assert not any("monitoring committee" in n["text"] or "FDA" in n["text"] for n in study.get("note", []))


def test_adopted_progress_status_coded_from_the_registry_status(hl7_pair) -> None:
    example, study, _ = hl7_pair
    first = study["progressStatus"][0]["state"]["coding"][0]
    assert {k: first[k] for k in ("system", "code")} == example["progressStatus"][0]["state"]
    # the example's single "overall-study" period is trialconv's study period plus one entry per milestone
    assert study["period"] == example["progressStatus"][1]["period"]
    milestones = {p["state"]["text"]: p for p in study["progressStatus"][1:]}
    assert milestones["Study start"]["period"] == {"start": "2022-12-06"} and milestones["Study start"]["actual"] is True
    assert milestones["Study completion"]["actual"] is False


def test_adopted_arms_point_at_intervention_evidence_variables(hl7_pair) -> None:
    example, study, by_url = hl7_pair
    for group, expected in zip(study["comparisonGroup"], example["comparisonGroup"], strict=True):
        assert group["name"] == expected["name"] and group["type"]["text"].lower() == expected["type_text"].lower()
        exposures = [by_url[ref["reference"]] for ref in group["intendedExposure"]]
        assert {e["resourceType"] for e in exposures} == {expected["intendedExposure_type"]}
        assert [ref["display"] for ref in group["intendedExposure"]] == expected["intendedExposure_display"]


def test_same_facts_where_both_follow_the_standard(hl7_pair) -> None:
    example, study, by_url = hl7_pair
    assert [c["text"] for c in study["condition"]] == example["condition_texts"]
    assert {k: study["phase"]["coding"][0][k] for k in ("code",)} == {"code": example["phase"]["code"]}
    assert study["primaryPurposeType"]["coding"][0]["code"] == example["primaryPurposeType"]["code"]
    assert study["recruitment"]["targetNumber"] == example["recruitment"]["targetNumber"]
    assert by_url[study["recruitment"]["eligibility"]["reference"]]["resourceType"] == example["recruitment"]["eligibility_type"]
    assert {m["type"][0]["coding"][0]["code"] for m in study["outcomeMeasure"]} == {example["outcomeMeasure_type"]["code"]}
    assert study["status"] == example["status"]


def test_documented_differences_from_the_example(hl7_pair) -> None:
    """Where trialconv differs on purpose (README, 'HL7's ClinicalTrials.gov example'): one keyword per
    registry keyword, the ClinicalTrials.gov identifier system as in trialconv's other outputs, SEVCO codes
    in the R5 study-design system instead of words, and bundle entries instead of contained resources."""
    example, study, _ = hl7_pair
    assert len(study["keyword"]) == 5 and len(example["keyword_texts"]) == 1
    ctgov = next(i for i in study["identifier"] if i.get("use") == "official")
    assert ctgov["value"] == example["identifier_ctgov"]["value"] and ctgov["system"] == "http://clinicaltrials.gov"
    codes = {c["code"] for d in study["studyDesign"] for c in d.get("coding", [])}
    assert {"SEVCO:01001", "SEVCO:01003"} <= codes
    assert "contained" not in study


def test_cli_report_and_summary_count_the_unmappable_values(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from converter.cli import app

    runner = CliRunner()
    counts = []
    for name, path in (("clean", ROOT / "samples" / "NCT02513394.json"), ("weird", _weird_v2(tmp_path))):
        out = tmp_path / f"out-{name}"
        result = runner.invoke(app, ["convert", str(path), "--to", "fhir-r5", "--out", str(out)])
        assert result.exit_code == 0, result.output
        report = [json.loads(line) for line in (out / "trialconv-report.ndjson").read_text(encoding="utf-8").splitlines()]
        assert report[0]["status"] == "converted"
        counts.append(len(report[0]["warnings"]))
        assert f"│ 1         │ 0      │ {counts[-1]} " in result.output  # the summary's warnings column
    assert counts[1] == counts[0] + 2
    assert any("'WEIRD'" in w for w in report[0]["warnings"]) and any("'2015-13-45'" in w for w in report[0]["warnings"])


def test_generic_page_warns_about_a_status_it_cannot_map() -> None:
    from converter.readers import read_input
    from converter.readers.sources import Input

    page = b"""Example Registry - Study record
A Study of Drug X in Adults With Asthma
Public title: A Study of Drug X in Adults With Asthma
Primary ID: ISRCTN12345678
Recruitment status: Sort of ongoing
Inclusion criteria
1. Adults aged 18 years or older
"""
    trial = next(iter(read_input(Input("page.txt", page))))
    assert trial.overall_status is None
    assert any("Sort of ongoing" in w and "not mapped" in w for w in trial.provenance.warnings)
