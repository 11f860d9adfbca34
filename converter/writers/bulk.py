"""FHIR Bulk Data NDJSON targets (``fhir-r5-ndjson``, ``fhir-r4b-ndjson``): one record's part.

The record's Bundle is built and validated exactly as for ``fhir-r5``/``fhir-r4b`` (schema, models,
required bindings, references resolved inside the Bundle); only then are its entries taken out,
their Bundle-internal references (``urn:uuid:`` fullUrls) rewritten to the literal ``Type/id`` that
resolves across the export's files, and packed as the record's part. The per-type NDJSON files and
the manifest are merged from the parts at the end of the run (:mod:`converter.bulk`).
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..model import Trial
from .base import Written


def iso_instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bulk_part(stamp: str, resources: Iterable[dict[str, Any]]) -> tuple[str, bytes]:
    """A record's resources as compressed ``type<TAB>id<TAB>json`` lines (compact JSON, key order as
    built): the record's part, merged into the per-type files by :mod:`converter.bulk`."""
    lines = [f"{r['resourceType']}\t{r['id']}\t{json.dumps(r, ensure_ascii=False, separators=(',', ':'))}" for r in resources]
    return stamp, zlib.compress("\n".join(lines).encode("utf-8"), 6)


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


def produce(version: str, stamp: Callable[[Trial], datetime]):
    """The produce function of the Bulk NDJSON target for FHIR ``version`` (R5 or R4B); ``stamp``
    gives a record's pinned time (SOURCE_DATE_EPOCH or its last update)."""

    def _bulk(trial: Trial, options: dict[str, Any]) -> Written:
        from ..validate.fhir import check
        from .fhir import r4b, r5

        build = r5.build_bundle if version == "R5" else r4b.build_bundle
        bundle = build(trial, "collection")
        check(bundle, version, trial.id)
        resources = bundle_resources(bundle)
        return Written(resources, {}, batch_state=bulk_part(iso_instant(stamp(trial)), resources))

    return _bulk
