"""FHIR Bulk Data NDJSON targets (``fhir-r5-ndjson``, ``fhir-r4b-ndjson``): one record's part.

The record's Bundle is built and validated exactly as for ``fhir-r5``/``fhir-r4b`` (schema, models,
required bindings, references resolved inside the Bundle); only then are its entries taken out,
their Bundle-internal references (``urn:uuid:`` fullUrls) rewritten to the literal ``Type/id`` that
resolves across the export's files, and packed as the record's part. The per-type NDJSON files and
the manifest are merged from the parts at the end of the run (:mod:`converter.bulk`).
"""

from __future__ import annotations

from typing import Any

from ..model import Trial
from .base import Written


def _relative_references(node: Any, urls: dict[str, str]) -> Any:
    """``node`` with every ``reference`` that names a Bundle entry's fullUrl replaced by ``Type/id``."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in urls:
                out[key] = urls[value]
            else:
                out[key] = _relative_references(value, urls)
        return out
    if isinstance(node, list):
        return [_relative_references(item, urls) for item in node]
    return node


def bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The validated Bundle's resources in entry order, references made literal ``Type/id``."""
    entries = bundle.get("entry") or []
    urls = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries if "fullUrl" in e}
    return [_relative_references(entry["resource"], urls) for entry in entries]


def produce(version: str):
    """The produce function of the Bulk NDJSON target for FHIR ``version`` (R5 or R4B)."""

    def _bulk(trial: Trial, options: dict[str, Any]) -> Written:
        from ..bulk import bulk_part, iso_instant
        from ..validate.fhir import check
        from .fhir import r4b, r5
        from .targets import stamp

        build = r5.build_bundle if version == "R5" else r4b.build_bundle
        bundle = build(trial, "collection")
        check(bundle, version, trial.id)
        resources = bundle_resources(bundle)
        return Written(resources, {}, batch_state=bulk_part(iso_instant(stamp(trial)), resources))

    return _bulk
