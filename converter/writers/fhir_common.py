"""Pieces shared by the FHIR writers (R5 and R4B): stable ids, codings, narratives, bundle assembly.

Determinism is the point of this module: ids and fullUrls derive from content (uuid5 / sha256),
never from counters over dicts or from the clock, so the same trial gives byte-identical output.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Optional

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..model import Person, Trial, TrialDate
from ..resources import templates_dir
from ..terminology import load

NAMESPACE = uuid.UUID("6f1f8a52-3c1e-5b0e-9a43-7d0b6b1c2a10")  # trialconv's own uuid5 namespace
CTGOV_SYSTEM = "http://clinicaltrials.gov"
URI_SYSTEM = "urn:ietf:rfc:3986"
MESH_SYSTEM = "https://www.nlm.nih.gov/mesh"
ISO3166_SYSTEM = "urn:iso:std:iso:3166"
UCUM = "http://unitsofmeasure.org"

def terminology(name: str) -> dict[str, Any]:
    """Mapping table from ``converter/terminology/<name>.json``."""
    return load(name)


def coding_from(table: dict[str, Any], key: Optional[str]) -> Optional[dict[str, Any]]:
    """Look ``key`` up in a ``{"_system": ..., KEY: [code, display]}`` table; None when FHIR has no code."""
    if key is None:
        return None
    entry = table.get(key)
    if not entry:
        return None
    coding: dict[str, Any] = {"system": table["_system"], "code": entry[0]}
    if len(entry) > 1 and entry[1]:
        coding["display"] = entry[1]
    return coding


def concept(text: Optional[str] = None, *codings: Optional[dict[str, Any]]) -> dict[str, Any]:
    """CodeableConcept keeping the source text next to any codes (the text is what the registry said)."""
    result: dict[str, Any] = {}
    present = [c for c in codings if c]
    if present:
        result["coding"] = present
    if text:
        result["text"] = text
    return result


def safe_id(*parts: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from readable parts; long ids end in a hash to stay unique."""
    raw = "-".join(p for p in parts if p)
    cleaned = re.sub(r"[^A-Za-z0-9.\-]+", "-", raw).strip("-.") or "x"
    if len(cleaned) <= 64:
        return cleaned
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return f"{cleaned[:51].rstrip('-.')}-{digest}"


def content_key(*values: Optional[str]) -> str:
    """Short stable hash of normalised values, for resources shared across trials (organisations)."""
    normalised = "|".join(re.sub(r"\s+", " ", (v or "").strip().lower()) for v in values)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def full_url(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{resource_type}/{resource_id}')}"


def fhir_date(value: Optional[TrialDate]) -> Optional[str]:
    """FHIR date/dateTime accept partial dates as they are, so precision is kept as the source gave it."""
    return value.date if value else None


def study_period(trial: Trial) -> Optional[dict[str, str]]:
    """Start to completion as the source gave them; an end before the start (a registry typo) is
    left out rather than written as an invalid Period."""
    period = {k: v for k, v in (("start", fhir_date(trial.dates.start)), ("end", fhir_date(trial.dates.completion))) if v}
    if not period or (len(period) == 2 and period["end"] < period["start"]):
        return None
    return period


def telecom(person: Person) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    if person.phone:
        phone = f"{person.phone} ext. {person.phone_ext}" if person.phone_ext else person.phone
        points.append({"system": "phone", "value": phone, "use": "work"})
    if person.email:
        points.append({"system": "email", "value": person.email, "use": "work"})
    return points


@dataclass
class BundleBuilder:
    """Collects resources once each (by type/id) in insertion order and resolves references."""

    trial: Trial
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has(self, resource_type: str, resource_id: str) -> bool:
        return f"{resource_type}/{resource_id}" in self.entries

    def add(self, resource: dict[str, Any]) -> str:
        """Add a resource (first wins on id collision) and return the reference to use for it."""
        key = f"{resource['resourceType']}/{resource['id']}"
        if key not in self.entries:
            self.entries[key] = resource
        return full_url(resource["resourceType"], resource["id"])

    def reference(self, resource_type: str, resource_id: str, display: Optional[str] = None) -> dict[str, Any]:
        ref: dict[str, Any] = {"reference": full_url(resource_type, resource_id)}
        if display:
            ref["display"] = display
        return ref

    def bundle(self, bundle_type: str, conditional: dict[str, str]) -> dict[str, Any]:
        """Assemble the Bundle; for transactions every entry is a conditional create."""
        study_id = next((r["id"] for r in self.entries.values() if r["resourceType"] == "ResearchStudy"), self.trial.id)
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": safe_id(study_id, "bundle"),
            "identifier": {"system": URI_SYSTEM, "value": full_url("Bundle", safe_id(study_id, "bundle"))},
            "type": bundle_type,
            "entry": [],
        }
        for key, resource in self.entries.items():
            resource = _narrative_first(resource)
            entry: dict[str, Any] = {"fullUrl": full_url(resource["resourceType"], resource["id"]), "resource": resource}
            if bundle_type in {"transaction", "batch"}:
                request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
                if key in conditional:
                    request["ifNoneExist"] = conditional[key]
                entry["request"] = request
            bundle["entry"].append(entry)
        return bundle


def label(value: Optional[str]) -> str:
    """Registry enum → words for people: "PHASE1" → "Phase 1", "ACTIVE_NOT_RECRUITING" → "Active not recruiting"."""
    if not value:
        return ""
    if value == "NA":
        return "Not applicable"
    words = re.sub(r"(?<=[A-Za-z])(?=\d)", " ", value.replace("_", " ")).lower()
    return words[:1].upper() + words[1:]


def _narrative_first(resource: dict[str, Any]) -> dict[str, Any]:
    """resourceType, id, text, then the rest: the order FHIR examples use, so people find the summary first."""
    head = {k: resource[k] for k in ("resourceType", "id", "text") if k in resource}
    return {**head, **{k: v for k, v in resource.items() if k not in head}}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Narrative templates: autoescape always on, because every value is untrusted registry text."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["paragraphs"] = lambda text: [p for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    env.filters["label"] = label
    return env


def narrative(template: str, **context: Any) -> dict[str, str]:
    """Render a template under ``templates/fhir/`` into a generated Narrative."""
    html = _environment().get_template(f"fhir/{template}").render(**context)
    html = re.sub(r">\s+<", "><", html.strip())
    return {"status": "generated", "div": html}


def dedupe(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop exact duplicate JSON values while keeping order (e.g. two identical codings)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
