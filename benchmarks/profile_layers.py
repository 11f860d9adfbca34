"""Where the CPU of one record goes, layer by layer, in one process (run by hand; issue 13).

    python benchmarks/profile_layers.py            # the 146 API v2 records of ../shared/ctgov/v2

Each layer is timed by wrapping the function that does it (CPU time, ``time.process_time``), over
every record, after one warm-up record; nested layers are reported inside their parent. The strict
layers (pure-Python jsonschema, fhir.resources) are timed in a second pass with ``strict=True``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.readers import read_source  # noqa: E402
from converter.validate import fhir  # noqa: E402
from converter.writers import targets  # noqa: E402
from converter.writers.fhir import common, eligibility, eligibility_r4b, r4b, r5  # noqa: E402

SHARED = ROOT.parent / "shared" / "ctgov" / "v2"
spent: dict[str, float] = defaultdict(float)
current = {"version": "R5", "mode": "fast"}


def timed(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its CPU time to ``spent[label]`` (outermost call only)."""
    original: Callable[..., Any] = getattr(owner, name)
    depth = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if depth[0]:
            return original(*args, **kwargs)
        depth[0] += 1
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label.format(**current)] += time.process_time() - started
            depth[0] -= 1

    setattr(owner, name, wrapper)


def main() -> int:
    paths = sorted(SHARED.glob("*.json"))
    started = time.process_time()
    trials = [trial for path in paths for trial in read_source(path)]
    read_ms = (time.process_time() - started) / len(trials) * 1000

    for module in (eligibility, eligibility_r4b):
        timed(module, "read_criteria", "  eligibility reading {version} (not this issue's)")
    for module in (r5, r4b):
        timed(module, "build_bundle", "build {version} (incl. eligibility, narratives)")
    timed(common, "narrative", "  narratives {version} (Jinja)")
    timed(fhir, "xhtml_problems", "  narrative XHTML check {version} {mode}")
    timed(fhir, "_schema_layer", "  jsonschema {version} (strict)")
    timed(fhir, "_model_layer", "  fhir.resources {version} (strict)")
    for version, module in (("R5", r5), ("R4B", r4b)):
        current["version"] = version
        fhir.warm(version)
        module.build_bundle(trials[0], "collection")
        bundles = [module.build_bundle(trial, "collection") for trial in trials]
        for strict in (False, True):
            current["mode"] = "strict" if strict else "fast"
            label = f"validate {version} {'strict' if strict else 'fast'}"
            started = time.process_time()
            for bundle in bundles:
                assert not fhir.validate_bundle(bundle, version, strict=strict)
            spent[label] += time.process_time() - started
        defs = fhir._definitions(version)
        started = time.process_time()
        for bundle in bundles:
            for entry in bundle["entry"]:
                fhir._compiled_validator(defs, entry["resource"]["resourceType"]).is_valid(entry["resource"])
            fhir._compiled_validator(defs, "Bundle").is_valid(bundle)
        spent[f"  compiled schema {version} (jsonschema_rs)"] += time.process_time() - started
        started = time.process_time()
        for bundle in bundles:
            (json.dumps(bundle, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        spent[f"serialise {version} json.dumps (before)"] += time.process_time() - started
        started = time.process_time()
        for bundle in bundles:
            targets.dumps(bundle)
        spent[f"serialise {version} orjson (now)"] += time.process_time() - started

    print(f"records: {len(trials)} (API v2, {SHARED})")
    print(f"{'reading (file -> Trial)':48} {read_ms:8.2f} ms/record")
    for label, seconds in spent.items():
        print(f"{label:48} {seconds / len(trials) * 1000:8.2f} ms/record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
