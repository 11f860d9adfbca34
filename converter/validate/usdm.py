"""Validation of CDISC USDM 4.0 JSON: schema, reference integrity, and the USDM conformance rules.

Three layers, each naming the JSON path of every problem:

1. the JSON Schema of ``Wrapper-Input`` from the official ``USDM_API.json`` (vendored as
   ``schemas/usdm/usdm.schema.json``), compiled once per process, with ``date``/``uuid`` formats checked;
2. reference integrity: ids unique, every ``…Id``/``…Ids`` attribute of ``dataStructure.yml``
   pointing to an object that exists and has a class the attribute allows (``usdm_model.json``);
3. the USDM conformance rules (``USDM_CORE_Rules.xlsx``) that can be decided on one file, as a data
   table (``converter/terminology/usdm_rules.json``): each rule names a generic check kind and its
   parameters, implemented once below. Rules not checked are listed there with the reason.

Layers 1 and 2 are errors; layer 3 gives findings with the rule's own severity.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterator, Optional, Union

from ..errors import ValidationError
from ..resources import load_schema
from ..terminology import load
from ..terminology import sdtm

DESIGNS = ("InterventionalStudyDesign", "ObservationalStudyDesign")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache(maxsize=1)
def _validator() -> Any:
    """The full Wrapper schema validator (jsonschema, every error with its path), built once per process."""
    from jsonschema import Draft202012Validator, FormatChecker

    schema = load_schema("usdm/usdm.schema.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker(formats=("date", "uuid")))


@lru_cache(maxsize=1)
def _compiled() -> Callable[[Any], Any]:
    """The same schema compiled to Python by fastjsonschema (defaults off: validation must not
    change the document): ten times faster on a valid file, which is
    what trialconv writes, so only a failing file pays for jsonschema's full error list. fastjsonschema
    speaks draft-07, so ``$defs`` become ``definitions`` (the class schemas use nothing newer)."""
    import fastjsonschema

    text = json.dumps(load_schema("usdm/usdm.schema.json")).replace('"#/$defs/', '"#/definitions/')
    schema = json.loads(text)
    schema["definitions"] = schema.pop("$defs")
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(schema, use_default=False, formats={"uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"})


def _path(parts: Any) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def schema_errors(document: Any) -> list[str]:
    """Every schema violation as ``$.path: message`` (the deepest failing branch of an anyOf)."""
    import fastjsonschema

    try:
        _compiled()(document)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    problems = []
    for error in sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]):
        best = error
        while best.context:
            best = min(best.context, key=lambda e: (-len(e.absolute_path), str(e.message)))
        problems.append(f"{_path(best.absolute_path)}: {best.message[:300]}")
    return problems or ["$: fails the compiled schema check (fastjsonschema) but not jsonschema; please report"]


# --- the object index both the reference and rule checks walk ------------------------------------------------------


@dataclass
class Node:
    obj: dict[str, Any]
    path: str
    cls: str
    parent: Optional["Node"]
    attribute: str  # the attribute of the parent that holds this object

    def ancestor(self, classes: tuple[str, ...]) -> Optional["Node"]:
        node = self.parent
        while node is not None and node.cls not in classes:
            node = node.parent
        return node


@dataclass
class Index:
    nodes: list[Node] = field(default_factory=list)
    by_id: dict[str, list[Node]] = field(default_factory=lambda: defaultdict(list))
    by_class: dict[str, list[Node]] = field(default_factory=lambda: defaultdict(list))

    def one(self, ident: Any) -> Optional[Node]:
        found = self.by_id.get(ident) if isinstance(ident, str) else None
        return found[0] if found else None

    def within(self, node: Node, scope: Optional[Node]) -> bool:
        while node is not None:
            if node is scope:
                return True
            node = node.parent  # type: ignore[assignment]
        return False


def index(document: Any) -> Index:
    found = Index()

    def walk(value: Any, path: str, parent: Optional[Node], attribute: str) -> None:
        if isinstance(value, dict):
            node = parent
            if isinstance(value.get("instanceType"), str):
                node = Node(value, path, value["instanceType"], parent, attribute)
                found.nodes.append(node)
                found.by_class[node.cls].append(node)
                if isinstance(value.get("id"), str):
                    found.by_id[value["id"]].append(node)
            for key, item in value.items():
                walk(item, f"{path}.{key}", node, key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]", parent, attribute)

    walk(document, "$", None, "")
    return found


def _refs(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def reference_errors(document: Any, found: Optional[Index] = None) -> list[str]:
    """Ids unique; every reference resolves to an object of a class ``dataStructure.yml`` allows."""
    found = found or index(document)
    problems = []
    for ident, nodes in found.by_id.items():
        if len(nodes) > 1:
            problems.append(f"{nodes[1].path}.id: id {ident!r} also used at {nodes[0].path}")
    references = load("usdm_model")["references"]
    for node in found.nodes:
        for attribute, spec in references.get(node.cls, {}).items():
            for i, ref in enumerate(_refs(node.obj.get(attribute))):
                where = f"{node.path}.{attribute}" + (f"[{i}]" if isinstance(node.obj.get(attribute), list) else "")
                target = found.one(ref)
                if target is None:
                    problems.append(f"{where}: {ref!r} does not resolve to any object in the file")
                elif target.cls not in spec["targets"]:
                    problems.append(f"{where}: {ref!r} is a {target.cls}, expected {' or '.join(spec['targets'])}")
    return problems


# --- conformance rules -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.severity}) {self.path}: {self.message}"


Check = Callable[[Index, dict[str, Any]], Iterator[tuple[str, str]]]
KINDS: dict[str, Check] = {}


def kind(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        KINDS[name] = check
        return check

    return register


def _codes(value: Any) -> list[dict[str, Any]]:
    """Code objects of an attribute value, looking through AliasCode to its standard code."""
    found = []
    for item in _refs(value):
        if isinstance(item, dict) and item.get("instanceType") == "AliasCode":
            item = item.get("standardCode")
        if isinstance(item, dict) and item.get("instanceType") == "Code":
            found.append(item)
    return found


def _nodes(idx: Index, classes: Union[str, list[str]]) -> Iterator[Node]:
    for cls in [classes] if isinstance(classes, str) else classes:
        yield from idx.by_class.get(cls, [])


@lru_cache(maxsize=None)
def codelist_terms(codelist: str) -> tuple[dict[str, str], bool]:
    """Code → decode of a DDF codelist, a pinned SDTM codelist or an attested one; and its extensibility."""
    table = load("usdm_ct")
    if codelist in table["codelists"]:
        entry = table["codelists"][codelist]
        return dict(entry["terms"]), bool(entry["extensible"])
    for entry in sdtm.ct()["codelists"].values():
        if entry["codelist"] == codelist:
            return {code: value for value, code in entry["terms"].items()}, bool(entry.get("extensible"))
    if codelist in table["attested"]:
        return dict(table["attested"][codelist]), True
    raise KeyError(f"codelist {codelist} is neither vendored nor pinned")


@kind("codelist")
def _codelist(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Coded with the codelist: a non-extensible one must hold the code; in either kind a code or decode
    of the list must come with its own partner (the decode may be the submission value or the NCI
    preferred term, so only a decode that names a *different* term of the list is an inconsistency)."""
    terms, extensible = codelist_terms(p["codelist"])
    decodes = {decode.casefold(): code for code, decode in terms.items()}
    for node in _nodes(idx, p["classes"]):
        for code in _codes(_values(node.obj, p["attribute"])):
            where = f"{node.path}.{p['attribute']}"
            named = decodes.get(str(code.get("decode", "")).casefold())
            if code.get("code") not in terms and not extensible:
                yield where, f"code {code.get('code')!r} ({code.get('decode')!r}) is not a term of {p['codelist']}"
            elif named and named != code.get("code"):
                yield where, f"decode {code.get('decode')!r} is term {named} of {p['codelist']}, but the code is {code.get('code')!r}"


@kind("distinct_codes")
def _distinct_codes(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        seen = Counter((c.get("codeSystem"), c.get("code")) for c in _codes(node.obj.get(p["attribute"])))
        for (system, code), n in seen.items():
            if n > 1:
                yield f"{node.path}.{p['attribute']}", f"code {code} ({system}) appears {n} times"


@kind("codes_exclusive")
def _codes_exclusive(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        present = {c.get("code") for c in _codes(node.obj.get(p["attribute"]))} & set(p["codes"])
        if len(present) > p.get("at_most", 1):
            yield f"{node.path}.{p['attribute']}", f"has {sorted(present)} together"


@kind("unique_ids")
def _unique_ids(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for ident, nodes in idx.by_id.items():
        if len(nodes) > 1:
            yield nodes[1].path, f"id {ident!r} is also used at {nodes[0].path}"


@kind("id_no_spaces")
def _id_no_spaces(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in idx.nodes:
        if isinstance(node.obj.get("id"), str) and " " in node.obj["id"]:
            yield f"{node.path}.id", f"id {node.obj['id']!r} contains a space"


@kind("unique_child_names")
def _unique_child_names(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Names unique among the objects of one class held by the same parent."""
    groups: dict[tuple[int, str], list[Node]] = defaultdict(list)
    for node in idx.nodes:
        if node.parent is not None and isinstance(node.obj.get("name"), str):
            groups[(id(node.parent.obj), node.cls)].append(node)
    for nodes in groups.values():
        seen: dict[str, Node] = {}
        for node in nodes:
            name = node.obj["name"]
            if name in seen:
                yield f"{node.path}.name", f"{node.cls} name {name!r} is also used at {seen[name].path}"
            else:
                seen[name] = node


@kind("nested_level")
def _nested_level(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Objects with a level code must sit in a parent with the matching level code."""
    for node in _nodes(idx, p["classes"]):
        if any(c.get("code") == p["code"] for c in _codes(node.obj.get("level"))):
            parent = node.ancestor((p["parent"],))
            if parent is None or not any(c.get("code") == p["parent_code"] for c in _codes(parent.obj.get("level"))):
                yield node.path, f"level {p['code']} but not held by a {p['parent']} of level {p['parent_code']}"


@kind("chain")
def _chain(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """previous/next ordering: ``self`` (not itself), ``consistent`` (partner points back), ``unique``."""
    attributes = p.get("attributes", ["previousId", "nextId"])
    for cls in p["classes"]:
        used: dict[tuple[str, str], str] = {}
        for node in idx.by_class.get(cls, []):
            for attribute in attributes:
                ref = node.obj.get(attribute)
                if not isinstance(ref, str):
                    continue
                where = f"{node.path}.{attribute}"
                if p["test"] == "self" and ref == node.obj.get("id"):
                    yield where, "refers to itself"
                elif p["test"] == "consistent":
                    other = idx.one(ref)
                    back = "nextId" if attribute == "previousId" else "previousId"
                    if other is not None and back in other.obj and other.obj.get(back) != node.obj.get("id"):
                        yield where, f"{ref} has {back} {other.obj.get(back)!r}, not {node.obj.get('id')!r}"
                elif p["test"] == "unique":
                    if (attribute, ref) in used:
                        yield where, f"{ref} is already the {attribute[:-2]} of {used[(attribute, ref)]}"
                    used[(attribute, ref)] = str(node.obj.get("id"))


@kind("same_scope")
def _same_scope(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """References from ``classes`` must point inside the same ``scope`` object (design, timeline, …)."""
    scopes = tuple(p.get("scope", DESIGNS))
    for node in _nodes(idx, p["classes"]):
        home = node.ancestor(scopes)
        if home is None:
            continue
        for attribute in p["attributes"]:
            for ref in _refs(node.obj.get(attribute)):
                target = idx.one(ref)
                if target is not None and not idx.within(target, home):
                    yield f"{node.path}.{attribute}", f"{ref} is outside this {home.cls}"


@kind("referenced_by")
def _referenced_by(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every ``classes`` object is referenced from some ``by`` object's ``attributes`` (within ``scope``)."""
    referenced: Counter[str] = Counter()
    for node in _nodes(idx, p["by"]):
        for attribute in p["attributes"]:
            for ref in set(_refs(node.obj.get(attribute))):
                referenced[ref] += 1
    for node in _nodes(idx, p["classes"]):
        n = referenced[node.obj.get("id")]
        if n < p.get("min", 1):
            yield node.path, f"not referenced by any {'/'.join(p['by'])} ({'/'.join(p['attributes'])})"
        elif "max" in p and n > p["max"]:
            yield node.path, f"referenced {n} times by {'/'.join(p['by'])}, at most {p['max']} allowed"


@kind("one_per_type")
def _one_per_type(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Items of a list attribute unique on a key built from code paths (e.g. title type)."""
    for node in _nodes(idx, p["classes"]):
        seen: dict[Any, int] = {}
        for i, item in enumerate(_refs(node.obj.get(p["attribute"]))):
            key = json.dumps([_dig(item, path) for path in p["keys"]], sort_keys=True)
            if key in seen:
                yield f"{node.path}.{p['attribute']}[{i}]", f"same {' + '.join(p['keys'])} as item {seen[key]}"
            seen.setdefault(key, i)


def _dig(value: Any, path: str) -> Any:
    """``type.code`` of an object; lists give the sorted list of their items' values. A Code with an
    empty code (a value without a term) is told apart by its decode."""
    for part in path.split("."):
        if isinstance(value, list):
            return sorted(json.dumps(_dig(v, part), sort_keys=True) for v in value)
        if part == "code" and isinstance(value, dict) and value.get("instanceType") == "Code" and value.get("code") == "":
            return "decode:" + str(value.get("decode"))
        value = value.get(part) if isinstance(value, dict) else None
    return value


@kind("has_code")
def _has_code(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        if not any(_dig(item, p["path"]) == p["code"] for item in _refs(node.obj.get(p["attribute"]))):
            yield f"{node.path}.{p['attribute']}", f"no item with {p['path']} {p['code']}"


def _sponsor_roles(idx: Index, code: str) -> list[Node]:
    return [n for n in idx.by_class.get("StudyRole", []) if any(c.get("code") == code for c in _codes(n.obj.get("code")))]


@kind("sponsor")
def _sponsor(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The sponsor study role rules: ``roles`` (exactly one), ``organization`` (exactly one org),
    ``applies`` (to a study version), ``identifier`` (exactly one identifier in the sponsor's scope)."""
    for version in idx.by_class.get("StudyVersion", []):
        roles = [r for r in _sponsor_roles(idx, p["code"]) if idx.within(r, version)]
        if p["test"] == "roles" and len(roles) != 1:
            yield f"{version.path}.roles", f"{len(roles)} study roles with code {p['code']} (sponsor), expected exactly 1"
        for role in roles:
            orgs = _refs(role.obj.get("organizationIds"))
            if p["test"] == "organization" and len(orgs) != 1:
                yield f"{role.path}.organizationIds", f"the sponsor role points to {len(orgs)} organizations, expected 1"
            if p["test"] == "applies":
                targets = [idx.one(ref) for ref in _refs(role.obj.get("appliesToIds"))]
                if not any(t is not None and t.cls == "StudyVersion" for t in targets):
                    yield f"{role.path}.appliesToIds", "the sponsor role does not apply to a study version"
        if p["test"] == "identifier":
            orgs = {ref for r in roles for ref in _refs(r.obj.get("organizationIds"))}
            n = sum(1 for ident in _refs(version.obj.get("studyIdentifiers")) if ident.get("scopeId") in orgs)
            if n != 1:
                yield f"{version.path}.studyIdentifiers", f"{n} identifiers scoped by the sponsor organization, expected exactly 1"


@kind("role_applies")
def _role_applies(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in idx.by_class.get("StudyRole", []):
        classes = {t.cls for t in (idx.one(r) for r in _refs(node.obj.get("appliesToIds"))) if t is not None}
        on_version, on_design = "StudyVersion" in classes, bool(classes & set(DESIGNS))
        if on_version == on_design:
            yield f"{node.path}.appliesToIds", "applies to " + ("both the study version and a design" if on_version else "neither a study version nor a design")


@kind("not_both")
def _not_both(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        if all(_refs(node.obj.get(a)) for a in p["attributes"]):
            yield node.path, f"has both {' and '.join(p['attributes'])}"


@kind("identifier_scope")
def _identifier_scope(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``unique``: no identifier text twice in one scope; ``one``: a scope holds at most one identifier."""
    seen: dict[tuple[Any, Any], str] = {}
    count: Counter[Any] = Counter()
    for node in _nodes(idx, p["classes"]):
        key = (node.obj.get("scopeId"), node.obj.get("text"))
        count[node.obj.get("scopeId")] += 1
        if p["test"] == "unique" and key in seen:
            yield f"{node.path}.text", f"{key[1]!r} already identifies the study in scope {key[0]} ({seen[key]})"
        seen.setdefault(key, node.path)
        if p["test"] == "one" and count[node.obj.get("scopeId")] == 2:
            yield f"{node.path}.scopeId", f"organization {node.obj.get('scopeId')} has more than one identifier for the study"


@kind("planned_sex")
def _planned_sex(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    allowed = [sorted(x) for x in p["allowed"]]
    for node in _nodes(idx, p["classes"]):
        codes = sorted(c.get("code") for c in _codes(node.obj.get("plannedSex")))
        if codes and codes not in allowed:
            yield f"{node.path}.plannedSex", f"codes {codes}: expected one of {allowed}"


@kind("population_or_cohorts")
def _population_or_cohorts(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``attribute`` given on the population or on every cohort (``required``: at least one of them)."""
    for node in idx.by_class.get("StudyDesignPopulation", []):
        cohorts = _refs(node.obj.get("cohorts"))
        on_population = bool(_refs(node.obj.get(p["attribute"])))
        on_cohorts = [bool(_refs(c.get(p["attribute"]))) for c in cohorts]
        if on_population and any(on_cohorts):
            yield f"{node.path}.{p['attribute']}", "given on the population and on cohorts"
        elif not on_population and cohorts and any(on_cohorts) and not all(on_cohorts):
            yield f"{node.path}.cohorts", f"{p['attribute']} given on some cohorts only"
        elif p.get("required") and not on_population and not (cohorts and all(on_cohorts)):
            yield f"{node.path}.{p['attribute']}", f"no {p['attribute']} on the population or its cohorts"


@kind("no_unit")
def _no_unit(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        value = node.obj.get(p["attribute"])
        if not isinstance(value, dict):
            continue
        quantities = [value] if value.get("instanceType") == "Quantity" else [value.get("minValue"), value.get("maxValue")]
        if any(isinstance(q, dict) and q.get("unit") for q in quantities):
            yield f"{node.path}.{p['attribute']}", "has a unit"


@kind("range")
def _range(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in idx.by_class.get("Range", []):
        low, high = node.obj.get("minValue") or {}, node.obj.get("maxValue") or {}
        units = [_dig(q, "unit.standardCode.code") for q in (low, high)]
        if p["test"] == "units" and (units[0] is None) != (units[1] is None):
            yield node.path, "a unit on one end of the range only"
        elif p["test"] == "order" and units[0] == units[1] and isinstance(low.get("value"), (int, float)) \
                and isinstance(high.get("value"), (int, float)) and not low["value"] < high["value"]:
            yield node.path, f"minValue {low['value']} is not less than maxValue {high['value']}"
        elif p["test"] == "approximate" and node.attribute == "plannedAge" and node.obj.get("isApproximate"):
            yield node.path, "planned age range is approximate"


@kind("design_class")
def _design_class(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for design in _nodes(idx, list(DESIGNS)):
        codes = {c.get("code") for c in _codes(design.obj.get("studyType"))}
        if codes & set(p["codes"]) and design.cls != p["class"]:
            yield f"{design.path}.studyType", f"study type {sorted(codes)} needs a {p['class']}"


@kind("decode_is")
def _decode_is(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        codes = _codes(node.obj.get(p["attribute"]))
        if codes and not any(str(c.get("decode", "")).casefold() == p["decode"].casefold() for c in codes):
            yield f"{node.path}.{p['attribute']}", f"decode {codes[0].get('decode')!r}, expected {p['decode']!r}"


@kind("cdisc_version")
def _cdisc_version(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in idx.by_class.get("Code", []):
        if node.obj.get("codeSystem") == p["system"] and not ISO_DAY.match(str(node.obj.get("codeSystemVersion"))):
            yield f"{node.path}.codeSystemVersion", f"{node.obj.get('codeSystemVersion')!r} is not an ISO 8601 release date"


@kind("one_version")
def _one_version(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for version in idx.by_class.get("StudyVersion", []):
        seen: dict[Any, set[Any]] = defaultdict(set)
        for node in idx.by_class.get("Code", []):
            if idx.within(node, version):
                seen[node.obj.get("codeSystem")].add(node.obj.get("codeSystemVersion"))
        for system, versions in sorted(seen.items(), key=lambda kv: str(kv[0])):
            if len(versions) > 1:
                yield version.path, f"code system {system!r} used in versions {sorted(map(str, versions))}"


@kind("code_decode")
def _code_decode(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    decodes: dict[tuple[Any, Any, Any], set[Any]] = defaultdict(set)
    codes: dict[tuple[Any, Any, Any], set[Any]] = defaultdict(set)
    for node in idx.by_class.get("Code", []):
        o = node.obj
        if o.get("code"):
            decodes[(o.get("codeSystem"), o.get("codeSystemVersion"), o.get("code"))].add(o.get("decode"))
            codes[(o.get("codeSystem"), o.get("codeSystemVersion"), o.get("decode"))].add(o.get("code"))
    for (system, _, code), found in sorted(decodes.items(), key=lambda kv: str(kv[0])):
        if len(found) > 1:
            yield "$", f"{system} code {code} has decodes {sorted(map(str, found))}"
    for (system, _, decode), found in sorted(codes.items(), key=lambda kv: str(kv[0])):
        if len(found) > 1:
            yield "$", f"{system} decode {decode!r} has codes {sorted(map(str, found))}"


@kind("cell_combination")
def _cell_combination(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for design in _nodes(idx, list(DESIGNS)):
        cells = _refs(design.obj.get("studyCells"))
        pairs = Counter((c.get("armId"), c.get("epochId")) for c in cells)
        if p["test"] == "unique":
            for (arm, epoch), n in pairs.items():
                if n > 1:
                    yield f"{design.path}.studyCells", f"arm {arm} and epoch {epoch} combined in {n} cells"
        else:
            for arm in _refs(design.obj.get("arms")):
                for epoch in _refs(design.obj.get("epochs")):
                    if (arm.get("id"), epoch.get("id")) not in pairs:
                        yield f"{design.path}.studyCells", f"no cell for arm {arm.get('id')} in epoch {epoch.get('id')}"


@kind("usdm_ref")
def _usdm_ref(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``<usdm:ref …>`` references in text: ``format`` (klass/id/attribute present) or ``resolve``."""
    tag = re.compile(r"<usdm:ref\b[^>]*?(/>|>\s*</usdm:ref>)", re.S)
    for node in _nodes(idx, p["classes"]):
        text = str(node.obj.get(p["attribute"]) or "")
        for match in tag.finditer(text):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', match.group(0)))
            if p["test"] == "format":
                if not (re.fullmatch(r"[A-Za-z]+", attrs.get("klass", "")) and attrs.get("id") and re.fullmatch(r"[A-Za-z]+", attrs.get("attribute", ""))):
                    yield f"{node.path}.{p['attribute']}", f"malformed reference {match.group(0)[:120]!r}"
            else:
                target = idx.one(attrs.get("id"))
                if target is None or target.cls != attrs.get("klass") or attrs.get("attribute") not in target.obj:
                    yield f"{node.path}.{p['attribute']}", f"reference {match.group(0)[:120]!r} does not resolve"


def _values(obj: Any, path: str) -> list[Any]:
    """Every value at a dotted path, fanning out over lists (``geographicScopes.type.code``)."""
    values = [obj]
    for part in path.split("."):
        nxt = []
        for value in values:
            if isinstance(value, list):
                value = [v.get(part) if isinstance(v, dict) else None for v in value]
                nxt.extend(x for item in value for x in (item if isinstance(item, list) else [item]))
            else:
                item = value.get(part) if isinstance(value, dict) else None
                nxt.extend(item if isinstance(item, list) else [item])
        values = nxt
    return [v for v in values if v not in (None, "")]


def _holds(obj: dict[str, Any], test: dict[str, Any]) -> bool:
    """One condition of the ``condition`` kind on an object (see ``usdm_rules.json`` ``_kinds``)."""
    values = [v for path in test["path"].split("|") for v in _values(obj, path)]
    op = test["is"]
    if op == "present":
        return bool(values)
    if op == "absent":
        return not values
    if op == "true":
        return values == [True]
    if op == "not_true":
        return values != [True]
    if op == "in":
        return any(v in test["values"] for v in values)
    if op == "not_in":
        return not any(v in test["values"] for v in values)
    if op == "same_as":
        return values == _values(obj, test["other"])
    if op == "not_same_as":  # case-insensitive, as the rules that compare texts (synonym vs label) ask
        return not {str(v).casefold() for v in values} & {str(v).casefold() for v in _values(obj, test["other"])}
    if op == "count_at_most":
        return len(values) <= test["n"]
    if op == "duration":
        return all(isinstance(v, str) and ISO_DURATION.match(v) for v in values)
    raise KeyError(f"unknown condition {op!r}")


ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$")


@kind("condition")
def _condition(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """When every ``when`` test holds on an object of ``classes``, every ``then`` test must hold too."""
    for node in _nodes(idx, p["classes"]):
        if all(_holds(node.obj, t) for t in p.get("when", [])):
            for test in p["then"]:
                if not _holds(node.obj, test):
                    extra = test.get("values", test.get("other", test.get("n", "")))
                    yield f"{node.path}.{test['path']}", f"expected {test['path']} {test['is']} {extra}".rstrip()


@kind("not_own_timeline")
def _not_own_timeline(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in idx.by_class.get("ScheduledActivityInstance", []):
        home = node.ancestor(("ScheduleTimeline",))
        if home is not None and node.obj.get("timelineId") == home.obj.get("id"):
            yield f"{node.path}.timelineId", "points to the timeline it is specified in"


@kind("unique_value")
def _unique_value(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A value (or referenced id) used by only one ``classes`` object inside each ``scope`` object."""
    for scope in _nodes(idx, p.get("scope", list(DESIGNS))):
        seen: dict[Any, str] = {}
        for node in _nodes(idx, p["classes"]):
            if not idx.within(node, scope):
                continue
            for value in _refs(node.obj.get(p["attribute"])):
                if value == "":
                    continue
                if value in seen:
                    yield f"{node.path}.{p['attribute']}", f"{value!r} also used at {seen[value]}"
                seen.setdefault(value, node.path)


@kind("unique_refs")
def _unique_refs(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in _nodes(idx, p["classes"]):
        for ref, n in Counter(_refs(node.obj.get(p["attribute"]))).items():
            if n > 1:
                yield f"{node.path}.{p['attribute']}", f"{ref} listed {n} times"


@kind("in_design_list")
def _in_design_list(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """References must be among those listed by the enclosing design (e.g. its studyInterventionIds)."""
    for node in _nodes(idx, p["classes"]):
        design = node.ancestor(DESIGNS)
        if design is None:
            continue
        listed = set(_refs(design.obj.get(p["list"])))
        for ref in _refs(node.obj.get(p["attribute"])):
            if ref not in listed:
                yield f"{node.path}.{p['attribute']}", f"{ref} is not in the design's {p['list']}"


@kind("html")
def _html(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    element = re.compile(r"<[A-Za-z][^>]*>")
    for node in _nodes(idx, p["classes"]):
        text = node.obj.get(p["attribute"])
        if isinstance(text, str) and text.strip() and not element.search(text):
            yield f"{node.path}.{p['attribute']}", "plain text, not HTML"


@kind("tags")
def _tags(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``<usdm:tag name="x"/>`` in a text must be a parameter of the object's syntax template dictionary."""
    tag = re.compile(r'<usdm:tag\b[^>]*\bname="([^"]*)"')
    for node in _nodes(idx, p["classes"]):
        names = tag.findall(str(node.obj.get("text") or ""))
        if not names:
            continue
        dictionary = idx.one(node.obj.get("dictionaryId"))
        known = {m.get("tag") for m in _refs(dictionary.obj.get("parameterMaps"))} if dictionary else set()
        for name in names:
            if name not in known:
                yield f"{node.path}.text", f"tag {name!r} is not a parameter of dictionary {node.obj.get('dictionaryId')!r}"


@kind("per_design")
def _per_design(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Count the ``classes`` objects in each design that pass the ``where`` tests; expect min/max."""
    for design in _nodes(idx, list(DESIGNS)):
        if not all(_holds(design.obj, t) for t in p.get("design", [])):
            continue
        n = sum(1 for node in _nodes(idx, p["classes"]) if idx.within(node, design) and all(_holds(node.obj, t) for t in p.get("where", [])))
        if n < p.get("min", 0) or ("max" in p and n > p["max"]):
            yield design.path, f"{n} {'/'.join(p['classes'])} {p.get('what', '')}, expected {p.get('min', 0)}..{p.get('max', 'n')}".replace("  ", " ")


@kind("per_timeline")
def _per_timeline(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for timeline in idx.by_class.get("ScheduleTimeline", []):
        n = sum(1 for node in _nodes(idx, p["classes"]) if node.ancestor(("ScheduleTimeline",)) is timeline
                and all(_holds(node.obj, t) for t in p.get("where", [])))
        if n < p.get("min", 1):
            yield timeline.path, f"no {'/'.join(p['classes'])} {p.get('what', '')}".rstrip()


@kind("single_group")
def _single_group(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for design in _nodes(idx, ["InterventionalStudyDesign"]):
        n = len(_refs(design.obj.get("studyInterventionIds")))
        single = any(c.get("code") == p["code"] for c in _codes(design.obj.get("model")))
        if single and n != 1:
            yield f"{design.path}.studyInterventionIds", f"single group design with {n} interventions"
        elif not single and n < 2:
            yield f"{design.path}.studyInterventionIds", f"{n} intervention(s) in a design that is not single group"


@kind("masking")
def _masking(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Masked study roles against the design's blinding schema (open label, double blind, other)."""
    for design in _nodes(idx, ["InterventionalStudyDesign"]):
        codes = {c.get("code") for c in _codes(design.obj.get("blindingSchema"))}
        if not codes:
            continue
        version = design.ancestor(("StudyVersion",))
        masked = sum(1 for role in idx.by_class.get("StudyRole", []) if role.obj.get("masking") and idx.within(role, version))
        open_label, double = p["open_label"] in codes, p["double_blind"] in codes
        if p["test"] == "open" and open_label and masked:
            yield f"{design.path}.blindingSchema", f"open label, yet {masked} study role(s) carry a masking"
        elif p["test"] == "double" and double and masked < 2:
            yield f"{design.path}.blindingSchema", f"double blind, but {masked} masked study role(s)"
        elif p["test"] == "other" and not open_label and not double and masked < 1:
            yield f"{design.path}.blindingSchema", "blinded, but no study role carries a masking"


@kind("criteria_population_xor_cohorts")
def _criteria_xor(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for node in idx.by_class.get("StudyDesignPopulation", []):
        own = set(_refs(node.obj.get("criterionIds")))
        for i, cohort in enumerate(_refs(node.obj.get("cohorts"))):
            both = own & set(_refs(cohort.get("criterionIds")))
            if both:
                yield f"{node.path}.cohorts[{i}].criterionIds", f"{sorted(both)} also referenced by the population"


@kind("global_date")
def _global_date(idx: Index, p: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A date type with a global scope admits no other date of that type (warning rules)."""
    for node in _nodes(idx, p["classes"]):
        dates = _refs(node.obj.get("dateValues"))
        by_type: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for item in dates:
            by_type[_dig(item, "type.code")].append(item)
        for code, items in by_type.items():
            if len(items) > 1 and any(p["global"] in _values(item, "geographicScopes.type.code") for item in items):
                yield f"{node.path}.dateValues", f"{len(items)} dates of type {code}, one of them global"


def rules() -> dict[str, dict[str, Any]]:
    return load("usdm_rules")["rules"]


def check_rules(document: Any, found: Optional[Index] = None) -> list[Finding]:
    """Every finding of the checked USDM rules, in rule-id order."""
    found = found or index(document)
    findings = []
    for rule_id, rule in sorted(rules().items()):
        specs = rule.get("check")
        if rule.get("status") != "checked" or not specs:
            continue
        for spec in specs if isinstance(specs, list) else [specs]:
            for path, message in KINDS[spec["kind"]](found, spec):
                findings.append(Finding(rule_id, str(rule["severity"]), path, message))
    return findings


@dataclass
class Report:
    schema: list[str]
    references: list[str]
    findings: list[Finding]

    @property
    def errors(self) -> list[str]:
        return self.schema + self.references


def validate_document(document: Any) -> Report:
    """All three layers; rules only run on a file that passes the schema (they assume its shape)."""
    schema = schema_errors(document)
    if schema:
        return Report(schema, [], [])
    found = index(document)
    return Report(schema, reference_errors(document, found), check_rules(document, found))


def registry_lacks() -> dict[str, str]:
    """Rules a registry-derived file may break because the record lacks the fact, and why."""
    return {rule_id: rule["registry_lacks"] for rule_id, rule in rules().items() if rule.get("registry_lacks")}


def check(document: Any, record: Optional[str] = None) -> list[str]:
    """Validate trialconv's own output before it is written.

    Schema or reference errors, or a rule finding outside the documented registry-lacks list,
    raise :class:`ValidationError`; the allowed findings come back as warnings for the report.
    """
    report = validate_document(document)
    allowed = registry_lacks()
    unexpected = [str(f) for f in report.findings if f.rule not in allowed]
    problems = report.errors + unexpected
    if problems:
        raise ValidationError(f"USDM output fails {len(problems)} check(s)", problems=problems, record=record)
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_rule[finding.rule].append(finding)
    return [f"USDM {rule} ({found[0].severity}, on the registry-lacks list of docs/usdm.md): {len(found)} finding(s), first {found[0].path}: "
            f"{found[0].message}" for rule, found in by_rule.items()]


def is_usdm(document: Any) -> bool:
    return isinstance(document, dict) and "usdmVersion" in document and "study" in document
