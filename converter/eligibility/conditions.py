"""Conditions: pregnancy and breastfeeding, brain metastases, other malignancy (within N years), HIV,
hepatitis B/C, heart failure with NYHA class, myocardial infarction.

Each condition is a table row: a pattern for its mention, optional patterns that disqualify a
mention (a *pregnancy test* is not a pregnancy; *HIV-uninfected partner* is not an HIV infection),
and whether a time window right after it belongs to it ("malignancy within 5 years"). Negation is
read from the words just before the mention within the same clause ("No", "Without", "negative
for") or right after it ("HIV negative", "not pregnant"). Leptomeningeal and CNS metastases are
recognised by nobody here on purpose: no verified code exists in ``concepts.json``.

HIV and hepatitis B/C are often named as tests ("Negative HIV test", "hepatitis B surface antigen
status required"): the test's result gives the polarity, and a test named without a result gives
no finding. "At least 6 months since prior myocardial infarction" is read as none within 6 months,
and "other malignancy unless disease-free for ≥ 5 years" as malignancy within 5 years.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from .findings import Concept, Finding
from .prefilter import Haystack, LiteralIndex
from .tables import concept
from .timewindows import bracket_window, disease_free_window, since_window, window_at


@dataclass(frozen=True)
class ConditionRule:
    key: str
    mention: re.Pattern[str]
    reject_before: Optional[re.Pattern[str]] = None
    reject_after: Optional[re.Pattern[str]] = None
    windowed: bool = False
    kind: str = "condition"  # or "treatment" for the treatment and procedure classes of events.json
    group: str = "conditions"  # the table the code comes from


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


#: Words allowed between "other"/"prior"/… and "malignancy": qualifiers ("other invasive
#: malignancy", "prior active cancer"), not a conjunction that starts a second noun ("co-existing
#: malignancies or malignancies diagnosed …"), not a treatment ("active treatment for cancer"), and not
#: an organ or tissue that makes it a subtype ("other pelvic malignancies", "other hematologic
#: malignancy"), which is not generic malignancy.
_MALIGNANCY_FILLER = (
    r"(?:(?!(?:or|and|nor|malignan\w*|cancers?|treatments?|therap\w*|chemo\w*|radio\w*|radiation|irradiation|surgery|drugs?|medications?|for"
    r"|pelvic|h(?:a)?ematolog\w*|gyn(?:a)?ecolog\w*|lymphoid|lymphoproliferative|myeloid|blood|skin|solid|breast|lung|prostat\w*"
    r"|colorectal|colon|gastric|gastrointestinal|liver|hepatic|thyroid|cervical|ovarian|uterine|renal|bladder|brain|cns|head)\b)\w+\s+){0,2}"
)

RULES: tuple[ConditionRule, ...] = (
    ConditionRule(
        "pregnancy",
        _rx(r"\bpregnan(?:t|cy|cies)\b"),
        reject_before=_rx(r"\b(?:avoid(?:ing)?|prevent(?:ing|ion)?|become|becomes|becoming|get(?:s|ting)?|got|time\s+of|planning|plans?|intend(?:s|ing)?|potential|childbearing|during|risk|cause|causing|after|until|throughout|while|prior|contracept\w*|of\s+a|desire|wish(?:es)?|wanting|want)\s+(?:\w+\s+){0,2}$"),
        reject_after=_rx(r"^\s*(?:tests?|testing|screen|during|while|potential|prevention|outcomes?|registry|category|specific|partners?|spouses?)|^(?:\s+(?:or|and|/)?\s*\w+){0,3}\s+partners?\b"),
    ),
    ConditionRule(
        "breastfeeding",
        _rx(r"\blactat(?:ing|ion)\b|\bbreast[- ]?feed(?:ing|s)?\b|\bnursing(?=\s+(?:mothers?|women|females?|patients?)|\s*(?:women|mothers)?\s*(?:[.;,)]|$))|(?<=pregnant or )nursing\b|(?<=pregnant, )nursing\b|(?<=pregnant and )nursing\b"),
        reject_before=_rx(r"\b(?:refrain(?:ing)?\s+from|stop(?:ping)?|discontinu\w*|avoid(?:ing)?|agree\s+(?:to\s+)?(?:not\s+)?|not\s+to|plan(?:s|ning)?\s+to|intend\w*\s+to|during|cessation\s+of)\s+(?:\w+\s+){0,1}$"),
        reject_after=_rx(r"^\s*(?:homes?|staff|care|facilit|during|while|throughout|until|for\s+the\s+duration)"),
    ),
    ConditionRule(
        "brain_metastases",
        _rx(r"\bbrain\s+metasta(?:sis|ses|tic\s+disease)\b|\bbrain(?:\s*,\s*[a-z]+)*,?\s+(?:and/or|or|and)\s+[a-z]+\s+metasta(?:sis|ses)\b|\bbrain\s+mets\b|\bmetasta(?:sis|ses|tic\s+disease)\s+(?:to|in|of)\s+the\s+brain\b|\bcerebral\s+metasta(?:sis|ses)\b|\bintracranial\s+metasta(?:sis|ses)\b|\bmetastatic\s+brain\s+(?:disease|tumou?rs?|lesions?)\b"),
    ),
    ConditionRule(
        "malignancy",
        _rx(
            r"\b(?:(?:other|another|second|prior|previous|concurrent|additional|secondary|separate|coexisting|co-existing|active|current)\s+"
            rf"{_MALIGNANCY_FILLER}"
            r"(?:malignan(?:cy|cies|t\s+(?:tumou?rs?|diseases?|neoplasms?|neoplasias?))|cancers?|primary\s+(?:cancers?|malignan(?:cy|cies)|tumou?rs?))"
            r"|history\s+of\s+(?:an?(?:nother)?\s+|other\s+)?(?:malignan(?:cy|cies|t\s+(?:tumou?rs?|diseases?|neoplasms?))|cancer)"
            r"|malignan(?:cy|cies)\s+(?=(?:\w+\s+){0,2}within\b)"
            # "known malignancy other than skin cancer", "presence of cancer other than prostate cancer":
            # a generic noun (not "breast cancer other than DCIS") that the text itself calls another one
            r"|(?:(?<=\bany\s)|(?<=\bknown\s)|(?<=\bof\s)|(?<=\bwith\s)|(?<=\bno\s)|(?<=\bhave\s)|(?<=\bhas\s)|(?<=\bor\s)|(?<=,\s)|(?<=^))"
            r"(?:malignan(?:cy|cies)|cancers?)(?=\s+other\s+than\b))"
        ),
        reject_after=_rx(r"^\s*(?:of\s+the\s+(?:breast|prostate|lung)|therapy|treatment|drugs?)"),
        windowed=True,
    ),
    ConditionRule(
        "hiv",
        _rx(r"\bHIV(?:-?[12])?\b|\bhuman\s+immunodeficiency\s+virus\b|(?-i:\bAIDS\b)(?!-)"),  # "erectile aids", "hearing aids" are not AIDS
        reject_after=_rx(r"^\s*(?:\(HIV\)\s*)?(?:-\s*)?(?:uninfected|acquisition|prevention|vaccin\w*|risk|prophyla\w*|RNA|viral\s+load|associated|related|positive\s+partners?|test(?:ing)?\s+(?:is\s+)?not\s+required|transmission|PrEP|status\b(?!\s*(?:[-:]\s*)?(?:negative|positive)))"),
        reject_before=_rx(r"\b(?:risk\s+of|low\s+risk\s+of|prevent(?:ion|ing)?\s+of|partners?\s+(?:with|of))\s+(?:\w+\s+){0,1}$"),
    ),
    ConditionRule(
        "hepatitis_b",
        _rx(r"\bhepatitis\s+B\b(?!\s*(?:surface\s+antibod|core\s+antibod|vaccin|immuni|antibod))|\bHBV\b(?![- ]?DNA)(?!\s*(?:vaccin|antibod))|\bHBsAg\b"
            r"|(?:(?<=hepatitis C or )|(?<=hepatitis C and )|(?<=hepatitis C/)|(?<=hepatitis C, ))B\b(?!\s*(?:surface\s+antibod|core\s+antibod|vaccin|immuni|antibod))"),
        reject_after=_rx(r"^\s*(?:vaccin\w*|immuni\w*|core\s+antibod\w*|surface\s+antibod\w*|antibod\w*|DNA)"),
    ),
    ConditionRule(
        "hepatitis_c",
        _rx(r"\bhepatitis\s+C\b|\bHCV\b(?![- ]?RNA)|(?:(?<=hepatitis B and )|(?<=hepatitis B or )|(?<=hepatitis B/)|(?<=hepatitis B, ))C\b"),
        reject_after=_rx(r"^\s*(?:antibod\w*|Ab\b|RNA)"),
    ),
    ConditionRule("congestive_heart_failure", _rx(r"\bcongestive\s+(?:heart|cardiac)\s+failure\b|\bCHF\b"), windowed=True),
    ConditionRule("heart_failure", _rx(r"(?<!congestive\s)\b(?:heart|cardiac)\s+failure\b"), windowed=True),
    ConditionRule(
        "myocardial_infarction",
        _rx(r"\bmyocardial\s+infarctions?\b|\bAMI\b|\bheart\s+attacks?\b"),
        windowed=True,
    ),
)


def _table_rules() -> tuple[ConditionRule, ...]:
    """Rules for the conditions and treatment classes of ``conditions.json`` / ``events.json`` that
    the hand-written rules above do not already cover (those keep their finer context handling)."""
    from .tables import conditions_table, events_table

    known = {rule.key for rule in RULES}
    out = []
    for group, table, kind in (("conditions", conditions_table(), "condition"), ("events", events_table(), "treatment")):
        for key, entry in table.items():
            if key in known or "code" not in entry or not entry.get("patterns"):
                continue
            out.append(ConditionRule(
                key,
                re.compile("|".join(f"(?:{p})" for p in entry["patterns"]), re.I),
                reject_before=_rx(entry["reject_before"]) if entry.get("reject_before") else None,
                reject_after=_rx(entry["reject_after"]) if entry.get("reject_after") else None,
                windowed=bool(entry.get("windowed", kind == "treatment")),
                kind=kind,
                group=group,
            ))
    return tuple(out)


RULES = RULES + _table_rules()

#: A mention that names what a treatment was for ("radiotherapy for brain metastasis", "treatment for
#: congestive cardiac failure", "oxygen to manage a chronic pulmonary condition or heart failure"), what
#: symptoms relate to ("symptoms related to heart failure") or what a prognosis is about ("survival
#: with HIV") says nothing about whether the condition must be present. The words between may run
#: over a short "or"/"and" list, but not over a word that starts a statement of its own ("history",
#: "known", "prior", "with" …).
_ABOUT_FILLER = r"(?:the\s+|an?\s+)?(?:(?!(?:history|known|prior|previous|diagnos\w*|with|has|have|had|no|not|current\w*|active|recent)\b)[\w-]+\s+){0,4}"
_ABOUT_LIST = rf"(?:(?:and\s*/\s*or|and\s+or|or|and)\s+(?:other\s+)?{_ABOUT_FILLER})?"
_TREATED_FOR = re.compile(
    r"(?:\b(?:treatment|therapy|therapies|medications?|drugs?|radiotherapy|radiation|irradiation|surgery|resection|prophylaxis|vaccin\w*|screening)\s+(?:for|of|to|against)\s+"
    rf"{_ABOUT_FILLER}{_ABOUT_LIST}"
    rf"|\b(?:to\s+)?(?:treat|treats|treating|manage|manages|managing|control|controls|controlling)\s+{_ABOUT_FILLER}{_ABOUT_LIST}"
    r"|\b(?:symptoms?|signs?|complaints?)\s+(?:related|due|attributable|secondary)\s+to\s+(?:the\s+|an?\s+|their\s+)?"
    r"|\b(?:survival|prognosis|life\s+expectancy)\s+(?:with|of|from)\s+(?:the\s+|an?\s+|their\s+)?)$",
    re.I,
)
#: The condition belongs to someone else: "sex partners with known active hepatitis B", "relatives with …".
_SOMEONE_ELSE = re.compile(r"\b(?:partners?|spouses?|relatives?|family\s+members?|household\s+contacts?|mothers?\s+of|siblings?)\s+(?:with|who|of|having)\b[^.;]{0,80}$", re.I)

#: The rest of the sentence says the condition is allowed ("… are not excluded", "… may be included").
_PERMITTED = re.compile(
    r"^[^.;]*?\b(?:are|is|will\s+be)\s+(?:not\s+excluded|eligible|allowed|permitted)\b"
    r"|^[^.;]{0,80}?\b(?:may|can|could)\s+(?:be\s+)?(?:included|enrolled|eligible|allowed|participate|entered)\b"
    r"|^[^.;]{0,60}?\b(?:were|are|is|be)\s+(?:only\s+)?(?:enrolled|eligible|allowed|included)\s+(?:only\s+)?if\b",
    re.I,
)
#: A time quantity right after the condition that is not a window we can read ("occurred 6 months
#: before randomization"): the reading would be incomplete, so the condition is left alone.
#: "… unless disease-free for a period the text does not give in numbers".
_FREE_WITHOUT_PERIOD = re.compile(r"(?:(?!\.\s|(?-i:[a-z0-9)]\s+(?:No|Not)\s))[^;]){0,300}?\b(?:disease[- ]free|free\s+(?:of|from)\s+(?:the\s+)?(?:disease|cancer|malignancy))\s+for\b", re.I)
#: What separates two members of one list ("chemotherapy, radiotherapy or immunotherapy"); two
#: mentions with nothing between them are one name ("transplantation surgery"), not a list.
_LIST_GAP = re.compile(r"\s*(?:,\s*(?:(?:and/or|or|and)\s+)?|/\s*|(?:and/or|or|and)\s+)", re.I)
_UNREAD_TIME = re.compile(r"^[^.;()]{0,25}?\b\d+\s*(?:years?|months?|weeks?|days?)\b(?!\s+(?:have\s+(?:passed|elapsed)\s+)?since\b)", re.I)

_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|non|without|absence\s+of|absent|free\s+of|free\s+from|negative\s+(?:(?:tests?|serology|screening|results?)\s+)?for|never|none|nor|lack\s+of|excluding|rule[sd]?\s+out)\b[^;.:()]{0,140}$",
    re.I,
)
_NEGATION_AFTER = re.compile(
    r"^(?:\s*\((?:HIV|HBV|HCV)\))?(?:\s+(?:and\s+C|and\s+B|surface\s+antigen|antibody|antibodies|infection|serology|status|tests?|testing|virus|sero-?status)){0,3}"
    r"\s*(?:[-–]\s*)?(?:negative|seronegative|\(-\)|free|not\s+(?:present|detected|allowed))\b",
    re.I,
)
_NOT_PREFIX = re.compile(r"\b(?:non|not)[- ]$", re.I)
_CLAUSE_BREAK = re.compile(r"[;.:()]|\bbut\b|\bexcept\b|\bunless\b|\bwith\s+the\s+exception\b|\bhowever\b", re.I)
_EXCEPTION = re.compile(r"\bexcept\b|\bother\s+than\b|\bwith\s+the\s+exception\b|\bexcluding\b", re.I)
_QUALIFIER = re.compile(r"\b(active|untreated|symptomatic|uncontrolled|unstable|progressive|known|chronic|acute|decompensated|significant)\s+(?:\w+\s+){0,2}$", re.I)

_NYHA = re.compile(r"\bNYHA\b|New\s+York\s+Heart\s+Association", re.I)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "1": 1, "2": 2, "3": 3, "4": 4, "Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3, "Ⅳ": 4}
_CLASS = r"(?:IV|I{1,3}|[1-4Ⅰ-Ⅳ])"
#: "class II-IV congestive heart failure": a NYHA class without the name NYHA.
_CLASS_OF_HF = re.compile(rf"\bclass\s+(?=(?:IV|I{{1,3}}|[1-4])\b[^.;]{{0,12}}?(?:congestive\s+)?(?:heart|cardiac)\s+failure)", re.I)
_NYHA_COMPARATOR = (
    r"(?P<cmp>≥|>=|≤|<=|>|<|greater\s+than\s+or\s+equal\s+to|less\s+than\s+or\s+equal\s+to|greater\s+than|less\s+than|above|below|at\s+least)"
)
#: A comparator written right in front of the name: "> New York Heart Association (NYHA) class 2".
_NYHA_FRONT = re.compile(rf"{_NYHA_COMPARATOR}\s*(?:the\s+)?$", re.I)
_NYHA_VALUE = re.compile(
    rf"[^;.\d<>≤≥]{{0,40}}?(?:{_NYHA_COMPARATOR}\s*(?:class\s*|grade\s*)?)?"
    rf"(?P<a>{_CLASS})\b"
    rf"(?:\s*(?P<sep>-|–|~|to|or|and|/|,)\s*(?:class\s*)?(?P<b>{_CLASS})\b)?"
    rf"(?:\s*(?:,|or|and)\s*(?:class\s*)?(?P<c>{_CLASS})\b)?"
    r"(?P<post>\s*(?:or|and)\s+(?:above|higher|greater|worse|more))?",
    re.I,
)


def in_exception(text: str, start: int) -> bool:
    """Is ``start`` inside an exception ("… except the following: … a second primary cancer …")?

    Looks back within the enclosing bracket, or within the sentence when there is none, at most
    400 characters (an exception clause is never longer, and long run-on text stays linear).
    """
    depth = 0
    floor = max(0, start - 400)
    for index in range(start - 1, floor - 1, -1):
        char = text[index]
        if char in ")）":
            depth += 1
        elif char in "(（":
            if depth == 0:
                return bool(_EXCEPTION.search(text[index:start]))
            depth -= 1
        elif char == "." and depth == 0 and text[index + 1:index + 2].isspace():
            return _exception_in(text[index:start])
    return _exception_in(text[floor:start])


#: NCI run-on items join statements without punctuation ("… carcinoma of the breast Not pregnant or
#: nursing"): a capitalised "No"/"Not" after a lower-case word starts a new statement.
_RUN_ON_STATEMENT = re.compile(r"(?<=[a-z0-9)\]])\s+(?=(?:No|Not|Negative)\s)")


def _exception_in(segment: str) -> bool:
    """An exception word in ``segment``, after the last run-on statement boundary."""
    starts = [m.end() for m in _RUN_ON_STATEMENT.finditer(segment)]
    return bool(_EXCEPTION.search(segment[starts[-1]:] if starts else segment))


#: Infections whose mention is often the name of a test ("HIV test", "hepatitis B surface antigen").
_TESTED_INFECTIONS = ("hiv", "hepatitis_b", "hepatitis_c")
#: The mention names a test: "HIV (1/2) antibody", "hepatitis B (HBsAg) test", "hepatitis C virus (anti-HCV) test".
_TEST_WORD = r"(?:surface\s+antigen|core\s+antigen|antigen|antibod(?:y|ies)|serolog(?:y|ies|ical)|sero-?status|status|screen(?:ing)?|tests?|testing|results?)"
_TEST_AFTER = re.compile(rf"\s*(?:virus\s*)?(?:\([^()]{{1,25}}\)\s*)?{_TEST_WORD}\b(?:\s+{_TEST_WORD}\b)*", re.I)
_NEAR_NEGATION = re.compile(r"\b(?:no|not|without|never)\s+(?:[\w-]+\s+){0,2}$", re.I)
_INFECTION_LIST = re.compile(
    r"(?:\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*/\s*)(?:hepatitis\s+[BC](?:\s+virus)?|HBV|HCV|HIV(?:-?[12])?|HBsAg|(?<=B and )C|(?<=B or )C|(?<=B, )C|(?<=B/)C)\b)+",
    re.I,
)
_RESULT = r"(?P<neg>negative|non-?reactive|seronegative|not\s+detected|undetectable|\(\s*-\s*\))|(?P<pos>positive|reactive|seropositive|detected|\(\s*\+\s*\))"
_RESULT_AFTER = re.compile(rf"^(?:\s*(?:\([^()]{{0,25}}\)|results?|must|be|is|are|was|were|:|-|–))*\s*(?:{_RESULT})", re.I)
_RESULT_BEFORE = re.compile(rf"(?:{_RESULT})\b(?:(?!\b(?:negative|positive|reactive|seronegative|seropositive)\b)[^;.:])*$", re.I)


#: The result word closes the item before ("HIV negative Hepatitis B surface antigen status required").
_RESULT_OF_PREVIOUS = re.compile(r"\b(?:HIV|HBV|HCV|HBsAg|AIDS|virus|antigen|antibod(?:y|ies)|serology|tests?|infection|hepatitis\s+[BC])\s*[-–]?\s*$", re.I)


def _test_result(text: str, start: int, end: int) -> Optional[str]:
    """For a mention that names a test, the result the text gives: "negative", "positive", or
    "unstated" (a test is named but no result: nothing can be coded). None when no test is named.

    "Negative human immunodeficiency virus (HIV) test, negative hepatitis B (HBsAg) test and
    hepatitis C virus (anti-HCV) test": each result word before the test governs it and the
    tests after it in the same list, until another result word.
    """
    test = _TEST_AFTER.match(text, end)
    if test is None:
        # "a negative Hepatitis B, Hepatitis C, and HIV antibody result": the test word after the list
        listed = _INFECTION_LIST.match(text, end)
        test = _TEST_AFTER.match(text, listed.end()) if listed else None
    if test is None:
        return None
    sentence = re.split(r"[.;]\s", text[max(0, start - 150):end + 150])
    if any(re.search(r"\bnegative\b", part, re.I) and re.search(r"\bpositive\b", part, re.I) for part in sentence if text[start:end] in part):
        return "unstated"  # "negative for anti-HBs but positive for anti-HBc (negative HBsAg status)": too tangled to read
    head = re.sub(r"\([^()]*\)", " ", text[max(0, start - 80):start])
    clause = _CLAUSE_BREAK.split(head)[-1]
    after = _RESULT_AFTER.match(text[test.end():test.end() + 40])
    before = _RESULT_BEFORE.search(clause)
    if after:
        negative = bool(after.group("neg"))
    elif before and not _RESULT_OF_PREVIOUS.search(clause[:before.start()]):
        negative = bool(before.group("neg"))
        clause = clause[:before.start()]
    else:
        return "unstated"
    # "Must not have positive hepatitis B surface antigen": a negation right in front turns the result round
    if _NEAR_NEGATION.search(clause):
        negative = not negative
    return "negative" if negative else "positive"


def _negated(text: str, start: int, end: int) -> bool:
    head = text[max(0, start - 150):start]
    head = re.sub(r"\([^()]*\)", " ", head)  # "(within 6 months of enrollment)" does not end the clause
    head = re.sub(r"\b(?:but\s+)?not\s+(?:be\s+)?(?:limited|restricted)\s+to\b", " ", head, flags=re.I)  # "including, but not limited to"
    clause = _CLAUSE_BREAK.split(head)[-1]
    if _NOT_PREFIX.search(head):
        return True
    if _NEGATION_BEFORE.search(clause):
        return True
    return bool(_NEGATION_AFTER.match(text[end:end + 25]))


def _nyha(text: str) -> list[Finding]:
    """NYHA class bounds ("NYHA class III or IV", "NYHA ≤ II", "New York Heart Association class II-IV")."""
    out: list[Finding] = []
    mentions = list(_NYHA.finditer(text)) + [m for m in _CLASS_OF_HF.finditer(text) if not _NYHA.search(text[max(0, m.start() - 40):m.start()])]
    read_to = -1
    for mention in sorted(mentions, key=lambda m: m.start()):
        if mention.start() < read_to:
            continue  # "New York Heart Association (NYHA) class 2": the abbreviation is part of the reading
        match = _NYHA_VALUE.match(text, mention.end())
        if not match or _PERMITTED.search(text[match.end():match.end() + 80]):
            continue
        read_to = match.end()
        first = _ROMAN[match.group("a").upper()]
        classes = {first}
        if match.group("b"):
            second = _ROMAN[match.group("b").upper()]
            if match.group("sep") in ("-", "–", "~", "to"):
                classes = set(range(min(first, second), max(first, second) + 1))
            else:
                classes.add(second)
        if match.group("c"):
            classes.add(_ROMAN[match.group("c").upper()])
        comparator = (match.group("cmp") or "").lower()
        if not comparator and (front := _NYHA_FRONT.search(text[max(0, mention.start() - 30):mention.start()])):
            comparator = front.group("cmp").lower()  # "congestive heart failure > NYHA class 2"
        if match.group("post") or comparator.startswith(("≥", ">=", "greater than or", "at least")):
            classes = set(range(min(classes), 5))
        elif comparator.startswith((">", "greater than", "above")):
            classes = set(range(min(classes) + 1, 5))
        elif comparator.startswith(("≤", "<=", "less than or")):
            classes = set(range(1, max(classes) + 1))
        elif comparator.startswith(("<", "less than", "below")):
            classes = set(range(1, max(classes)))
        if not classes:
            continue
        values = tuple(concept("nyha_classes", str(number)) for number in sorted(classes))
        span = text[mention.start():match.end()].strip()
        out.append(Finding(kind="condition", concept=concept("conditions", "nyha"), values=values, text=span, start=mention.start(),
                           negated=_negated(text, mention.start(), match.end()), window=bracket_window(text, mention.start())))
    return out


def _finding(rule: ConditionRule, code: Concept, text: str, start: int, end: int, haystack: Optional[Haystack] = None) -> Optional[Finding]:
    window = None
    span_end = end
    if rule.windowed:
        hit = window_at(text, end)
        # "current malignancy or malignancy diagnosed within 5 years": the nearer mention takes the window;
        # "No heart failure No myocardial infarction within the past year": so does the other condition
        haystack = haystack or Haystack(text)
        repeated = [m for index in _rule_index().candidates(haystack)
                    for m in [RULES[index].mention.search(text, end, hit[1] + 40)] if m is not None] if hit else []
        since = since_window(text, start)
        if since is not None:
            # "At least 14 days since prior myocardial infarction": none within those 14 days
            return Finding(kind=rule.kind, concept=code, negated=True, window=since, text=text[start:end].strip(), start=start)
        # the window after a later mention of the list ("chemotherapy or radiotherapy within 4 weeks")
        # was read, as that mention's: whether it also holds for this one is the list's to decide
        nearer = [m for m in repeated if m.start() < hit[1]] if hit is not None else []
        listed = any(_LIST_GAP.fullmatch(text, end, m.start()) for m in nearer)
        if hit is not None and not nearer:
            window, window_start, span_end = hit
            if text[end:window_start].strip():
                # "Other malignancies (except … skin cancer …) within 5 years", "Chemotherapy for other
                # indications than NSCLC within 5 years": words between the name and its window are not
                # part of the finding; the gate reads them on their own
                span_end = end
        elif (closing := bracket_window(text, start)) is not None:
            window = closing  # "(CHF [NYHA class II or worse], MI, CVA or TIA) within 3 months"
        elif rule.key == "malignancy" and (free := disease_free_window(text, end)) is not None:
            window = free  # "other malignancy unless disease-free for ≥ 5 years": within those 5 years
        elif not listed and _UNREAD_TIME.search(text[end:end + 40]):
            return None
        elif rule.key == "malignancy" and _FREE_WITHOUT_PERIOD.match(text, end):
            return None  # a disease-free condition whose period cannot be read: the reading would be wrong
    note_parts = []
    qualifier = _QUALIFIER.search(text[max(0, start - 40):start])
    if qualifier:
        note_parts.append(f"qualified as '{qualifier.group(1).lower()}'")
    if _EXCEPTION.search(text[end:end + 160]):
        note_parts.append("the text lists exceptions")
    return Finding(
        kind=rule.kind,  # type: ignore[arg-type]
        concept=code,
        negated=_negated(text, start, end),
        window=window,
        note="; ".join(note_parts) or None,
        text=text[start:span_end].strip(),
        start=start,
    )


@lru_cache(maxsize=1)
def _rule_index() -> LiteralIndex:
    """Which rules' mentions may occur in a text, found in one scan (built once, on first use)."""
    return LiteralIndex([rule.mention for rule in RULES])


def understand_conditions(text: str) -> list[Finding]:
    """Condition findings in one criterion, in reading order; repeats of the same reading are dropped."""
    findings: list[Finding] = []
    haystack = Haystack(text)
    for index in _rule_index().candidates(haystack):  # rules none of whose words occur are never run
        rule = RULES[index]
        code = concept(rule.group, rule.key)
        previous_end = -10
        allowed_until = -1
        for match in rule.mention.finditer(text):
            if match.start() < allowed_until:
                continue  # the "or" alternative that allows the condition again (below)
            if re.fullmatch(r"\s*\(\s*", text[previous_end:match.start()]):
                previous_end = match.end()
                continue  # "human immunodeficiency virus (HIV)": the abbreviation is the same mention
            previous_end = match.end()
            stated = re.match(r"\s*[-–]?\s*(?:negative|positive|seronegative|seropositive)\b", text[match.end():match.end() + 15], re.I)
            if in_exception(text, match.start()) and not stated:
                continue
            if _TREATED_FOR.search(text[max(0, match.start() - 90):match.start()]):
                continue
            if _SOMEONE_ELSE.search(text[max(0, match.start() - 100):match.start()]):
                continue
            if _PERMITTED.search(text[match.end():match.end() + 300]) and not _negated(text, match.start(), match.end()):
                continue  # "… are not excluded", "… can be enrolled"; but "No pregnant patients may be entered" stays
            head = text[max(0, match.start() - 60):match.start()]
            if rule.reject_before and rule.reject_before.search(head):
                continue
            if rule.reject_after and rule.reject_after.search(text[match.end():match.end() + 40]):
                continue
            result = _test_result(text, match.start(), match.end()) if rule.key in _TESTED_INFECTIONS else None
            if result == "unstated":
                continue  # "Hepatitis B surface antigen status required": a test is named, no result is
            finding = _finding(rule, code, text, match.start(), match.end(), haystack)
            if finding is not None:
                if result is not None:
                    finding = finding.with_(negated=result == "negative")
                elif rule.key in _TESTED_INFECTIONS and (listed := _INFECTION_LIST.match(text, match.end())) and _NEGATION_AFTER.match(text[listed.end():listed.end() + 40]):
                    finding = finding.with_(negated=True)  # "HIV, HBV and HCV negative": the result closes the list
                again = _allowed_again(rule, text, match.end()) if finding.negated else None
                if again is not None:
                    allowed_until = again  # "HIV negative OR asymptomatic for HIV disease": no requirement either way
                    continue
                findings.append(finding)
    findings += _nyha(text)
    return sorted(findings, key=lambda f: f.start)


_OR_ALTERNATIVE = re.compile(r"[^.;]{0,25}?\bor\b(?P<rest>[^.;]{0,60})", re.I)


def _allowed_again(rule: ConditionRule, text: str, end: int) -> Optional[int]:
    """Where a not-negated "or" alternative naming the same condition ends, if there is one right
    after a negated mention ("HIV negative OR asymptomatic for HIV disease")."""
    alternative = _OR_ALTERNATIVE.match(text, end)
    if alternative is None:
        return None
    again = rule.mention.search(text, alternative.start("rest"), alternative.end("rest"))
    if again is None or _negated(text, again.start(), again.end()):
        return None
    return again.end()
