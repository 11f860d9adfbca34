"""Trial synopsis: content, escaping of untrusted registry text, determinism."""

from __future__ import annotations

from html.parser import HTMLParser

from converter.model import Provenance
from converter.readers import read_source
from converter.writers.cdisc import build_datasets
from converter.writers.synopsis import md_escape, render_synopsis

from conftest import DATA
from test_cdisc_writer import make_trial

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_both_formats_are_rendered_with_the_expected_sections() -> None:
    trial = make_trial()
    out = render_synopsis(trial, build_datasets(trial))
    assert set(out) == {"synopsis.html", "synopsis.md"}
    html, md = out["synopsis.html"], out["synopsis.md"]
    for heading in ("Identification and status", "Design", "Arms and interventions", "Endpoints", "Key eligibility", "What could not be mapped"):
        assert heading in html and f"## {heading}" in md
    for text in ("NCT01234567", "ACME-001", "Completed", "Randomized", "Arm A: Drug X", "Overall survival", "Histologically confirmed NSCLC", "Pregnant or breastfeeding"):
        assert text in html and md_escape(text) in md
    assert "Adequate organ function: Platelets ≥ 100,000/µL" in html  # nested criteria read parent: child
    assert "TS ADDON (Added on to Existing Treatments)" in html  # CDISC notes are listed
    assert "2010-04 (actual)" in md


def test_registry_text_cannot_inject_html() -> None:
    trial = make_trial(brief_title=EVIL, official_title=EVIL, conditions=[EVIL], provenance=Provenance(source_format="test", unmapped=[EVIL], warnings=[EVIL]))
    out = render_synopsis(trial, build_datasets(trial))
    html, md = out["synopsis.html"], out["synopsis.md"]
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    parser = _Tags()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md


def test_markdown_escaping_keeps_text_literal() -> None:
    assert md_escape("a *b* _c_ [d](e) | f") == r"a \*b\* \_c\_ \[d\](e) \| f"
    assert md_escape("- not a list") == r"\- not a list"
    assert md_escape("line one\nline two") == "line one line two"


def test_output_is_deterministic() -> None:
    first = render_synopsis(make_trial(), build_datasets(make_trial()))
    second = render_synopsis(make_trial(), build_datasets(make_trial()))
    assert first == second


def test_without_cdisc_result_and_with_nothing_unmapped() -> None:
    out = render_synopsis(make_trial())
    assert "CDISC SDTM trial design" not in out["synopsis.html"]
    assert "Nothing: every field the reader saw was carried over." in out["synopsis.md"]


def test_key_eligibility_is_capped_and_counted() -> None:
    from converter.model import Criterion, Eligibility

    criteria = [Criterion(text=f"Inclusion item {i}", category="INCLUSION") for i in range(14)]
    out = render_synopsis(make_trial(eligibility=Eligibility(criteria=criteria)))
    assert "Inclusion item 9" in out["synopsis.html"] and "Inclusion item 10" not in out["synopsis.html"]
    assert "… and 4 more inclusion criteria." in out["synopsis.html"]


def test_real_record_synopsis_lists_unmapped_source_fields() -> None:
    trial = next(iter(read_source(DATA / "cdisc" / "NCT00003600.xml")))
    out = render_synopsis(trial, build_datasets(trial))
    assert "Epoetin Alfa in Treating Anemia" in out["synopsis.html"]
    # its criteria sit under the NCI template's sections, which list inclusion criteria (issue 17)
    assert "criteria are not marked inclusion or exclusion" not in out["synopsis.md"]
    for field in trial.provenance.unmapped:
        assert md_escape(field) in out["synopsis.md"]
