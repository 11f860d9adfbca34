"""Vendor the official FHIR definitions trialconv validates against into ``schemas/fhir/``.

Run by hand (needs ``npm`` and the npm registry) whenever the FHIR versions we target change::

    python scripts/vendor_fhir.py                 # fetch with `npm pack`, write schemas/fhir/{r5,r4b}
    python scripts/vendor_fhir.py --from DIR      # use hl7.fhir.*.tgz tarballs already in DIR

Why a script and not a download at run time: an installed trialconv must validate offline and
reproducibly, so everything the validator needs is extracted once from the official (CC0) npm
packages and committed. Per version it writes:

``fhir.schema.json``
    The official JSON Schema, byte for byte (``package/openapi/fhir.schema.json``).
``elements.json``
    For every resource and complex datatype: each element path with its type codes, type profiles
    (SimpleQuantity), cardinality, and ``contentReference`` targets. The JSON schema knows neither ``min`` nor which
    datatype an element has in a form a binding walker can use, so the validator needs this to
    descend into datatypes and backbone elements and to find missing required elements.
``bindings.json``
    Every element path with a *required* binding mapped to its value set, and every such value set
    expanded to ``{system: [codes]}`` from the CodeSystems/ValueSets in the package. What cannot
    be enumerated from the package (BCP-47 languages, MIME types, UCUM, SNOMED CT, …) is recorded
    explicitly as ``open`` systems or ``unexpandable`` value sets with a reason, so nobody mistakes
    "not checked" for "checked". Extensible/preferred bindings are listed for information only.
``references.json``
    For every Reference/CodeableReference element the resource types its ``targetProfile`` allows
    (an empty list means any resource).

All output is sorted and deterministic so re-running the script produces no diff.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "schemas" / "fhir"

#: folder name -> (npm package, version)
PACKAGES: dict[str, tuple[str, str]] = {
    "r5": ("hl7.fhir.r5.core", "5.0.0"),
    "r4b": ("hl7.fhir.r4b.core", "4.3.0"),
}

#: Systems whose codes follow a grammar instead of an enumerable list; the validator checks the
#: grammars it knows (see converter/validate/fhir.py) and accepts the rest unchecked.
GRAMMAR_SYSTEMS: dict[str, str] = {
    "urn:ietf:bcp:47": "BCP-47 language tags are a grammar, not a list",
    "urn:ietf:bcp:13": "MIME types (BCP-13) are a grammar, not a list",
    "http://unitsofmeasure.org": "UCUM units are a grammar, not a list",
}

STRUCTURE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


# --------------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------------


def npm_pack(name: str, version: str, workdir: Path) -> Path:
    """Download one package tarball with ``npm pack`` (the registry's own client, verifies integrity)."""
    if shutil.which("npm") is None:
        raise SystemExit("npm not found: install Node.js or pass --from DIR with the .tgz files")
    result = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--silent"],
        cwd=workdir, check=True, capture_output=True, text=True,
    )
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    if not tarball.is_file():
        raise SystemExit(f"npm pack did not produce {tarball}")
    return tarball


def extract(tarball: Path, dest: Path) -> Path:
    """Extract a package tarball safely (no absolute paths or ``..``) and return its ``package/`` dir."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706 filters
            for member in archive.getmembers():
                target = (dest / member.name).resolve()
                if not str(target).startswith(str(dest.resolve())):
                    raise SystemExit(f"unsafe path in {tarball}: {member.name}")
            archive.extractall(dest)
    package = dest / "package"
    if not package.is_dir():
        raise SystemExit(f"{tarball} has no package/ folder")
    return package


# --------------------------------------------------------------------------------------------------
# Package contents
# --------------------------------------------------------------------------------------------------


def strip_version(url: str) -> str:
    """Canonical references may carry ``|version``; within one core package the version is implied."""
    return url.split("|", 1)[0]


@dataclass
class Package:
    """The conformance resources of one core package, indexed by canonical URL."""

    structures: dict[str, dict[str, Any]] = field(default_factory=dict)  # by type name (base defs only)
    code_systems: dict[str, dict[str, Any]] = field(default_factory=dict)
    value_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    fhir_version: str = ""

    @classmethod
    def load(cls, folder: Path) -> "Package":
        package = cls()
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        package.fhir_version = manifest.get("version", "")
        for path in sorted(folder.glob("*.json")):
            if not path.name.startswith(("StructureDefinition-", "CodeSystem-", "ValueSet-")):
                continue
            resource = json.loads(path.read_text(encoding="utf-8"))
            kind = resource.get("resourceType")
            if kind == "StructureDefinition":
                # Base definitions only: constraint profiles (vitalsigns, SimpleQuantity…) are not the
                # types JSON instances are written against.
                if resource.get("derivation") == "constraint" or resource.get("kind") == "logical":
                    continue
                if resource.get("kind") not in ("resource", "complex-type"):
                    continue
                package.structures[resource["type"]] = resource
            elif kind == "CodeSystem" and "url" in resource:
                package.code_systems[resource["url"]] = resource
            elif kind == "ValueSet" and "url" in resource:
                package.value_sets[resource["url"]] = resource
        return package


# --------------------------------------------------------------------------------------------------
# Value set expansion
# --------------------------------------------------------------------------------------------------


class Unexpandable(Exception):
    """A value set (or one include of it) cannot be enumerated from the package."""


@dataclass
class Expansion:
    """Enumerated codes per system plus systems that are accepted without enumeration (``open``)."""

    codes: dict[str, set[str]] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)  # system -> why it is not enumerated

    def add(self, system: str, codes: Iterable[str]) -> None:
        self.codes.setdefault(system, set()).update(codes)

    def merge(self, other: "Expansion") -> None:
        for system, codes in other.codes.items():
            self.add(system, codes)
        self.open.update(other.open)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"codes": {s: sorted(c) for s, c in sorted(self.codes.items()) if c}}
        if self.open:
            out["open"] = dict(sorted(self.open.items()))
        return out


@dataclass
class Concept:
    code: str
    children: list[str]
    properties: dict[str, list[str]]


class Expander:
    """Expand ValueSet.compose against the package's CodeSystems, memoised by URL.

    Supports: whole-system includes, concept lists, nested value sets (intersection, as the spec
    says), excludes, and filters ``is-a``/``descendent-of``/``is-not-a``/``=``/``in``/``exists``
    over complete in-package CodeSystems. Anything else raises :class:`Unexpandable` or marks the
    system ``open`` with a reason.
    """

    def __init__(self, package: Package) -> None:
        self.package = package
        self.cache: dict[str, Expansion | Unexpandable] = {}
        self._concepts: dict[str, dict[str, Concept]] = {}
        self._in_progress: set[str] = set()

    # -- code systems ------------------------------------------------------------------------------

    def concepts(self, system: str) -> dict[str, Concept]:
        """All concepts of a complete in-package CodeSystem, with children from nesting and ``parent``/``subsumedBy``."""
        if system in self._concepts:
            return self._concepts[system]
        cs = self.package.code_systems.get(system)
        if cs is None:
            raise Unexpandable(f"CodeSystem {system} is not in the package")
        if cs.get("content") != "complete":
            raise Unexpandable(f"CodeSystem {system} has content={cs.get('content')!r} in the package")
        table: dict[str, Concept] = {}

        def visit(items: list[dict[str, Any]], parent: Optional[str]) -> None:
            for item in items:
                props: dict[str, list[str]] = {}
                for prop in item.get("property", []):
                    value = next((str(v) for k, v in prop.items() if k.startswith("value")), None)
                    if value is not None:
                        props.setdefault(prop["code"], []).append(value)
                concept = table.setdefault(item["code"], Concept(item["code"], [], {}))
                concept.properties.update(props)
                if parent is not None:
                    table[parent].children.append(item["code"])
                visit(item.get("concept", []), item["code"])

        visit(cs.get("concept", []), None)
        for concept in list(table.values()):
            for key in ("parent", "subsumedBy"):
                for parent in concept.properties.get(key, []):
                    if parent in table and concept.code not in table[parent].children:
                        table[parent].children.append(concept.code)
        self._concepts[system] = table
        return table

    def descendants(self, system: str, code: str) -> set[str]:
        table = self.concepts(system)
        if code not in table:
            raise Unexpandable(f"filter code {code!r} not in {system}")
        seen: set[str] = set()
        stack = list(table[code].children)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(table[current].children)
        return seen

    def apply_filter(self, system: str, flt: dict[str, Any]) -> set[str]:
        table = self.concepts(system)
        prop, op, value = flt.get("property"), flt.get("op"), str(flt.get("value", ""))
        if prop == "concept" or (op in ("is-a", "descendent-of", "is-not-a") and prop in ("concept", "code", None)):
            if op == "is-a":
                return {value} | self.descendants(system, value)
            if op == "descendent-of":
                return self.descendants(system, value)
            if op == "is-not-a":
                return set(table) - ({value} | self.descendants(system, value))
            if op == "in":
                return {c for c in value.split(",") if c in table}
            if op == "=":
                return {value} if value in table else set()
        if op == "=":
            return {c.code for c in table.values() if value in c.properties.get(prop, [])}
        if op == "in":
            wanted = set(value.split(","))
            return {c.code for c in table.values() if wanted & set(c.properties.get(prop, []))}
        if op == "exists":
            want = value.lower() == "true"
            return {c.code for c in table.values() if (prop in c.properties) == want}
        raise Unexpandable(f"filter {prop} {op} {value} on {system} not supported")

    # -- value sets --------------------------------------------------------------------------------

    def expand(self, url: str) -> Expansion:
        url = strip_version(url)
        cached = self.cache.get(url)
        if isinstance(cached, Expansion):
            return cached
        if isinstance(cached, Unexpandable):
            raise cached
        if url in self._in_progress:
            raise Unexpandable(f"value set {url} includes itself")
        self._in_progress.add(url)
        try:
            result: Expansion | Unexpandable = self._expand(url)
        except Unexpandable as exc:
            result = exc
        finally:
            self._in_progress.discard(url)
        self.cache[url] = result
        if isinstance(result, Unexpandable):
            raise result
        return result

    def _expand(self, url: str) -> Expansion:
        vs = self.package.value_sets.get(url)
        if vs is None:
            raise Unexpandable(f"ValueSet {url} is not in the package")
        compose = vs.get("compose")
        if not compose:
            if vs.get("expansion", {}).get("contains"):
                return self._from_expansion(vs["expansion"]["contains"])
            raise Unexpandable(f"ValueSet {url} has neither compose nor expansion")
        result = Expansion()
        for include in compose.get("include", []):
            result.merge(self._include(include))
        for exclude in compose.get("exclude", []):
            try:
                removed = self._include(exclude)
            except Unexpandable:
                continue  # an exclude we cannot compute only makes the set more permissive
            for system, codes in removed.codes.items():
                if system in result.codes:
                    result.codes[system] -= codes
        return result

    def _from_expansion(self, contains: list[dict[str, Any]]) -> Expansion:
        result = Expansion()
        stack = list(contains)
        while stack:
            item = stack.pop()
            if "code" in item and "system" in item and not item.get("abstract"):
                result.add(item["system"], [item["code"]])
            stack.extend(item.get("contains", []))
        return result

    def _include(self, include: dict[str, Any]) -> Expansion:
        system = include.get("system")
        nested = [self.expand(v) for v in include.get("valueSet", [])]  # raises if any unexpandable
        if system is None:
            if not nested:
                raise Unexpandable("include without system or valueSet")
            return _intersect(nested)
        result = Expansion()
        if system in GRAMMAR_SYSTEMS and not include.get("concept"):
            result.open[system] = GRAMMAR_SYSTEMS[system]
        elif include.get("concept"):
            result.add(system, (c["code"] for c in include["concept"]))
        else:
            try:
                table = self.concepts(system)
                codes = set(table)
                for flt in include.get("filter", []):
                    codes &= self.apply_filter(system, flt)
                result.add(system, codes)
            except Unexpandable as exc:
                result.open[system] = str(exc)
        return _intersect([result, *nested]) if nested else result


def _intersect(parts: list[Expansion]) -> Expansion:
    """Intersection of expansions; an open system in one part defers to the others' enumeration."""
    first, rest = parts[0], parts[1:]
    result = Expansion(codes={s: set(c) for s, c in first.codes.items()}, open=dict(first.open))
    for part in rest:
        systems = set(result.codes) | set(result.open)
        other = set(part.codes) | set(part.open)
        merged = Expansion()
        for system in systems & other:
            if system in result.codes and system in part.codes:
                merged.add(system, result.codes[system] & part.codes[system])
            elif system in result.codes:
                merged.add(system, result.codes[system])
            elif system in part.codes:
                merged.add(system, part.codes[system])
            else:
                merged.open[system] = result.open[system]
        result = merged
    return result


# --------------------------------------------------------------------------------------------------
# Structure extraction
# --------------------------------------------------------------------------------------------------


def type_code(raw: dict[str, Any]) -> str:
    """FHIRPath system types (``http://hl7.org/fhirpath/System.String`` on ``id``) collapse to ``string``."""
    code = raw["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        return "string"
    return code


def target_names(profiles: Iterable[str]) -> list[str]:
    """Resource type names from targetProfile URLs; abstract bases mean 'any resource' (empty list)."""
    names: set[str] = set()
    for url in profiles:
        name = strip_version(url).rsplit("/", 1)[-1]
        if name in ("Resource", "DomainResource", "CanonicalResource", "MetadataResource"):
            return []
        names.add(name)
    return sorted(names)


def element_rows(structure: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for element in structure.get("snapshot", {}).get("element", []):
        yield element


def build(package: Package) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return (elements, bindings, references) documents for one package."""
    expander = Expander(package)
    elements: dict[str, Any] = {}
    required: dict[str, str] = {}
    informative: dict[str, dict[str, str]] = {}
    references: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}

    for name, structure in sorted(package.structures.items()):
        # Abstract types (Resource, DomainResource, Element…) may be element types but never instances.
        kinds[name] = ("abstract-" if structure.get("abstract") else "") + structure["kind"]
        for element in element_rows(structure):
            path = element["path"]
            if "." not in path:
                continue  # the root carries no type of its own
            row: dict[str, Any] = {"min": element.get("min", 0), "max": element.get("max", "*")}
            if "contentReference" in element:
                row["contentReference"] = element["contentReference"].split("#", 1)[1]
            else:
                row["types"] = sorted({type_code(t) for t in element.get("type", [])})
                # Type profiles matter for one invariant we check: SimpleQuantity forbids comparator.
                profiles = sorted({strip_version(p).rsplit("/", 1)[-1] for t in element.get("type", []) for p in t.get("profile", [])})
                if profiles:
                    row["profiles"] = profiles
            elements[path] = row

            targets: set[str] = set()
            is_reference = False
            for raw in element.get("type", []):
                if raw["code"] in ("Reference", "CodeableReference"):
                    is_reference = True
                    found = target_names(raw.get("targetProfile", []) or [STRUCTURE_PREFIX + "Resource"])
                    if not found:
                        targets = set()
                        break
                    targets.update(found)
            if is_reference:
                references[path] = sorted(targets)

            binding = element.get("binding") or {}
            if "valueSet" in binding:
                url = strip_version(binding["valueSet"])
                if binding.get("strength") == "required":
                    required[path] = url
                elif binding.get("strength") in ("extensible", "preferred"):
                    informative[path] = {"strength": binding["strength"], "valueSet": url}

    value_sets: dict[str, Any] = {}
    for url in sorted(set(required.values())):
        try:
            value_sets[url] = expander.expand(url).to_json()
        except Unexpandable as exc:
            value_sets[url] = {"unexpandable": str(exc)}

    meta = {"fhirVersion": package.fhir_version}
    elements_doc = {**meta, "kinds": dict(sorted(kinds.items())), "elements": dict(sorted(elements.items()))}
    bindings_doc = {
        **meta,
        "required": dict(sorted(required.items())),
        "valueSets": value_sets,
        "informative": dict(sorted(informative.items())),
    }
    references_doc = {**meta, "references": dict(sorted(references.items()))}
    return elements_doc, bindings_doc, references_doc


def _dumps(value: Any, depth: int) -> str:
    """Objects are broken into one member per line down to ``depth``, compact JSON below that."""
    if depth <= 0 or not isinstance(value, dict) or not value:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    members = [f"{json.dumps(k, ensure_ascii=False)}:{_dumps(v, depth - 1)}" for k, v in sorted(value.items())]
    return "{\n" + ",\n".join(members) + "\n}"


def write_json(path: Path, document: Any) -> None:
    """One element/value set per line: small on disk, readable in review, stable line-wise diffs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dumps(document, 2) + "\n", encoding="utf-8")


def vendor(folder: str, package_dir: Path, out: Path) -> dict[str, int]:
    """Write the four vendored files for one package; returns a few counts for the summary line."""
    target = out / folder
    target.mkdir(parents=True, exist_ok=True)
    schema = package_dir / "openapi" / "fhir.schema.json"
    if not schema.is_file():
        raise SystemExit(f"{schema} missing from the package")
    shutil.copyfile(schema, target / "fhir.schema.json")
    package = Package.load(package_dir)
    elements, bindings, references = build(package)
    write_json(target / "elements.json", elements)
    write_json(target / "bindings.json", bindings)
    write_json(target / "references.json", references)
    unexpandable = sum(1 for v in bindings["valueSets"].values() if "unexpandable" in v)
    return {
        "elements": len(elements["elements"]),
        "required": len(bindings["required"]),
        "valueSets": len(bindings["valueSets"]),
        "unexpandable": unexpandable,
        "references": len(references["references"]),
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, help="folder with hl7.fhir.*-<version>.tgz tarballs (skips npm)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trialconv-fhir-") as tmp:
        work = Path(tmp)
        for folder, (name, version) in PACKAGES.items():
            tarball = None
            if args.source:
                candidate = args.source / f"{name}-{version}.tgz"
                tarball = candidate if candidate.is_file() else None
            if tarball is None:
                tarball = npm_pack(name, version, work)
            package_dir = extract(tarball, work / folder)
            counts = vendor(folder, package_dir, args.out)
            print(f"{folder}: {name}@{version} -> {args.out / folder} " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
