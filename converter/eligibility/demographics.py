"""Age and sex stated in criteria text: "Women aged 18-75 years old", "Age > 18 years", "18 years and older".

Age needs an age word ("age", "aged", "years old", "of age", "older") so "within 18 years" or
"18 months of follow-up" is never read as an age. Ages that are not the participant's present age
are left alone: someone else's ("Parent who is at least 18"), the age at an event ("< 50 years at
diagnosis"), age bands that select another requirement (two or more different bands in one
criterion) and ages inside a definition of menopause. Sex is read only when the criterion is *about*
who may enrol ("Women aged …", "Female patients", "Sex: Female", "Men only"), never from
"women of childbearing potential must use contraception" — that restricts behaviour, not sex.
"""

from __future__ import annotations

import re
from typing import Optional

from .findings import Concept, Finding, Quantity
from .tables import concept, system_url, time_unit
from .units import comparator_at, skip_space

#: "y.o.", "y/o", "yo" are "years old": a unit that is its own age tail.
_UNIT = r"(?:(?P<unit>years?|yrs?|y\.\s?o\.?|y/o|yo|y|months?|mos?|weeks?|days?|hours?|hrs?)(?![\w/]))"
_YEARS_OLD = re.compile(r"y\W*o\W*$", re.I)
_AGE_WORD = re.compile(r"\b(?:age[ds]?|aged)\b\s*(?:[:(\[]\s*)?(?:(?:of\s+)?(?:both|either)\s+(?:genders|sexes)\s+)?(?:is\s+|of\s+|at\s+|between\s+|from\s+|must\s+be\s+|should\s+be\s+|range\s*(?:of\s*)?:?\s*|ranging\s+(?:from\s+|between\s+)?)?", re.I)
_NUM = r"(?P<{0}>\d{{1,3}}(?:\.\d)?)"
_RANGE = re.compile(
    rf"(?:between\s+|from\s+)?(?P<lowcmp>[>≥]\s*=?\s*)?{_NUM.format('low')}\s*(?:{_UNIT.replace('unit', 'unit1')}\s*)?(?:old\s*)?"
    rf"(?:-|–|to|and|through|~)\s*(?P<highcmp>[<≤]\s*=?\s*)?{_NUM.format('high')}\s*{_UNIT}?",
    re.I,
)
_BOUND_AFTER = re.compile(
    rf"{_NUM.format('value')}\s*(?:\+\s*)?{_UNIT}?(?:\s+of\s+age|\s+old|\s+of\s+age\s+or)?\s*(?:,\s*)?(?:(?:or|and)\s+(?P<dir>older|above|over|more|greater|younger|under|below|less)(?!\s+than\b)|(?P<plus>\+))",
    re.I,
)

_SEX_SUBJECT = re.compile(
    r"^(?:(?:pre|post|peri)-?menopausal\s+)?(?P<sex>women|woman|females?|men|man|males?|boys?|girls?)\b"
    r"(?!\s+(?:of|who|with|partners?|subjects?\s+of|patients?\s+of)\b)"
    r"(?:\s+(?:patients?|subjects?|participants?|volunteers?|only))?\s*(?:,\s*)?(?P<tail>aged?\b|age\b|>|≥|\d|\(|only\b|$|,|between\b|over\b|older\b|with\b|diagnosed\b|who\s+(?:are|have)\s+(?:\d|aged))",
    re.I,
)
#: A parent label read in front of the item ("PATIENT CHARACTERISTICS: Female"), other than a sex label.
_CONTEXT_LABEL = re.compile(r"^\s*(?!(?:sex|gender)\s*:)[A-Za-z][A-Za-z /-]{1,30}:\s*(?=\S)", re.I)
_NEXT_LABEL = re.compile(r"\s+(?=[A-Z][A-Za-z /-]{2,30}:)")
_SEX_LABEL = re.compile(r"^\s*(?:sex|gender)\s*:\s*(?P<value>.+?)\s*\.?\s*$", re.I)
_BOTH = re.compile(r"\b(?:men|males?|man)\b.*\b(?:women|females?|woman)\b|\b(?:women|females?|woman)\b.*\b(?:men|males?|man)\b|\bboth\s+sexes\b|\beither\s+sex\b", re.I)


def _unit(word: Optional[str]) -> str:
    if not word or _YEARS_OLD.match(word):
        return "a"
    return time_unit(word.lower().rstrip("s") if word.lower() not in ("mos", "yrs") else word.lower()) or time_unit(word) or "a"


def _age_concept() -> Concept:
    return concept("demographics", "age")


def _strict(sign: Optional[str], symbol: str) -> bool:
    """">" or "<" without "=": an exclusive bound."""
    return bool(sign) and sign.strip().startswith(symbol) and "=" not in sign  # type: ignore[union-attr]


def _range_finding(match: re.Match[str], text: str, start: int) -> Optional[Finding]:
    """"18-75 years" → a Range; "> 18 to < 70" → two comparisons, since a Range cannot be exclusive."""
    low, high = float(match.group("low")), float(match.group("high"))
    if not 0 <= low < high <= 120:
        return None
    unit = _unit(match.group("unit") or match.group("unit1"))
    span = text[start:match.end()].strip()
    low_strict, high_strict = _strict(match.group("lowcmp"), ">"), _strict(match.group("highcmp"), "<")
    if low_strict or high_strict:
        parts = (
            Finding(kind="age", concept=_age_concept(), comparator=">" if low_strict else ">=", quantity=Quantity(low, unit), text=span, start=start),
            Finding(kind="age", concept=_age_concept(), comparator="<" if high_strict else "<=", quantity=Quantity(high, unit), text=span, start=start),
        )
        return Finding(kind="age", operator="AND", parts=parts, text=span, start=start)
    return Finding(kind="age", concept=_age_concept(), low=Quantity(low, unit), high=Quantity(high, unit), text=span, start=start)


#: Words after which a number is not the participant's current age ("defined as age ≥ 50",
#: "seizures as a child < 5 years of age", "death under 40 years of age in relatives").
_NOT_OWN_AGE = re.compile(
    r"(?:defined\s+as|definition|menopaus\w*|amenorrh\w*|gestation\w*|post-?menstrual|bone|skeletal|mental|developmental|as\s+a\s+child|relatives?|family|onset|diagnosed\s+(?:at|before)|since|after\s+age|before\s+age|under\s+the\s+age\s+of\s+\d+\s+in)\b[^.;]{0,60}$",
    re.I,
)
#: Who or what may precede a bare age ("Patients 18 years or older", "must be ≥ 18 years of age").
_SUBJECT_BEFORE = re.compile(r"\b(?:patients?|subjects?|participants?|women|woman|men|man|males?|females?|adults?|individuals?|persons?|people|children|volunteers?|be|are|is|aged?)\s*[,:]?\s*$", re.I)
_AGE_TAIL = re.compile(r"\s*(?:of\s+age|old|or\s+(?:older|above|over|more)|and\s+(?:older|above|over)|\+|(?:of\s+age\s+|old\s+)?(?:at|on)\s+(?:the\s+)?(?:time|day|date)\s+of\s+(?:signing\s+)?(?:the\s+)?(?:informed\s+|written\s+)*(?:consent|screening|enrol?lment|randomi[sz]ation|inclusion|registration|study\s+entry)\b)", re.I)
_SECOND_BOUND = re.compile(r"\s*(?:(?:years?\s+)?(?:of\s+age|old)\b)?\s*,?\s*(?:,|or|and)\s*(?:(?:the\s+)?age\s*)?(?=[<>≤≥]|less|greater|more|older|younger|over|under|above|below)", re.I)


_DIGIT = re.compile(r"\d")


def understand_age(text: str, *, assume_years: bool = False) -> list[Finding]:
    """Age bounds in a criterion.

    Two ways in: after an age word ("Age > 18", "aged 18-75", "Age: 18 and over" — the unit may be
    missing and means years), or a number with a time unit that an age phrase follows ("18 years
    of age or older", "18-70 years old", "less than 70 years old"). The second kind must start the
    criterion or follow a subject ("Patients 18 years or older"), so ages of relatives or of past
    events are not read. ``assume_years`` is for the NCI "Age:" label whose values omit the unit.
    """
    if not _DIGIT.search(text):
        return []  # every bound below is read from digits: most criteria are skipped in one scan
    if _MENOPAUSE_DEFINITION.search(text) or _age_strata(text):
        return []
    between = _AGE_BETWEEN.search(text)
    if between and not _NOT_OWN_AGE.search(text[max(0, between.start() - 80):between.start()]):
        return _between_bounds(between, text)
    for label in _AGE_WORD.finditer(text):
        if _NOT_OWN_AGE.search(text[max(0, label.start() - 80):label.start() + 4]):
            continue
        found = _bounds_after(text, label.end(), label.start(), unit_required=False) or _labelled_limit(text, label)
        if found:
            return found if _own_age(text, label.start(), found) else []
    for match in re.finditer(r"(?<![\w.<>=/≤≥])(?=[<>≤≥=/]{0,3}\s*\d|(?:(?:no|not)\s+)?(?:less|greater|more|older|younger)\s+(?:than\s*|than\s+or\s+equal\s+to\s*|or\s+equal\s+to\s*)\d|(?:over|under|above|below|at\s+least|at\s+most|between|from|minimum(?:\s+of)?|maximum(?:\s+of)?|up\s+to|equal\s+(?:to\s+)?or\s+\w+(?:\s+than)?)\s*\d|(?:over|above|under|below)\s+(?:the\s+)?age\b)", text, re.I):
        start = match.start()
        if start > 45 and not _SUBJECT_BEFORE.search(text[max(0, start - 30):start]) and not _LIST_ITEM_AGE.match(text, start):
            continue
        if _NOT_OWN_AGE.search(text[max(0, start - 80):start]):
            continue
        bare = bool(_BARE_SUBJECT_BEFORE.search(text[max(0, start - 20):start]) and _BARE_AGE.match(text, start))
        found = _bounds_after(text, start, start, unit_required=not assume_years and not bare)
        if found:
            return found if _own_age(text, start, found) else []
    return _whole_age(text)


#: "Postmenopausal, defined by 1 of the following criteria: … Age 50 and over with prior hysterectomy":
#: ages inside a definition of menopause are not age limits.
_MENOPAUSE_DEFINITION = re.compile(r"menopaus\w*[^.;]{0,40}\bdefin", re.I)
#: Several different age bands in one criterion are strata for some other requirement ("Children
#: aged 5-8 years must have received 2 doses … Children 9-11 years …"), not one age limit.
_AGE_BAND = re.compile(r"(?<![\d.])(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})\s*(?:years?|yrs?|y)\b|\baged?\s+(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})\b", re.I)
#: "18 < Age < 70", "18 ≤ age ≤ 75": the age word between its two bounds.
_AGE_BETWEEN = re.compile(r"(?<![\w.])(?P<low>\d{1,3})\s*(?P<c1><=?|≤|<\s*/\s*=)\s*age\b\s*(?:\((?:years?|yrs?|y)\)\s*)?(?P<c2><=?|≤|<\s*/\s*=)\s*(?P<high>\d{1,3})(?:\s*(?P<unit>years?|yrs?|y)\b)?", re.I)
#: The age belongs to someone else or to a past event: "Parent who is at least 18 years old of
#: child …", "younger than 50 years of age at cancer diagnosis".
_OTHER_PERSON_BEFORE = re.compile(r"\b(?:parents?|caregivers?|care\s*givers?|guardians?|mothers?|fathers?|spouses?|partners?|siblings?)\s+(?:(?:who|that)\s+(?:is|are)\s+|(?:must|should)\s+be\s+|is\s+|are\s+|aged?\s+)?$", re.I)
#: "copy of films required of all patients 30 years of age and over": the age selects who must meet
#: another requirement; it is not an age limit of the trial.
_SELECTS_REQUIREMENT_BEFORE = re.compile(r"\b(?:required|requested|recommended|mandatory|necessary|needed)\s+(?:of|for|in)\s+(?:all\s+)?(?:patients?|subjects?|participants?|women|men|females?|males?)\s+(?:who\s+are\s+|aged?\s+)?$", re.I)
_AT_EVENT_AFTER = re.compile(r"\s*(?:of\s+age\s+|old\s+)?(?:at|when|upon)\s+(?:the\s+)?(?:time\s+of\s+)?(?:(?:first|initial|cancer|primary|their|her|his)\s+)*(?:diagnos\w*|onset|death|menarche|first\s+(?:birth|pregnancy|delivery))\b", re.I)
#: ", 18-80 years of age.": an age phrase opening a list item, with its age tail.
_LIST_ITEM_AGE = re.compile(r"(?<=[,;]\s)(?:\d{1,3}\s*(?:-|–|to)\s*\d{1,3}|\d{1,3})\s*(?:years?|yrs?)\s+(?:of\s+age|old)\b", re.I)
#: "Patients 59 and younger": a subject right before a unitless bound with a direction word.
_BARE_SUBJECT_BEFORE = re.compile(r"\b(?:patients?|subjects?|participants?|adults?|individuals?|persons?)\s+$", re.I)
_BARE_AGE = re.compile(r"\d{1,3}\s+(?:and|or)\s+(?:older|younger)\b", re.I)


#: "Minimum age: 18 years", "Max. age 65": a labelled limit whose label gives the direction.
_LIMIT_LABEL = re.compile(r"\b(?P<which>minimum|min\.?|lower|maximum|max\.?|upper)\s*(?:age\s+limit|age)\s*$", re.I)
_PLAIN_AGE = re.compile(rf"\s*{_NUM.format('value')}\s*{_UNIT}?(?:\s+(?:old|of\s+age))?(?=\s*(?:[.;,]|$))", re.I)
#: Who a criterion that is nothing but an age names: "Male 18-50 years", "Subjects of 40-70 years", "Patients <18".
_WHOLE_AGE_LEAD = re.compile(
    r"\s*(?P<lead>(?:(?:(?:fe)?males?|(?:wo)?m[ae]n|boys?|girls?|both\s+sexes|patients?|subjects?|participants?|adults?|individuals?|persons?|volunteers?|children|of|and|or|aged?)\b\s*[,/]?\s*)*)",
    re.I,
)
_WHOLE_AGE_END = re.compile(r"\s*(?:old|of\s+age|inclusive)?(?:[\s,]*(?:(?:fe)?males?|(?:wo)?m[ae]n|both\s+sexes|either\s+sex|and|or|/)\b)*\s*[.;]?\s*$", re.I)


def _labelled_limit(text: str, label: re.Match[str]) -> list[Finding]:
    """A bare number after "Minimum age:" / "Maximum age:" is a bound in the label's direction."""
    which = _LIMIT_LABEL.search(text[max(0, label.start() - 20):label.start() + len(label.group(0).rstrip(" :([").rstrip())])
    if which is None:
        return []
    number = _PLAIN_AGE.match(text, label.end())
    if number is None or not 0 <= float(number.group("value")) <= 120:
        return []
    comparator = ">=" if which.group("which").lower().startswith(("min", "low")) else "<="
    start = label.start() - (len(which.group(0)) - len(label.group(0).rstrip(" :([").rstrip()))
    return [Finding(kind="age", concept=_age_concept(), comparator=comparator,  # type: ignore[arg-type]
                    quantity=Quantity(float(number.group("value")), _unit(number.group("unit"))), text=text[max(0, start):number.end()].strip(), start=max(0, start))]


def _whole_age(text: str) -> list[Finding]:
    """A criterion that is nothing but an age ("18-40 years", "Over 18 years", "55 and older",
    "Male 18-50 years", "Patients <18"): with no other words, the number can only be the age limit.
    It must carry a year unit, an age direction word ("older", "younger") or a subject before it."""
    lead = _WHOLE_AGE_LEAD.match(text)
    pos = lead.end() if lead else 0
    if pos >= len(text):
        return []
    first = _age_after(text, pos, pos, require_unit=False)
    if first is None:
        return []
    found = _bounds_after(text, pos, pos, unit_required=False)
    last = found[-1]
    at = text.find(last.text, pos)
    if at < 0 or not _WHOLE_AGE_END.match(text, at + len(last.text)):
        return []
    written = text[pos:at + len(last.text)]
    years = re.search(r"\d\s*(?:years?|yrs?|y)\b", written, re.I)
    direction_word = re.search(r"\b(?:older|younger)\b", written, re.I)
    subject = bool(lead and lead.group("lead").strip()) and any(f.comparator or f.low for f in found)
    if not (years or direction_word or subject):
        return []
    if any(f.quantity is not None and f.quantity.unit not in ("a", "mo", "wk", "d") for f in found):
        return []
    return found


def _age_strata(text: str) -> bool:
    bands = {tuple(g for g in match.groups() if g) for match in _AGE_BAND.finditer(text)}
    return len(bands) > 1


def _own_age(text: str, start: int, found: list[Finding]) -> bool:
    """False when the age read at ``start`` is someone else's or the age at a past event."""
    if _OTHER_PERSON_BEFORE.search(text[max(0, start - 40):start]):
        return False
    if _SELECTS_REQUIREMENT_BEFORE.search(text[max(0, start - 60):start]):
        return False
    last = found[-1]
    at = text.find(last.text, start) if last.text else -1
    end = at + len(last.text) if at >= 0 else start
    return not _AT_EVENT_AFTER.match(text, end)


def _between_bounds(match: re.Match[str], text: str) -> list[Finding]:
    """"18 < Age < 70" → age > 18 and age < 70; "18 ≤ age ≤ 75" → the range 18-75."""
    low, high = float(match.group("low")), float(match.group("high"))
    if not 0 <= low < high <= 120:
        return []
    unit = _unit(match.group("unit"))
    span = match.group(0).strip()
    low_strict, high_strict = "=" not in match.group("c1") and "≤" not in match.group("c1"), "=" not in match.group("c2") and "≤" not in match.group("c2")
    if not low_strict and not high_strict:
        return [Finding(kind="age", concept=_age_concept(), low=Quantity(low, unit), high=Quantity(high, unit), text=span, start=match.start())]
    return [
        Finding(kind="age", concept=_age_concept(), comparator=">" if low_strict else ">=", quantity=Quantity(low, unit), text=span, start=match.start()),
        Finding(kind="age", concept=_age_concept(), comparator="<" if high_strict else "<=", quantity=Quantity(high, unit), text=span, start=match.start()),
    ]


def _bounds_after(text: str, pos: int, start: int, *, unit_required: bool) -> list[Finding]:
    """One bound or range at ``pos``, plus a second bound joined by "or"/"and" ("<18 or >35 years")."""
    first = _age_after(text, pos, start, require_unit=unit_required)
    unit_from_second = False
    if first is None and unit_required:
        first = _age_after(text, pos, start, require_unit=False)  # "below 18 and above 45 years"
        unit_from_second = first is not None
    if first is None:
        return []
    found_at = text.find(first.text, start)
    end = found_at + len(first.text) if found_at >= 0 else pos
    second_at = _SECOND_BOUND.match(text, end)
    if second_at and first.comparator is not None:
        second = _age_after(text, second_at.end(), second_at.end(), require_unit=unit_from_second)
        if second is not None and second.comparator is not None:
            unit = second.quantity.unit if second.quantity else "a"
            if first.quantity is not None and first.quantity.unit != unit and not re.search(r"\d\s*(?:years?|yrs?|months?|weeks?|days?)", first.text, re.I):
                first = first.with_(quantity=Quantity(first.quantity.value, unit))
            return [first, second]
    return [] if unit_from_second else [first]


_OF_AGE = re.compile(r"\s*(?P<cmp>over|above|older\s+than|under|below|younger\s+than)\s+(?:the\s+)?age\s+(?:of\s+)?(?P<value>\d{1,3})(?:\s*(?P<unit>years?))?(?!\s*(?:-|–|to)\s*\d)", re.I)
_OLDER_THAN = re.compile(
    r"\s*(?P<not>(?:no|not)\s+)?(?P<cmp>older|younger)\s+(?:than\s+(?P<eq1>or\s+equal\s+to\s+)?|(?P<eq2>(?:than\s+)?or\s+equal\s+to\s+))"
    r"(?P<value>\d{1,3})\s*(?P<unit>years?|yrs?|months?|mos?|weeks?|days?)?(?:\s+(?:old|of\s+age))?",
    re.I,
)


_OF_AGE_OR_OLD = re.compile(r"\s*(?:of\s+age|old)", re.I)
_COMPARED_BEFORE = re.compile(r"(?:\bthan|[<>≤≥=]|\bover|\bunder|\babove|\bbelow|\bleast|\bmost)\s*$", re.I)
_RANGE_TAIL = re.compile(r"\s*(?:(?:-|–|to|and)\s*(?P<highcmp>[<≤]\s*=?\s*)|(?:-|–|to)\s*)\d", re.I)
_NUMBER_UNIT = re.compile(rf"\s*{_NUM.format('value')}\s*(?:-(?=\s*(?:years?|months?)-?\s*old))?\s*{_UNIT}?(?:-(?=old\b))?", re.I)


def _age_after(text: str, pos: int, start: int, *, require_unit: bool) -> Optional[Finding]:
    """Read one age expression at ``pos``; with ``require_unit`` it must end in an age phrase."""
    for pattern in (_OF_AGE, _OLDER_THAN):
        phrase = pattern.match(text, pos)
        if phrase:
            older = phrase.group("cmp").lower().startswith(("over", "above", "older"))
            comparator = ">" if older else "<"
            if pattern is _OLDER_THAN:
                if require_unit and not phrase.group("unit"):
                    return None
                if phrase.group("not"):
                    comparator = "<=" if older else ">="  # "no older than 17 years" is at most 17
                elif phrase.group("eq1") or phrase.group("eq2"):
                    comparator += "="  # "older or equal to 40 years"
            value = float(phrase.group("value"))
            if not 0 <= value <= 120:
                return None
            return Finding(kind="age", concept=_age_concept(), comparator=comparator,  # type: ignore[arg-type]
                           quantity=Quantity(value, _unit(phrase.group("unit"))), text=text[start:phrase.end()].strip(), start=start)
    comparison = comparator_at(text, skip_space(text, pos))
    if comparison is not None:
        comparator, after = comparison
        number = _NUMBER_UNIT.match(text, after)
        if number is None:
            return None
        range_tail = _RANGE_TAIL.match(text, number.end())
        if range_tail and comparator in (">", ">="):
            match = _RANGE.match(text, skip_space(text, pos))
            if match:
                has_unit = bool(match.group("unit") or match.group("unit1"))
                if require_unit and not (has_unit and _AGE_TAIL.match(text, match.end())):
                    return None
                return _range_finding(match, text, start)
        tail = _AGE_TAIL.match(text, number.end()) or (number.group("unit") and _YEARS_OLD.match(number.group("unit")))
        subject_right_before = re.search(r"\b(?:patients?|subjects?|participants?|adults?|aged?)\s*(?:\(\s*)?$", text[max(0, pos - 17):pos], re.I)
        years = bool(number.group("unit")) and number.group("unit").lower().startswith("y")
        if require_unit and not (number.group("unit") and tail) and not (years and subject_right_before):
            return None
        value = float(number.group("value"))
        if not 0 <= value <= 120:
            return None
        end = number.end()
        return Finding(kind="age", concept=_age_concept(), comparator=comparator,
                       quantity=Quantity(value, _unit(number.group("unit"))), text=text[start:end].strip(), start=start)
    lead = skip_space(text, pos)
    match = _RANGE.match(text, lead)
    if match:
        has_unit = bool(match.group("unit") or match.group("unit1"))
        if not require_unit or (has_unit and (_AGE_TAIL.match(text, match.end()) or _OF_AGE_OR_OLD.match(text, match.end()))):
            return _range_finding(match, text, start)
        return None
    bound = _BOUND_AFTER.match(text, lead)
    if bound and _COMPARED_BEFORE.search(text, max(0, lead - 20), lead):
        bound = None  # "older than 18 and younger …": the number already has its direction
    if bound and (not require_unit or bound.group("unit")):
        value = float(bound.group("value"))
        direction = (bound.group("dir") or "").lower()
        comparator = "<=" if direction in ("younger", "under", "below", "less") else ">="
        if 0 <= value <= 120:
            return Finding(kind="age", concept=_age_concept(), comparator=comparator,  # type: ignore[arg-type]
                           quantity=Quantity(value, _unit(bound.group("unit"))), text=text[start:bound.end()].strip(), start=start)
    return None


def _gender(code: str) -> Concept:
    return Concept(system_url("gender"), code, code.capitalize())


def understand_sex(text: str) -> list[Finding]:
    """A sex restriction, only when the criterion states who may enrol."""
    text = _CONTEXT_LABEL.sub("", text, count=1)  # "PATIENT CHARACTERISTICS: Sex: Female" is "Sex: Female"
    label = _SEX_LABEL.match(text)
    if label:
        # NCI items run labels together: "Sex: Female Menopausal Status: Not specified"
        value = _NEXT_LABEL.split(label.group("value"))[0].rstrip(" .").lower()
        if re.fullmatch(r"(?:women|female|females)(?:\s+only)?|female\s+patients?", value):
            return [_sex_finding("female", text)]
        if re.fullmatch(r"(?:men|male|males)(?:\s+only)?|male\s+patients?", value):
            return [_sex_finding("male", text)]
        return []
    if _BOTH.search(text[:80]):
        return []
    match = _SEX_SUBJECT.match(text.strip())
    if not match:
        return []
    word = match.group("sex").lower()
    code = "female" if word.startswith(("wom", "fem", "girl")) else "male"
    if match.group("tail").lower().startswith("with") and not re.search(r"\bage[ds]?\b|\d", text[:60]):
        return []
    return [_sex_finding(code, text[:match.end()].strip())]


def _sex_finding(code: str, span: str) -> Finding:
    return Finding(kind="sex", concept=concept("demographics", "sex"), values=(_gender(code),), text=span)
