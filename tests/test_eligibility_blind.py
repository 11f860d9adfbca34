"""Precision and recall on the blind hold-out sets in ``tests/gold/eligibility_blind.json``.

Four sets of criteria from ClinicalTrials.gov records (fixed seeds, see the file's ``sampling``
and, for blind-3 and blind-4, their own entries), each judged by hand before the engine was run on it; the
judging conventions are in the file's ``conventions`` (blind-3 and blind-4 add a few of their own). Scoring
reuses the helpers of ``test_eligibility_gold.py`` (same signatures, same counting).

First (blind) runs, the honest estimates for unseen text:

* blind-1 (175 criteria, 72 records), engine as handed over: precision 87.6 % (106/121),
  recall 76.8 % (106/138). False positives: "aids" read as AIDS; test results read with the wrong
  polarity or without any result; ages of someone else, at an event or in strata; malignancy and
  MI without the period the text set; a Cockcroft-Gault code for "measured or calculated"
  clearance; an expected future neutropenia.
* blind-2 (80 criteria, 45 further records), engine after the blind-1 corrections: precision
  97.9 % (47/48), recall 83.9 % (47/56). One false positive: a disease-free period too far after
  its malignancy.
* blind-3 (230 criteria, 117 records: 170 from 57 records no gold set had used, 60 new texts from
  records of earlier sets), engine after the blind-2 corrections: precision 82.9 % (68/82), recall
  77.3 % (68/88). False positives: conditions named only as what a treatment, symptom, prognosis
  or cause is about; a period closing a bracketed list not carried to its members; a
  complete-remission exception period dropped; "HIV negative OR asymptomatic for HIV disease";
  "> NYHA class 2"; "AST (… or SGOT) and ALT (… or SGPT)" read as ALT twice; a default threshold
  ("in the absence of liver metastases") made conditional.
* blind-4 (202 criteria, 77 records, seed 20260201, texts new but most records used by earlier
  sets), engine after the blind-3 corrections: precision 93.8 % (60/64, Wilson 95 % interval
  85.0-97.5 %), recall 81.1 % (60/74). False positives: an age band that only selects another
  requirement ("required of all patients 30 years of age and over"); "including, but not limited
  to, … congestive heart failure" read as negated; a lab value inside an "unless" exception; an
  HIV diagnosis period ("newly diagnosed with HIV maximum 2 months") dropped (still open).

The engine was corrected on all four sets afterwards, so the numbers this test prints are no longer
blind. Run with ``-s`` to see them and the remaining mistakes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converter.eligibility import signatures, understand
from test_eligibility_gold import _legacy_codes, predicted, score_gold

GOLD = Path(__file__).resolve().parent / "gold" / "eligibility_blind.json"


def _gold() -> dict:
    return json.loads(GOLD.read_text(encoding="utf-8"))


def test_blind_gold_is_well_formed() -> None:
    gold = _gold()
    criteria = gold["criteria"]
    assert len(criteria) >= 150
    assert len({entry["record"] for entry in criteria}) >= 50, "the sets should spread over many records"
    assert sum(1 for entry in criteria if not entry["expected"]) >= 60, "the sets need many criteria with nothing to code"
    for name in {entry["set"] for entry in criteria}:
        assert "First (blind) run" in gold["history"][name]
    others = set()
    for name in ("eligibility_ctgov.json", "eligibility_seeds.json"):
        data = json.loads((GOLD.parent / name).read_text(encoding="utf-8"))
        items = data["criteria"] if "criteria" in data else [c for seed in data["seeds"].values() for c in seed["criteria"]]
        others |= {" ".join(item["text"].split()).lower() for item in items}
    overlap = [entry["text"] for entry in criteria if " ".join(entry["text"].split()).lower() in others]
    assert not overlap, f"blind items also in the development gold: {overlap[:3]}"


def test_blind_gold_precision() -> None:
    overall, per_set = score_gold(_gold(), "blind hold-out", lambda entry: f"{entry['record']}/{entry['path']}")
    assert overall.precision >= 0.95, overall.mistakes
    assert per_set["blind-3"].precision >= 0.95, per_set["blind-3"].mistakes
    assert per_set["blind-4"].precision >= 0.95, per_set["blind-4"].mistakes


# One example per error class corrected on the blind sets (texts from the shared corpus).
@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("Sexually active men without the consistent use of erectile aids pre-operatively", None, []),
        ("Negative HIV test at screening", None, ["condition 86406008 not"]),
        ("Must not have positive hepatitis B surface antigen, hepatitis C antibody or HIV.", None, ["condition 66071002 not", "condition 86406008 not"]),
        ("A negative pre-study Hepatitis B, Hepatitis C, and HIV antibody result at screening.", None,
         ["condition 66071002 not", "condition 50711007 not", "condition 86406008 not"]),
        ("Hepatic: Bilirubin no greater than 1.5 times ULN Hepatitis C status required", "PATIENT CHARACTERISTICS", ["lab 1975-2 <= 1.5 ULN"]),
        ("Parent who is at least 18 years old of child with autism.", None, []),
        ("Patients aged < 18 years at diagnosis", None, []),
        ("Children aged 5-8 years must have received 2 doses. Children 9-11 years must have received 1 dose.", None, []),
        ("18 < Age < 70", None, ["age 30525-0 > 18 a", "age 30525-0 < 70 a"]),
        ("Prior history of malignancies, other than MM, unless the participant has been free of the disease for ≥ 5 years", None,
         ["condition 363346000 within 5 a"]),
        ("Cardiovascular: No active congestive heart failure At least 3 months since prior myocardial infarction", "PATIENT CHARACTERISTICS",
         ["condition 42343007 not", "condition 22298006 not within 3 mo"]),
        ("Creatinine clearance ≥60 mL/min [as measured or calculated by Cockcroft and Gault formulas]", None, ["lab 33558-8 >= 60 mL/min"]),
        ("Expected to develop neutropenia (ANC <500 cells/μL) lasting more than 10 days following chemotherapy.", None, []),
        ("Creatinine clearance greater than or equal to 45 cc/min/m(2)", None, ["lab 33558-8 >= 45"]),
        ("Other: No second malignancy except basal cell carcinoma Not pregnant or nursing", "PATIENT CHARACTERISTICS",
         ["condition 363346000 not", "condition 77386006 not", "condition 413712001 not"]),
        ("Sex: Female Menopausal Status: Not specified", "PATIENT CHARACTERISTICS", ["sex 46098-0 = female"]),
        ("Effectively treated squamous cell or basal cell skin cancer", "Prior malignancies except", []),
        # blind-3
        ("Active treatment for cancer in the past year", None, []),
        ("Continuous use of supplemental oxygen to manage a chronic pulmonary condition or heart failure", None, []),
        ("Probable long-term survival with HIV if cancer were not present", None, []),
        ("Severe co-morbidities (CHF [NYHA class II or worse], MI, CVA or TIA) within 3 months of screening visit, current unstable angina "
         "pectoris or oxygen-dependent severe pulmonary disease.", None,
         ["condition 42343007 within 3 mo", "condition 88020-3 = 421704003|420913000|422293003 within 3 mo"]),
        ("Patients with other previous malignancies, except those who achieved complete remission at least two years before radical lung "
         "cancer surgery and did not require additional treatment.", None, ["condition 363346000 within 2 a"]),
        ("Other: No other serious medical or psychiatric disease Not pregnant No prior/concurrent malignancy except basal cell carcinoma of "
         "the skin or carcinoma in situ of the cervix HIV negative OR asymptomatic for HIV disease", "PATIENT CHARACTERISTICS",
         ["condition 77386006 not", "condition 363346000 not"]),
        ("congestive heart failure > New York Heart Association (NYHA) class 2;", None,
         ["condition 42343007", "condition 88020-3 = 420913000|422293003"]),
        ("Aspartate amino transferase (AST or SGOT) and alanine amino transferase (ALT or SGPT) ≤ 1.5 × institutional ULN.", None,
         ["lab 1920-8 <= 1.5 ULN", "lab 1742-6 <= 1.5 ULN"]),
        ("Aspartate Aminotransferase and Alanine Aminotransferase less than 2.5 times the upper normal limit in the absence of demonstrable "
         "liver metastases, or less than 5 times the upper normal limit in the presence of liver metastases", None,
         ["lab 1920-8 < 2.5 ULN", "lab 1742-6 < 2.5 ULN", "lab 1920-8 < 5 ULN if", "lab 1742-6 < 5 ULN if"]),
        ("Other co-existing malignancies or malignancies diagnosed within the last 5 years (with the exception of basal cell carcinoma or "
         "cervical cancer in situ)", None, ["condition 363346000", "condition 363346000 within 5 a"]),
        ("No overexpression of HER-2", "DISEASE CHARACTERISTICS", ["biomarker 48676-1 = 260385009"]),
        ("Cancer other than squamous cell skin cancer which has been excised.", None, ["condition 363346000"]),
        ("Current breast cancer diagnosis", None, []),
        # blind-4
        ("Mammogram within 2 months prior to MRI scan and copy of films required of all patients 30 years of age and over", None, []),
        ("Uncontrolled intercurrent illness including, but not limited to, symptomatic congestive heart failure or unstable angina", None,
         ["condition 42343007"]),
        ("No history of congestive heart failure unless ejection fraction at least 40%", None, ["condition 42343007 not"]),
        ("Hepatic: (unless abdominal ultrasound indicates liver metastasis) AST no greater than 2 times normal", None, ["lab 1920-8 <= 2 ULN"]),
    ],
)
def test_corrected_error_classes(text: str, context: str | None, expected: list[str]) -> None:
    assert sorted(predicted(text, None) if context is None else [x for x in signatures(understand(text, context)) if x.split()[1] in _legacy_codes()]) == sorted(expected)
