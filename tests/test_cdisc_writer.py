"""SDTM trial design writer: dataset structure, CT coding, null flavors, text limits, files.

Trials here are built by hand so each rule is exercised on purpose; real records are covered in
test_cdisc_real.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from converter.errors import ValidationError
from converter.model import (
    Age, Arm, Criterion, Dates, Design, Eligibility, Enrollment, Identifier, Intervention, Location,
    Organization, Outcome, Oversight, Provenance, Trial, TrialDate,
)
from converter.validate.cdisc import check_dataset_json, check_datasets
from converter.terminology import sdtm as ct
from converter.writers.cdisc import CdiscResult, Dataset, build_datasets, stack, to_dataset_json, write_csv, write_xpt
from converter.writers.cdisc.text import nbytes, shorten, split_text
from converter.writers.targets import cdisc_files

from conftest import write_cdisc


def make_trial(**overrides: Any) -> Trial:
    """A complete interventional trial; keyword overrides replace top-level fields."""
    data: dict[str, Any] = dict(
        id="NCT01234567",
        identifiers=[
            Identifier(value="NCT01234567", kind="REGISTRY"),
            Identifier(value="ACME-001", kind="ORG_STUDY_ID"),
            Identifier(value="2010-012345-12", type="EUDRACT_NUMBER"),
            Identifier(value="R01CA123456", type="NIH"),
        ],
        brief_title="Drug X in lung cancer",
        official_title="A Randomized, Double-Blind, Placebo-Controlled Phase 3 Study of Drug X in Lung Cancer",
        overall_status="COMPLETED",
        phases=["PHASE3"],
        study_type="INTERVENTIONAL",
        design=Design(
            allocation="RANDOMIZED", intervention_model="PARALLEL", masking="DOUBLE",
            who_masked=["PARTICIPANT", "INVESTIGATOR"], primary_purpose="TREATMENT", number_of_arms=2,
        ),
        conditions=["Non-small Cell Lung Cancer"],
        sponsor=Organization(name="Acme Pharma"),
        dates=Dates(start=TrialDate(date="2010-04", type="ACTUAL"), completion=TrialDate(date="2014-12-31", type="ACTUAL")),
        enrollment=Enrollment(count=300, type="ACTUAL"),
        arms=[
            Arm(label="Arm A: Drug X", type="EXPERIMENTAL", intervention_names=["Drug: Drug X"]),
            Arm(label="Arm B: Placebo", type="PLACEBO_COMPARATOR", intervention_names=["Drug: Placebo"]),
        ],
        interventions=[
            Intervention(name="Drug X", type="DRUG", arm_labels=["Arm A: Drug X"]),
            Intervention(name="Placebo", type="DRUG", arm_labels=["Arm B: Placebo"]),
        ],
        outcomes=[Outcome(kind="PRIMARY", measure="Overall survival"), Outcome(kind="SECONDARY", measure="Progression-free survival")],
        eligibility=Eligibility(
            sex="ALL", minimum_age=Age(value=18, unit="YEARS"), healthy_volunteers=False,
            criteria=[
                Criterion(text="Histologically confirmed NSCLC", category="INCLUSION"),
                Criterion(text="Adequate organ function:", category="INCLUSION", children=[
                    Criterion(text="Platelets ≥ 100,000/µL"), Criterion(text="ANC ≥ 1,500/µL"),
                ]),
                Criterion(text="Pregnant or breastfeeding", category="EXCLUSION"),
            ],
        ),
        locations=[Location(country="United States"), Location(country="Korea, Republic of"), Location(country="United States")],
        oversight=Oversight(has_dmc=True),
        provenance=Provenance(source_format="test"),
    )
    data.update(overrides)
    return Trial(**data)


def ts_rows(result: CdiscResult, parmcd: str) -> list[dict[str, Any]]:
    return [row for row in result["TS"].rows if row["TSPARMCD"] == parmcd]


def ts_one(result: CdiscResult, parmcd: str) -> dict[str, Any]:
    rows = ts_rows(result, parmcd)
    assert len(rows) == 1, f"{parmcd}: {rows}"
    return rows[0]


# ------------------------------------------------------------------------------------------- structure


def test_hand_built_trial_passes_every_check_and_the_dataset_json_schema() -> None:
    result = build_datasets(make_trial())
    assert set(result) == {"TS", "TA", "TE", "TI"}
    assert check_datasets(result, "NCT01234567") == []
    for ds in result.values():
        assert check_dataset_json(to_dataset_json(ds), "NCT01234567") == []


def test_variables_labels_and_order_follow_sdtmig_3_4() -> None:
    result = build_datasets(make_trial())
    assert result["TS"].column_names == [
        "STUDYID", "DOMAIN", "TSSEQ", "TSGRPID", "TSPARMCD", "TSPARM", "TSVAL", "TSVALNF", "TSVALCD", "TSVCDREF", "TSVCDVER",
    ]
    assert result["TA"].column_names == ["STUDYID", "DOMAIN", "ARMCD", "ARM", "TAETORD", "ETCD", "ELEMENT", "TABRANCH", "TATRANS", "EPOCH"]
    assert result["TE"].column_names == ["STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"]
    assert result["TI"].column_names == ["STUDYID", "DOMAIN", "IETESTCD", "IETEST", "IECAT", "IESCAT", "TIRL", "TIVERS"]
    assert result["TS"].label == "Trial Summary" and result["TI"].label == "Trial Inclusion/Exclusion Criteria"
    assert result["TS"].column("TSPARMCD").label == "Trial Summary Parameter Short Name"
    assert result["TA"].column("TAETORD").type == "integer"
    assert all(len(c.label) <= 40 for ds in result.values() for c in ds.columns)


def test_ct_coded_parameters_carry_code_reference_and_pinned_version() -> None:
    result = build_datasets(make_trial())
    expected = {
        "STYPE": ("INTERVENTIONAL", "C98388"), "TPHASE": ("PHASE III TRIAL", "C15602"), "TINDTP": ("TREATMENT", "C49656"),
        "INTMODEL": ("PARALLEL", "C82639"), "RANDOM": ("Y", "C49488"), "TBLIND": ("DOUBLE BLIND", "C15228"),
        "TCNTRL": ("PLACEBO", "C49648"), "SEXPOP": ("BOTH", "C49636"), "HLTSUBJI": ("N", "C49487"),
        "INTTYPE": ("DRUG", "C1909"), "ONGOSIND": ("N", "C49487"), "DMCIND": ("Y", "C49488"),
    }
    for parmcd, (value, code) in expected.items():
        row = ts_one(result, parmcd)
        assert (row["TSVAL"], row["TSVALCD"], row["TSVCDREF"], row["TSVCDVER"]) == (value, code, "CDISC CT", "2025-03-28"), parmcd


def test_identifiers_sponsor_countries_and_counts() -> None:
    result = build_datasets(make_trial())
    regid = ts_rows(result, "REGID")
    assert [(r["TSVAL"], r["TSVALCD"], r["TSVCDREF"]) for r in regid] == [
        ("NCT01234567", "NCT01234567", "ClinicalTrials.gov"), ("2010-012345-12", "2010-012345-12", "EudraCT"),
    ]
    assert any("R01CA123456" in note for note in result.notes)  # a grant number is not a registry id
    assert ts_one(result, "SPREFID")["TSVAL"] == "ACME-001"
    assert ts_one(result, "SPONSOR")["TSVAL"] == "Acme Pharma"
    assert [(r["TSSEQ"], r["TSVAL"], r["TSVCDREF"]) for r in ts_rows(result, "FCNTRY")] == [(1, "KOR", "ISO 3166-1 Alpha-3"), (2, "USA", "ISO 3166-1 Alpha-3")]
    assert ts_one(result, "NARMS")["TSVAL"] == "2"
    assert ts_one(result, "ACTSUB")["TSVAL"] == "300"
    assert ts_one(result, "PLANSUB")["TSVALNF"] == "UNK"


def test_estimated_enrollment_is_planned_and_actual_is_not_yet_available() -> None:
    trial = make_trial(overall_status="RECRUITING", enrollment=Enrollment(count=120, type="ESTIMATED"),
                       dates=Dates(start=TrialDate(date="2024-01-15", type="ACTUAL"), completion=TrialDate(date="2027-06", type="ESTIMATED")))
    result = build_datasets(trial)
    assert ts_one(result, "PLANSUB")["TSVAL"] == "120"
    assert ts_one(result, "ACTSUB")["TSVALNF"] == "NAV"
    assert ts_one(result, "SENDTC")["TSVALNF"] == "NAV"
    assert ts_one(result, "ONGOSIND")["TSVAL"] == "Y"


def test_ages_are_iso_8601_durations_and_no_maximum_is_pinf() -> None:
    result = build_datasets(make_trial())
    assert (ts_one(result, "AGEMIN")["TSVAL"], ts_one(result, "AGEMIN")["TSVCDREF"]) == ("P18Y", "ISO 8601")
    agemax = ts_one(result, "AGEMAX")
    assert (agemax["TSVAL"], agemax["TSVALNF"], agemax["TSVCDREF"]) == ("", "PINF", "")
    months = make_trial(eligibility=Eligibility(minimum_age=Age(value=6, unit="MONTHS"), maximum_age=Age(value=17.5, unit="YEARS")))
    result = build_datasets(months)
    assert ts_one(result, "AGEMIN")["TSVAL"] == "P6M" and ts_one(result, "AGEMAX")["TSVAL"] == "P17.5Y"


def test_partial_dates_stay_partial() -> None:
    result = build_datasets(make_trial())
    assert ts_one(result, "SSTDTC")["TSVAL"] == "2010-04"
    assert ts_one(result, "SENDTC")["TSVAL"] == "2014-12-31"
    assert any("SSTDTC" in note and "2010-04" in note for note in result.notes)
    year_only = build_datasets(make_trial(dates=Dates(start=TrialDate(date="2009", type="ACTUAL"))))
    assert ts_one(year_only, "SSTDTC")["TSVAL"] == "2009"


def test_parameters_a_registry_cannot_give_are_present_and_listed() -> None:
    result = build_datasets(make_trial())
    for parmcd in ("ADDON", "ADAPT", "EXTTIND"):  # NY codelist has its own Unknown term (TS assumption 11)
        row = ts_one(result, parmcd)
        assert (row["TSVAL"], row["TSVALCD"]) == ("U", "C17998")
        assert any(note.startswith(f"TS {parmcd} ") for note in result.notes)
    for parmcd in ("STOPRULE", "LENGTH", "DCUTDTC", "DCUTDESC", "TTYPE", "PCLAS"):
        row = ts_one(result, parmcd)
        assert (row["TSVAL"], row["TSVALNF"]) == ("", "UNK")
        assert any(note.startswith(f"TS {parmcd} ") for note in result.notes)
    assert (ts_one(result, "SDTMVER")["TSVAL"], ts_one(result, "SDTIGVER")["TSVAL"]) == ("2.0", "3.4")


def test_registry_values_without_a_cdisc_term_get_oth_and_a_note() -> None:
    trial = make_trial(
        interventions=[Intervention(name="Drug X", type="DRUG"), Intervention(name="Exercise counselling", type="OTHER")],
        design=Design(allocation="RANDOMIZED", intervention_model="SEQUENTIAL", masking="SINGLE",
                      who_masked=["OUTCOMES_ASSESSOR"], primary_purpose="ECT"),
    )
    result = build_datasets(trial)
    inttype = ts_rows(result, "INTTYPE")
    assert [(r["TSVAL"], r["TSVALNF"], r["TSVALCD"]) for r in inttype] == [("DRUG", "", "C1909"), ("", "OTH", "")]
    assert (ts_one(result, "INTMODEL")["TSVALNF"], ts_one(result, "TINDTP")["TSVALNF"]) == ("OTH", "OTH")
    assert any("INTTYPE" in n and "OTHER" in n and "C99078" in n for n in result.notes)
    assert any("INTMODEL" in n and "SEQUENTIAL" in n for n in result.notes)
    assert ts_one(result, "TBLIND")["TSVAL"] == "OBSERVER BLIND"  # single mask on the assessor only
    assert check_datasets(result, trial.id) == []


def test_no_masking_is_open_label() -> None:
    result = build_datasets(make_trial(design=Design(allocation="RANDOMIZED", masking="NONE")))
    assert (ts_one(result, "TBLIND")["TSVAL"], ts_one(result, "TBLIND")["TSVALCD"]) == ("OPEN LABEL", "C49659")


def test_triple_and_quadruple_masking_are_double_blind_with_a_note() -> None:
    trial = make_trial(design=Design(allocation="RANDOMIZED", masking="QUADRUPLE", who_masked=["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]))
    result = build_datasets(trial)
    assert (ts_one(result, "TBLIND")["TSVAL"], ts_one(result, "TBLIND")["TSVALCD"]) == ("DOUBLE BLIND", "C15228")
    assert any("QUADRUPLE" in note for note in result.notes)


def test_phase_combinations_and_not_applicable() -> None:
    cases = {("PHASE1", "PHASE2"): ("PHASE I/II TRIAL", "C15693"), ("EARLY_PHASE1",): ("EARLY PHASE I", "C54721"), ("NA",): ("NOT APPLICABLE", "C48660")}
    for phases, (value, code) in cases.items():
        row = ts_one(build_datasets(make_trial(phases=list(phases))), "TPHASE")
        assert (row["TSVAL"], row["TSVALCD"]) == (value, code)


def test_treatments_split_into_investigational_and_comparator() -> None:
    trial = make_trial(
        arms=[Arm(label="New", type="EXPERIMENTAL"), Arm(label="Standard", type="ACTIVE_COMPARATOR")],
        interventions=[Intervention(name="Drug X", type="DRUG", arm_labels=["New"]), Intervention(name="Cisplatin", type="DRUG", arm_labels=["Standard"])],
    )
    result = build_datasets(trial)
    assert [r["TSVAL"] for r in ts_rows(result, "TRT")] == ["Drug X"]
    assert [r["TSVAL"] for r in ts_rows(result, "COMPTRT")] == ["Cisplatin"]
    assert ts_one(result, "TCNTRL")["TSVAL"] == "ACTIVE"
    placebo_only = build_datasets(make_trial())
    assert [r["TSVAL"] for r in ts_rows(placebo_only, "TRT")] == ["Drug X"]
    assert ts_one(placebo_only, "COMPTRT")["TSVALNF"] == "NA"


def test_observational_study_design_parameters() -> None:
    trial = make_trial(
        study_type="OBSERVATIONAL", phases=[], overall_status="RECRUITING",
        design=Design(observational_model="COHORT", time_perspective="PROSPECTIVE", patient_registry=False),
        arms=[Arm(label="Exposed"), Arm(label="Unexposed")], interventions=[],
        enrollment=Enrollment(count=1000, type="ESTIMATED"),
    )
    result = build_datasets(trial)
    assert ts_one(result, "STYPE")["TSVAL"] == "OBSERVATIONAL"
    assert (ts_one(result, "TPHASE")["TSVAL"], ts_one(result, "RANDOM")["TSVAL"], ts_one(result, "RANDOM")["TSVALCD"]) == ("NOT APPLICABLE", "NA", "C48660")
    assert ts_one(result, "INTMODEL")["TSVALNF"] == "NA" and ts_one(result, "TBLIND")["TSVALNF"] == "NA"
    assert (ts_one(result, "OBSMODEL")["TSVALCD"], ts_one(result, "OBSTIMP")["TSVALCD"]) == ("C15208", "C15273")
    assert ts_one(result, "NCOHORT")["TSVAL"] == "2" and not ts_rows(result, "NARMS")
    assert {row["EPOCH"] for row in result["TA"].rows} == {"SCREENING", "OBSERVATION"}
    assert check_datasets(result, trial.id) == []


def test_stated_objectives_become_objprim_and_objsec() -> None:
    description = "OBJECTIVES:\n\nPrimary\n\n* To compare overall survival.\n\nSecondary\n\n* To compare toxicity.\n* To compare quality\n  of life.\n\nOUTLINE: Patients are randomized."
    result = build_datasets(make_trial(detailed_description=description))
    assert [r["TSVAL"] for r in ts_rows(result, "OBJPRIM")] == ["To compare overall survival."]
    assert [r["TSVAL"] for r in ts_rows(result, "OBJSEC")] == ["To compare toxicity.", "To compare quality of life."]
    roman = build_datasets(make_trial(detailed_description="OBJECTIVES: I. Determine A in phase I patients. II. Determine B.\n\nOUTLINE: x"))
    assert [r["TSVAL"] for r in ts_rows(roman, "OBJPRIM")] == ["Determine A in phase I patients.", "Determine B."]
    sentence = build_datasets(make_trial(brief_summary="Background. The primary objective of this study is to test X against Y. More."))
    assert [r["TSVAL"] for r in ts_rows(sentence, "OBJPRIM")] == ["The primary objective of this study is to test X against Y."]
    none = build_datasets(make_trial())
    assert ts_one(none, "OBJPRIM")["TSVALNF"] == "UNK"


# ------------------------------------------------------------------------------------------- long text


def test_long_tsval_continues_in_tsval1_n_at_word_boundaries() -> None:
    title = " ".join(f"word{i:03d}" for i in range(70))  # 559 characters
    result = build_datasets(make_trial(official_title=title))
    ds = result["TS"]
    assert ds.column_names[6:9] == ["TSVAL", "TSVAL1", "TSVAL2"]
    assert ds.column("TSVAL2").label == "Parameter Value 2"
    row = ts_one(result, "TITLE")
    parts = [row["TSVAL"], row["TSVAL1"], row["TSVAL2"]]
    assert all(0 < nbytes(p) <= 200 for p in parts)
    assert " ".join(parts) == title
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)
    other = ts_one(result, "SPONSOR")
    assert other["TSVAL1"] == "" and other["TSVAL2"] == ""
    assert check_datasets(result, "NCT01234567") == []


def test_split_counts_bytes_not_characters() -> None:
    text = "≥ " * 150  # 300 characters, 600 bytes
    parts = split_text(text.strip())
    assert all(nbytes(p) <= 200 for p in parts) and " ".join(parts) == text.strip()
    word = "x" * 450
    assert [len(p) for p in split_text(word)] == [200, 200, 50]


def test_shorten_marks_the_cut_at_a_word_boundary() -> None:
    text = "Patients must have " + "adequate organ function and " * 10 + "end"
    short = shorten(text)
    assert nbytes(short) <= 200 and short.endswith("…")
    assert text.startswith(short[:-1])
    assert short[:-1] == short[:-1].rstrip() and text[len(short) - 1] == " "
    assert shorten("short") == "short"


# ------------------------------------------------------------------------------------------- TI


def test_ti_flattens_nesting_numbers_items_and_reports_unclassified() -> None:
    long_item = "Prior therapy: " + "no more than two prior systemic regimens for advanced disease, " * 5
    trial = make_trial(eligibility=Eligibility(criteria=[
        Criterion(text="Age ≥ 18", category="INCLUSION"),
        Criterion(text="Adequate organ function:", category="INCLUSION", children=[Criterion(text="Platelets ≥ 100,000/µL"), Criterion(text="ANC ≥ 1,500/µL")]),
        Criterion(text="Known brain metastases", category="EXCLUSION", children=[Criterion(text="untreated")]),
        Criterion(text=long_item, category="EXCLUSION"),
        Criterion(text="Life expectancy of at least 3 months"),
    ]))
    result = build_datasets(trial)
    rows = [(r["IETESTCD"], r["IECAT"], r["IETEST"]) for r in result["TI"].rows]
    assert rows[:4] == [
        ("INCL01", "INCLUSION", "Age ≥ 18"),
        ("INCL02", "INCLUSION", "Adequate organ function: Platelets ≥ 100,000/µL"),
        ("INCL03", "INCLUSION", "Adequate organ function: ANC ≥ 1,500/µL"),
        ("EXCL01", "EXCLUSION", "Known brain metastases: untreated"),
    ]
    testcd, category, ietest = rows[4]
    assert (testcd, category) == ("EXCL02", "EXCLUSION")
    assert ietest.endswith("…") and nbytes(ietest) <= 200
    assert result.long_text["TI.EXCL02.IETEST"] == " ".join(long_item.split())
    assert len(rows) == 5  # the unclassified item is not guessed into TI ...
    assert any("Life expectancy" in note and "not marked" in note for note in result.notes)  # ... it is reported
    assert check_datasets(result, trial.id) == []


# ------------------------------------------------------------------------------------------- TA/TE


def test_ta_te_have_screening_and_one_treatment_element_per_arm() -> None:
    result = build_datasets(make_trial(arms=[
        Arm(label="Arm A: Drug X 10 mg", type="EXPERIMENTAL", intervention_names=["Drug: Drug X"]),
        Arm(label="Arm A: Drug X 20 mg", type="EXPERIMENTAL", intervention_names=["Drug: Drug X"]),
        Arm(label="A very long arm label that goes on and on about the regimen given", type="PLACEBO_COMPARATOR"),
    ]))
    ta, te = result["TA"].rows, result["TE"].rows
    codes = [r["ARMCD"] for r in ta if r["TAETORD"] == 1]
    assert len(codes) == len(set(codes)) == 3 and all(len(c) <= 20 for c in codes)
    assert codes[0] == "ARMA"
    assert [r["ETCD"] for r in te][0] == "SCRN" and all(len(r["ETCD"]) <= 8 for r in te)
    assert len(te) == 4 and all(r["TEDUR"] == "" and r["TEENRL"] for r in te)
    assert all(r["EPOCH"] == ("SCREENING" if r["TAETORD"] == 1 else "TREATMENT") for r in ta)
    assert ta[0]["TABRANCH"] == "Randomized to Arm A: Drug X 10 mg" and ta[1]["TABRANCH"] == ""
    assert te[1]["TESTRL"] == "First dose of study treatment, where treatment is Drug X"
    assert check_datasets(result, "NCT01234567") == []


def test_no_arms_means_empty_ta_te_and_a_note() -> None:
    result = build_datasets(make_trial(arms=[], interventions=[]))
    assert result["TA"].rows == [] and result["TE"].rows == []
    assert any(note.startswith("TA/TE") for note in result.notes)
    assert check_datasets(result, "NCT01234567") == []


# ------------------------------------------------------------------------------------------- files


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_cdisc_files_are_twelve_files_that_agree_with_each_other(tmp_path: Path) -> None:
    import pyreadstat

    result = build_datasets(make_trial(official_title="T " * 150 + "end"))
    paths = write_cdisc(result, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{d}.{f}" for d in ("ts", "ta", "te", "ti") for f in ("json", "xpt", "csv"))
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    for name in ("ts", "ta", "te", "ti"):
        document = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        assert document["datasetJSONVersion"] == "1.1.0" and document["records"] == len(document["rows"])
        columns = [c["name"] for c in document["columns"]]
        frame, meta = pyreadstat.read_xport(str(tmp_path / f"{name}.xpt"))
        assert list(frame.columns) == columns
        assert meta.table_name == name.upper()
        assert meta.column_labels == [c["label"] for c in document["columns"]]
        back = [[int(v) if isinstance(v, float) else v for v in row] for row in frame.values.tolist()]
        assert back == document["rows"], name
        table = _read_csv((tmp_path / f"{name}.csv").read_text(encoding="utf-8"))
        assert table[0] == columns
        assert table[1:] == [["" if v is None else str(v) for v in row] for row in document["rows"]]


def test_dataset_json_is_deterministic_with_a_fixed_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = cdisc_files(build_datasets(make_trial()), ("json", "csv"))
    second = cdisc_files(build_datasets(make_trial()), ("json", "csv"))
    assert first == second
    assert json.loads(first["ts.json"])["datasetJSONCreationDateTime"] == "2023-11-14T22:13:20Z"


def test_dataset_json_columns_keys_and_study_oid() -> None:
    document = to_dataset_json(build_datasets(make_trial())["TS"])
    assert document["studyOID"] == "NCT01234567" and document["itemGroupOID"] == "IG.TS"
    keys = {c["name"]: c.get("keySequence") for c in document["columns"]}
    assert (keys["STUDYID"], keys["TSPARMCD"], keys["TSSEQ"]) == (1, 2, 3)
    tsseq = next(c for c in document["columns"] if c["name"] == "TSSEQ")
    assert tsseq["dataType"] == "integer" and "length" not in tsseq


def test_a_failing_dataset_is_not_written(tmp_path: Path) -> None:
    result = build_datasets(make_trial())
    result["TS"].rows[0]["TSVALNF"] = "UNK"  # TITLE now has both TSVAL and TSVALNF
    with pytest.raises(ValidationError) as caught:
        write_cdisc(result, tmp_path)
    assert any("NCT01234567 TS row 1 TSVAL" in p for p in caught.value.problems)
    assert list(tmp_path.iterdir()) == []


def test_xpt_limits_are_enforced_before_writing(tmp_path: Path) -> None:
    from converter.writers.cdisc import Column

    bad = Dataset("TS", "Trial Summary", [Column("STUDYID", "Study Identifier", "string", 20), Column("TOOLONGNAME", "x" * 41, "string", 1)],
                  [{"STUDYID": "x" * 201, "TOOLONGNAME": ""}])
    stream = io.BytesIO()
    with pytest.raises(ValidationError) as caught:
        write_xpt(bad, stream)
    text = "\n".join(caught.value.problems)
    assert "TOOLONGNAME: variable name" in text and "label is 41 bytes" in text and "row 1 STUDYID: value is 201 bytes" in text
    assert stream.getvalue() == b""


def test_stack_unites_columns_and_refuses_repeated_studies() -> None:
    one = build_datasets(make_trial(official_title="word " * 60 + "end"))
    two = build_datasets(make_trial(id="NCT07654321", identifiers=[]))
    stacked = stack([one, two])
    assert "TSVAL1" in stacked["TS"].column_names
    assert {r["STUDYID"] for r in stacked["TS"].rows} == {"NCT01234567", "NCT07654321"}
    assert all(r["TSVAL1"] == "" for r in stacked["TS"].rows if r["STUDYID"] == "NCT07654321")
    assert check_datasets(stacked, "batch") == []
    assert to_dataset_json(stacked["TS"])["studyOID"] == "trialconv-batch"
    with pytest.raises(ValidationError):
        stack([one, one])
    assert len(stack([one, one], duplicates="first")["TS"].rows) == len(one["TS"].rows)


def test_csv_of_an_empty_dataset_is_just_the_header() -> None:
    ds = build_datasets(make_trial(arms=[]))["TA"]
    stream = io.BytesIO()
    write_csv(ds, stream)
    assert stream.getvalue().decode("utf-8").strip() == ",".join(ds.column_names)


# ------------------------------------------------------------------------------------------- terminology data


def test_every_mapping_target_is_a_term_of_its_codelist() -> None:
    for key, info in ct.ct()["codelists"].items():
        assert info["codelist"].startswith("C")
        for registry_value, submission in info["from_registry"].items():
            if submission is not None:
                assert submission in info["terms"], (key, registry_value)
        for code in info["terms"].values():
            assert code.startswith("C") and code[1:].isdigit()
    for parmcd, info in ct.parameters().items():
        assert len(parmcd) <= 8 and len(info["name"]) <= 40 and info["code"].startswith("C")


def test_verified_c_codes() -> None:
    """The codes checked by hand against the CDISC Library export of SDTM CT 2025-03-28."""
    verified = {
        ("NY", "Y"): "C49488", ("NY", "N"): "C49487", ("NY", "U"): "C17998", ("NY", "NA"): "C48660",
        ("TPHASE", "PHASE I/II TRIAL"): "C15693", ("TPHASE", "PHASE IV TRIAL"): "C15603",
        ("STYPE", "OBSERVATIONAL"): "C16084", ("STYPE", "EXPANDED ACCESS"): "C98722", ("STYPE", "PATIENT REGISTRY"): "C129000",
        ("TBLIND", "OPEN LABEL"): "C49659", ("TBLIND", "SINGLE BLIND"): "C28233", ("TBLIND", "OBSERVER BLIND"): "C187674",
        ("TCNTRL", "ACTIVE"): "C49649", ("TCNTRL", "NONE"): "C41132", ("TCNTRL", "SHAM"): "C184727",
        ("INTMODEL", "CROSS-OVER"): "C82637", ("INTMODEL", "FACTORIAL"): "C82638", ("INTMODEL", "SINGLE GROUP"): "C82640",
        ("INTTYPE", "BIOLOGIC"): "C307", ("INTTYPE", "DEVICE"): "C16830", ("INTTYPE", "PROCEDURE"): "C98769",
        ("INTTYPE", "BEHAVIORAL THERAPY"): "C15184", ("INTTYPE", "DIETARY SUPPLEMENT"): "C1505", ("INTTYPE", "RADIATION"): "C15313",
        ("TINDTP", "DIAGNOSIS"): "C49653", ("TINDTP", "PREVENTION"): "C49657", ("TINDTP", "SUPPORTIVE CARE"): "C71486",
        ("SEXPOP", "F"): "C16576", ("SEXPOP", "M"): "C20197",
        ("IECAT", "INCLUSION"): "C25532", ("IECAT", "EXCLUSION"): "C25370",
        ("EPOCH", "SCREENING"): "C202487", ("EPOCH", "TREATMENT"): "C101526",
    }
    for (key, value), code in verified.items():
        assert ct.term(key, value) == ct.Term(value, code), (key, value)
    assert ct.ct_version() == "2025-03-28"


def test_country_names_map_to_alpha3() -> None:
    assert ct.country_alpha3("United States") == "USA"
    assert ct.country_alpha3("Korea, Republic of") == "KOR"
    assert ct.country_alpha3("Czech Republic") == ct.country_alpha3("Czechia") == "CZE"
    assert ct.country_alpha3("Côte D'Ivoire") == "CIV"
    assert ct.country_alpha3("Taiwan") == "TWN"
    assert ct.country_alpha3("Former Serbia and Montenegro") is None


def test_cdisc_files_reject_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_cdisc(build_datasets(make_trial()), tmp_path, formats=("json", "sas7bdat"))
    assert not os.listdir(tmp_path)


def test_single_group_design_without_arm_types_has_no_control() -> None:
    trial = make_trial(arms=[], interventions=[Intervention(name="Drug X", type="DRUG")],
                       design=Design(allocation="NA", intervention_model="SINGLE_GROUP", masking="NONE"))
    result = build_datasets(trial)
    assert (ts_one(result, "TCNTRL")["TSVAL"], ts_one(result, "TCNTRL")["TSVALCD"]) == ("NONE", "C41132")
    assert (ts_one(result, "RANDOM")["TSVAL"], ts_one(result, "TBLIND")["TSVAL"]) == ("N", "OPEN LABEL")


def test_interrupted_write_leaves_neither_target_nor_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_cdisc(build_datasets(make_trial()), tmp_path, formats=("json",))
    assert list(tmp_path.iterdir()) == []
