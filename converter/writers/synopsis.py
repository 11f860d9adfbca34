"""A human-readable trial synopsis (HTML and Markdown) from the canonical Trial.

Registry text is untrusted: the HTML template is rendered with autoescaping on, and the Markdown
template escapes every value with the ``md`` filter (Markdown renderers pass raw HTML through, so a
``<script>`` in a title must not survive there either). Output is deterministic — no timestamps, no
dict-order surprises — so a synopsis can be diffed between runs.

The view model is built here, in plain Python, so the templates only lay out what they are given.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..eligibility import understood
from ..model import Age, Criterion, Trial, TrialDate
from ..resources import templates_dir
from ..terminology import load
from .base import arm_intervention_indexes
from .cdisc.datasets import CdiscResult

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|!])")
# "&" starts an entity only before a name or number and ";": only there does it need escaping.
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def _criteria_view(items: list[Criterion], studied: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every criterion, in order: its text, its sub-items, and what was coded (None: text only)."""
    return [{"category": item.category, "text": _one_line(item.text), "understood": meaning,
             "children": [{"text": _one_line(child.text), "understood": child_meaning} for child, child_meaning in children]}
            for item, (meaning, children) in zip(items, understood(items, studied))]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def md_escape(value: Any) -> str:
    """Escape registry text for Markdown: one line, no live HTML, no accidental emphasis/links/tables.

    "<" and ">" become entities (no tag can survive); a bare "&" stays as it is ("Austrian Breast &
    Colorectal", not "&amp;"), and only an "&" that would start an entity is backslash-escaped.
    """
    text = " ".join(str(value).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
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


def _identifier_words(kind: Optional[str]) -> str:
    """The identifier's kind as the registry world writes it ("EudraCT number", not "Eudract number")."""
    table = load("fhir_r5")["identifier_type_text"]
    return table.get(kind or "SECONDARY") or _words(kind)


_MILESTONES = (
    ("first_submitted", "First submitted"), ("first_posted", "First posted"), ("start", "Study start"),
    ("primary_completion", "Primary completion"), ("completion", "Study completion"),
    ("results_first_posted", "Results first posted"), ("last_update_posted", "Last update posted"),
)


def _years(value: str) -> float:
    """A (partial) ISO date as a fractional year, to place it on the timeline."""
    parts = [int(p) for p in value.split("-")]
    return parts[0] + ((parts[1] - 1) / 12 if len(parts) > 1 else 0) + ((parts[2] - 1) / 365 if len(parts) > 2 else 0)


def _timeline(trial: Trial) -> list[dict[str, Any]]:
    """Key dates in date order, each with its position (0-100 %) between the first and the last."""
    points = [(getattr(trial.dates, attr), words) for attr, words in _MILESTONES if getattr(trial.dates, attr)]
    points.sort(key=lambda p: (p[0].date, _MILESTONES.index(next(m for m in _MILESTONES if m[1] == p[1]))))
    if not points:
        return []
    first, last = _years(points[0][0].date), _years(points[-1][0].date)
    span = last - first or 1.0
    return [{"label": words, "date": value.date, "kind": value.type.lower() if value.type else "",
             "position": round(100 * (_years(value.date) - first) / span, 1)} for value, words in points]


def _arms_view(trial: Trial) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Arms with the interventions each uses (type, description, other names), and the
    interventions no arm names (listed on their own)."""
    def intervention(index: int) -> dict[str, Any]:
        item = trial.interventions[index]
        return {"name": item.name, "type": _words(item.type), "description": item.description or "", "other_names": list(item.other_names)}

    used: set[int] = set()
    arms = []
    for arm in trial.arms:
        indexes = arm_intervention_indexes(arm, trial.interventions)
        used.update(indexes)
        matched = {trial.interventions[i].name.lower() for i in indexes}
        unlisted = [n for n in arm.intervention_names if n.split(":", 1)[-1].strip().lower() not in matched and n.strip().lower() not in matched]
        arms.append({"label": arm.label, "type": _words(arm.type), "description": arm.description or "", "derived": bool(arm.derived),
                     "interventions": [intervention(i) for i in indexes], "unlisted": unlisted})
    others = [intervention(i) for i in range(len(trial.interventions)) if i not in used]
    return arms, others


def _sites_view(trial: Trial) -> list[tuple[str, list[str]]]:
    """Sites grouped by country (countries sorted, sites in record order)."""
    by_country: dict[str, list[str]] = {}
    for site in trial.locations:
        words = ", ".join(p for p in (site.facility, site.city, site.state) if p) or "(site without a name)"
        if site.status:
            words += f" ({_words(site.status).lower()})"
        by_country.setdefault(site.country or "Country not stated", []).append(words)
    return sorted(by_country.items(), key=lambda item: (item[0] == "Country not stated", item[0]))


def _view(trial: Trial, cdisc: Optional[CdiscResult]) -> dict[str, Any]:
    design = trial.design
    masking = "None (open label)" if design.masking == "NONE" else _words(design.masking)
    if design.who_masked:
        masking += " (" + ", ".join(_words(w).lower() for w in design.who_masked) + ")"
    design_rows = [
        ("Study type", _words(trial.study_type)),
        ("Phase", " / ".join(_phase(str(p)) for p in trial.phases)),
        ("Primary purpose", _words(design.primary_purpose)),
        ("Allocation", _words(design.allocation) if design.allocation != "NA" else "Not applicable"),
        ("Intervention model", _words(design.intervention_model)),
        ("Observational model", _words(design.observational_model)),
        ("Time perspective", _words(design.time_perspective)),
        ("Masking", masking),
        ("Number of arms", str(design.number_of_arms) if design.number_of_arms is not None else ""),
        ("Enrollment", f"{trial.enrollment.count} ({trial.enrollment.type.lower()})" if trial.enrollment and trial.enrollment.type else (str(trial.enrollment.count) if trial.enrollment else "")),
    ]
    glance = [v for k, v in design_rows if v and k in {"Study type", "Phase", "Allocation", "Masking"}]
    criteria = _criteria_view(trial.eligibility.criteria, trial.conditions)
    eligibility = trial.eligibility
    ages = " to ".join(a for a in (_age(eligibility.minimum_age) or "no minimum", _age(eligibility.maximum_age) or "no maximum"))
    outcomes = [
        (label, [{"measure": " ".join(o.measure.split()), "time_frame": " ".join((o.time_frame or "").split()), "description": o.description or ""}
                 for o in trial.outcomes if o.kind == kind])
        for kind, label in (("PRIMARY", "Primary"), ("SECONDARY", "Secondary"), ("OTHER", "Other pre-specified"))
    ]
    arms, other_interventions = _arms_view(trial)
    cdisc_view = None
    if cdisc is not None:
        cdisc_view = {
            "datasets": [(name, ds.label, len(ds.rows)) for name, ds in cdisc.items()],
            "notes": list(cdisc.notes),
        }
    coded = sum(1 for c in criteria for part in [c, *c["children"]] if part["understood"])
    return {
        "id": trial.id,
        "title": trial.title,
        "official_title": trial.official_title if trial.official_title and trial.official_title != trial.title else "",
        "acronym": trial.acronym or "",
        "identifiers": [(i.value, _identifier_words(i.kind if i.kind == "ORG_STUDY_ID" else (i.type or i.kind))) for i in trial.identifiers if i.value != trial.id],
        "status": _words(trial.overall_status),
        "last_known_status": _words(trial.last_known_status),
        "why_stopped": trial.why_stopped or "",
        "sponsor": trial.sponsor.name if trial.sponsor else "",
        "collaborators": [c.name for c in trial.collaborators],
        "summary": [p for p in re.split(r"\n\s*\n", trial.brief_summary or "") if p.strip()],
        "purpose": _words(design.primary_purpose),
        "conditions": list(trial.conditions),
        "keywords": list(trial.keywords),
        "glance": glance,
        "design": [(k, v) for k, v in design_rows if v],
        "timeline": _timeline(trial),
        "arms": arms,
        "other_interventions": other_interventions,
        "outcomes": [(label, items) for label, items in outcomes if items],
        "eligibility": {
            "sex": _words(eligibility.sex),
            "ages": ages,
            "healthy": "" if eligibility.healthy_volunteers is None else ("Yes" if eligibility.healthy_volunteers else "No"),
            "inclusion": [c for c in criteria if c["category"] == "INCLUSION"],
            "exclusion": [c for c in criteria if c["category"] == "EXCLUSION"],
            "unclassified": [c for c in criteria if c["category"] not in ("INCLUSION", "EXCLUSION")],
            "coded": coded,
            "total": len(criteria),
        },
        "sites": _sites_view(trial),
        "site_count": len(trial.locations),
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
