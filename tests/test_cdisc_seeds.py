"""Two seed pages through the page readers into TS/TA/TE/TI, against hand-checked expectations.

tests/gold/ts_seed_001.json (ClinicalTrials.gov classic page) and ts_seed_002.json (MedPath page)
were written by reading the pages with the SDTMIG 3.4 TS rules and CDISC CT 2025-03-28, and are
compared row by row with the comparison used for the real records (test_cdisc_real.py).

A gold file may carry ``reader_gaps``: parameters whose right value is on the page but not in what
the page reader extracts, each with the rows the converter writes meanwhile and why. The comparison
uses those rows in place of the gold ones, and a separate test checks that the cause is still there,
so closing a reader gap fails here with a message saying which entry to delete.
"""

from __future__ import annotations

from typing import Any

import pytest

from converter.validate.cdisc import check_datasets
from converter.terminology import sdtm as ct
from converter.writers.cdisc import CdiscResult, build_datasets
from converter.writers.cdisc.text import MAX_BYTES, nbytes
from converter.writers.cdisc.ts import products_of

from conftest import ROOT
from test_cdisc_real import _gold, _trial, assert_rows_match

SAMPLES = ROOT / "samples"
SEEDS = {"001": "001_699d8be317e90364.txt", "002": "002_e8d3faca6c80e329.txt"}


def _result(seed: str) -> CdiscResult:
    return build_datasets(_trial(SAMPLES / SEEDS[seed]))


def _expected_today(gold: dict[str, Any]) -> list[dict[str, Any]]:
    """The gold rows with each reader-gap parameter's rows replaced, in place, by what is written today."""
    gaps = gold.get("reader_gaps", {})
    rows: list[dict[str, Any]] = []
    for row in gold["rows"]:
        parmcd = row["TSPARMCD"]
        if parmcd not in gaps:
            rows.append(row)
        elif row["TSSEQ"] == 1:
            rows.extend(gaps[parmcd]["rows"])
    return rows


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_ts_matches_hand_checked_gold_row_by_row(seed: str) -> None:
    gold = _gold(f"seed_{seed}")
    result = _result(seed)
    assert_rows_match(result["TS"], _expected_today(gold))
    assert check_datasets(result, result.study_id) == []


# What the reader would have to give for each gap to close; when it does, delete the gold entry.
_GAP_CAUSES = {
    "RANDOM": ("design.allocation", lambda t: t.design.allocation is None),
    "TBLIND": ("design.masking", lambda t: t.design.masking is None),
    "TRT": ("arm types", lambda t: all(arm.type is None for arm in t.arms)),
    "COMPTRT": ("arm types", lambda t: all(arm.type is None for arm in t.arms)),
}


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_reader_gaps_are_documented_and_still_open(seed: str) -> None:
    gold = _gold(f"seed_{seed}")
    trial = _trial(SAMPLES / SEEDS[seed])
    for parmcd, gap in gold.get("reader_gaps", {}).items():
        truth = [row for row in gold["rows"] if row["TSPARMCD"] == parmcd]
        assert truth, f"{parmcd}: reader gap for a parameter the gold does not have"
        assert gap["rows"] != truth and gap["why"].strip(), parmcd
        assert all(row["TSPARMCD"] == parmcd for row in gap["rows"]), parmcd
        field, still_open = _GAP_CAUSES[parmcd]
        assert still_open(trial), f"the reader now fills {field}: remove {parmcd} from reader_gaps in ts_seed_{seed}.json"


def test_seed_001_ts_notes_say_what_came_from_where() -> None:
    notes = _result("001").notes
    assert any(n.startswith("TS SENDTC") and "status UNKNOWN" in n and "2014-12" in n for n in notes)
    assert any(n.startswith("TS TRT") and "oxaliplatin, capecitabine, trastuzumab" in n and "MeSH" in n for n in notes)
    assert any(n.startswith("TS SPONSOR") and "UNK" in n for n in notes)


def test_combined_intervention_is_split_only_when_every_part_is_a_mesh_term() -> None:
    trial = _trial(SAMPLES / SEEDS["001"])
    assert products_of("oxaliplatin, capecitabine, trastuzumab", trial) == ["oxaliplatin", "capecitabine", "trastuzumab"]
    without = trial.model_copy(update={"intervention_mesh": [m for m in trial.intervention_mesh if m.term != "Trastuzumab"]})
    trt = [r["TSVAL"] for r in build_datasets(without)["TS"].rows if r["TSPARMCD"] == "TRT"]
    assert trt == ["oxaliplatin, capecitabine, trastuzumab"]
    assert products_of("Insulin, Regular", trial) == ["Insulin, Regular"]


def test_seed_002_ts_notes() -> None:
    notes = _result("002").notes
    # the reader infers the arm types from "Control group:" / "Experimental group:" (provenance.inferred "arms.type")
    assert not any("arm types are not recorded" in n for n in notes)
    assert any(n.startswith("TS INTTYPE") and "OTHER" in n and "C99078" in n for n in notes)


# ------------------------------------------------------------------------------------------ TA / TE


def _epochs() -> set[str]:
    return set(ct.codelist("EPOCH")["terms"])


def test_seed_001_single_arm_ta_te() -> None:
    result = _result("001")
    study = "NCT01387295"
    assert_rows_match(result["TA"], [
        {"STUDYID": study, "DOMAIN": "TA", "ARMCD": "CHEMOTHERAPY", "ARM": "chemotherapy", "TAETORD": 1, "ETCD": "SCRN", "ELEMENT": "Screening", "EPOCH": "SCREENING"},
        {"STUDYID": study, "DOMAIN": "TA", "ARMCD": "CHEMOTHERAPY", "ARM": "chemotherapy", "TAETORD": 2, "ETCD": "CHEMOTHE", "ELEMENT": "chemotherapy", "EPOCH": "TREATMENT"},
    ])
    # Non-randomized: screening ends when treatment starts; the three drugs are dosed.
    assert_rows_match(result["TE"], [
        {"STUDYID": study, "DOMAIN": "TE", "ETCD": "SCRN", "ELEMENT": "Screening", "TESTRL": "Informed consent", "TEENRL": "Start of study treatment"},
        {"STUDYID": study, "DOMAIN": "TE", "ETCD": "CHEMOTHE", "ELEMENT": "chemotherapy",
         "TESTRL": "First dose of study treatment, where treatment is oxaliplatin, capecitabine, trastuzumab",
         "TEENRL": "End of study treatment as defined by the protocol"},
    ])


def test_seed_002_two_arm_ta_te() -> None:
    result = _result("002")
    ta, te = result["TA"].rows, result["TE"].rows
    arms = {row["ARMCD"]: row["ARM"] for row in ta}
    assert sorted(arms.values()) == ["Palliative treatment", "Radical local treatment"]
    assert all(len(code) <= 20 for code in arms)
    elements = {row["ETCD"]: row for row in te}
    assert len(elements) == len(te) == 3 and all(len(code) <= 8 for code in elements)
    for armcd, label in arms.items():
        path = [row for row in ta if row["ARMCD"] == armcd]
        assert [(r["TAETORD"], r["ETCD"], r["EPOCH"]) for r in path][0] == (1, "SCRN", "SCREENING")
        assert path[1]["TAETORD"] == 2 and path[1]["EPOCH"] == "TREATMENT" and path[1]["ELEMENT"] == label
        assert path[0]["TABRANCH"].endswith(f" to {label}") and path[1]["TABRANCH"] == ""
        assert all(r["ETCD"] in elements for r in path)
    assert {row["EPOCH"] for row in ta} <= _epochs()
    # Surgery, radiotherapy and "other" palliative care start; they are not "dosed".
    starts = {row["ELEMENT"]: row["TESTRL"] for row in te}
    assert starts["Radical local treatment"] == "Start of study treatment, where treatment is Radical resection, Radical radiotherapy"
    assert starts["Palliative treatment"] == "Start of study treatment, where treatment is Palliative treatment"


# ------------------------------------------------------------------------------------------ TI


def test_seed_001_ti_follows_the_page_headings() -> None:
    result = _result("001")
    rows = result["TI"].rows
    codes = [row["IETESTCD"] for row in rows]
    assert codes == [f"INCL{n:02d}" for n in range(1, 15)] + [f"EXCL{n:02d}" for n in range(1, 16)]
    assert {row["IECAT"] for row in rows} == {"INCLUSION", "EXCLUSION"} <= set(ct.codelist("IECAT")["terms"])
    assert all(row["IECAT"] == ("INCLUSION" if row["IETESTCD"].startswith("INCL") else "EXCLUSION") for row in rows)
    assert all(0 < nbytes(row["IETEST"]) <= MAX_BYTES for row in rows)
    text = {row["IETESTCD"]: row["IETEST"] for row in rows}
    assert text["INCL01"] == "Informed consent"  # the "•" glued to the heading on the page
    assert text["INCL14"] == "If the patient is HER2-positive: Baseline LVEF ≥ 50 %"
    assert text["EXCL01"] == "History of chemotherapy within the 4-week period prior to the start of trial medication"
    assert text["EXCL15"].startswith("If the patient is HER2-positive: Dyspnoea in due to complication")
    # The one criterion over 200 bytes is shortened in TI and kept whole for Define-XML.
    assert text["EXCL06"].endswith("…") and result.long_text["TI.EXCL06.IETEST"].endswith("within 4 weeks before inclusion")
    assert any(n.startswith("TI EXCL06") for n in result.notes)
    assert not any("not marked inclusion or exclusion" in n for n in result.notes)


def test_seed_002_unclassified_criteria_go_to_notes_not_ti() -> None:
    """The MedPath page lost its Inclusion/Exclusion headings: only items whose own wording states a
    requirement ("must", "should", a leading "No"/"Without") reach TI; the rest go to the notes."""
    result = _result("002")
    trial = _trial(SAMPLES / SEEDS["002"])
    decided = [c.text for c in trial.eligibility.criteria if c.category != "UNKNOWN"]
    assert len(decided) == 5 and {c.category for c in trial.eligibility.criteria} == {"UNKNOWN", "INCLUSION"}
    assert [result.long_text.get(f"TI.{row['IETESTCD']}.IETEST", row["IETEST"]) for row in result["TI"].rows] == decided
    assert "Women of child-bearing age should take effective contraceptive measures" in decided
    [note] = [n for n in result.notes if n.startswith("TI:")]
    assert f"{len(trial.eligibility.criteria) - 5} criteria not marked inclusion or exclusion were left out" in note
    assert "«Patients provided written informed consent»" in note and "«Pregnancy or lactation»" in note
    assert check_datasets(result, result.study_id) == []
