"""Vendor what the USDM writer and validator need from the official CDISC USDM 4.0 deliverables.

Run by hand whenever the USDM release changes (needs ``openpyxl`` and PyYAML, test-only tools)::

    python scripts/vendor_usdm.py                   # reads ../shared/usdm
    python scripts/vendor_usdm.py --from DIR        # a DDF-RA checkout's deliverables

Why a script: the installed product validates offline, so the spreadsheets and YAML are turned once
into small JSON files that are committed. It writes

``schemas/usdm/usdm.schema.json``
    ``Wrapper-Input`` and every ``*-Input`` class of ``USDM_API.json`` ``components.schemas`` as one
    JSON Schema (draft 2020-12), ``$ref`` rewritten to ``#/$defs/<Class>``; the content is unchanged.
``schemas/usdm/LICENSE``
    The MIT notice of the deliverables (CDISC DDF-RA).
``converter/terminology/usdm_ct.json``
    The DDF codelists of ``USDM_CT.xlsx`` (code → preferred term, extensibility, the attributes they
    bind), which attribute takes which codelist (DDF or SDTM), and the few terms of Protocol / SDTM
    codelists the pinned SDTM CT lacks but the official examples attest (arm types, age units).
``converter/terminology/usdm_model.json``
    From ``dataStructure.yml``: each class's reference attributes and the classes they may point to
    (sub-classes expanded), for the reference-integrity check.
``converter/terminology/usdm_rules.json`` (only the ``text``/``severity`` of each rule)
    The rule table's check specifications are written by hand; the script refreshes the official
    wording and severity from ``USDM_CORE_Rules.xlsx`` and adds any 4.0 rule not yet listed as
    ``not_checked`` so a new rule is never silently missing.

Output is sorted and deterministic, so a rerun gives no diff.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERMINOLOGY = ROOT / "converter" / "terminology"

#: Terms of codelists USDM binds but trialconv's pinned SDTM CT does not hold, each attested by the
#: official examples (the script fails if an example no longer carries it): codelist → code → decode.
ATTESTED = {
    "C174222": {"C174266": "Investigational Arm", "C174267": "Active Comparator Arm", "C174268": "Placebo Control Arm"},
    "C66781": {"C29848": "Year", "C29844": "Week", "C25301": "Day"},
}


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def schema(source: Path) -> dict[str, Any]:
    api = json.loads((source / "USDM_API.json").read_text(encoding="utf-8"))
    classes = {name[: -len("-Input")]: body for name, body in api["components"]["schemas"].items() if name.endswith("-Input")}
    text = json.dumps(classes)
    text = re.sub(r'"#/components/schemas/([A-Za-z]+)-Input"', r'"#/$defs/\1"', text)
    defs = json.loads(text)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://trialconv.dev/schemas/usdm/usdm.schema.json",
        "title": f"CDISC USDM {api['info']['version']} Wrapper (from USDM_API.json components.schemas, *-Input classes)",
        "$ref": "#/$defs/Wrapper",
        "$defs": defs,
    }


def terminology(source: Path) -> dict[str, Any]:
    import openpyxl

    book = openpyxl.load_workbook(source / "USDM_CT.xlsx", read_only=True)
    attributes, values = book.worksheets[0], book.worksheets[1]
    codelists: dict[str, Any] = {}
    bindings: dict[str, str] = {}
    rows = list(values.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if row[0] == "Project")
    for row in rows[header + 1 :]:
        if not row[3]:
            continue
        entity, attribute, codelist, extensible, code, decode = row[1], row[2], row[3], row[4], row[5], row[6]
        entry = codelists.setdefault(codelist, {"extensible": extensible == "Yes", "terms": {}, "attributes": []})
        entry["terms"][code] = str(decode).strip()
        if f"{entity}.{attribute}" not in entry["attributes"]:
            entry["attributes"].append(f"{entity}.{attribute}")
    for row in list(attributes.iter_rows(values_only=True))[1:]:
        has = str(row[9] or "")
        found = re.search(r"C\d{4,}", has)
        if has.startswith("Y") and found:
            bindings[f"{row[1]}.{row[4]}"] = found.group(0)
    for entry in codelists.values():
        entry["attributes"].sort()
    examples = "".join(p.read_text(encoding="utf-8") for p in sorted((source / "examples").glob("*.json")))
    for terms in ATTESTED.values():
        for code, decode in terms.items():
            if not re.search(rf'"code": "{code}",[^}}]*"decode": "{re.escape(decode)}"', examples):
                raise SystemExit(f"{code} {decode!r} is no longer attested by the official examples")
    return {
        "_about": "CDISC USDM 4.0 controlled terminology (USDM_CT.xlsx) and the terms the official examples attest for codelists "
        "the pinned SDTM CT lacks. Generated by scripts/vendor_usdm.py; do not edit by hand.",
        "codelists": codelists,
        "bindings": bindings,
        "attested": ATTESTED,
    }


def model(source: Path) -> dict[str, Any]:
    import yaml

    structure = yaml.safe_load((source / "dataStructure.yml").read_text(encoding="utf-8"))

    def concrete(name: str) -> list[str]:
        subs = structure.get(name, {}).get("Sub Classes") or []
        names = [ref["$ref"].split("/")[-1] if isinstance(ref, dict) else str(ref) for ref in subs]
        found = [] if subs else [name]
        for sub in names:
            found.extend(concrete(sub))
        return sorted(set(found))

    references: dict[str, dict[str, Any]] = {}
    for cls, body in structure.items():
        for attribute, spec in (body.get("Attributes") or {}).items():
            if spec.get("Relationship Type") != "Ref":
                continue
            targets = sorted({c for t in spec["Type"] for c in concrete(t["$ref"].split("/")[-1])})
            for owner in concrete(cls):
                references.setdefault(owner, {})[attribute] = {"targets": targets, "cardinality": spec["Cardinality"]}
    return {"_about": "USDM 4.0 reference attributes (dataStructure.yml, Relationship Type Ref), sub-classes expanded. "
            "Generated by scripts/vendor_usdm.py.", "references": references}


def rules(source: Path) -> None:
    import openpyxl

    path = TERMINOLOGY / "usdm_rules.json"
    table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"rules": {}}
    sheet = openpyxl.load_workbook(source / "USDM_CORE_Rules.xlsx", read_only=True).worksheets[0]
    for row in list(sheet.iter_rows(values_only=True))[1:]:
        text, severity, v4, rule = row[0], row[1], row[5], row[6]
        if v4 != "Y" or not rule:
            continue
        entry = table["rules"].setdefault(rule, {"status": "not_checked", "why": "new in this release: not reviewed yet"})
        entry["text"] = " ".join(str(text).split())
        entry["severity"] = severity
        entry["entities"] = " ".join(str(row[2]).split())
    _write(path, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=ROOT.parent / "shared" / "usdm")
    args = parser.parse_args()
    source: Path = args.source
    _write(ROOT / "schemas" / "usdm" / "usdm.schema.json", schema(source))
    shutil.copyfile(source / "LICENSE", ROOT / "schemas" / "usdm" / "LICENSE")
    _write(TERMINOLOGY / "usdm_ct.json", terminology(source))
    _write(TERMINOLOGY / "usdm_model.json", model(source))
    rules(source)


if __name__ == "__main__":
    main()
