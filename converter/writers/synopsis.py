"""A human-readable trial synopsis (HTML and Markdown) from the canonical Trial.

Registry text is untrusted: the HTML template is rendered with autoescaping on, and the Markdown
template escapes every value with the ``md`` filter (Markdown renderers pass raw HTML through, so a
``<script>`` in a title must not survive there either). Output is deterministic — no timestamps, no
dict-order surprises — so a synopsis can be diffed between runs.

The view model is built here, in plain Python, so the templates only lay out what they are given.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..model import Age, Trial, TrialDate
from ..resources import templates_dir
from ..model import Criterion
from .cdisc.datasets import CdiscResult

KEY_CRITERIA = 10  # "key eligibility": the first items of each list, the rest counted

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|!])")



def _key_criteria(items: list[Criterion]) -> list[tuple[str, str]]:
    """(category, text) per top-level criterion; sub-items follow their parent on the same line.

    A reader wants "Adequate organ function: platelets ≥ 100; Hb ≥ 9" once, not the parent's
    sentence repeated before every lab value (that long form is what TI needs, not a synopsis).
    """
    out = []
    for item in items:
        text = " ".join(item.text.split())
        if item.children:
            parts = "; ".join(" ".join(child.text.split()).rstrip(";") for child in _leaves(item.children))
            text = f"{text.rstrip(':')}: {parts}"
        out.append((item.category, text))
    return out


def _leaves(items: list[Criterion]) -> list[Criterion]:
    found: list[Criterion] = []
    for item in items:
        found.extend(_leaves(item.children) if item.children else [item])
    return found

def md_escape(value: Any) -> str:
    """Escape registry text for Markdown: one line, no live HTML, no accidental emphasis/links/tables."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"^([-+]|\d+\.)(\s)", r"\\\1\2", text)  # a leading "- " or "1. " must not start a list


def _words(code: Optional[str]) -> str:
    """Registry enumeration → words: ACTIVE_NOT_RECRUITING → "Active not recruiting"."""
    if not code:
        return ""
    text = str(code).replace("_", " ").lower()
    return text[:1].upper() + text[1:]


def _phase(code: str) -> str:
    return {"NA": "Not applicable", "EARLY_PHASE1": "Early phase 1"}.get(code, re.sub(r"PHASE(\d)", r"Phase \1", code))


def _date(value: Optional[TrialDate]) -> str:
    if value is None:
        return ""
    return f"{value.date} ({value.type.lower()})" if value.type else value.date


def _age(value: Optional[Age]) -> str:
    return value.as_text() if value else ""


def _view(trial: Trial, cdisc: Optional[CdiscResult]) -> dict[str, Any]:
    design = trial.design
    masking = _words(design.masking)
    if design.who_masked:
        masking += " (" + ", ".join(_words(w).lower() for w in design.who_masked) + ")"
    design_rows = [
        ("Study type", _words(trial.study_type)),
        ("Phase", " / ".join(_phase(str(p)) for p in trial.phases)),
        ("Allocation", _words(design.allocation) if design.allocation != "NA" else "Not applicable"),
        ("Intervention model", _words(design.intervention_model)),
        ("Observational model", _words(design.observational_model)),
        ("Time perspective", _words(design.time_perspective)),
        ("Masking", masking),
        ("Primary purpose", _words(design.primary_purpose)),
        ("Number of arms", str(design.number_of_arms) if design.number_of_arms is not None else ""),
        ("Enrollment", f"{trial.enrollment.count} ({trial.enrollment.type.lower()})" if trial.enrollment and trial.enrollment.type else (str(trial.enrollment.count) if trial.enrollment else "")),
    ]
    dates = [
        ("Start", _date(trial.dates.start)),
        ("Primary completion", _date(trial.dates.primary_completion)),
        ("Completion", _date(trial.dates.completion)),
        ("First posted", _date(trial.dates.first_posted)),
        ("Last update posted", _date(trial.dates.last_update_posted)),
    ]
    criteria = list(_key_criteria(trial.eligibility.criteria))
    inclusion = [text for category, text in criteria if category == "INCLUSION"]
    exclusion = [text for category, text in criteria if category == "EXCLUSION"]
    unclassified = [text for category, text in criteria if category not in ("INCLUSION", "EXCLUSION")]
    eligibility = trial.eligibility
    ages = " to ".join(a for a in (_age(eligibility.minimum_age) or "no minimum", _age(eligibility.maximum_age) or "no maximum"))
    outcomes = [
        (label, [(" ".join(o.measure.split()), " ".join((o.time_frame or "").split())) for o in trial.outcomes if o.kind == kind])
        for kind, label in (("PRIMARY", "Primary"), ("SECONDARY", "Secondary"), ("OTHER", "Other pre-specified"))
    ]
    cdisc_view = None
    if cdisc is not None:
        cdisc_view = {
            "datasets": [(name, ds.label, len(ds.rows)) for name, ds in cdisc.items()],
            "notes": list(cdisc.notes),
        }
    return {
        "id": trial.id,
        "title": trial.title,
        "official_title": trial.official_title if trial.official_title and trial.official_title != trial.title else "",
        "acronym": trial.acronym or "",
        "identifiers": [(i.value, _words(i.type or i.kind)) for i in trial.identifiers if i.value != trial.id],
        "status": _words(trial.overall_status),
        "last_known_status": _words(trial.last_known_status),
        "why_stopped": trial.why_stopped or "",
        "sponsor": trial.sponsor.name if trial.sponsor else "",
        "collaborators": [c.name for c in trial.collaborators],
        "conditions": list(trial.conditions),
        "design": [(k, v) for k, v in design_rows if v],
        "dates": [(k, v) for k, v in dates if v],
        "arms": [
            {"label": arm.label, "type": _words(arm.type), "description": arm.description or "", "interventions": list(arm.intervention_names)}
            for arm in trial.arms
        ],
        "interventions": [
            {"name": i.name, "type": _words(i.type), "description": i.description or "", "other_names": list(i.other_names)}
            for i in trial.interventions
        ],
        "outcomes": [(label, items) for label, items in outcomes if items],
        "eligibility": {
            "sex": _words(eligibility.sex),
            "ages": ages,
            "healthy": "" if eligibility.healthy_volunteers is None else ("Yes" if eligibility.healthy_volunteers else "No"),
            "inclusion": inclusion[:KEY_CRITERIA],
            "inclusion_more": max(0, len(inclusion) - KEY_CRITERIA),
            "exclusion": exclusion[:KEY_CRITERIA],
            "exclusion_more": max(0, len(exclusion) - KEY_CRITERIA),
            "unclassified": len(unclassified),
        },
        "countries": sorted({loc.country for loc in trial.locations if loc.country}),
        "unmapped": list(trial.provenance.unmapped),
        "warnings": list(trial.provenance.warnings),
        "source": trial.provenance.source_format,
        "cdisc": cdisc_view,
    }


def _environment(html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_escape
    return env


def render_synopsis(trial: Trial, cdisc_result: Optional[CdiscResult] = None) -> dict[str, str]:
    """``{"synopsis.html": …, "synopsis.md": …}`` for one trial; CDISC notes are listed when given."""
    view = _view(trial, cdisc_result)
    return {
        "synopsis.html": _environment(True).get_template("synopsis.html.j2").render(**view),
        "synopsis.md": _tidy_markdown(_environment(False).get_template("synopsis.md.j2").render(**view)),
    }


def _tidy_markdown(text: str) -> str:
    """One blank line around headings and between blocks; template whitespace control can't do both."""
    text = re.sub(r"(?<=[^\n])\n(#{1,6} )", r"\n\n\1", text)
    text = re.sub(r"^(#{1,6} [^\n]*)\n(?=[^\n])", r"\1\n\n", text, flags=re.M)
    text = re.sub(r"(?<=[^\n])\n(\| Field)", r"\n\n\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
