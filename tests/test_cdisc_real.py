"""Real ClinicalTrials.gov records through the readers into TS/TA/TE/TI.

Two records have hand-checked expected TS datasets in tests/gold/ (written by reading the record,
compared row by row); every bundled record and, when present, the whole shared corpus must pass the
conformance checks, the Dataset-JSON schema and an XPT round trip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converter.readers import read_source
from converter.validate.cdisc import check_dataset_json, check_datasets
from converter.writers.cdisc import build_datasets, stack, to_dataset_json

from conftest import DATA, ROOT, write_cdisc

GOLD = ROOT / "tests" / "gold"
CDISC_DATA = DATA / "cdisc"


def _trial(path: Path) -> Any:
    trials = list(read_source(path))
    assert len(trials) == 1, path
    return trials[0]


def _gold(nct: str) -> dict[str, Any]:
    return json.loads((GOLD / f"ts_{nct}.json").read_text(encoding="utf-8"))


def assert_rows_match(dataset: Any, expected: list[dict[str, Any]]) -> None:
    """A dataset against hand-checked rows (only non-empty variables listed), row by row, then the count."""
    actual = [{k: v for k, v in row.items() if v not in ("", None)} for row in dataset.rows]
    for index, (got, want) in enumerate(zip(actual, expected), start=1):
        assert got == want, f"{dataset.name} row {index}"
    assert len(actual) == len(expected)


@pytest.mark.parametrize("nct, source", [("NCT03944876", "NCT03944876.json"), ("NCT00003600", "NCT00003600.xml")])
def test_ts_matches_hand_checked_gold_row_by_row(nct: str, source: str) -> None:
    gold = _gold(nct)
    result = build_datasets(_trial(CDISC_DATA / source))
    assert_rows_match(result["TS"], gold["rows"])
    assert check_datasets(result, nct) == []


def test_month_only_dates_of_a_legacy_record_stay_partial() -> None:
    result = build_datasets(_trial(CDISC_DATA / "NCT00003600.xml"))
    dates = {row["TSPARMCD"]: row["TSVAL"] for row in result["TS"].rows if row["TSPARMCD"] in ("SSTDTC", "SENDTC")}
    assert dates == {"SSTDTC": "1998-12", "SENDTC": "2010-01"}


def _bundled() -> list[Path]:
    return sorted(p for p in DATA.rglob("*") if p.suffix in (".json", ".xml") and p.parent.name in ("cdisc", "v2", "xml"))


def test_every_bundled_record_converts_and_validates(tmp_path: Path) -> None:
    paths = _bundled()
    assert paths, "no bundled records"
    results = []
    for path in paths:
        for trial in read_source(path):
            result = build_datasets(trial)
            assert check_datasets(result, trial.id) == [], path
            for ds in result.values():
                assert check_dataset_json(to_dataset_json(ds), trial.id) == [], (path, ds.name)
            results.append(result)
    written = write_cdisc(results[0], tmp_path / "one")
    assert len(written) == 12
    batch = stack(results, duplicates="first")
    assert check_datasets(batch, "batch") == []


def test_xpt_round_trip_of_a_real_record(tmp_path: Path) -> None:
    import pyreadstat

    result = build_datasets(_trial(CDISC_DATA / "NCT03944876.json"))
    write_cdisc(result, tmp_path, formats=("json", "xpt"))
    for name in ("ts", "ta", "te", "ti"):
        document = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        frame, _ = pyreadstat.read_xport(str(tmp_path / f"{name}.xpt"))
        back = [[int(v) if isinstance(v, float) else v for v in row] for row in frame.values.tolist()]
        assert back == document["rows"], name


def test_shared_corpus_all_records_pass(shared_dir: Path) -> None:
    count = 0
    failures: list[str] = []
    for sub in ("v2", "xml"):
        for trial in read_source(shared_dir / "ctgov" / sub):
            count += 1
            failures.extend(check_datasets(build_datasets(trial), trial.id))
    assert count >= 400
    assert failures == []
