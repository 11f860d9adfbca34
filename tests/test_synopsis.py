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
    for heading in ("Summary", "Design", "Key dates", "Identification and status", "Arms and interventions", "Endpoints", "Eligibility",
                    "Sites by country", "What could not be mapped"):
        assert heading in html and f"## {heading}" in md
    for text in ("NCT01234567", "ACME-001", "Completed", "Randomized", "Arm A: Drug X", "Overall survival", "Histologically confirmed NSCLC", "Pregnant or breastfeeding"):
        assert text in html and md_escape(text) in md
    assert "Adequate organ function" in html and "Platelets ≥ 100,000/µL" in html  # nested criteria: parent, then its items
    assert "TS ADDON (Added on to Existing Treatments)" in html  # CDISC notes are listed
    assert "| 2010-04 | Study start (actual) |" in md  # key dates keep their precision and kind


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


def test_every_criterion_is_listed_and_the_coded_ones_are_marked() -> None:
    """Issue 17: no cut at 10 items; a coded criterion shows what was understood, the rest stay text."""
    from converter.model import Criterion, Eligibility

    criteria = [Criterion(text=f"Inclusion item {i}", category="INCLUSION") for i in range(14)]
    criteria.append(Criterion(text="Platelet count ≥ 100 x 10^9/L", category="INCLUSION"))
    out = render_synopsis(make_trial(eligibility=Eligibility(criteria=criteria)))
    html, md = out["synopsis.html"], out["synopsis.md"]
    for i in range(14):
        assert f"Inclusion item {i}<" in html and f"Inclusion item {i}\n" in md
    assert "more inclusion criteria" not in html
    assert "All 15 criteria of the record; 1 criteria or sub-items coded (marked ✓" in html
    marked = html.split("Platelet count")[1].split("</li>")[0]
    assert 'class="coded"' in marked and "LOINC 777-3" in marked
    assert "✓ coded: *LOINC 777-3" in md
    assert html.count('class="coded"') == 1


def test_synopsis_has_summary_purpose_arms_with_interventions_sites_timeline_and_plain_labels() -> None:
    from converter.model import Dates, Identifier, Intervention, Location, Organization, TrialDate

    trial = make_trial(
        brief_summary="First paragraph of the summary.\n\nSecond paragraph.",
        collaborators=[Organization(name="Austrian Breast & Colorectal Cancer Study Group")],
        identifiers=[Identifier(value="NCT01234567", kind="REGISTRY"), Identifier(value="2014-005181-30", kind="SECONDARY", type="EUDRACT_NUMBER")],
        interventions=[Intervention(name="Drug X", type="DRUG", description="Drug X 10 mg daily by mouth", arm_labels=["Arm A: Drug X"]),
                       Intervention(name="Placebo", type="DRUG", arm_labels=["Arm B: Placebo"])],
        locations=[Location(facility="Klinik Wien", city="Vienna", country="Austria"), Location(facility="MGH", city="Boston", country="United States"),
                   Location(facility="Dana-Farber", city="Boston", country="United States")],
        dates=Dates(start=TrialDate(date="2010-04", type="ACTUAL"), completion=TrialDate(date="2014", type="ESTIMATED"),
                    first_posted=TrialDate(date="2010-03-02")),
    )
    out = render_synopsis(trial)
    html, md = out["synopsis.html"], out["synopsis.md"]
    assert "<p>First paragraph of the summary.</p>" in html and "Second paragraph." in md
    assert "<th>Purpose</th><td>Treatment</td>" in html and "**Purpose:** Treatment" in md
    # the arm lists its intervention with the intervention's description (no empty Description column)
    arm = html.split("<h3>Arm A: Drug X")[1].split("</div>")[0]
    assert "Drug X 10 mg daily by mouth" in arm
    assert "- **Drug X** (Drug): Drug X 10 mg daily by mouth" in md
    # identifier labels as registries write them; "&" written once in Markdown, escaped once in HTML
    assert "EudraCT number" in html and "Eudract number" not in html and "| EudraCT number | 2014-005181-30 |" in md
    assert "Austrian Breast & Colorectal Cancer Study Group" in md and "&amp;" not in md
    assert "Austrian Breast &amp; Colorectal Cancer Study Group" in html and "&amp;amp;" not in html
    # sites grouped by country, with counts
    assert "<h3>United States <span class=\"muted\">(2)</span></h3>" in html and "### Austria (1)" in md
    # key dates in date order on a small timeline (positions are percentages of the span)
    assert md.index("| 2010-03-02 | First posted |") < md.index("| 2010-04 | Study start (actual) |") < md.index("| 2014 | Study completion (estimated) |")
    assert 'style="left: 0.0%"' in html and 'style="left: 100.0%"' in html
    assert "<script" not in html


def test_markdown_does_not_double_escape_ampersands_but_keeps_entities_literal() -> None:
    assert md_escape("Austrian Breast & Colorectal") == "Austrian Breast & Colorectal"
    assert md_escape("AT&amp;T") == "AT\\&amp;T"  # would render as "AT&T" otherwise; stays literal
    assert md_escape("<b>") == "&lt;b&gt;"


def test_real_record_synopsis_lists_unmapped_source_fields() -> None:
    trial = next(iter(read_source(DATA / "cdisc" / "NCT00003600.xml")))
    out = render_synopsis(trial, build_datasets(trial))
    assert "Epoetin Alfa in Treating Anemia" in out["synopsis.html"]
    # its criteria sit under the NCI template's sections, which list inclusion criteria (issue 17)
    assert "criteria are not marked inclusion or exclusion" not in out["synopsis.md"]
    for field in trial.provenance.unmapped:
        assert md_escape(field) in out["synopsis.md"]
