"""Validate FHIR R5/R4B output before it is written.

Why four layers: each catches what the others miss.

(a) ``fhir.resources`` pydantic models — structure, primitive formats, required elements as the
    Python models see them (but no code bindings, no reference targets: they accept ``status: "bogus"``).
(b) the official FHIR JSON Schema — unknown elements, types, primitive regexes and the few enums it has.
(c) required bindings and cardinality, walked over the JSON with the vendored ``elements.json`` /
    ``bindings.json``: every element bound *required* in the core spec must carry a code from the
    expanded value set, in resources, backbone elements and datatypes alike; every ``min = 1``
    element must be present.
(d) our own rules: references inside a Bundle resolve to an entry and point at a type the
    StructureDefinition allows, ``fullUrl`` values are unique, ids are well-formed, and narrative is
    well-formed, safe XHTML.

Two paths run these layers. The default *fast* path runs (b) compiled by ``jsonschema_rs`` from the
same definitions, enriched with what fhir.resources would otherwise be needed for (``type: object``
on complex types, whole numbers for integer types) plus (c) and (d) in one walk, with the narrative
checked in one streaming pass and one-value-per-choice checked in the walk. ``strict=True``
(``--strict``) runs (a) and the pure-Python jsonschema as well: it is the oracle, and
``tests/test_fast_validation.py`` keeps both verdicts equal over the corpus and 800+ broken resources.
When the fast path finds a problem the strict path runs for the report, so messages are the same.

Every problem is one line starting with a path such as
``Bundle.entry[3].resource(ResearchStudy/nct02513394).status``; when several layers flag the same
path only the most specific message is kept (bindings/own checks, then schema, then models).

Everything is loaded from the vendored files under ``schemas/fhir/<version>/`` (written by
``scripts/vendor_fhir.py``) once per process and cached, so validating thousands of bundles costs
only the walk itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from ..errors import ValidationError
from ..resources import load_schema

__all__ = [
    "FHIR_VERSIONS",
    "normalize_version",
    "detect_version",
    "validate_resource",
    "validate_bundle",
    "validate_file",
    "check",
    "required_codes",
    "warm",
]

#: public version name -> folder under schemas/fhir
FHIR_VERSIONS: dict[str, str] = {"R5": "r5", "R4B": "r4b"}

_VERSION_ALIASES: dict[str, str] = {
    "r5": "R5", "5": "R5", "5.0": "R5", "5.0.0": "R5", "fhir-r5": "R5",
    "r4b": "R4B", "4.3": "R4B", "4.3.0": "R4B", "fhir-r4b": "R4B",
}

#: Resource types that must carry a narrative in trialconv output (project rule, not FHIR's):
#: the study is what humans read first, so a missing summary is a writer bug.
NARRATIVE_REQUIRED: frozenset[str] = frozenset({"ResearchStudy"})

XHTML_NS = "http://www.w3.org/1999/xhtml"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Elements FHIR narrative may use (txt-1: HTML 4.0 basic formatting, tables, lists, links, images).
_XHTML_ELEMENTS: frozenset[str] = frozenset(
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl dt em "
    "h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span strong sub sup table tbody td "
    "tfoot th thead tr tt ul var".split()
)
_UNSAFE_URL = re.compile(r"^\s*(javascript|vbscript|data\s*:\s*text/html)\s*:?", re.IGNORECASE)

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}\Z")
_UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_OID_URN = re.compile(r"^urn:oid:[0-2](\.(0|[1-9][0-9]*))+\Z")
_LITERAL = re.compile(
    r"^(?:(?P<base>https?://.+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?\Z"
)

#: Grammar checks for code systems that cannot be enumerated (see vendor_fhir.GRAMMAR_SYSTEMS).
_GRAMMARS: dict[str, re.Pattern[str]] = {
    "urn:ietf:bcp:47": re.compile(r"^(?:[A-Za-z]{2,8}|[xXiI])(?:-[A-Za-z0-9]{1,8})*\Z"),
    "urn:ietf:bcp:13": re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(?:\s*;.*)?\Z"),
    "http://unitsofmeasure.org": re.compile(r"^\S+\Z"),
}

_RESOURCE = "#resource"  # walk marker: the element holds a whole resource (Bundle.entry.resource, contained)

# Priorities when several layers report the same path: the lowest wins.
_OWN, _SCHEMA, _MODEL = 0, 1, 2


def normalize_version(version: str) -> str:
    """Accept ``R5``/``r4b``/``4.3.0``/``fhir-r4b``…; return ``R5`` or ``R4B``."""
    key = str(version).strip()
    if key in FHIR_VERSIONS:
        return key
    found = _VERSION_ALIASES.get(key.lower())
    if found is None:
        raise ValueError(f"unsupported FHIR version {version!r} (use one of {', '.join(FHIR_VERSIONS)})")
    return found


# --------------------------------------------------------------------------------------------------
# Vendored definitions, loaded once per version
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ValueSet:
    """An expanded required value set; ``unexpandable`` ones accept everything (recorded, not guessed)."""

    url: str
    codes: dict[str, frozenset[str]]
    all_codes: frozenset[str]
    open_systems: tuple[str, ...]
    unexpandable: Optional[str]

    def allows_code(self, code: str) -> bool:
        if self.unexpandable or code in self.all_codes:
            return True
        return any(_grammar_ok(system, code) for system in self.open_systems)

    def allows_coding(self, system: str, code: str) -> bool:
        if self.unexpandable:
            return True
        if system in self.codes:
            return code in self.codes[system]
        if system in self.open_systems:
            return _grammar_ok(system, code)
        return False


def _grammar_ok(system: str, code: str) -> bool:
    pattern = _GRAMMARS.get(system)
    return True if pattern is None else bool(pattern.match(code))


@dataclass(frozen=True)
class _Child:
    """One JSON property of a structure: which element it is, its type and how to descend into it."""

    path: str  # element path, e.g. ResearchStudy.status or Extension.value[x]
    type: str  # the single type this JSON key carries (choice types are split per key)
    walk: Optional[str]  # structure/element path to descend into, _RESOURCE, or None for primitives
    binding: Optional[_ValueSet]
    targets: Optional[frozenset[str]]  # allowed reference targets (empty = any) for Reference types
    simple_quantity: bool = False  # typed Quantity(SimpleQuantity): comparator forbidden (sqty-1)


@dataclass
class _Definitions:
    version: str
    children: dict[str, dict[str, _Child]]
    required: dict[str, list[tuple[str, tuple[str, ...]]]]
    resource_types: frozenset[str]
    value_sets: dict[str, _ValueSet]
    bindings: dict[str, str]
    schema_defs: dict[str, Any]
    schema_draft: str
    primitive_names: dict[int, str]
    validators: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    compiled: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = field(default_factory=dict)


def _choice_key(base: str, type_code: str) -> str:
    return base + type_code[0].upper() + type_code[1:]


def _is_primitive(type_code: str) -> bool:
    return type_code[:1].islower()


@lru_cache(maxsize=None)
def _definitions(version: str) -> _Definitions:
    """Build lookup tables from the vendored JSON once; everything per-bundle is then dict lookups."""
    folder = FHIR_VERSIONS[version]
    elements_doc = load_schema(f"fhir/{folder}/elements.json")
    bindings_doc = load_schema(f"fhir/{folder}/bindings.json")
    references_doc = load_schema(f"fhir/{folder}/references.json")
    schema = load_schema(f"fhir/{folder}/fhir.schema.json")

    kinds: dict[str, str] = elements_doc["kinds"]
    elements: dict[str, dict[str, Any]] = elements_doc["elements"]
    references: dict[str, list[str]] = references_doc["references"]

    value_sets: dict[str, _ValueSet] = {}
    for url, data in bindings_doc["valueSets"].items():
        codes = {s: frozenset(c) for s, c in data.get("codes", {}).items()}
        value_sets[url] = _ValueSet(
            url=url,
            codes=codes,
            all_codes=frozenset().union(*codes.values()) if codes else frozenset(),
            open_systems=tuple(sorted(data.get("open", {}))),
            unexpandable=data.get("unexpandable"),
        )
    bindings: dict[str, str] = bindings_doc["required"]

    parents_with_children = {path.rsplit(".", 1)[0] for path in elements}
    children: dict[str, dict[str, _Child]] = {}
    required: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    choices: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for path, row in elements.items():
        parent, name = path.rsplit(".", 1)
        types: list[str] = row.get("types") or ["BackboneElement"]
        binding = value_sets.get(bindings[path]) if path in bindings else None
        targets = frozenset(references[path]) if path in references else None
        keys: list[str] = []
        slot = children.setdefault(parent, {})
        for type_code in types:
            key = _choice_key(name[:-3], type_code) if name.endswith("[x]") else name
            if path in parents_with_children:
                walk: Optional[str] = path
            elif "contentReference" in row:
                walk = row["contentReference"]
            elif kinds.get(type_code, "").endswith("resource"):
                walk = _RESOURCE
            elif kinds.get(type_code, "").endswith("complex-type"):
                walk = type_code
            else:
                walk = None
            is_ref = type_code in ("Reference", "CodeableReference")
            simple = type_code == "Quantity" and "SimpleQuantity" in row.get("profiles", ())
            slot[key] = _Child(path, type_code, walk, binding, targets if is_ref else None, simple)
            keys.append(key)
            if _is_primitive(type_code):
                slot["_" + key] = _Child(path, "Element", "Element", None, None)
                keys.append("_" + key)
        if row.get("min", 0) >= 1:
            required.setdefault(parent, []).append((name, tuple(keys)))
        if name.endswith("[x]") and len(types) > 1:
            value_keys = tuple(k for k in keys if not k.startswith("_"))
            choices.setdefault(parent, []).append((name, value_keys))

    defs = dict(schema["definitions"])
    # Nested resources (Bundle.entry.resource, contained) are validated one by one against their
    # own definition: the schema's 160-way oneOf is slow and its errors are unreadable.
    defs["ResourceList"] = {"type": "object"}
    _inline_primitive_refs(defs)
    primitive_names = {id(defs[name]): name for name in defs if name[:1].islower()}
    return _Definitions(
        version=version,
        children=children,
        required=required,
        resource_types=frozenset(name for name, kind in kinds.items() if kind == "resource"),
        value_sets=value_sets,
        bindings=bindings,
        schema_defs=defs,
        schema_draft=schema.get("$schema", ""),
        primitive_names=primitive_names,
        choices={parent: tuple(groups) for parent, groups in choices.items()},
    )


def _inline_primitive_refs(defs: dict[str, Any]) -> None:
    """Replace ``{"$ref": "#/definitions/<primitive>"}`` by the primitive's schema object itself.

    Most properties are primitives and each ``$ref`` costs a registry lookup per value; inlining
    the (non-recursive) primitive schemas roughly halves JSON-schema time. Definitions are copied,
    never mutated, because the loaded schema is shared through ``load_schema``'s cache.
    """
    prefix = "#/definitions/"

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix):][:1].islower():
                target = defs.get(ref[len(prefix):])
                if isinstance(target, dict) and "$ref" not in target:
                    return target
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    for name in list(defs):
        if name[:1].isupper():
            defs[name] = inline(defs[name])


def required_codes(path: str, version: str = "R5") -> dict[str, frozenset[str]]:
    """Allowed ``{system: codes}`` for an element path with a required binding (empty if none).

    Exposed so writers and tests can ask "what may ResearchStudy.status be?" from the same data the
    validator uses instead of hard-coding lists.
    """
    defs = _definitions(normalize_version(version))
    url = defs.bindings.get(path)
    return dict(defs.value_sets[url].codes) if url else {}


def _schema_validator(defs: _Definitions, resource_type: str) -> Any:
    """One compiled jsonschema validator per resource type, cached on the definitions."""
    validator = defs.validators.get(resource_type)
    if validator is None:
        from jsonschema import Draft6Validator, Draft7Validator

        cls = Draft7Validator if "draft-07" in defs.schema_draft else Draft6Validator
        validator = cls({"$ref": f"#/definitions/{resource_type}", "definitions": defs.schema_defs})
        defs.validators[resource_type] = validator
    return validator


def _rust_pattern(pattern: str) -> str:
    """Escape a ``}`` that closes no ``{`` quantifier: Python's ``re`` reads it as a literal, the
    Rust regex engine refuses it (R5's official ``decimal`` pattern ends ``{1,9}})?$``)."""
    out: list[str] = []
    depth = 0
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class or char == "[":
            in_class = char != "]" or not in_class
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                out.append("\\}")
                continue
            depth -= 1
        out.append(char)
    return "".join(out)


#: FHIR integer primitives: the official schema types them ``number`` (its pattern never applies to
#: numbers), so 1.5 passes it; fhir.resources and the spec say whole numbers, with these minimums.
_INTEGER_MINIMUM: dict[str, Optional[int]] = {"integer": None, "positiveInt": 1, "unsignedInt": 0}


def _compiled_defs(defs: _Definitions) -> dict[str, Any]:
    """The definitions the jsonschema layer uses, enriched for the compiled validator.

    - patterns the Rust engine accepts (:func:`_rust_pattern`);
    - ``type: object`` on every complex type and backbone element (R4B's schema leaves it out, so a
      list or ``null`` where an object belongs passed the schema and only fhir.resources caught it);
    - ``type: integer`` and the minimum on integer, positiveInt and unsignedInt values (recognised by
      their official pattern, which choice elements such as ``valueInteger`` repeat inline).
    """
    integers = {defs.schema_defs[name]["pattern"]: minimum for name, minimum in _INTEGER_MINIMUM.items()
                if "pattern" in defs.schema_defs.get(name, {})}

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {key: _rust_pattern(value) if key == "pattern" and isinstance(value, str) else fix(value)
                   for key, value in node.items()}
            if node.get("type") == "number" and node.get("pattern") in integers:
                out["type"] = "integer"
                minimum = integers[node["pattern"]]
                if minimum is not None:
                    out["minimum"] = minimum
            return out
        if isinstance(node, list):
            return [fix(item) for item in node]
        return node

    cached = defs.compiled.get("#definitions")
    if cached is None:
        cached = {}
        for name, definition in defs.schema_defs.items():
            fixed = fix(definition)
            if name[:1].isupper() and isinstance(fixed, dict) and "properties" in fixed:
                fixed.setdefault("type", "object")
            cached[name] = fixed
        defs.compiled["#definitions"] = cached
    return cached


def _reachable(definitions: dict[str, Any], root: str) -> dict[str, Any]:
    """Only the definitions ``root`` refers to, directly or not: each compiled validator then holds
    its own type's graph (a few hundred kB) rather than all of FHIR (several MB)."""
    prefix = "#/definitions/"
    found: dict[str, Any] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        if name in found or name not in definitions:
            continue
        found[name] = definitions[name]
        stack: list[Any] = [definitions[name]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith(prefix):
                    pending.append(ref[len(prefix):])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return found


def _compiled_validator(defs: _Definitions, resource_type: str) -> Any:
    """The official schema for one resource type, compiled by ``jsonschema_rs`` (cached per process).

    Same definitions as the jsonschema layer (nested resources are checked on their own), so the
    verdict is the official schema's; compiled, it costs a fraction of a millisecond per resource.
    """
    validator = defs.compiled.get(resource_type)
    if validator is None:
        import jsonschema_rs

        schema = {"$ref": f"#/definitions/{resource_type}", "definitions": _reachable(_compiled_defs(defs), resource_type)}
        cls = jsonschema_rs.Draft7Validator if "draft-07" in defs.schema_draft else jsonschema_rs.Draft6Validator
        validator = defs.compiled[resource_type] = cls(schema, validate_formats=False)
    return validator


#: The resource types trialconv's FHIR writers emit (compiled ahead by :func:`warm`).
OUTPUT_TYPES: tuple[str, ...] = ("Bundle", "ResearchStudy", "EvidenceVariable", "Group", "Organization", "Location",
                                 "Practitioner", "PractitionerRole")


def warm(version: str, resource_types: Iterable[str] = OUTPUT_TYPES) -> None:
    """Compile the fast validators for these types now (before worker processes fork, so each
    worker inherits them instead of compiling its own)."""
    defs = _definitions(normalize_version(version))
    for resource_type in resource_types:
        if resource_type in defs.resource_types:
            _compiled_validator(defs, resource_type)


def _model_class(defs: _Definitions, resource_type: str) -> Any:
    """The fhir.resources model class for a type in this FHIR version (imported lazily)."""
    if resource_type not in defs.models:
        try:
            if defs.version == "R4B":
                from fhir.resources.R4B import get_fhir_model_class
            else:
                from fhir.resources import get_fhir_model_class
            defs.models[resource_type] = get_fhir_model_class(resource_type)
        except Exception:  # noqa: BLE001 - an unknown type is reported by the other layers
            defs.models[resource_type] = None
    return defs.models[resource_type]


# --------------------------------------------------------------------------------------------------
# Walk state
# --------------------------------------------------------------------------------------------------


@dataclass
class _Ref:
    bucket: int
    path: str
    reference: str
    targets: frozenset[str]
    full_url: Optional[str]  # fullUrl of the entry the reference sits in
    container: dict[str, Any]  # the resource whose contained[] '#id' references resolve against


@dataclass
class _Scope:
    """A Bundle (or the standalone resource) that references resolve against."""

    full_urls: dict[str, str] = field(default_factory=dict)  # fullUrl -> resourceType
    type_ids: set[tuple[str, str]] = field(default_factory=set)
    refs: list[_Ref] = field(default_factory=list)
    is_bundle: bool = False


@dataclass
class _Context:
    defs: _Definitions
    buckets: list[list[tuple[int, str, str]]] = field(default_factory=list)
    bucket: int = 0
    scopes: list[_Scope] = field(default_factory=list)
    full_url: Optional[str] = None
    container: Optional[dict[str, Any]] = None
    strict: bool = True
    failed_schema: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, priority: int, path: str, message: str) -> None:
        self.buckets[self.bucket].append((priority, path, message))

    def problems(self) -> list[str]:
        """Per resource in document order; for each path only the messages of the best layer.

        Several layers often see the same defect (an enum in the schema and the binding, a missing
        element in the models and the walk); one line per defect keeps reports readable.
        """
        out: list[str] = []
        for bucket in self.buckets:
            best: dict[str, int] = {}
            for priority, path, _message in bucket:
                best[path] = min(priority, best.get(path, priority))
            seen: set[tuple[str, str]] = set()
            for priority, path, message in sorted(bucket, key=lambda item: item[0]):
                if priority == best[path] and (path, message) not in seen:
                    seen.add((path, message))
                    out.append(f"{path}: {message}")
        return out


def _label(path: str, resource: dict[str, Any]) -> str:
    """``Bundle.entry[3].resource`` + resource -> ``Bundle.entry[3].resource(ResearchStudy/x)``."""
    rtype = resource.get("resourceType", "?")
    rid = resource.get("id")
    return f"{path}({rtype}/{rid})" if isinstance(rid, str) else f"{path}({rtype})"


def _join(path: str, loc: Iterable[Union[str, int]]) -> str:
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else f"{path}.{part}"
    return path


# --------------------------------------------------------------------------------------------------
# Layers (a) and (b): models and JSON schema, per resource
# --------------------------------------------------------------------------------------------------


def _schema_layer(ctx: _Context, resource: dict[str, Any], label: str) -> None:
    rtype = resource.get("resourceType")
    validator = _schema_validator(ctx.defs, rtype)
    for error in validator.iter_errors(resource):
        path = _join(label, error.absolute_path)
        keyword = error.validator
        if keyword == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {})
            for key in error.instance:
                if key not in known:
                    ctx.add(_SCHEMA, f"{path}.{key}", f"unknown element {key!r} in {rtype} ({ctx.defs.version})")
            continue
        if keyword == "required" and isinstance(error.instance, dict):
            for key in error.validator_value:
                if key not in error.instance:
                    ctx.add(_SCHEMA, f"{path}.{key}", "required element missing")
            continue
        if keyword == "pattern":
            name = ctx.defs.primitive_names.get(id(error.schema))
            value = error.instance
            shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
            ctx.add(_SCHEMA, path, f"{shown!r} is not a valid {name}" if name else error.message)
        elif keyword == "enum":
            ctx.add(_SCHEMA, path, f"{error.instance!r} is not one of {error.validator_value}")
        else:
            message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
            ctx.add(_SCHEMA, path, message)


def _strip_nested(resource: dict[str, Any]) -> dict[str, Any]:
    """Shallow copy without nested resources, which the walk validates on their own."""
    copy = {k: v for k, v in resource.items() if k != "contained"}
    if resource.get("resourceType") == "Bundle":
        copy.pop("issues", None)
        entries = copy.get("entry")
        if isinstance(entries, list):
            stripped = []
            for entry in entries:
                if isinstance(entry, dict):
                    entry = {k: v for k, v in entry.items() if k != "resource"}
                    response = entry.get("response")
                    if isinstance(response, dict) and "outcome" in response:
                        entry["response"] = {k: v for k, v in response.items() if k != "outcome"}
                stripped.append(entry)
            copy["entry"] = stripped
    return copy


def _model_layer(ctx: _Context, resource: dict[str, Any], label: str) -> None:
    model = _model_class(ctx.defs, resource["resourceType"])
    if model is None:
        return
    from pydantic import ValidationError as PydanticError

    try:
        model.model_validate(_strip_nested(resource))
    except PydanticError as exc:
        for error in exc.errors():
            path = _join(label, [p for p in error["loc"] if isinstance(p, (str, int))])
            kind = error.get("type", "")
            if kind.endswith("missing"):
                message = "required element missing"
            elif kind == "extra_forbidden":
                message = "unknown element"
            else:
                message = str(error.get("msg", "")).removeprefix("Value error, ")
                if "but got multiple" in message:
                    message = "more than one value given for a choice element ([x])"
                elif len(message) > 200:
                    message = message[:197] + "..."
            ctx.add(_MODEL, path, f"{message} (fhir.resources)")
    except Exception as exc:  # noqa: BLE001 - fhir.resources raises KeyError etc. on odd input
        ctx.add(_MODEL, label, f"fhir.resources could not parse the resource: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------------
# Layers (c) and (d): the walk
# --------------------------------------------------------------------------------------------------


def _walk_resource(ctx: _Context, resource: Any, label: str, *, contained: bool = False) -> None:
    """Validate one resource with every layer, then descend into its nested resources."""
    if not isinstance(resource, dict):
        ctx.add(_OWN, label, f"expected a resource object, got {type(resource).__name__}")
        return
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or rtype not in ctx.defs.resource_types:
        ctx.add(_OWN, label, f"unknown resourceType {rtype!r} for FHIR {ctx.defs.version}")
        return

    outer_bucket, outer_container = ctx.bucket, ctx.container
    ctx.buckets.append([])
    ctx.bucket = len(ctx.buckets) - 1
    if not contained:
        ctx.container = resource
    is_bundle = rtype == "Bundle"
    if is_bundle:
        ctx.scopes.append(_bundle_scope(resource))
    try:
        _own_resource_checks(ctx, resource, label)
        if ctx.strict:
            _schema_layer(ctx, resource, label)
        elif not _compiled_validator(ctx.defs, rtype).is_valid(resource):
            ctx.failed_schema.append((ctx.bucket, label, resource))
        _walk(ctx, resource, rtype, label)
        if ctx.strict:
            _model_layer(ctx, resource, label)
        if is_bundle:
            _bundle_checks(ctx, resource, label)
    finally:
        if is_bundle:
            _resolve_references(ctx, ctx.scopes.pop())
        ctx.bucket, ctx.container = outer_bucket, outer_container


def _walk(ctx: _Context, node: Any, struct: str, path: str) -> None:
    if not isinstance(node, dict):
        return  # wrong JSON type: the schema layer reports it
    defs = ctx.defs
    for name, keys in defs.required.get(struct, ()):
        if not any(key in node for key in keys):
            ctx.add(_OWN, f"{path}.{name}", "required element missing (min 1)")
    if not ctx.strict:
        for name, keys in defs.choices.get(struct, ()):
            if sum(key in node for key in keys) > 1:
                ctx.add(_OWN, f"{path}.{name}", "more than one value given for a choice element ([x])")
    kids = defs.children.get(struct)
    if not kids:
        return
    entry_full_url = ctx.full_url
    if struct == "Bundle.entry":
        url = node.get("fullUrl")
        ctx.full_url = url if isinstance(url, str) else None
    try:
        for key, value in node.items():
            child = kids.get(key)
            if child is None:
                continue  # unknown element: the schema layer reports it
            if isinstance(value, list):
                items: Iterable[tuple[str, Any]] = ((f"{path}.{key}[{i}]", v) for i, v in enumerate(value))
            else:
                items = ((f"{path}.{key}", value),)
            for item_path, item in items:
                if item is None:
                    continue
                if child.binding is not None:
                    _check_binding(ctx, child, item, item_path)
                if child.targets is not None:
                    _note_reference(ctx, child, item, item_path)
                if child.simple_quantity and isinstance(item, dict) and "comparator" in item:
                    ctx.add(_OWN, f"{item_path}.comparator", "comparator not allowed in a SimpleQuantity (sqty-1); use a Quantity element or drop it")
                if child.walk == _RESOURCE:
                    _walk_resource(ctx, item, _label(item_path, item) if isinstance(item, dict) else item_path,
                                   contained=key == "contained")
                elif child.walk is not None:
                    _walk(ctx, item, child.walk, item_path)
    finally:
        ctx.full_url = entry_full_url


def _check_binding(ctx: _Context, child: _Child, item: Any, path: str) -> None:
    vs = child.binding
    assert vs is not None
    if vs.unexpandable:
        return
    where = f"required value set {vs.url}"
    kind = child.type
    if _is_primitive(kind):
        if isinstance(item, str) and not vs.allows_code(item):
            ctx.add(_OWN, path, f"{item!r} not in {where}")
        return
    if not isinstance(item, dict):
        return
    if kind == "CodeableReference":
        concept = item.get("concept")
        if isinstance(concept, dict):
            _check_concept(ctx, vs, concept, f"{path}.concept", where)
    elif kind == "CodeableConcept":
        _check_concept(ctx, vs, item, path, where)
    elif kind in ("Coding", "Quantity") or kind in ("Age", "Duration", "Count", "Distance", "MoneyQuantity", "SimpleQuantity"):
        system, code = item.get("system"), item.get("code")
        if not isinstance(code, str):
            if kind == "Coding":
                ctx.add(_OWN, path, f"Coding has no code ({where})")
            return
        if not isinstance(system, str):
            ctx.add(_OWN, path, f"code {code!r} has no system ({where})")
        elif not vs.allows_coding(system, code):
            ctx.add(_OWN, path, f"{system}#{code} not in {where}")


def _check_concept(ctx: _Context, vs: _ValueSet, concept: dict[str, Any], path: str, where: str) -> None:
    codings = [c for c in concept.get("coding", []) if isinstance(c, dict)] if isinstance(concept.get("coding"), list) else []
    found = [(c.get("system"), c.get("code")) for c in codings]
    if any(isinstance(s, str) and isinstance(c, str) and vs.allows_coding(s, c) for s, c in found):
        return
    if not found:
        ctx.add(_OWN, path, f"no coding (text only is not enough) for {where}")
    else:
        shown = ", ".join(f"{s}#{c}" for s, c in found)
        ctx.add(_OWN, path, f"none of [{shown}] in {where}")


def _note_reference(ctx: _Context, child: _Child, item: Any, path: str) -> None:
    if not isinstance(item, dict):
        return
    if child.type == "CodeableReference":
        item = item.get("reference")
        path = f"{path}.reference"
        if not isinstance(item, dict):
            return
    reference = item.get("reference")
    if not isinstance(reference, str) or not ctx.scopes:
        return
    assert child.targets is not None and ctx.container is not None
    ctx.scopes[-1].refs.append(_Ref(ctx.bucket, f"{path}.reference", reference, child.targets, ctx.full_url, ctx.container))


# --------------------------------------------------------------------------------------------------
# Own checks: ids, narrative, Bundle rules, reference resolution
# --------------------------------------------------------------------------------------------------


def _own_resource_checks(ctx: _Context, resource: dict[str, Any], label: str) -> None:
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not _ID.match(rid)):
        ctx.add(_OWN, f"{label}.id", f"{rid!r} is not a valid resource id ([A-Za-z0-9-.]{{1,64}})")
    rtype = resource["resourceType"]
    if "text" not in ctx.defs.children.get(rtype, {}):
        return  # not a DomainResource (Bundle, Binary, Parameters)
    text = resource.get("text")
    if text is None:
        if rtype in NARRATIVE_REQUIRED:
            ctx.add(_OWN, f"{label}.text", f"narrative missing (trialconv requires one on every {rtype})")
        return
    if isinstance(text, dict) and isinstance(text.get("div"), str):
        if not ctx.strict and xhtml_ok(text["div"]):
            return
        for message in xhtml_problems(text["div"]):
            ctx.add(_OWN, f"{label}.text.div", message)


class _Unsafe(Exception):
    """Raised inside the streaming narrative check at the first thing that fails it."""


def xhtml_ok(div: str) -> bool:
    """The verdict of :func:`xhtml_problems` without building a tree: one streaming expat pass.

    The fast path needs only valid / not valid (a failure is re-checked by :func:`xhtml_problems`
    for the messages); expat with the same refusals as defusedxml (no entity declarations, no
    external entities) and the same element, attribute and content rules, at about half the cost.
    """
    if not div.startswith("<div"):
        return False
    from xml.parsers import expat

    state = {"depth": 0, "text": False}

    def start(name: str, attributes: dict[str, str]) -> None:
        namespace, _, local = name.rpartition("}")
        if state["depth"] == 0 and name != f"{XHTML_NS}}}div":
            raise _Unsafe
        state["depth"] += 1
        if namespace != XHTML_NS or local not in _XHTML_ELEMENTS:
            raise _Unsafe
        if local == "img" and state["depth"] > 1:
            state["text"] = True
        for attribute, value in attributes.items():
            attr_ns, _, attr_name = attribute.rpartition("}")
            lowered = attr_name.lower()
            if (attr_ns and attr_ns != XML_NS) or lowered.startswith("on"):
                raise _Unsafe
            if lowered in ("href", "src", "background", "action") and _UNSAFE_URL.match(value):
                raise _Unsafe

    def text(data: str) -> None:
        if not state["text"] and data.strip():
            state["text"] = True

    def refuse(*_args: Any) -> None:
        raise _Unsafe

    parser = expat.ParserCreate(None, "}")
    parser.StartElementHandler = start
    parser.CharacterDataHandler = text
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(div, True)
    except (_Unsafe, expat.ExpatError):
        return False
    return state["text"]


def xhtml_problems(div: str) -> list[str]:
    """FHIR narrative rules: a well-formed XHTML ``<div>`` with safe basic HTML and some content.

    Parsed with defusedxml so DTDs/entities are refused (FHIR forbids them anyway); ``&nbsp;`` and
    other HTML-only entities are therefore errors, as they are for every FHIR validator.
    """
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    if not div.startswith("<div"):
        return ["narrative must start with <div xmlns=\"http://www.w3.org/1999/xhtml\"> (no XML declaration or leading text)"]
    try:
        root = ElementTree.fromstring(div)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        return [f"narrative is not well-formed XHTML: {exc}"]
    if root.tag != f"{{{XHTML_NS}}}div":
        return [f"narrative root must be a div in namespace {XHTML_NS}"]
    problems: list[str] = []
    for element in root.iter():
        namespace, _, local = element.tag[1:].partition("}") if element.tag.startswith("{") else ("", "", element.tag)
        if namespace != XHTML_NS:
            problems.append(f"element {element.tag!r} is not in the XHTML namespace")
            continue
        if local not in _XHTML_ELEMENTS:
            problems.append(f"<{local}> is not allowed in narrative")
        for attribute, value in element.attrib.items():
            name = attribute.rsplit("}", 1)[-1]
            if attribute.startswith("{") and not attribute.startswith(f"{{{XML_NS}}}"):
                problems.append(f"<{local}> attribute {attribute!r} is in a foreign namespace")
            elif name.lower().startswith("on"):
                problems.append(f"<{local}> event handler attribute {name!r} is not allowed")
            elif name.lower() in ("href", "src", "background", "action") and _UNSAFE_URL.match(value):
                problems.append(f"<{local}> {name}={value[:40]!r} is not allowed")
    has_text = any(t.strip() for t in root.itertext())
    if not has_text and root.find(f".//{{{XHTML_NS}}}img") is None:
        problems.append("narrative has no text content")
    return problems


def _bundle_scope(bundle: dict[str, Any]) -> _Scope:
    scope = _Scope(is_bundle=True)
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        rid = resource.get("id") if isinstance(resource, dict) else None
        url = entry.get("fullUrl")
        if isinstance(url, str) and isinstance(rtype, str):
            scope.full_urls[url] = rtype
        if isinstance(rtype, str) and isinstance(rid, str):
            scope.type_ids.add((rtype, rid))
    return scope


def _bundle_checks(ctx: _Context, bundle: dict[str, Any], label: str) -> None:
    """Bundle invariants that matter for our output (bdl-2/3/4/5/7, fullUrl agreement)."""
    btype = bundle.get("type")
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        where = f"{label}.entry[{index}]"
        resource = entry.get("resource")
        if resource is None and "request" not in entry and "response" not in entry:
            ctx.add(_OWN, where, "entry has neither resource nor request/response (bdl-5)")
        if "search" in entry and btype != "searchset":
            ctx.add(_OWN, f"{where}.search", "search only allowed in a searchset Bundle (bdl-2)")
        if "request" in entry and btype not in ("batch", "transaction", "history"):
            ctx.add(_OWN, f"{where}.request", "request only allowed in batch/transaction/history Bundles (bdl-3)")
        if "response" in entry and btype not in ("batch-response", "transaction-response", "history"):
            ctx.add(_OWN, f"{where}.response", "response only allowed in *-response/history Bundles (bdl-4)")
        url = entry.get("fullUrl")
        if not isinstance(url, str):
            continue
        if url in seen and btype != "history":
            ctx.add(_OWN, f"{where}.fullUrl", f"duplicate fullUrl {url!r} (also entry[{seen[url]}]) (bdl-7)")
        seen.setdefault(url, index)
        if "/_history/" in url:
            ctx.add(_OWN, f"{where}.fullUrl", "fullUrl must not be version specific (bdl-8)")
        if url.startswith("urn:uuid:") and not _UUID_URN.match(url):
            ctx.add(_OWN, f"{where}.fullUrl", f"{url!r} is not a valid urn:uuid (lower-case RFC 4122 UUID)")
        elif url.startswith("urn:oid:") and not _OID_URN.match(url):
            ctx.add(_OWN, f"{where}.fullUrl", f"{url!r} is not a valid urn:oid")
        elif isinstance(resource, dict):
            match = _LITERAL.match(url)
            if match and match.group("base"):
                if match.group("type") != resource.get("resourceType") or match.group("id") != resource.get("id"):
                    ctx.add(_OWN, f"{where}.fullUrl", f"{url!r} does not match the entry's {resource.get('resourceType')}/{resource.get('id')}")


def _resolve_references(ctx: _Context, scope: _Scope) -> None:
    """Resolve every Reference.reference recorded inside one Bundle and check its target type."""
    for ref in scope.refs:
        target_type = _resolve(scope, ref)
        if target_type is None:
            where = "a contained resource" if ref.reference.startswith("#") else "any entry in the Bundle"
            ctx.buckets[ref.bucket].append((_OWN, ref.path, f"{ref.reference!r} does not resolve to {where}"))
        elif target_type and ref.targets and target_type not in ref.targets:
            allowed = " | ".join(sorted(ref.targets))
            ctx.buckets[ref.bucket].append((_OWN, ref.path, f"reference to {target_type} not allowed here (allowed: {allowed})"))


def _resolve(scope: _Scope, ref: _Ref) -> Optional[str]:
    """Target resourceType, ``""`` when it resolves to something untyped, None when dangling."""
    reference = ref.reference
    if reference.startswith("#"):
        if reference == "#":
            return str(ref.container.get("resourceType", ""))
        for item in ref.container.get("contained", []) or []:
            if isinstance(item, dict) and item.get("id") == reference[1:]:
                return str(item.get("resourceType", ""))
        return None
    if reference in scope.full_urls:
        return scope.full_urls[reference]
    match = _LITERAL.match(reference.split("?", 1)[0])
    if not scope.is_bundle:
        return match.group("type") if match else ""  # standalone resource: only the type is checkable
    if match is None:
        return None
    rtype, rid = match.group("type"), match.group("id")
    if match.group("base"):
        unversioned = f"{match.group('base')}/{rtype}/{rid}"
        return scope.full_urls.get(unversioned)
    # Relative reference: resolve against the RESTful base of the referring entry, else by type/id.
    if ref.full_url:
        base = _LITERAL.match(ref.full_url)
        if base and base.group("base") and f"{base.group('base')}/{rtype}/{rid}" in scope.full_urls:
            return rtype
    return rtype if (rtype, rid) in scope.type_ids else None


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def _run(resource: Any, version: str, strict: bool = False) -> list[str]:
    """Validate with every layer; ``strict`` runs jsonschema and fhir.resources instead of the
    compiled schema.

    The fast path (default) checks the official schema compiled by ``jsonschema_rs`` plus the walk
    (required bindings, min-1 elements, one value per choice element, references, narrative, ids,
    Bundle rules). When it finds anything, the strict path runs for the report, so a failing
    record gets the same messages either way; only if the strict path accepts what the compiled
    schema refused (e.g. a trailing newline that Python's ``$`` lets through) are the compiled
    schema's own errors reported.
    """
    defs = _definitions(normalize_version(version))
    ctx = _Context(defs=defs, strict=strict)
    ctx.buckets.append([])
    ctx.scopes.append(_Scope())  # standalone scope: '#id' and literal types are still checked
    if not isinstance(resource, dict):
        return [f"expected a FHIR resource object, got {type(resource).__name__}"]
    label = str(resource.get("resourceType") or "resource")
    _walk_resource(ctx, resource, label)
    _resolve_references(ctx, ctx.scopes.pop())
    problems = ctx.problems()
    if strict or not (problems or ctx.failed_schema):
        return problems
    full = _run(resource, version, strict=True)
    if full:
        return full
    for bucket, where, failed in ctx.failed_schema:
        for error in _compiled_validator(defs, failed["resourceType"]).iter_errors(failed):
            message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
            ctx.buckets[bucket].append((_SCHEMA, _join(where, error.instance_path), message))
    return ctx.problems()


def validate_resource(resource: dict[str, Any], version: str = "R5", *, strict: bool = False) -> list[str]:
    """All problems of one resource (a Bundle is validated with everything in it); [] when valid.

    ``strict`` also runs fhir.resources (the oracle) and the pure-Python jsonschema on every
    resource; the default fast path runs the compiled official schema and the same walk.
    """
    return _run(resource, version, strict)


def validate_bundle(bundle: dict[str, Any], version: str = "R5", *, strict: bool = False) -> list[str]:
    """All problems of a Bundle and every entry, including reference resolution; [] when valid."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        return [f"expected a Bundle, got {got!r}"]
    return _run(bundle, version, strict)


def check(bundle: dict[str, Any], version: str = "R5", record: Optional[str] = None, *, strict: bool = False) -> None:
    """Raise :class:`converter.errors.ValidationError` listing every problem; return None when valid.

    Writers call this right before writing so invalid FHIR never reaches disk.
    """
    problems = validate_resource(bundle, version, strict=strict)
    if problems:
        kind = bundle.get("resourceType", "resource") if isinstance(bundle, dict) else "resource"
        raise ValidationError(
            f"FHIR {normalize_version(version)} {kind} failed validation ({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            problems=problems,
            record=record,
        )


#: Top-level elements that exist in only one of the versions, used to guess the version of a file.
_R4B_ONLY: dict[str, frozenset[str]] = {
    "ResearchStudy": frozenset({"arm", "enrollment", "sponsor", "principalInvestigator", "location"}),
    "Group": frozenset({"actual"}),
    "EvidenceVariable": frozenset({"characteristicCombination", "shortTitle", "subtitle", "type"}),
}
_R5_ONLY: dict[str, frozenset[str]] = {
    "ResearchStudy": frozenset({"comparisonGroup", "recruitment", "label", "associatedParty", "progressStatus",
                                "outcomeMeasure", "classifier", "studyDesign", "region", "descriptionSummary", "name"}),
    "Group": frozenset({"membership", "description", "name"}),
    "Bundle": frozenset({"issues"}),
    "EvidenceVariable": frozenset({"handling"}),
}


def _resources_in(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("resourceType"), str):
        yield document
        for entry in document.get("entry", []) if isinstance(document.get("entry"), list) else []:
            if isinstance(entry, dict):
                yield from _resources_in(entry.get("resource"))


def detect_version(document: Any) -> str:
    """Guess R4B vs R5 from elements only one version has; R5 when nothing tells them apart."""
    r4b = r5 = 0
    for resource in _resources_in(document):
        keys = set(resource)
        r4b += len(keys & _R4B_ONLY.get(resource["resourceType"], frozenset()))
        r5 += len(keys & _R5_ONLY.get(resource["resourceType"], frozenset()))
    return "R4B" if r4b > r5 else "R5"


def validate_file(path: Union[str, Path], fhir_version: Optional[str] = None) -> list[str]:
    """Validate a FHIR JSON file (one resource or Bundle) or NDJSON (one per line).

    For ``trialconv validate FILE...``: the version comes from ``fhir_version`` (``--fhir-version``)
    or is detected from the content, defaulting to R5. NDJSON problems are prefixed ``line N: ``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"cannot read {path}: {exc}"]
    try:
        documents: list[tuple[Optional[int], Any]] = [(None, json.loads(text))]
    except json.JSONDecodeError as exc:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2:
            return [f"not valid JSON: {exc}"]
        documents = []
        for number, line in lines:
            try:
                documents.append((number, json.loads(line)))
            except json.JSONDecodeError as line_exc:
                return [f"line {number}: not valid JSON: {line_exc}"]
    problems: list[str] = []
    for number, document in documents:
        prefix = f"line {number}: " if number is not None else ""
        if not isinstance(document, dict) or "resourceType" not in document:
            problems.append(f"{prefix}not a FHIR resource (no resourceType)")
            continue
        version = normalize_version(fhir_version) if fhir_version else detect_version(document)
        problems.extend(prefix + p for p in validate_resource(document, version))
    return problems
