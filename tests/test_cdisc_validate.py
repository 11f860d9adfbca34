"""Each SDTM conformance rule catches its defect and names trial, dataset, row and variable."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from converter.validate.cdisc import check_dataset_json, check_datasets, is_iso_date, is_iso_duration
from converter.writers.cdisc import CdiscResult, Column, build_datasets, to_dataset_json

from test_cdisc_writer import make_trial

RECORD = "NCT01234567"


@pytest.fixture()
def result() -> CdiscResult:
    built = build_datasets(make_trial())
    assert check_datasets(built, RECORD) == []
    return copy.deepcopy(built)


def _row(result: CdiscResult, dataset: str, **match: Any) -> tuple[int, dict[str, Any]]:
    for index, row in enumerate(result[dataset].rows, start=1):
        if all(row.get(k) == v for k, v in match.items()):
            return index, row
    raise AssertionError(f"no {dataset} row {match}")


def _problems(result: CdiscResult) -> str:
    return "\n".join(check_datasets(result, RECORD))


def _ts(result: CdiscResult, parmcd: str, seq: int = 1) -> tuple[int, dict[str, Any]]:
    return _row(result, "TS", TSPARMCD=parmcd, TSSEQ=seq)


def test_required_variable_missing(result: CdiscResult) -> None:
    ds = result["TI"]
    ds.columns = [c for c in ds.columns if c.name != "IECAT"]
    assert f"{RECORD} TI IECAT: required variable missing" in _problems(result)


def test_required_value_empty(result: CdiscResult) -> None:
    index, row = _row(result, "TE", ETCD="SCRN")
    row["TESTRL"] = ""
    assert f"{RECORD} TE row {index} TESTRL: required value is empty" in _problems(result)


def test_variable_name_and_label_limits(result: CdiscResult) -> None:
    ds = result["TS"]
    ds.columns[3] = Column("TSGROUPID", "Group ID " * 6, "string", 1)
    for row in ds.rows:
        row["TSGROUPID"] = row.pop("TSGRPID")
    text = _problems(result)
    assert "TS TSGROUPID: variable name must be ≤8" in text
    assert "TS TSGROUPID: label" in text and "over 40 characters" in text


def test_tsval_over_200_bytes(result: CdiscResult) -> None:
    index, row = _ts(result, "TITLE")
    row["TSVAL"] = "é" * 101  # 101 characters, 202 bytes
    assert f"{RECORD} TS row {index} TSVAL: value is 202 bytes, over the 200 allowed" in _problems(result)


def test_tsparmcd_over_8(result: CdiscResult) -> None:
    index, row = _ts(result, "TITLE")
    row["TSPARMCD"] = "TITLELONG"
    text = _problems(result)
    assert f"TS row {index} TSPARMCD: 'TITLELONG' is over 8 characters" in text


def test_tsparm_must_match_ct(result: CdiscResult) -> None:
    index, row = _ts(result, "TITLE")
    row["TSPARM"] = "Title"
    assert f"TS row {index} TSPARM: 'Title' does not match CDISC CT 'Trial Title'" in _problems(result)


def test_tsseq_unique_per_parameter(result: CdiscResult) -> None:
    _, row = _ts(result, "REGID", 2)
    row["TSSEQ"] = 1
    assert f"{RECORD} TS TSSEQ: {RECORD} REGID: TSSEQ 1 used 2 times" in _problems(result)


@pytest.mark.parametrize("tsval, nf", [("Y", "UNK"), ("", "")])
def test_tsval_xor_tsvalnf(result: CdiscResult, tsval: str, nf: str) -> None:
    index, row = _ts(result, "RANDOM")
    row.update(TSVAL=tsval, TSVALNF=nf, TSVALCD="C49488" if tsval else "", TSVCDREF="CDISC CT" if tsval else "", TSVCDVER="2025-03-28" if tsval else "")
    assert f"{RECORD} TS row {index} TSVAL: RANDOM: exactly one of TSVAL and TSVALNF must be populated" in _problems(result)


def test_tsvalnf_must_be_a_null_flavor(result: CdiscResult) -> None:
    index, row = _ts(result, "TTYPE")
    row["TSVALNF"] = "MISSING"
    assert f"TS row {index} TSVALNF: 'MISSING' is not an ISO 21090 null flavor" in _problems(result)


def test_tsvalcd_needs_tsvcdref(result: CdiscResult) -> None:
    index, row = _ts(result, "TBLIND")
    row["TSVCDREF"] = ""
    assert f"{RECORD} TS row {index} TSVCDREF: TBLIND: TSVALCD 'C15228' given without its reference terminology" in _problems(result)


def test_tsvcdver_needs_tsvcdref(result: CdiscResult) -> None:
    index, row = _ts(result, "SPONSOR")
    row["TSVCDVER"] = "2024"
    assert f"{RECORD} TS row {index} TSVCDREF: SPONSOR: TSVCDVER '2024' given without TSVCDREF" in _problems(result)


def test_ct_code_must_match_its_term(result: CdiscResult) -> None:
    index, row = _ts(result, "TBLIND")
    row["TSVALCD"] = "C49659"  # OPEN LABEL's code on a DOUBLE BLIND value
    assert f"TS row {index} TSVALCD: TBLIND: 'C49659' is not the C-code of 'DOUBLE BLIND' (C15228)" in _problems(result)


def test_non_extensible_codelist_value(result: CdiscResult) -> None:
    index, row = _ts(result, "INTTYPE")
    row.update(TSVAL="OTHER", TSVALCD="", TSVCDREF="", TSVCDVER="")
    assert f"TS row {index} TSVAL: INTTYPE: 'OTHER' is not in non-extensible codelist" in _problems(result)



def test_made_up_tsparmcd_fails_although_core_passes_it(result: CdiscResult) -> None:
    """CORE's SDTMIG 3.4 rules do not look codes up; an 8-character code outside C66738 must fail here."""
    index, row = _ts(result, "TINDTP")
    row.update(TSPARMCD="XTINDTP", TSPARM="Trial Intent Kind")
    text = _problems(result)
    assert f"TS row {index} TSPARMCD: 'XTINDTP' is not a Trial Summary Parameter Test Code (C66738)" in text
    assert f"TS row {index} TSPARM: 'Trial Intent Kind' is not a Trial Summary Parameter Test Name (C67152)" in text


def test_any_parameter_of_the_pinned_codelist_passes(result: CdiscResult) -> None:
    """The table holds all 129 C66738 terms, not only the ones the writer fills."""
    _, row = _ts(result, "TTYPE")
    row.update(TSPARMCD="CRMDUR", TSPARM="Confirmed Response Minimum Duration", TSVAL="P4W", TSVALNF="")
    assert _problems(result) == ""

def test_tsparm_of_another_parameter_fails(result: CdiscResult) -> None:
    index, row = _ts(result, "TITLE")
    row["TSPARM"] = "Trial Phase Classification"  # a real C67152 name, but of TPHASE
    assert f"TS row {index} TSPARM: 'Trial Phase Classification' does not match CDISC CT 'Trial Title' for TITLE" in _problems(result)


@pytest.mark.parametrize("parmcd, value", [("STYPE", "INTERVENTION"), ("SEXPOP", "WOMEN"), ("INTTYPE", "MEDICINE")])
def test_wrong_coded_value_of_a_non_extensible_codelist_fails(result: CdiscResult, parmcd: str, value: str) -> None:
    index, row = _ts(result, parmcd)
    row["TSVAL"] = value  # C-code, reference and version left as they were: only the value is wrong
    assert f"TS row {index} TSVAL: {parmcd}: {value!r} is not in non-extensible codelist" in _problems(result)


def test_extension_value_may_not_claim_cdisc_ct(result: CdiscResult) -> None:
    index, row = _ts(result, "TBLIND")
    row["TSVAL"] = "PARTLY BLIND"
    assert f"TS row {index} TSVAL: TBLIND: 'PARTLY BLIND' is not a term of Trial Blinding Schema Response (C66735), yet TSVCDREF says CDISC CT" in _problems(result)


def test_ct_value_needs_cdisc_ct_as_its_reference(result: CdiscResult) -> None:
    index, row = _ts(result, "TBLIND")
    row["TSVCDREF"] = "SNOMED"
    assert f"TS row {index} TSVCDREF: TBLIND: CT value 'DOUBLE BLIND' with reference terminology 'SNOMED'" in _problems(result)


def test_made_up_c_code_on_an_uncoded_parameter_fails(result: CdiscResult) -> None:
    index, row = _ts(result, "TITLE")
    row.update(TSVALCD="C999999", TSVCDREF="CDISC CT", TSVCDVER="2025-03-28")
    assert f"TS row {index} TSVALCD: TITLE: 'C999999' is not a C-code of the pinned CDISC CT" in _problems(result)


@pytest.mark.parametrize("parmcd", ["RANDOM", "HLTSUBJI"])
def test_yes_no_flags(result: CdiscResult, parmcd: str) -> None:
    index, row = _ts(result, parmcd)
    row.update(TSVAL="YES", TSVALCD="", TSVCDREF="", TSVCDVER="")
    assert f"TS row {index} TSVAL: {parmcd}: 'YES' is not a No Yes Response value" in _problems(result)


def test_age_must_be_iso_8601_duration(result: CdiscResult) -> None:
    index, row = _ts(result, "AGEMIN")
    row["TSVAL"] = "18 years"
    assert f"{RECORD} TS row {index} TSVAL: AGEMIN: '18 years' is not an ISO 8601 duration" in _problems(result)


@pytest.mark.parametrize("value", ["April 2010", "2010-4", "2010-02-30", "2010-13"])
def test_dates_must_be_iso_8601(result: CdiscResult, value: str) -> None:
    index, row = _ts(result, "SSTDTC")
    row["TSVAL"] = value
    assert f"TS row {index} TSVAL: SSTDTC: {value!r} is not an ISO 8601 date" in _problems(result)


@pytest.mark.parametrize("parmcd", ["ACTSUB", "NARMS"])
def test_counts_must_be_integers(result: CdiscResult, parmcd: str) -> None:
    index, row = _ts(result, parmcd)
    row["TSVAL"] = "12.5"
    assert f"TS row {index} TSVAL: {parmcd}: '12.5' is not a non-negative integer" in _problems(result)


def test_country_must_be_alpha3(result: CdiscResult) -> None:
    index, row = _ts(result, "FCNTRY")
    row["TSVAL"] = "US"
    assert f"TS row {index} TSVAL: FCNTRY: 'US' is not an ISO 3166-1 alpha-3 code" in _problems(result)


def test_iecat_values(result: CdiscResult) -> None:
    index, row = _row(result, "TI", IETESTCD="INCL01")
    row["IECAT"] = "INCLUDE"
    assert f"{RECORD} TI row {index} IECAT: 'INCLUDE' is not INCLUSION or EXCLUSION" in _problems(result)


@pytest.mark.parametrize("testcd", ["1INCL", "INCLUSION1", "INCL-01"])
def test_ietestcd_format(result: CdiscResult, testcd: str) -> None:
    index, row = _row(result, "TI", IETESTCD="INCL01")
    row["IETESTCD"] = testcd
    assert f"{RECORD} TI row {index} IETESTCD: {testcd!r} must be ≤8 letters/digits/underscores and not start with a digit" in _problems(result)


def test_ietestcd_unique(result: CdiscResult) -> None:
    _, row = _row(result, "TI", IETESTCD="INCL02")
    row["IETESTCD"] = "INCL01"
    assert f"{RECORD} TI IETESTCD: {RECORD} 'INCL01' used 2 times" in _problems(result)


def test_armcd_and_etcd_lengths(result: CdiscResult) -> None:
    index, row = _row(result, "TA", TAETORD=2)
    row["ARMCD"] = "A" * 21
    te_index, te_row = _row(result, "TE", ETCD=row["ETCD"])
    te_row["ETCD"] = row["ETCD"] = "ELEMENT99"
    text = _problems(result)
    assert f"TA row {index} ARMCD: '{'A' * 21}' is over 20 characters" in text
    assert f"TE row {te_index} ETCD: 'ELEMENT99' is over 8 characters" in text
    assert f"TA row {index} ETCD: 'ELEMENT99' is over 8 characters" in text


def test_element_needs_end_rule_or_duration(result: CdiscResult) -> None:
    index, row = _row(result, "TE", ETCD="SCRN")
    row["TEENRL"] = ""
    assert f"TE row {index} TEENRL: either TEENRL or TEDUR must be populated" in _problems(result)
    row["TEDUR"] = "2 weeks"
    assert f"TE row {index} TEDUR: '2 weeks' is not an ISO 8601 duration" in _problems(result)


def test_ta_element_must_exist_in_te(result: CdiscResult) -> None:
    index, row = _row(result, "TA", TAETORD=2)
    row["ETCD"] = "NOPE"
    assert f"TA row {index} ETCD: 'NOPE' is not defined in TE" in _problems(result)


def test_dataset_json_schema_violations_are_reported(result: CdiscResult) -> None:
    document = to_dataset_json(result["TS"])
    document["datasetJSONCreationDateTime"] = "yesterday"
    document["records"] = 3
    del document["itemGroupOID"]
    text = "\n".join(check_dataset_json(document, RECORD))
    assert "Dataset-JSON datasetJSONCreationDateTime: 'yesterday' does not match" in text
    assert "'itemGroupOID' is a required property" in text
    assert "records: 3 but" in text


def test_dataset_json_row_shape_and_types(result: CdiscResult) -> None:
    document = to_dataset_json(result["TA"])
    document["rows"][0][4] = "1"  # TAETORD as text
    document["rows"][1] = document["rows"][1][:3]
    text = "\n".join(check_dataset_json(document, RECORD))
    assert "TA Dataset-JSON row 1 TAETORD: integer column holds '1'" in text
    assert "TA Dataset-JSON row 2: 3 values for 10 columns" in text


@pytest.mark.parametrize("value, ok", [("P18Y", True), ("P6M", True), ("PT12H", True), ("P1Y6M", True), ("P17.5Y", True), ("P", False), ("18Y", False), ("PT", False)])
def test_iso_duration_pattern(value: str, ok: bool) -> None:
    assert is_iso_duration(value) is ok


@pytest.mark.parametrize("value, ok", [("2010", True), ("2010-04", True), ("2010-04-30", True), ("2010-04-31", False), ("10-04", False)])
def test_iso_date_pattern(value: str, ok: bool) -> None:
    assert is_iso_date(value) is ok


def test_unknown_dataset_name_is_reported(result: CdiscResult) -> None:
    datasets: dict[str, Any] = dict(result)
    datasets["DM"] = result["TS"]
    assert any("DM: not a trial design dataset" in p for p in check_datasets(datasets, RECORD))

