"""Laboratory thresholds: "Platelet count ≥ 100 × 10^9/L", "ALT and AST ≤ 3 × ULN (≤ 5 × ULN if liver
metastases)", "Creatinine clearance > 30 ml/min".

How a criterion is read:

1. find every mention of a known test (``concepts.json`` → labs), merging a name with its
   abbreviation in brackets ("White blood cell count (WBC)");
2. mentions joined only by "and", "/", "," or "or" with no value between share the value that
   follows ("ALT and AST ≤ 3 ULN" → both; "and" gives an AND combination, "or" an OR);
3. the value must follow within a short gap without a clause break, or the mention is dropped;
4. a condition in front ("if liver metastases are present, ALT … ≤ 5 ULN", "for patients with
   Gilbert syndrome, total bilirubin ≤ 3 ULN") or behind ("≤ 5 × ULN in patients with liver
   metastases") is kept as text on the finding, and a conditional alternative value right after
   the first ("≤ 1.5 × ULN (≤ 3 × ULN for Gilbert's)") becomes a second, conditional finding;
5. the value is checked for plausibility against the test's usual units and ranges; an implausible
   value is kept exactly as written and flagged ("Hemoglobin ≥ 8 g/L: probably g/dL").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Optional

from .findings import Finding, Quantity, combine
from .prefilter import Haystack, LiteralIndex
from .tables import LabSpec, lab_groups, lab_specs
from .units import Value, second_bound, value_at


@dataclass(frozen=True)
class Mention:
    spec: LabSpec
    start: int
    end: int


_GAP_FORBIDDEN = re.compile(r"[;]|\.\s|\bwithin\s+normal|\bWNL\b|\bnormal\s+(?:range|limits?)\b(?!\s+of)", re.I)
_JOINER = re.compile(r"\s*(?:\([^()]{1,25}\)\s*)?(?P<op>,?\s*and/or\s+|,?\s*and\s+|,?\s*or\s+|\s*/\s*|\s*,\s*|\s*、\s*|\s*&\s*)", re.I)

_CONDITION_PHRASE = (
    r"(?:if|when|for|in)\s+(?:the\s+)?(?:patients?|subjects?|participants?|cases?|those|presence|case)?"
    r"[^,;()（）]{0,70}?(?:metasta\w*|involvement|Gilbert'?s?(?:\s+(?:syndrome|disease))?|disease|present|tumou?r\s+infiltration|\d+\s*kg"
    r"|above\s+(?:the\s+)?(?:institutional\s+)?(?:normal|ULN|upper\s+limit\s+of\s+normal))"
)
_CONDITION_BEFORE = re.compile(rf"(?:^|[,;(（]\s*|\b)(?P<cond>{_CONDITION_PHRASE})\s*[,:]?\s*$", re.I)
_CONDITION_AFTER = re.compile(
    rf"(?:\s*[(（][^()（）]{{0,20}}[)）])?\s*[(（,]?\s*(?:[^;()（）\d<>≤≥]{{0,60}}?\s)?(?P<cond>{_CONDITION_PHRASE})"
    r"(?P<rest>[^;.()（）,]{0,40}?(?:\s*[,)）;.]|\s*$|\s+(?:and|or|however)\b))",
    re.I,
)
#: "(tumor liver metastasis ≥ 5×ULN)": a condition named first inside the bracket, then its value.
_CONDITION_IN_BRACKET = re.compile(r"\s*[(（]\s*(?P<cond>[^()（）≥≤<>=\d]{3,60}?(?:metasta\w*|Gilbert'?s?(?:\s+(?:syndrome|disease))?))\s*", re.I)
#: NCI tables give thresholds per treatment course: "Course I: … Courses II-IV: …".
_COURSE_LABEL = re.compile(r"\bCourses?\s+[IVX\d]+(?:\s*[-–]\s*[IVX\d]+)?\s*:", re.I)
#: A subordinate clause is background, not a threshold: "… when the platelet count is above ULN".
_SUBORDINATE = re.compile(r"\b(?:when|whenever|where)\s+(?:the\s+)?$", re.I)
_PAREN_CONDITION = re.compile(rf"\s*(?P<cond>{_CONDITION_PHRASE})\s*,", re.I)
_SEX_CONDITION = re.compile(r"\s*(?P<cond>(?:in|for)\s+(?:(?:fe)?males?|(?:wo)?men)(?:\s+(?:subjects?|patients?|participants?))?)\b", re.I)
#: "Total bilirubin: Men: ≤ 1.5 mg/dl: Women: ≤ 1.3 mg/dl": a sex label in front of a value.
_SEX_LABEL = re.compile(r"\s*[:;,]?\s*(?P<label>(?:fe)?males?|(?:wo)?men)\s*:\s*", re.I)
#: "(i.e., neutrophil count less than 500/mm3)": a definition in brackets, not a threshold.
_DEFINITION_BRACKET = re.compile(r"[(（\[]\s*(?:i\.?\s?e\.?|e\.?\s?g\.?|defined\s+as|such\s+as)[,:]?\s+[^()（）\[\]]*$", re.I)
#: "Expected to develop neutropenia (ANC < 500 cells/μL)": the value defines a future or feared state.
_EXPECTED_BRACKET = re.compile(r"\b(?:expected|anticipated|likely|predicted|at\s+risk|risk\s+of|develop(?:s|ing)?)\b[^.;()（）\[\]]{0,60}[(（\[]\s*$", re.I)
_SYNONYM_LIST = re.compile(r"(?P<names>(?:\s*(?:\bor\b|/|,)\s*[A-Za-zγ][\w.-]{1,12}){1,3})\s*[)\]]")
#: A condition naming the default case ("in the absence of liver metastases", "for patients without
#: liver involvement") is no restriction: the threshold is the general one, and the alternative for
#: the special case carries the condition.
_DEFAULT_CASE = re.compile(r"\b(?:absence|absent|without|no|not|non)\b", re.I)
_ALTERNATIVE = re.compile(r"\s*(?:\(|,|;|or\b|and\b)\s*(?:or\s+)?", re.I)


#: A test name that is really part of something else: urine creatinine ratios, HbA1c, "anti-platelet".
#: "No history of congestive heart failure unless ejection fraction at least 40%": a value inside an
#: "unless" clause is the exception to another requirement, not a requirement of its own.
_UNLESS_BEFORE = re.compile(r"\bunless\b[^;.()]*$", re.I)
_NOT_THE_TEST_BEFORE = re.compile(r"(?:\b(?:urin(?:e|ary)|CSF|spinal\s+fluid|glyc(?:at|osyl)ated|protein\s+to)\s+(?:\w+\s+){0,2}|\banti-?\s*)$", re.I)
_NOT_THE_TEST_AFTER = re.compile(r"^\s*(?:A1c|A1C|A\s*1\s*c|ratio|/\s*creatinine|to\s+creatinine|disorders?|transfusions?|aggregation|inhibitors?|agents?)", re.I)


_TOTAL_BILIRUBIN = re.compile(r"total\s+bilirubin", re.I)


def _plain_bilirubin_is_ambiguous(text: str, spec: LabSpec, start: int, end: int, first_total: list[int]) -> bool:
    """After "total bilirubin" has been named, a bare "bilirubin" means another fraction (usually direct).

    ``first_total`` caches where the first "total bilirubin" ends (searched once per text, not from
    the start for every mention: a match ending by ``start`` exists iff the first one does)."""
    if spec.key != "bilirubin" or re.search(r"total|T\.?\s?BIL", text[start:end], re.I):
        return False
    if not first_total:
        first = _TOTAL_BILIRUBIN.search(text)
        first_total.append(first.end() if first else len(text) + 1)
    return first_total[0] <= start


@lru_cache(maxsize=1)
def _by_key() -> dict[str, LabSpec]:
    return {spec.key: spec for spec in lab_specs()}


@lru_cache(maxsize=1)
def _indexes() -> tuple[LiteralIndex, LiteralIndex]:
    """Literal indexes of the group names and of the tests (built once, on first use)."""
    return LiteralIndex([pattern for pattern, _ in lab_groups()]), LiteralIndex([spec.pattern for spec in lab_specs()])


def mentions(text: str) -> list[Mention]:
    """Every test mention, earliest first; a bracketed abbreviation of the same test is not a second one."""
    found: list[Mention] = []
    specs = _by_key()
    first_total: list[int] = []
    haystack = Haystack(text)
    groups, specs_in_order = lab_groups(), lab_specs()
    group_index, spec_index = _indexes()
    for index in group_index.candidates(haystack):  # groups and tests none of whose words occur are never run
        pattern, keys = groups[index]
        for match in pattern.finditer(text):
            for key in keys:
                found.append(Mention(specs[key], match.start(), match.end()))
    for index in spec_index.candidates(haystack):
        spec = specs_in_order[index]
        for match in spec.pattern.finditer(text):
            if _SUBORDINATE.search(text[max(0, match.start() - 20):match.start()]):
                continue
            if _DEFINITION_BRACKET.search(text[max(0, match.start() - 60):match.start()]):
                continue
            if _EXPECTED_BRACKET.search(text[max(0, match.start() - 90):match.start()]):
                continue
            if _NOT_THE_TEST_BEFORE.search(text[max(0, match.start() - 30):match.start()]):
                continue
            if _NOT_THE_TEST_AFTER.search(text[match.end():match.end() + 20]):
                continue
            if _plain_bilirubin_is_ambiguous(text, spec, match.start(), match.end(), first_total):
                continue
            found.append(Mention(spec, match.start(), match.end()))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    merged: list[Mention] = []
    for mention in found:
        if merged and mention.start == merged[-1].start and mention.end == merged[-1].end and mention.spec.key != merged[-1].spec.key:
            merged.append(mention)  # a group name ("transaminases") stands for several tests at once
            continue
        if merged and mention.start < merged[-1].end:
            continue  # overlapping names: keep the longer, earlier one
        if merged and merged[-1].spec.key == mention.spec.key and re.fullmatch(r"\s*[(\[][^()\[\]]{0,60}?[(\[]?\s*", text[merged[-1].end:mention.start]):
            # "Aspartate aminotransferase (AST)", "(serum glutamic-oxaloacetic transaminase [SGOT])": the
            # bracketed synonym is the same mention; it ends where the bracket closes
            close = re.compile(r"[^()\[\]]{0,5}[)\]](?:\s*[)\]])?").match(text, mention.end)
            if close is None:
                # "(AST or SGOT)": more synonyms of the same test, joined by "or", "/" or ",", close the bracket
                listed = _SYNONYM_LIST.match(text, mention.end)
                if listed and all(mention.spec.pattern.fullmatch(name) for name in re.split(r"\s*(?:\bor\b|/|,)\s*", listed.group("names").strip()) if name):
                    close = listed
            merged[-1] = Mention(mention.spec, merged[-1].start, close.end() if close else mention.end)
            continue
        merged.append(mention)
    return merged


def _value_after(text: str, pos: int, limit: int, reach: int = 45) -> Optional[Value]:
    """The value expression after a test name, allowing a short gap of words but no clause break.

    Tried at every word start in the gap, nearest first; a digit or comparator in the gap that
    did not start a value ends the search (it belongs to something else).
    """
    stop = min(limit, pos + reach, len(text))
    for candidate in range(pos, stop + 1):
        if candidate < len(text) and candidate > pos and not (text[candidate - 1] in " (:\t" or text[candidate - 1] == "-"):
            if not re.match(r"[<>≤≥⩽⩾≦≧=]", text[candidate:candidate + 1]):
                continue
        if _GAP_FORBIDDEN.search(text[pos:candidate]):
            return None
        value = value_at(text, candidate)
        if value is not None:
            return value
        if re.match(r"[\d<>≤≥⩽⩾≦≧]", text[candidate:candidate + 1]):
            return None
    return None


def _plausibility(spec: LabSpec, value: Value) -> tuple[str, ...]:
    """Warnings for values that cannot be meant as written (kept as written all the same)."""
    if value.uln:
        return ()
    quantity = value.quantity or value.low or value.high
    if quantity is None:
        return ()
    warnings: list[str] = []
    unit = quantity.unit
    if unit is None:
        if not spec.unitless:
            warnings.append(f"{spec.short}: no unit stated")
        return tuple(warnings)
    if spec.units and unit not in spec.units:
        warnings.append(f"{spec.short}: unit {quantity.written or unit} is unusual for this test")
        return tuple(warnings)
    bounds = spec.plausible.get(unit)
    if bounds and not bounds[0] <= quantity.value <= bounds[1]:
        hint = _probable_unit(spec, quantity.value, unit)
        message = f"{spec.short} {quantity.value:g} {quantity.written or unit} is implausible"
        warnings.append(f"{message}; probably {hint}" if hint else message)
    return tuple(warnings)


def _probable_unit(spec: LabSpec, number: float, unit: str) -> Optional[str]:
    """Which of the test's other units would make the number plausible ("8 g/L" → "g/dL")."""
    for other, (low, high) in spec.plausible.items():
        if other != unit and other and low <= number <= high:
            return other
    return None


_ANOTHER_METHOD = re.compile(r"\b(?:measured|calculated|estimated)\s+or\b|\bor\s+(?:calculated|estimated|measured)\b|\b(?:MDRD|CKD-?EPI)\b", re.I)


def _specific_concept(spec: LabSpec, text: str, mention: Mention) -> Finding:
    """Pick a more specific code where the text says how it was measured (Cockcroft-Gault, 24 h urine)."""
    window = text[mention.start:mention.end + 60]
    matched = [concept for pattern, concept in spec.variants if pattern.search(window)]
    # "as measured or calculated by Cockcroft-Gault", "Cockcroft-Gault or 24-hour urine": more than
    # one method is allowed, so only the general code is right
    if len(matched) == 1 and not _ANOTHER_METHOD.search(window):
        return Finding(kind="lab", concept=matched[0])
    return Finding(kind="lab", concept=spec.concept)


#: Cell counts written without a unit ("platelets > 100,000", "ANC ≥ 1500"): a number of that size can
#: only be per microlitre (= per mm³), so the unit is read as /uL.
_COUNTS = ("platelets", "anc", "wbc", "lymphocytes", "cd4")


#: Tests whose usual units give the same number (eGFR in mL/min or mL/min/1.73 m²): the normalised one.
_SAME_SCALE = {"egfr": "mL/min/{1.73_m2}"}


def _assume_unit(spec: LabSpec, value: Value) -> tuple[Value, Optional[str]]:
    """A value written without a unit gets the one unit it can mean: the test's only unit (BMI →
    kg/m2, LVEF → %), or /uL for a cell count of 100 or more; only when the number is plausible in it."""
    quantity = value.quantity or value.low or value.high
    if value.uln or quantity is None or quantity.unit is not None or spec.unitless:
        return value, None
    unit = spec.units[0] if len(spec.units) == 1 else ("/uL" if spec.key in _COUNTS and quantity.value >= 100 else None)
    if unit is None and spec.key in _SAME_SCALE:
        unit = _SAME_SCALE[spec.key]
    bounds = spec.plausible.get(unit) if unit else None
    numbers = [q.value for q in (value.quantity, value.low, value.high) if q is not None]
    if unit is None or bounds is None or not all(bounds[0] <= n <= bounds[1] for n in numbers):
        return value, None
    with_unit = {name: replace(q, unit=unit) for name in ("quantity", "low", "high") if (q := getattr(value, name)) is not None}
    return replace(value, **with_unit), f"unit not written; read as {unit}"


def _leaf(spec: LabSpec, base: Finding, value: Value, text: str, start: int, condition: Optional[str]) -> Finding:
    value, note = _assume_unit(spec, value)
    return base.with_(
        note=note,
        comparator=value.comparator,
        quantity=value.quantity,
        low=value.low,
        high=value.high,
        uln=value.uln,
        condition=condition,
        warnings=_plausibility(spec, value),
        text=text,
        start=start,
    )


def _group(text: str, ms: list[Mention], index: int) -> tuple[list[Mention], str]:
    """Mentions from ``index`` that share one value, and the operator joining them."""
    group = [ms[index]]
    operator = "AND"
    while index + 1 < len(ms):
        if ms[index + 1].start == group[-1].start:
            group.append(ms[index + 1])
            index += 1
            continue
        between = text[group[-1].end:ms[index + 1].start]
        joiner = _JOINER.fullmatch(between)
        if not joiner:
            break
        if "or" in joiner.group("op").lower().split() and "and/or" not in joiner.group("op").lower():
            operator = "OR"
        group.append(ms[index + 1])
        index += 1
    return group, operator


def _condition_before(text: str, start: int) -> Optional[str]:
    """"for patients with hepatic metastases, AST … ≤ 5 × ULN": a condition leading the clause."""
    head = text[max(0, start - 90):start]
    head = re.split(r"[;]|\)\s|\.\s", head)[-1]
    match = _CONDITION_BEFORE.search(head)
    return match.group("cond").strip() if match else None


def _paren_condition(text: str, pos: int) -> Optional[str]:
    """The condition opening the bracket that holds ``pos``: "(if liver metastases are present, ALT …)"."""
    depth = 0
    for index in range(pos - 1, max(0, pos - 300) - 1, -1):
        char = text[index]
        if char in ")）":
            depth += 1
        elif char in "(（":
            if depth == 0:
                match = _PAREN_CONDITION.match(text, index + 1)
                return match.group("cond").strip() if match and match.end() <= pos else None
            depth -= 1
    return None


def _condition_after(text: str, end: int, next_mention: int) -> tuple[Optional[str], int]:
    """A condition closing the clause: "≤ 5 × ULN in patients with liver metastases".

    A condition followed by a comma and another test ("(if liver metastases are present, ALT and
    AST ≤ 5 ULN)") leads the next value instead, so it is not taken here.
    """
    match = _CONDITION_AFTER.match(text, end)
    if match:
        if match.group("rest").rstrip().endswith(",") and next_mention - match.end() < 25:
            return None, end
        return match.group("cond").strip(), match.end("cond")
    sex = _SEX_CONDITION.match(text, end)
    if sex:
        return sex.group("cond").strip(), sex.end()
    return None, end


_CLAUSE_STOP = re.compile(r"[;.()]")
_UNLESS = re.compile(r"\bunless\b", re.I)
_SENTENCE_STOP = re.compile(r"[;.]\s")


class _Positions:
    """Where the clause stops, "unless" words, sentence stops and course labels are in one text,
    found once so that each lab mention looks back by bisection instead of searching from the start
    of the text (which made long criteria quadratic)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stops = [m.start() for m in _CLAUSE_STOP.finditer(text)]
        self.unless = [m.start() for m in _UNLESS.finditer(text)]
        self.sentence_stops = [m.start() for m in _SENTENCE_STOP.finditer(text)]
        courses = list(_COURSE_LABEL.finditer(text))
        self.course_ends = [m.end() for m in courses]
        self.courses = [m.group(0) for m in courses]
        self._starts: Optional[list[int]] = None

    def unless_before(self, start: int) -> Optional[int]:
        """Where ``_UNLESS_BEFORE.search(text, 0, start)`` would match, without scanning from 0: an
        "unless" after the last ``;.()`` before ``start`` (nothing of the pattern can cross one)."""
        stop = bisect_left(self.stops, start)
        floor = self.stops[stop - 1] + 1 if stop else 0
        index = bisect_left(self.unless, floor)
        while index < len(self.unless) and self.unless[index] < start:
            at = self.unless[index]
            if _UNLESS_BEFORE.match(self.text, at, start):
                return at
            index += 1
        return None

    def mention_starts(self, ms: list[Mention]) -> list[int]:
        if self._starts is None:
            self._starts = [m.start for m in ms]
        return self._starts

    def sentence_stop_between(self, start: int, end: int) -> bool:
        """Whether ``re.search(r"[;.]\\s", text[start:end])`` would match, by bisection."""
        index = bisect_left(self.sentence_stops, start)
        return index < len(self.sentence_stops) and self.sentence_stops[index] + 2 <= end

    def last_course(self, start: int) -> Optional[str]:
        """The last course label ending by ``start`` (each ends at its colon, so none is cut by ``start``)."""
        index = bisect_right(self.course_ends, start)
        return self.courses[index - 1] if index else None


def _follows_own_lab(positions: _Positions, ms: list[Mention], unless: int) -> bool:
    """True when the "unless" clause at ``unless`` follows a lab value of its own clause ("≤ ULN
    unless … bilirubin elevation (≤ 1.5 × ULN)"): then it is that lab's alternative, read elsewhere.
    The nearest mention before it is the one to check: a stop after an earlier one is also after it."""
    index = bisect_left(positions.mention_starts(ms), unless)
    return index > 0 and not positions.sentence_stop_between(ms[index - 1].start, unless)


def _two_bounds(mention: Mention, base: Finding, text: str, first: Value, second: tuple[str, Value]) -> Finding:
    """"BMI < 20 or > 35 kg/m2": one test, two bounds facing apart (either) or enclosing (both); a unit
    written only after the second bound is the first one's too."""
    operator, other = second
    if first.quantity is not None and first.quantity.unit is None and other.quantity is not None and other.quantity.unit:
        first = replace(first, quantity=Quantity(first.quantity.value, other.quantity.unit, other.quantity.written))
    span = text[mention.start:other.end]
    leaves = [_leaf(mention.spec, base, first, span, mention.start, None), _leaf(mention.spec, base, other, span, other.start, None)]
    return combine(operator, leaves, span, mention.start)  # type: ignore[arg-type]


def understand_labs(text: str) -> list[Finding]:
    """All laboratory findings in one criterion's text, in reading order."""
    ms = mentions(text)
    positions = _Positions(text)
    findings: list[Finding] = []
    index = 0
    while index < len(ms):
        group, operator = _group(text, ms, index)
        index += len(group)
        limit = ms[index].start if index < len(ms) else len(text)
        value = _value_after(text, group[-1].end, limit)
        if value is None:
            continue
        unless = positions.unless_before(group[0].start)
        if unless is not None and not _follows_own_lab(positions, ms, unless):
            continue
        bases = [(m, _specific_concept(m.spec, text, m)) for m in group]
        span = text[group[0].start:value.end]
        course = positions.last_course(group[0].start)
        if course is not None:
            course = course.rstrip(": ")
        sex_label = _SEX_LABEL.fullmatch(text, group[-1].end, value.start) if group[-1].end < value.start else None
        if sex_label:
            course = sex_label.group("label").lower()
        before = _condition_before(text, group[0].start) or _paren_condition(text, group[0].start) or (f"for {course}" if course else None)
        if sex_label:
            before = f"for {sex_label.group('label').lower()}"
        after, after_end = _condition_after(text, value.end, limit)
        condition = before or after
        default_case = None
        if condition and _DEFAULT_CASE.search(condition):
            # "< 2.5 × ULN in the absence of liver metastases, or < 5 × ULN in their presence"
            default_case, condition = condition, None
        second = second_bound(text, value) if len(group) == 1 and not condition and value.end < limit else None
        if second is not None and second[1].end <= limit:
            findings.append(_two_bounds(group[0], bases[0][1], text, value, second))
            continue
        gap = text[group[-1].end:value.start]
        gap = gap if re.search(r"\w", gap) else None  # words between the name and its value: for the gate to read
        leaves = [_leaf(m.spec, base, value, span, m.start, None).with_(gap=gap) for m, base in bases]
        findings.append(combine(operator, leaves, span, group[0].start).with_(condition=condition, default_case=default_case)
                        if len(leaves) > 1 else leaves[0].with_(condition=condition, default_case=default_case))
        # a conditional alternative right after: "≤ 1.5 × ULN (≤ 3 × ULN for Gilbert's syndrome)"
        # or "> 3 × ULN (tumor liver metastasis ≥ 5×ULN)" or "Men: ≤ 1.5 mg/dl: Women: ≤ 1.3 mg/dl"
        alt_start = _ALTERNATIVE.match(text, after_end)
        named_first = _CONDITION_IN_BRACKET.match(text, after_end) or (_SEX_LABEL.match(text, after_end) if sex_label else None)
        if named_first and after_end < limit:
            alternative = value_at(text, named_first.end())
            if alternative is not None and alternative.end <= limit:
                alt_span = text[alternative.start:alternative.end]
                alt_leaves = [_leaf(m.spec, base, alternative, alt_span, alternative.start, None) for m, base in bases]
                alt_condition = (named_first.groupdict().get("cond") or f"for {named_first.group('label').lower()}").strip()
                findings.append(
                    combine(operator, alt_leaves, alt_span, alternative.start).with_(condition=alt_condition)
                    if len(alt_leaves) > 1 else alt_leaves[0].with_(condition=alt_condition)
                )
        elif alt_start and after_end < limit:
            alternative = value_at(text, alt_start.end())
            if alternative is not None and alternative.end <= limit:
                alt_condition, _ = _condition_after(text, alternative.end, limit)
                if alt_condition and alt_condition != condition:
                    alt_span = text[alternative.start:alternative.end]
                    alt_leaves = [_leaf(m.spec, base, alternative, alt_span, alternative.start, None) for m, base in bases]
                    findings.append(
                        combine(operator, alt_leaves, alt_span, alternative.start).with_(condition=alt_condition)
                        if len(alt_leaves) > 1 else alt_leaves[0].with_(condition=alt_condition)
                    )
    return findings
