"""Criteria → FHIR R5 ``EvidenceVariable.characteristic`` JSON, using what the eligibility engine understood.

The writer reads no criterion text itself: :func:`converter.eligibility.reading.read_criteria`
gives each criterion's statement as a formula (all/any of coded literals; uncoded parts as text;
the logic forms are in :mod:`converter.eligibility.logic`), and this module translates it:

* every top-level characteristic keeps the criterion's words in ``description``; EXCLUSION items
  get ``exclude: true`` (R5: "not matching this characteristic is equivalent to meeting the
  criterion"), XOR-ed with a statement that is itself a negation;
* a literal becomes ``definitionByTypeAndValue`` (``exclude: true`` when it must not hold), all/any
  become ``definitionByCombination`` all-of/any-of;
* a criterion the engine did not wholly understand keeps only its description: R5 invariant evv-1
  allows *at most one* definition[x], so no placeholder definition is invented, and no partial code
  is written.

Values: ``valueQuantity`` with a UCUM code and a FHIR comparator (<, <=, >=, >); a multiple of the
upper limit of normal is a unit-less Quantity (``unit`` text "× ULN", no invented UCUM code) with
``offset`` = characteristic-offset#UNL ("Upper Normal Limit"), the R5 element made for values not
compared to zero; ranges become ``valueRange``; coded answers ``valueCodeableConcept``; a condition
with no value ``valueBoolean: true``; a time window ``timeFromEvent`` with a range before (negative)
or after (positive) the anchor event.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ...eligibility import Finding, Quantity, TimeWindow, describe
from ...eligibility.logic import Formula, Lit, Node
from ...eligibility.reading import Item, read_criteria, read_item
from ...eligibility.findings import UCUM, Concept
from ...eligibility.tables import concept as table_concept
from ...eligibility.tables import system_url
from ...model import Age, Criterion, Eligibility
from .common import AGE_UNITS

ULN_UNIT = "× ULN"

_UCUM_NAMES = {"a": "years", "mo": "months", "wk": "weeks", "d": "days", "h": "hours", "min": "minutes"}


# --- small builders ---------------------------------------------------------------------------


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def codeable(concept: Concept) -> dict[str, Any]:
    return {"coding": [{"system": concept.system, "code": concept.code, "display": concept.display}]}


def quantity(q: Quantity, comparator: Optional[str] = None, *, uln: bool = False) -> dict[str, Any]:
    """FHIR Quantity; "× ULN" multiples carry unit text only, never a UCUM code."""
    out: dict[str, Any] = {"value": _number(q.value)}
    if comparator:
        out["comparator"] = comparator
    if uln:
        out["unit"] = ULN_UNIT
    elif q.unit:
        out.update({"unit": q.written or q.unit, "system": UCUM, "code": q.unit})
    return out


def _offset_uln() -> dict[str, Any]:
    return {"coding": [{"system": system_url("offset"), "code": "UNL", "display": "Upper Normal Limit"}]}


def time_from_event(window: TimeWindow) -> dict[str, Any]:
    """"within 4 weeks prior to randomisation" → range −4 wk … 0 wk relative to "randomisation"."""
    span = quantity(window.quantity)
    zero = dict(span, value=0)
    far = dict(span, value=_number(-window.quantity.value if window.direction == "before" else window.quantity.value))
    out: dict[str, Any] = {"description": window.text}
    if window.anchor:
        out["eventCodeableConcept"] = {"text": window.anchor}
    out["range"] = {"low": far, "high": zero} if window.direction == "before" else {"low": zero, "high": far}
    return out


def _notes(finding: Finding) -> list[dict[str, str]]:
    texts = []
    if finding.condition:
        texts.append(f"Applies only {finding.condition}.")
    if finding.note:
        texts.append(f"Reading: {finding.note}.")
    texts += [f"Warning: {warning}." for warning in finding.warnings]
    return [{"text": text} for text in texts]


# --- findings → characteristics ---------------------------------------------------------------


def literal_value(lit: Lit) -> dict[str, Any]:
    """A literal's value[x], the same in R5 and R4B: a Quantity with comparator (× ULN as unit text),
    a Range, one coded answer, the answer as text, or ``valueBoolean: true`` for a plain condition."""
    finding = lit.finding
    if finding.quantity is not None:
        return {"valueQuantity": quantity(finding.quantity, finding.comparator, uln=finding.uln)}
    if finding.low is not None or finding.high is not None:
        ends = {end: quantity(q, uln=finding.uln) for end, q in (("low", finding.low), ("high", finding.high)) if q is not None}
        return {"valueRange": ends}
    if lit.value is not None:
        return {"valueCodeableConcept": codeable(lit.value)}
    if finding.value_text is not None:
        return {"valueCodeableConcept": {"text": finding.value_text}}
    return {"valueBoolean": True}


def _type_and_value(lit: Lit) -> dict[str, Any]:
    """``definitionByTypeAndValue``: R5 adds ``offset`` = upper normal limit to a × ULN value."""
    finding = lit.finding
    assert finding.concept is not None
    definition: dict[str, Any] = {"type": codeable(finding.concept), **literal_value(lit)}
    if finding.uln and (finding.quantity is not None or finding.low is not None or finding.high is not None):
        definition["offset"] = _offset_uln()
    return definition


def lit_characteristic(lit: Lit, description: Optional[str] = None) -> dict[str, Any]:
    """One coded literal: a finding's type and value, ``exclude`` when it must not hold."""
    finding = lit.finding
    char: dict[str, Any] = {"description": description or finding.text or describe(finding)}
    char["definitionByTypeAndValue"] = _type_and_value(lit)
    if not lit.holds:
        char["exclude"] = True
    if finding.window is not None:
        char["timeFromEvent"] = [time_from_event(finding.window)]
    notes = _notes(finding)
    if notes:
        char["note"] = notes
    return char


def formula_characteristic(formula: Formula, description: Optional[str] = None) -> dict[str, Any]:
    """A statement (see :mod:`converter.eligibility.logic`) as a characteristic: literals become
    ``definitionByTypeAndValue``, all/any become ``definitionByCombination`` all-of/any-of, and an
    uncoded part keeps only its words."""
    if isinstance(formula, Lit):
        return lit_characteristic(formula, description)
    if isinstance(formula, Node):
        only = formula.members[0]
        if len(formula.members) == 1 and (isinstance(only, Lit) or (isinstance(only, Node) and not only.text)):
            return formula_characteristic(only, description or formula.text or None)
        members = [formula_characteristic(member) for member in formula.members]
        text = description or formula.text or " / ".join(m["description"] for m in members)
        return {"description": text, "definitionByCombination": {"code": f"{formula.operator}-of", "characteristic": members}}
    char: dict[str, Any] = {"description": description or formula.text}
    if formula.parts:  # words of uncoded sub-items, kept (nothing in them is coded)
        parts = [formula_characteristic(part) for part in formula.parts]
        char["definitionByCombination"] = {"code": f"{formula.operator}-of", "characteristic": parts}
    return char


def _flip_exclude(char: dict[str, Any], exclude: bool) -> dict[str, Any]:
    """Set ``exclude`` as the XOR of what the item says and what the statement says ("Exclusion: no X")."""
    result = dict(char)
    value = bool(result.pop("exclude", False)) != exclude
    if value:
        result["exclude"] = True
    return result


def item_characteristic(item: Item) -> dict[str, Any]:
    """One top-level criterion (with its children) as an ``EvidenceVariable.characteristic``:
    the statement under the criterion's words, ``exclude`` for an exclusion item."""
    char = formula_characteristic(item.statement, item.criterion.text)
    return _flip_exclude(char, item.criterion.category == "EXCLUSION")


def characteristics(criteria: list[Criterion], studied: Sequence[str] = ()) -> list[dict[str, Any]]:
    """EvidenceVariable.characteristic entries for the parsed criteria, in order (``studied``: the
    trial's own conditions, which the reading needs to know)."""
    return [item_characteristic(item) for item in read_criteria(criteria, studied)]


# --- structured sex and age -------------------------------------------------------------------


def _age_quantity(age: Age) -> dict[str, Any]:
    code = AGE_UNITS[age.unit]
    return {"value": _number(age.value), "unit": _UCUM_NAMES[code], "system": UCUM, "code": code}


def sex_and_age(eligibility: Eligibility) -> list[dict[str, Any]]:
    """Characteristics from the registry's structured sex / minimum_age / maximum_age fields."""
    out: list[dict[str, Any]] = []
    if eligibility.sex in ("FEMALE", "MALE"):
        code = eligibility.sex.lower()
        out.append({
            "description": f"Sex: {code}",
            "definitionByTypeAndValue": {
                "type": codeable(table_concept("demographics", "sex")),
                "valueCodeableConcept": {"coding": [{"system": system_url("gender"), "code": code, "display": code.capitalize()}]},
            },
        })
    low, high = eligibility.minimum_age, eligibility.maximum_age
    if low is not None or high is not None:
        value_range: dict[str, Any] = {}
        words = []
        if low is not None:
            value_range["low"] = _age_quantity(low)
            words.append(f"at least {low.as_text()}")
        if high is not None:
            value_range["high"] = _age_quantity(high)
            words.append(f"at most {high.as_text()}")
        out.append({
            "description": "Age " + " and ".join(words),
            "definitionByTypeAndValue": {"type": codeable(table_concept("demographics", "age")), "valueRange": value_range},
        })
    return out


def criterion_characteristic(criterion: Criterion) -> dict[str, Any]:
    """One top-level criterion as a characteristic (see :func:`item_characteristic`)."""
    return item_characteristic(read_item(criterion))
