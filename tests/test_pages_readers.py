"""Unit behaviour of the page readers: detection, the generic fallback, derived ids, truncation and
the small parsers for run-together lists, ages and phases."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.readers import detect, page_common as pc, page_generic, page_vocab, read_source
from converter.readers.pages import READERS

from conftest import ROOT

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
UNKNOWN_PAGE = b"""Example Registry - Study record
Share this page
A Study of Drug X in Adults With Asthma
Public title: A Study of Drug X in Adults With Asthma
Primary ID: ISRCTN12345678
Recruitment status: Recruiting
Sponsor: Example University
Funding body: Example Trust
Inclusion criteria
1. Adults aged 18 years or older
2. Diagnosed asthma
Exclusion criteria
1. Pregnancy
Outcome measures
Lung function at 12 weeks
"""


@pytest.mark.parametrize("head", [b'{"protocolSection": {"identificationModule": {"nctId": "NCT01234567"}}}', b'[{"id": "NCT01234567"}]',
                                  b'<?xml version="1.0"?><clinical_study><nct_id>NCT01234567</nct_id>Inclusion Criteria</clinical_study>',
                                  b"\xef\xbb\xbf  <html>Inclusion Criteria NCT01234567</html>"])
def test_page_readers_never_claim_json_or_xml(head: bytes) -> None:
    assert all(reader.sniff(head) == 0.0 for reader in READERS)


def test_generic_reader_sniffs_low_and_only_trial_like_text() -> None:
    assert page_generic.sniff(UNKNOWN_PAGE) == page_generic.CONFIDENCE <= 0.2
    assert page_generic.sniff(b"just some text about nothing") == 0.0
    assert page_generic.sniff(b"\x00\x01binary NCT01234567") == 0.0
    for seed in sorted(SAMPLES.glob("[0-9][0-9][0-9]_*.txt")):
        head = seed.read_bytes()[:65536]
        assert max(r.sniff(head) for r in READERS if r is not page_generic.READER) > page_generic.sniff(head)


def test_generic_reader_reads_id_title_criteria_and_says_what_it_missed() -> None:
    assert detect(UNKNOWN_PAGE) is page_generic.READER
    trial = next(iter(read_source(UNKNOWN_PAGE)))
    assert trial.id == "ISRCTN12345678"
    assert trial.identifiers[0].issuer == "ISRCTN"
    assert trial.brief_title == "A Study of Drug X in Adults With Asthma"
    assert trial.overall_status == "RECRUITING"
    assert trial.sponsor is not None and trial.sponsor.name == "Example University"
    assert [(c.category, c.text) for c in trial.eligibility.criteria] == [
        ("INCLUSION", "Adults aged 18 years or older"), ("INCLUSION", "Diagnosed asthma"), ("EXCLUSION", "Pregnancy")]
    assert "Outcome" not in (trial.eligibility.criteria_text or "")
    assert any("generic reader read only" in w for w in trial.provenance.warnings)
    assert any(u.startswith("Funding body") for u in trial.provenance.unmapped)


def test_page_without_registry_id_gets_a_stable_derived_id() -> None:
    page = (SAMPLES / "000_c680d2a7bcdf8e98.txt").read_bytes().replace(b"NCT06230055\n", b"")
    first, second = next(iter(read_source(page))), next(iter(read_source(page + b"\n")))
    assert first.id == second.id == pc.derived_id(first.brief_title or "")
    assert first.id.startswith("page-") and len(first.id) == 17
    assert any("derived from the title" in w for w in first.provenance.warnings)


def test_field_dump_truncation_is_detected_only_when_cut() -> None:
    cut = (SAMPLES / "004_cf0a217b1bebf5ab.txt").read_bytes()
    whole = cut + b" None\n"
    assert next(iter(read_source(cut))).provenance.truncated is True
    assert next(iter(read_source(whole))).provenance.truncated is False
    mid_text = cut.split(b"Detailed Description")[0].rstrip(b"\n")[:-40]
    assert next(iter(read_source(mid_text))).provenance.truncated is True


def test_field_dump_placeholders_are_absent_and_furniture_ignored() -> None:
    trial = next(iter(read_source(SAMPLES / "004_cf0a217b1bebf5ab.txt")))
    assert trial.why_stopped is None and trial.last_known_status is None and trial.acronym is None
    assert trial.detailed_description is None and trial.oversight.fda_regulated_drug is None
    assert not any("Ignite" in u or "Gene Therapy" in u for u in trial.provenance.unmapped)


def test_classic_last_known_status_and_month_precision() -> None:
    trial = next(iter(read_source(SAMPLES / "001_699d8be317e90364.txt")))
    assert (trial.overall_status, trial.last_known_status) == ("UNKNOWN", "RECRUITING")
    assert trial.dates.start is not None and trial.dates.start.precision == "month"


@pytest.mark.parametrize("text, expected", [
    ("Other: Palliative treatmentProcedure: Radical resectionRadiation: Radical radiotherapy",
     [("OTHER", "Palliative treatment"), ("PROCEDURE", "Radical resection"), ("RADIATION", "Radical radiotherapy")]),
    ("Drug: oxaliplatin, capecitabine, trastuzumab", [("DRUG", "oxaliplatin, capecitabine, trastuzumab")]),
    ("Biological: NK immunotherapy Dietary Supplement: Vitamin D", [("BIOLOGICAL", "NK immunotherapy"), ("DIETARY_SUPPLEMENT", "Vitamin D")]),
])
def test_split_typed(text: str, expected: list) -> None:
    assert pc.split_typed(text) == expected


def test_split_glued_keeps_acronyms_whole() -> None:
    assert pc.split_glued("OligometastasisBreast Cancer") == ["Oligometastasis", "Breast Cancer"]
    assert pc.split_glued("HER2-positive Breast Cancer") == ["HER2-positive Breast Cancer"]


def test_segment_uses_known_terms_and_keeps_unknown_runs_together() -> None:
    pieces, unknown = page_vocab.segment("Breast Neoplasms Neoplasm Metastasis Foo Bar", {"Breast Neoplasms", "Neoplasm Metastasis"}, fold_case=False)
    assert pieces == ["Breast Neoplasms", "Neoplasm Metastasis", "Foo Bar"] and unknown == ["Foo Bar"]
    assert page_vocab.split_phrases("digital therapeutic")[0] == ["digital therapeutic"]
    assert page_vocab.split_phrases("sexual dysfunction and infertility")[0] == ["sexual dysfunction and infertility"]


@pytest.mark.parametrize("text, low, high", [
    ("18 years and older", 18, None), ("18 Years and older (Adult, Older Adult)", 18, None), ("18-75 years", 18, 75),
    ("Age > 18 years", 18, None), ("18 Years to 75 Years", 18, 75), ("up to 17 Years (Child)", None, 17), ("All", None, None),
])
def test_age_range(text: str, low: int, high: int) -> None:
    found_low, found_high = pc.age_range(text)
    assert (found_low or {}).get("value") == low and (found_high or {}).get("value") == high


def test_age_from_criteria_needs_an_age_phrase() -> None:
    assert pc.age_from_criteria("Women aged 18-75 years old")[0] == {"value": 18.0, "unit": "YEARS"}
    assert pc.age_from_criteria("No cancer within 5 years") == (None, None)


@pytest.mark.parametrize("text, expected", [
    ("A Randomized, Open Label, Phase III Trial to Evaluate X", ["PHASE3"]), ("A Phase 2/3 Study of Y", ["PHASE2", "PHASE3"]),
    ("Results of the phase III program", []), ("Early Phase 1 Trial of Z", ["EARLY_PHASE1"]),
])
def test_phases_in_prose(text: str, expected: list) -> None:
    assert pc.phases_in_prose(text) == expected


def test_phase_field_words() -> None:
    assert pc.phases("Phase 2 Phase 3") == ["PHASE2", "PHASE3"]
    assert pc.phases("Not Applicable") == ["NA"]
    assert pc.phases("Phase 1/2") == ["PHASE1", "PHASE2"]


def test_template_placeholders_are_boilerplate() -> None:
    assert pc.is_boilerplate("We have sent it to {{SITE_NAME}}.")  # a line with a template hole is never trial text
    assert not pc.is_boilerplate("Powered by AI, this summary …")  # other furniture only as a whole line
    assert pc.is_boilerplate("{{SITE_NAME}}") and pc.is_boilerplate("Powered by AI") and pc.is_boilerplate("Add a private note")


def test_a_list_of_many_trials_is_not_read_as_one_trial() -> None:
    from converter.readers import detect

    listing = "file\tsource\n" + "".join(f"v2/NCT0{n:07d}.json\trepo\n" for n in range(20))
    assert detect(listing.encode()) is None


# ---------------------------------------------------------------------------------------- design words


@pytest.mark.parametrize("title, summary, description, expected", [
    # the study's own description, at the start of the summary or in the title
    (None, "A Randomized, Open Label, Phase III Trial to Evaluate X versus Y", None, {"allocation": "RANDOMIZED", "masking": "NONE"}),
    ("Drug X in Asthma: A Randomised, Double-Blind, Placebo-Controlled Study", None, None, {"allocation": "RANDOMIZED", "masking": "DOUBLE"}),
    ("A Single-blind, Non-randomized Pilot Study of Y", None, None, {"allocation": "NON_RANDOMIZED", "masking": "SINGLE"}),
    ("An open-label study of Z", None, None, {"masking": "NONE"}),
    (None, "Background text first.", "This is a prospective, randomized, and multicenter study to compare A and B.", {"allocation": "RANDOMIZED"}),
    (None, "In this open-label trial, patients receive Z.", None, {"masking": "NONE"}),
    # "non-randomized" is never read as "randomized"
    ("A Non-Randomized, Open Label Trial", None, None, {"allocation": "NON_RANDOMIZED", "masking": "NONE"}),
    # about other studies, not this one: plural nouns, background sentences, words outside a chain
    (None, "Randomized trials have shown that X works. We will study Y.", None, {}),
    (None, "Patients with X. A randomized trial showed benefit of Y.", None, {}),
    (None, "Previous double-blind studies found no effect; this study will test Z.", None, {}),
    (None, "Patients will be randomized to A or B.", "Participants are randomized in a 2:1 ratio.", {}),
    ("Effect of X on Y", None, "A randomized study (Smith 2010) reported harm.", {}),
    # conflicting terms: left out
    ("A Randomized Study of X", None, "This is a non-randomized trial.", {}),
])
def test_design_in_prose(title, summary, description, expected) -> None:
    found = pc.design_in_prose(title, summary, description)
    assert {k: v for k, v in found.items() if not k.startswith("_")} == expected


def test_conflicting_design_words_are_reported_not_guessed() -> None:
    found = pc.design_in_prose("An Open-label Study", None, "This is a double-blind study.")
    assert "masking" not in found and found["_ambiguous"] == ["masking"]


def _design_draft(**fields) -> pc.Draft:
    draft = pc.new_draft("test", "test.txt")
    draft.update(fields)
    return draft


def test_infer_design_records_provenance_and_never_overrides() -> None:
    draft = _design_draft(brief_title="A Randomized, Double-Blind Trial of X")
    pc.infer_design(draft)
    assert draft["design"] == {"allocation": "RANDOMIZED", "masking": "DOUBLE"}
    assert draft["provenance"]["inferred"] == ["design.allocation", "design.masking"]
    assert any("allocation inferred from the title" in w for w in draft["provenance"]["warnings"])

    draft = _design_draft(brief_title="A Randomized, Double-Blind Trial of X", design={"allocation": "NON_RANDOMIZED", "masking": "SINGLE"})
    pc.infer_design(draft)
    assert draft["design"] == {"allocation": "NON_RANDOMIZED", "masking": "SINGLE"}
    assert draft["provenance"]["inferred"] == []


def _arm(label: str, *names: str, **extra) -> dict:
    return {"label": label, "intervention_names": list(names), **extra}


def test_arm_types_from_role_statements_and_labels() -> None:
    draft = _design_draft(
        detailed_description="Control group: Standard care. Chemotherapy as usual.\nExperimental group:New drug. Daily dosing.",
        arms=[_arm("Standard care", "Drug: Cisplatin"), _arm("New drug", "Drug: X"), _arm("Placebo group", "Drug: Placebo"),
              _arm("Experimental arm B", "Drug: Y"), _arm("Other", "Drug: Z", type="OTHER")],
    )
    pc.infer_arm_types(draft)
    assert [arm.get("type") for arm in draft["arms"]] == ["ACTIVE_COMPARATOR", "EXPERIMENTAL", "PLACEBO_COMPARATOR", "EXPERIMENTAL", "OTHER"]
    assert draft["provenance"]["inferred"] == ["arms.type"]


def test_arm_types_left_missing_when_the_page_does_not_settle_them() -> None:
    draft = _design_draft(
        brief_summary="Control group: Usual care. Experimental group: Usual care plus X.",
        arms=[
            _arm("Control group"),                                   # no intervention listed: none? usual care? lost table?
            _arm("Control arm", "Drug: Placebo", "Drug: Cisplatin"),  # placebo plus active: cannot tell
            _arm("Wait list", "Other: Waiting list"),                 # control that gets nothing: not an active comparator
            _arm("Treatment A", "Drug: A"),                            # no role word at all
            _arm("Both", "Drug: B"),                                   # two different roles stated
        ],
    )
    draft["detailed_description"] = "Control group: Wait list.\nControl group: Both.\nExperimental group: Both."
    pc.infer_arm_types(draft)
    assert [arm.get("type") for arm in draft["arms"]] == [None, None, None, None, None]
    assert draft["provenance"]["inferred"] == []


def test_role_statement_goes_to_the_longest_matching_label() -> None:
    draft = _design_draft(
        brief_summary="Control group: Usual care. Experimental group: Usual care plus X.",
        arms=[_arm("Usual care", "Other: Usual care"), _arm("Usual care plus X", "Other: Usual care", "Drug: X")],
    )
    pc.infer_arm_types(draft)
    assert [arm.get("type") for arm in draft["arms"]] == ["ACTIVE_COMPARATOR", "EXPERIMENTAL"]


def test_medpath_seed_infers_design_and_arm_types() -> None:
    [trial] = list(read_source(ROOT / "samples" / "002_e8d3faca6c80e329.txt"))
    assert (trial.design.allocation, trial.design.masking) == ("RANDOMIZED", "NONE")
    assert {arm.label: arm.type for arm in trial.arms} == {"Palliative treatment": "ACTIVE_COMPARATOR", "Radical local treatment": "EXPERIMENTAL"}
    assert {"design.allocation", "design.masking", "arms.type"} <= set(trial.provenance.inferred)
    [other] = list(read_source(ROOT / "samples" / "003_b89dab9eaa1bf9d2.txt"))
    assert other.design.allocation is None and other.design.masking is None and all(arm.type is None for arm in other.arms)


def test_generic_reader_infers_design_from_its_title() -> None:
    text = "A Randomised, Double-blind Study of Drug X in Asthma\nNCT01234567\nInclusion Criteria:\n- Adults\nExclusion Criteria:\n- Pregnancy\n"
    trial = page_generic.read_text(text, "page.txt")
    assert (trial.design.allocation, trial.design.masking) == ("RANDOMIZED", "DOUBLE")
    assert "design.allocation" in trial.provenance.inferred
