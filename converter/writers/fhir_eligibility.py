"""Criteria → FHIR R5 ``EvidenceVariable.characteristic`` JSON, using what the eligibility engine understood.

Mapping, one criterion at a time:

* every characteristic keeps the criterion's words in ``description``; top-level EXCLUSION items get
  ``exclude: true`` (R5: "not matching this characteristic is equivalent to meeting the criterion");
* an item with children becomes ``definitionByCombination`` — ``all-of``, or ``any-of`` when the
  text says "one of"/"any of"/"either"; a conditional parent ("If the patient is HER2-positive:")
  becomes "not HER2-positive, or all of the children" (A → B is ¬A ∨ B);
* one finding becomes ``definitionByTypeAndValue`` on the item itself; several become an
  ``all-of`` combination, and a value that holds only under a condition ("≤ 5 × ULN if liver
  metastases") is an ``any-of`` alternative to the plain threshold of the same test, with the
  condition kept as a note;
* an item nothing recognised keeps only its description: R5 invariant evv-1 allows *at most one*
  definition[x], so no placeholder definition is invented.

Values: ``valueQuantity`` with a UCUM code and a FHIR comparator (<, <=, >=, >); a multiple of the
upper limit of normal is a unit-less Quantity (``unit`` text "× ULN", no invented UCUM code) with
``offset`` = characteristic-offset#UNL ("Upper Normal Limit"), the R5 element made for values not
compared to zero; ranges become ``valueRange``; coded answers ``valueCodeableConcept``; a condition
with no value ``valueBoolean: true``; a time window ``timeFromEvent`` with a range before (negative)
or after (positive) the anchor event.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..eligibility import Finding, Quantity, TimeWindow, describe, label_context, understand
from ..eligibility.findings import UCUM, Concept
from ..eligibility.tables import concept as table_concept
from ..eligibility.tables import system_url
from ..model import Age, Criterion, Eligibility

ULN_UNIT = "× ULN"
_ANY_OF = re.compile(r"\b(?:one|any|either)\s+(?:or\s+more\s+)?of\b|\bat\s+least\s+one\b", re.I)
_CONDITIONAL_PARENT = re.compile(r"^\s*(?:if|when|for\s+(?:patients?|subjects?|participants?|women|men)\s+(?:with|who))\b", re.I)

_AGE_UNITS = {"YEARS": "a", "MONTHS": "mo", "WEEKS": "wk", "DAYS": "d", "HOURS": "h", "MINUTES": "min"}
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
        texts.append(f"Source text: {finding.note}.")
    texts += [f"Warning: {warning}." for warning in finding.warnings]
    return [{"text": text} for text in texts]


# --- findings → characteristics ---------------------------------------------------------------


def _type_and_value(finding: Finding, value: Optional[Concept] = None) -> dict[str, Any]:
    assert finding.concept is not None
    definition: dict[str, Any] = {"type": codeable(finding.concept)}
    if finding.quantity is not None:
        definition["valueQuantity"] = quantity(finding.quantity, finding.comparator, uln=finding.uln)
        if finding.uln:
            definition["offset"] = _offset_uln()
    elif finding.low is not None or finding.high is not None:
        value_range: dict[str, Any] = {}
        if finding.low is not None:
            value_range["low"] = quantity(finding.low, uln=finding.uln)
        if finding.high is not None:
            value_range["high"] = quantity(finding.high, uln=finding.uln)
        definition["valueRange"] = value_range
        if finding.uln:
            definition["offset"] = _offset_uln()
    elif value is not None:
        definition["valueCodeableConcept"] = codeable(value)
    elif finding.value_text is not None:
        definition["valueCodeableConcept"] = {"text": finding.value_text}
    else:
        definition["valueBoolean"] = True
    return definition


def finding_characteristic(finding: Finding) -> dict[str, Any]:
    """One finding (or combination of findings) as a characteristic."""
    char: dict[str, Any] = {"description": finding.text or describe(finding)}
    if finding.parts:
        code = "all-of" if finding.operator == "AND" else "any-of"
        char["definitionByCombination"] = {"code": code, "characteristic": [finding_characteristic(p) for p in finding.parts]}
    elif len(finding.values) > 1:
        # several coded answers (NYHA class III or IV): any one of them
        char["definitionByCombination"] = {
            "code": "any-of",
            "characteristic": [
                {"description": f"{finding.concept.display if finding.concept else ''}: {value.display}",
                 "definitionByTypeAndValue": _type_and_value(finding, value)}
                for value in finding.values
            ],
        }
    else:
        char["definitionByTypeAndValue"] = _type_and_value(finding, finding.values[0] if finding.values else None)
    if finding.negated:
        char["exclude"] = True
    if finding.window is not None:
        char["timeFromEvent"] = [time_from_event(finding.window)]
    notes = _notes(finding)
    if notes:
        char["note"] = notes
    return char


def _codes(finding: Finding) -> frozenset[str]:
    return frozenset(leaf.concept.code for leaf in finding.leaves() if leaf.concept is not None)


def _slots(findings: list[Finding]) -> list[list[Finding]]:
    """Plain findings each open a slot; a conditional finding joins the slot of the same test(s)
    as an alternative ("≤ 3 × ULN, or ≤ 5 × ULN if liver metastases")."""
    slots: list[list[Finding]] = []
    for finding in findings:
        if finding.condition:
            for slot in slots:
                if _codes(slot[0]) == _codes(finding) and not slot[0].condition:
                    slot.append(finding)
                    break
            else:
                slots.append([finding])
        else:
            slots.append([finding])
    return slots


def findings_characteristics(findings: list[Finding]) -> list[dict[str, Any]]:
    """Characteristics for a criterion's findings: one per slot, alternatives as any-of."""
    out = []
    for slot in _slots(findings):
        if len(slot) == 1:
            out.append(finding_characteristic(slot[0]))
        else:
            out.append({
                "description": " / ".join(f.text for f in slot),
                "definitionByCombination": {"code": "any-of", "characteristic": [finding_characteristic(f) for f in slot]},
            })
    return out


# --- criteria → characteristics ---------------------------------------------------------------


def _flip_exclude(char: dict[str, Any], exclude: bool) -> dict[str, Any]:
    """Set ``exclude`` as the XOR of what the item says and what the finding says ("Exclusion: no X")."""
    result = dict(char)
    value = bool(result.pop("exclude", False)) != exclude
    if value:
        result["exclude"] = True
    return result


def _merge_single(item: dict[str, Any], member: dict[str, Any], exclude: bool) -> dict[str, Any]:
    """Put one finding's definition on the item itself, keeping the item's own words."""
    merged = dict(member)
    merged["description"] = item["description"]
    return _flip_exclude(merged, exclude)


def criterion_characteristic(criterion: Criterion, *, top: bool = True, context: Optional[str] = None) -> dict[str, Any]:
    """One criterion (with its children) as an ``EvidenceVariable.characteristic``."""
    exclude = top and criterion.category == "EXCLUSION"
    item: dict[str, Any] = {"description": criterion.text}
    findings = understand(criterion.text, context)
    own = findings_characteristics(findings)
    children = [criterion_characteristic(child, top=False, context=label_context(criterion.text)) for child in criterion.children]

    if children:
        if own and _CONDITIONAL_PARENT.match(criterion.text):
            condition = own[0] if len(own) == 1 else {"description": criterion.text, "definitionByCombination": {"code": "all-of", "characteristic": own}}
            body = children[0] if len(children) == 1 else {
                "description": f"{criterion.text} (requirements)",
                "definitionByCombination": {"code": "all-of", "characteristic": children},
            }
            item["definitionByCombination"] = {"code": "any-of", "characteristic": [_flip_exclude(condition, True), body]}
        elif _ANY_OF.search(criterion.text):
            alternatives = {"description": criterion.text, "definitionByCombination": {"code": "any-of", "characteristic": children}}
            item["definitionByCombination"] = (
                {"code": "all-of", "characteristic": own + [alternatives]} if own else alternatives["definitionByCombination"]
            )
        else:
            item["definitionByCombination"] = {"code": _joiner(exclude), "characteristic": own + children}
        return _flip_exclude(item, exclude)

    if len(own) == 1:
        return _merge_single(item, own[0], exclude)
    if own:
        item["definitionByCombination"] = {"code": _joiner(exclude), "characteristic": own}
    return _flip_exclude(item, exclude)


def _joiner(exclude: bool) -> str:
    """How the separate statements of one item combine.

    An inclusion item lists requirements that must all hold ("platelets ≥ 100 and Hb ≥ 9"); an
    exclusion item lists things any one of which excludes ("HIV, hepatitis B or C"; "serious heart
    disease, including: heart failure; MI within 6 months"), so excluding the all-of would let
    through everyone who has only one of them.
    """
    return "any-of" if exclude else "all-of"


def characteristics(criteria: list[Criterion]) -> list[dict[str, Any]]:
    """EvidenceVariable.characteristic entries for the parsed criteria, in order."""
    return [criterion_characteristic(criterion) for criterion in criteria]


# --- structured sex and age -------------------------------------------------------------------


def _age_quantity(age: Age) -> dict[str, Any]:
    code = _AGE_UNITS[age.unit]
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
