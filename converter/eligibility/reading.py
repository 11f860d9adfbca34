"""Whole-criterion reading: a criterion is coded only when every word of it is accounted for.

``read_criterion(text, section)`` runs the recognisers (labs, scales, age and sex, biomarkers,
conditions, treatments with time windows) and then checks what they left over. Every leftover word
must be a connective the logic understands (and, or, either, both, if, for patients with …), a
negation that belongs to a negated finding, or a phrase known to add nothing to the meaning (the
``ignorable`` list of ``data/reading.json``: "patients must have", "documented", "at screening" …).
Any other word, any number nobody read, an exception ("except", "unless", "other than"), score items
or a qualifier that narrows a condition ("symptomatic", "uncontrolled") leaves the criterion as text,
with the reason, because a partial code would say something the criterion does not.

Why so strict: a matching engine trusts codes. "Other malignancy except carcinoma in situ" coded as
"malignancy, exclude" would turn away every patient with the trial's own cancer; text only is
merely less useful.

The statement's shape (all/any, implication, per-subgroup thresholds) is built here too, as a
:mod:`.logic` formula; the section (inclusion/exclusion) is applied by the writers with
:func:`.logic.eligible_if`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional, Sequence

from .findings import Finding
from .prefilter import Haystack, LiteralIndex
from .labs import mentions as lab_mentions
from .logic import Formula, Lit, Node, Opaque, from_finding, implies, literals, necessary, negate, node, satisfiable
from .recognise import recognise
from .tables import concept, reading_table

#: A token of leftover text: a word (with inner apostrophes/hyphens), a number, or one symbol.
_TOKEN = re.compile(r"(?i:and\s*/\s*or)|[A-Za-z]+(?:['’-][A-Za-z]+)*|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")
_CLAUSE_BREAK = {";", ".", ":"}
#: A label at the start of an item ("Chemotherapy: No prior chemotherapy", NCI outlines).
_LEADING_LABEL = re.compile(r"\s*(?!(?:except|unless|no|not|if|when|none)\b)[A-Za-z][A-Za-z /-]{2,30}:(?=\s*\S)", re.I)
#: A label inside an item: NCI outlines run "… Hematopoietic: WBC ≥ 3,000 Hepatic: …" together.
_INNER_LABEL = re.compile(
    r"(?:(?<=^)|(?<=[\s.;]))(?!(?:Except|Unless|No|Not|If|When|None|Including|Excluding|Note)\b)[A-Z][A-Za-z/-]{2,20}(?: [A-Za-z/-]{2,20}){0,2}:(?=\s*\S)"
)
#: Phrases that open a condition ("for patients with", "in case of"); their first word is a cue.
_CONDITION_PHRASE = re.compile(
    r"\b(?:for|in|among)\s+(?:the\s+|all\s+|those\s+)?(?:patients?|subjects?|participants?|those|women|men|females?|males?|cases?|individuals?|persons?|people)"
    r"\s+(?:with|who|whose|having|that|which)\b|\bin\s+(?:the\s+)?(?:case|presence|setting)\s+of\b|\bif\b|\bwhen\b",
    re.I,
)


@dataclass(frozen=True)
class Reading:
    """What one criterion says, as far as it was understood.

    ``statement`` is the coded meaning of the text (``None`` when the criterion stays text);
    ``reason`` says why it stays text; ``findings`` lists everything recognised, coded or not, so
    ``explain`` can show partial readings; ``warnings`` are about the text (unusual units …).
    """

    text: str
    section: str
    statement: Optional[Formula]
    reason: Optional[str] = None
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def coded(self) -> bool:
        return self.statement is not None


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    low: str = field(default="", compare=False)


@lru_cache(maxsize=None)
def _vocabulary() -> dict[str, frozenset[str]]:
    table = reading_table()
    return {key: frozenset(word.lower() for word in value) for key, value in table.items() if isinstance(value, list)}


@lru_cache(maxsize=None)
def _phrases() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in reading_table()["ignorable_phrases"])


def _covered(text: str, findings: list[Finding]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for finding in findings:
        # only what each leaf read counts as read: a combination's span ("AST ≤ 3 × ULN (5 × ULN if liver
        # metastases)") may hold words between its members that nobody read
        for part in finding.leaves():
            if part.text:
                at = text.find(part.text, max(0, part.start - 2))
                if at < 0:
                    at = text.find(part.text)
                gap = part.text.rfind(part.gap) if part.gap else -1
                if at >= 0 and gap > 0:
                    # the words between the name and its value are not read by the finding: leave them to the gate
                    spans += [(at, at + gap), (at + gap + len(part.gap), at + len(part.text))]  # type: ignore[arg-type]
                elif at >= 0:
                    spans.append((at, at + len(part.text)))
            if part.window is not None and part.window.text:
                at = text.find(part.window.text)
                if at >= 0:
                    spans.append((at, at + len(part.window.text)))
    return spans


@lru_cache(maxsize=1)
def _phrase_index() -> LiteralIndex:
    return LiteralIndex(_phrases())


def _phrase_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the ignorable phrases; a phrase none of whose words occur is not searched for."""
    phrases = _phrases()
    return [(m.start(), m.end()) for index in _phrase_index().candidates(Haystack(text)) for m in phrases[index].finditer(text)]


def _residual(text: str, spans: list[tuple[int, int]]) -> list[_Token]:
    """Tokens of ``text`` outside every span, in order."""
    mask = bytearray(len(text))
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    tokens = []
    for match in _TOKEN.finditer(text):
        if mask.find(1, match.start(), match.end()) != -1:
            continue
        tokens.append(_Token(match.group(), match.start(), match.group().lower()))
    return tokens


def _classify(token: _Token) -> str:
    vocab = _vocabulary()
    word = token.low.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]  # "patient's", "Gilbert's"
    for kind in ("exception", "score", "narrowing", "time", "negation", "condition", "or", "and", "both"):
        if word in vocab[kind]:
            return kind
    if word in vocab["ignorable"] or word in _PUNCTUATION:
        return "ignore"
    if token.text in _CLAUSE_BREAK:
        return "break"
    if word.isdigit() or re.fullmatch(r"\d+(?:[.,]\d+)*", word):
        return "number"
    return "unknown"


_PUNCTUATION = {"(", ")", "[", "]", "-", "–", "—", "/", "'", '"', "“", "”", "*", "•", "?", "!", "&", "%", "#", "+", ","}


def _shared_lab_value(finding: Finding) -> bool:
    """Several tests joined by "and" or a comma that share one threshold ("AST and ALT > 2.5 × ULN")."""
    parts = finding.parts
    return (finding.operator == "AND" and len(parts) > 1 and not finding.negated and not finding.condition
            and all(p.kind == "lab" and not p.parts for p in parts)
            and len({(p.comparator, p.quantity, p.low, p.high, p.uln) for p in parts}) == 1)


def _findings_in_order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.start)


def _atom_end(text: str, finding: Finding) -> int:
    at = text.find(finding.text, max(0, finding.start - 2)) if finding.text else -1
    return at + len(finding.text) if at >= 0 else finding.start


def studies_malignancy(conditions: Sequence[str]) -> bool:
    """Whether a trial's own conditions name a malignancy ("Breast Cancer", "Hodgkin Lymphoma")."""
    words = _vocabulary()["malignancy_studied"]
    return any(word in words for condition in conditions for word in re.findall(r"[a-z]+", condition.lower()))


@lru_cache(maxsize=16384)
def read_criterion(
    text: str,
    section: str = "UNKNOWN",
    context: Optional[str] = None,
    studied_malignancy: bool = False,
) -> Reading:
    """Read one criterion (see the module docstring). ``context`` is a parent label ("Age:").

    ``studied_malignancy``: the trial studies a malignancy. "Other / prior malignancy" then stays
    text: the generic malignancy code cannot tell another cancer from the studied one, and coded it
    would exclude every participant (the trial's own cancer is a malignancy within any window).
    """
    reading = _read_split(text, section, context)
    if studied_malignancy and reading.statement is not None and any(
            lit.finding.concept is not None and lit.finding.concept.code == _malignancy_code() for lit in literals(reading.statement)):
        return Reading(reading.text, section, None,
                       "not coded: the trial studies a malignancy, which the generic malignancy code cannot tell from another one",
                       reading.findings, reading.warnings)
    return reading


@lru_cache(maxsize=1)
def _malignancy_code() -> str:
    return concept("conditions", "malignancy").code


@lru_cache(maxsize=16384)
def _read_split(text: str, section: str, context: Optional[str]) -> Reading:
    """Read one criterion whole, or statement by statement when it is a run of them.

    A criterion that is a run of independent statements ("Not pregnant or nursing. Negative pregnancy
    test. Fertile patients must use effective contraception. No active infection", the outlines of old
    NCI records) is read statement by statement when it cannot be read whole: each statement is
    gated on its own, the understood ones are coded and the others kept as words, joined as the
    section joins items (all of them must hold; under an exclusion heading, any one excludes). Not
    when any statement makes an exception or a permission: those qualify their neighbours."""
    whole = _read_whole(text, section, context)
    if whole.coded or "time window" in (whole.reason or "") or (not whole.findings and "," not in text):
        return whole  # (a window that may close a list is not split off from it)
    segments = _segments(text)
    commas = len(segments) < 2 and section == "INCLUSION"
    if commas:
        segments = _comma_segments(text)
    if len(segments) < 2 or any(_EXCEPTION_WORDS.search(segment) for segment in segments):
        return whole
    if any(_CONNECTIVE_LEAD.match(segment) for segment in segments[1:]) or any(_CONDITION_PHRASE.search(seg) for seg in segments):
        return whole  # "Bilirubin ≤ ULN; or ≤ 3 × ULN in patients with Gilbert's": one statement with alternatives
    parts = [_read_split(segment, section, context) for segment in segments]
    if not any(part.coded for part in parts) or (commas and not _separate_items(segments, parts)):
        return whole
    members = tuple(part.statement if part.coded else Opaque(segment) for part, segment in zip(parts, segments))
    statement = Node("any" if section == "EXCLUSION" else "all", members, whole.text)  # type: ignore[arg-type]
    findings = tuple(f for part in parts for f in part.findings)
    warnings = tuple(w for part in parts for w in part.warnings)
    return Reading(whole.text, section, statement, None, findings, warnings)


#: Where one statement of a run ends: a sentence or clause break, or (NCI outlines run statements
#: together without punctuation) a capitalised "No"/"Not"/"At least"/… right after a lower-case word.
_SEGMENT_BREAK = re.compile(
    r"(?<=[.;])\s+(?=[A-Z(])|;\s*|(?<=[a-z0-9%)\]])\s+(?=(?:No|Not|At\s+least|Negative|Fertile|Must|Prior(?!\s+to\b)|Concurrent(?!\s+with\b)|Adequate)\b)"
)
#: A term followed by its definition: "Anemia (Hb < 10 g/dL)", "Renal failure, defined as eGFR < 15".
_DEFINED_TERM = re.compile(
    r"^\s*(?P<term>[A-Za-z][A-Za-z'-]*(?:\s+[A-Za-z][A-Za-z'-]*){0,5})\s*(?:\((?!\s*(?:e\.?g|i\.?e|such|including|for\s+example))|,?\s*(?:as\s+)?defined\s+(?:as|by)\s*:?)",
    re.I,
)
#: A piece that continues the one before it rather than starting a statement of its own.
_CONNECTIVE_LEAD = re.compile(r"\s*(?:or|and|nor|but|either|neither|unless|except|otherwise|with|without|in|for|then|plus)\b", re.I)
#: A comma piece that continues the one before it ("…, who have …", "…, within 14 days", "…, respectively").
_COMMA_CONTINUATION = re.compile(
    r"(?:who|whom|whose|which|that|where|when|while|after|before|during|within|at|by|due|because|as|to|of|on|from|including|"
    r"especially|particularly|notably|i\.?e|e\.?g|such|defined|respectively|inclusive|each|both|all|any|only|if|than|unless|"
    r"except|otherwise|with|without|in|for|then|plus|but|and|or)\b",
    re.I,
)
_EXAMPLES = re.compile(r"\b(?:e\.\s?g\b\.?|eg\.|such\s+as|for\s+(?:example|instance)|including|includes|include)\b", re.I)
_EXCEPTION_WORDS = re.compile(r"\b(?:except|unless|other\s+than|allowed|permitted|acceptable|eligible|however|but|if|provided|waived)\b", re.I)


_ABBREVIATION = re.compile(r"(?:\b(?:e\.\s?g|i\.\s?e|etc|vs|approx|incl|excl|no|dr|st|ca|cf|al|max|min)\.|\b[A-Z]\.)\s*$", re.I)


def _segments(text: str) -> list[str]:
    """The statements of a run (see :func:`_split_at`)."""
    return _split_at(text, _SEGMENT_BREAK)


def _split_at(text: str, breaks: re.Pattern[str]) -> list[str]:
    """``text`` cut at ``breaks``, never after an abbreviation ("e.g.") or inside brackets.
    Linear: bracket depth is carried from break to break, and the abbreviation check looks back a few characters."""
    pieces: list[str] = []
    start = seen = round_ = square = 0
    for match in breaks.finditer(text):
        stretch = text[seen:match.start()]
        round_ += stretch.count("(") - stretch.count(")")
        square += stretch.count("[") - stretch.count("]")
        seen = match.start()
        if round_ or square or _ABBREVIATION.search(text, max(0, match.start() - 12), match.start()):
            continue
        pieces.append(text[start:match.start()])
        start = match.end()
    pieces.append(text[start:])
    return [piece.strip(" .;") for piece in pieces if piece.strip(" .;")]


_COMMA_BREAK = re.compile(r",\s+(?:and\s+(?!/))?")
#: After the first comma, a word that makes the list a list of alternatives ("A, B or C").
_ALTERNATIVES = re.compile(r"\b(?:or|nor|either|neither)\b", re.I)


def _comma_segments(text: str) -> list[str]:
    """The items of an inclusion criterion written as a comma list of requirements ("Male and
    female, between 18 and 80 years, ASA 1-3"): under an inclusion heading every item must hold.
    Not when a word after the first comma makes the items alternatives ("A, B or C"), and never a
    cut inside brackets or after an abbreviation."""
    first = text.find(", ")
    if first < 0 or _ALTERNATIVES.search(text, first):
        return [text]
    pieces = _split_at(text, _COMMA_BREAK)
    if any(_COMMA_CONTINUATION.match(piece) for piece in pieces[1:]):
        return [text]
    return pieces


#: A word in the first comma item that may reach over the whole list ("negative Hepatitis B, Hepatitis C
#: and HIV", "history of A, B, C", "no A, B"): the items are then not statements of their own.
_SHARED_MODIFIER = re.compile(r"\b(?:no|not|non|negative|positive|without|free|absence|absent|history|prior|previous|known|any|active|uncontrolled|severe|chronic|acute)\b", re.I)
_SELF_CONTAINED = frozenset({"age", "lab", "performance", "biomarker", "sex"})
_FEMALE_WORDS = frozenset({"women", "woman", "female", "females", "mothers", "mother", "girls"})


@lru_cache(maxsize=1)
def _female_only() -> frozenset[str]:
    """Codes of conditions only a woman can have (pregnancy, breastfeeding), from the condition table."""
    return frozenset(concept("conditions", key).code for key in ("pregnancy", "breastfeeding"))


def _separate_items(segments: list[str], parts: list[Reading]) -> bool:
    """Whether a comma list is a list of separate requirements rather than one statement whose
    words run over the commas: every coded item is a self-contained value statement (an age, a lab
    threshold, a score, a biomarker result, a sex), no item left as words names a lab test (its
    threshold may be the one after the last comma: "APTT, INR, PT ≤ 1.5 × ULN"), and the first item
    holds no word that could reach over the list ("negative", "history of", "no")."""
    if _SHARED_MODIFIER.search(segments[0]):
        return False
    for segment, part in zip(segments, parts):
        if part.coded:
            if any(leaf.kind not in _SELF_CONTAINED for f in part.findings for leaf in f.leaves()):
                return False
        elif part.findings or lab_mentions(segment):
            return False
    return True


def _read_whole(text: str, section: str, context: Optional[str]) -> Reading:
    """Read one criterion as a whole (see the module docstring)."""
    if LABEL.match(text):
        return Reading(text, section, None, "a label for the sub-items", (), ())
    reading_text, findings = recognise(text, context)
    findings = _findings_in_order(findings)
    label = _LEADING_LABEL.match(reading_text, len(context) + 2 if context else 0)
    if context or label:
        # a finding that lies wholly inside a label ("Chemotherapy: No prior chemotherapy") is the label
        prefix = label.end() if label else len(context) + 2  # type: ignore[arg-type]
        inside = [f for f in findings if _atom_end(reading_text, f) <= prefix]
        if inside and len(inside) < len(findings):
            findings = [f for f in findings if f not in inside]
    labels = [(m.start(), m.end()) for m in _INNER_LABEL.finditer(reading_text)]
    if labels:
        findings = [f for f in findings if not any(a <= f.start and _atom_end(reading_text, f) <= b for a, b in labels)]
        if not findings:
            return Reading(reading_text, section, None, "nothing recognised", (), ())
    warnings = tuple(w for f in findings for leaf in f.leaves() for w in (*f.warnings, *leaf.warnings))
    if not findings:
        return Reading(reading_text, section, None, "nothing recognised", (), warnings)

    def fail(reason: str) -> Reading:
        return Reading(reading_text, section, None, reason, tuple(findings), warnings)

    if warnings:
        return fail(f"not coded: {warnings[0]}")

    definition, findings = _defined_term(reading_text, findings)
    if section == "EXCLUSION" and definition is None:
        # "ALT, AST > 2.5 × ULN" under an exclusion heading (not a term's definition, "liver failure
        # (AST and ALT > 250 U/L)", which means both): each test past the limit is a reason to
        # exclude, as every other list there is; requiring both would keep a patient with one far out
        findings = [f.with_(operator="OR") if _shared_lab_value(f) else f for f in findings]
    condition_spans = [(at, at + len(f.condition)) for f in findings if f.condition for at in [reading_text.find(f.condition)] if at >= 0]
    default_spans = [(at, at + len(f.default_case)) for f in findings if f.default_case for at in [reading_text.find(f.default_case)] if at >= 0]
    condition_spans += default_spans
    findings = [f for f in findings if f.condition or not any(s <= f.start < e for s, e in condition_spans)]
    spans = _covered(reading_text, findings) + _phrase_spans(reading_text) + default_spans
    conditions: dict[int, Formula] = {}
    for index, finding in enumerate(findings):
        if finding.condition:
            subgroup = _subgroup(finding.condition)
            if subgroup is None:
                return fail(f"not coded: subgroup not understood ({finding.condition.strip()!r})")
            conditions[index] = subgroup
            at = reading_text.find(finding.condition)
            if at >= 0:
                spans.append((at, at + len(finding.condition)))
    if context:
        spans.append((0, min(len(reading_text), len(context) + 2)))
    spans += labels
    if definition is not None:
        # "Renal insufficiency (creatinine > 1.5 mg/dL)", "Impaired renal function, defined as eGFR < 30":
        # the threshold is the operational definition of the term, so the threshold is the statement
        spans.append((definition.start("term"), definition.end("term")))
    tokens = _residual(reading_text, spans)
    only_biomarkers = all(leaf.kind == "biomarker" for f in findings for leaf in f.leaves())
    if only_biomarkers:
        context_words = _vocabulary()["disease_context"]
        tokens = [t for t in tokens if t.low not in context_words]
    if any(leaf.concept is not None and leaf.concept.code in _female_only() for f in findings for leaf in f.leaves()):
        # "Pregnant or lactating women": pregnancy and breastfeeding already say who; the word adds nothing
        tokens = [t for t in tokens if t.low not in _FEMALE_WORDS]
    cue_starts = {m.start() for m in _CONDITION_PHRASE.finditer(reading_text)}
    kinds = [(token, "condition" if token.start in cue_starts else _classify(token)) for token in tokens]

    leaves = [leaf for f in findings for leaf in f.leaves()]
    if len(leaves) > 1 and leaves[0].kind in ("condition", "treatment") and _EXAMPLES.search(reading_text):
        # "immunodeficiency (e.g. HIV)", "cardiac disease, such as MI": an example is an instance of the
        # term before it, not a second requirement; which codes the criterion means is not clear
        return fail("not coded: examples of a term are given ('e.g.', 'such as', 'including')")
    now = next((t for t in tokens if t.low in _vocabulary()["current_use"]), None)  # labels and headings are not read
    if now and any(leaf.kind == "treatment" and leaf.window is None for leaf in leaves):
        # "Patients receiving anticoagulants" means now; a treatment with no window reads "ever had"
        return fail(f"not coded: current use of a treatment has no time the coded form can carry ({now.text!r})")
    unknown = [t.text for t, k in kinds if k == "unknown"]
    if unknown:
        shown = ", ".join(repr(w) for w in dict.fromkeys(unknown[:4]))
        return fail(f"not coded: words not understood: {shown}")
    for want, reason in (
        ("exception", "an exception clause is not understood"),
        ("score", "score items are not eligibility criteria"),
        ("narrowing", "a qualifier narrows the condition beyond its code"),
        ("time", "a time condition was not read"),
        ("number", "a number in the text was not read"),
    ):
        hits = [t.text for t, k in kinds if k == want]
        if hits:
            return fail(f"not coded: {reason} ({hits[0]!r})")

    negations = [t for t, k in kinds if k == "negation"]
    if negations and not _negations_belong(reading_text, negations, findings):
        return fail(f"not coded: a negation is not understood ({negations[0].text!r})")

    statement = _structure(reading_text, findings, kinds, conditions, section)
    if isinstance(statement, str):
        return fail(f"not coded: {statement}")
    top = statement.members if isinstance(statement, Node) else (statement,)
    if section == "EXCLUSION" and all(isinstance(m, Lit) and not m.holds for m in top):
        return fail("not coded: a negated statement under an exclusion heading is ambiguous")
    if not satisfiable(statement):
        return fail("not coded: two bounds that cannot both hold (the reading must be wrong)")
    if section == "UNKNOWN" and any(lit.holds and lit.finding.kind == "condition" for lit in literals(statement)):
        # NCI outlines ("PATIENT CHARACTERISTICS: … Cardiovascular: …") name conditions as context as often as
        # requirements, and a list with no headings names exclusions as plainly as requirements ("Pregnancy or
        # lactation"): written without "exclude", it would require what it excludes
        return fail("not coded: a condition under neither heading may be an exclusion or context, not a requirement")
    return Reading(reading_text, section, statement, None, tuple(findings), warnings)


_TERM_NEGATION = re.compile(r"\b(?:no|not|non|without|absence|absent|free|negative|never)\b", re.I)


def _defined_term(text: str, findings: list[Finding]) -> tuple[Optional[re.Match[str]], list[Finding]]:
    """A term defined by the thresholds after it ("Uncontrolled diabetes (HbA1c > 10 %)"): the
    thresholds are the statement, and a condition named in the term is what they define, not a
    second requirement (coding "diabetes" would exclude every diabetic). Never a term that holds a
    negation ("No renal insufficiency (creatinine > 1.5)"): the thresholds would lose their sign."""
    definition = _DEFINED_TERM.match(text)
    if definition is None or _TERM_NEGATION.search(definition.group("term")):
        return None, findings
    end = definition.end("term")
    # "diabetes (HbA1c > 12 %)" arrives joined as a qualified condition: take the parts apart
    flat = [part for f in findings for part in (f.parts if f.operator == "AND" and f.start < end else (f,))]
    inside = [f for f in flat if f.start < end]
    outside = [f for f in flat if f.start >= end]
    if not outside or any(f.kind not in ("lab", "performance") for f in outside):
        return None, findings
    if any(leaf.kind != "condition" or leaf.negated for f in inside for leaf in f.leaves()):
        return None, findings
    return definition, outside


def _negations_belong(text: str, negations: list[_Token], findings: list[Finding]) -> bool:
    """Each leftover negation word must sit in the same clause as a finding the recognisers read as
    negated (the word before it or after it); otherwise a negation may have been missed."""
    for token in negations:
        ok = False
        for finding in findings:
            if not _has_negation(finding):
                continue
            start = finding.start
            end = _atom_end(text, finding)
            between = text[token.start:start] if token.start < start else text[end:token.start]
            if not re.search(r"[;.]|\b(?:and|but)\b", between, re.I) and len(between) < 160:
                ok = True
                break
        if not ok:
            return False
    return True


def _has_negation(finding: Finding) -> bool:
    return finding.negated or any(part.negated for part in finding.leaves())


def _subgroup(condition: str) -> Optional[Formula]:
    """A subgroup named by a condition ("for patients with liver metastases", "for females")."""
    words = re.sub(r"^\s*[(,]?\s*", "", condition)
    sex = re.search(r"\b(?P<f>females?|women|woman)\b|\b(?P<m>males?|men|man)\b", words, re.I)
    body = _CONDITION_LEAD.sub("", words).strip(" ,:;()")
    if sex and re.fullmatch(r"(?:(?:fe)?males?|(?:wo)?m[ae]n)(?:\s+(?:patients?|subjects?|participants?))?", body, re.I):
        from .demographics import _sex_finding

        return from_finding(_sex_finding("female" if sex.group("f") else "male", body))  # the literal carries its answer
    reading = _read_whole(body, "INCLUSION", None)
    if reading.statement is None or not isinstance(reading.statement, (Lit, Node)):
        return None
    if any(leaf.kind not in ("condition", "biomarker", "sex", "age", "lab") for leaf in reading.findings):
        return None
    return reading.statement


_CONDITION_LEAD = re.compile(
    r"^(?:(?:only\s+)?(?:if|when|in\s+case\s+of|in\s+the\s+(?:presence|case)\s+of|for|in|with)\s+)?(?:the\s+)?"
    r"(?:(?:patients?|subjects?|participants?|those|cases?|people|individuals?)\s+(?:with|who\s+(?:have|has|are|is)|having|is|are)\s+)?"
    r"(?:(?:known|documented|evidence\s+of|presence\s+of)\s+)?",
    re.I,
)


# --- structure ------------------------------------------------------------------------------------


def _structure(text: str, findings: list[Finding], kinds: list[tuple[_Token, str]], conditions: dict[int, Formula], section: str):
    """The statement's formula, or a string saying why no formula can be trusted."""
    condition_tokens = [t for t, k in kinds if k == "condition"]
    if condition_tokens:
        return _implication(text, findings, kinds, condition_tokens, section)
    formulas: list[Formula] = []
    for index, finding in enumerate(findings):
        formula = from_finding(finding)
        if index in conditions:
            formula = ("cond", conditions[index], formula)  # type: ignore[assignment]
        formulas.append(formula)
    return _join(text, findings, formulas, kinds, section)


def _conditional(subgroup: Formula, consequence: Formula, section: str) -> Formula:
    """"if A: B": those with A must have B (inclusion); those with A and B are out (exclusion)."""
    if section == "EXCLUSION":
        return node("all", [subgroup, consequence])
    return implies(subgroup, consequence)


_CLAUSE_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|receiving|received|taking|undergoing|underwent|using)\b", re.I)


def _spread_window(text: str, findings: list[Finding], kinds: list[tuple[_Token, str]]) -> Optional[list[Finding]]:
    """"A cerebrovascular accident or transient ischaemic attack within 6 months": a window that closes a
    list of conditions or treatments in one clause belongs to each of them (as registry authors mean
    it; the narrower reading also turns no one away that the text would admit). Otherwise None."""
    last = findings[-1]
    if last.window is None or any(f.window is not None for f in findings[:-1]):
        return None
    if any(f.kind not in ("condition", "treatment") or f.parts for f in findings):
        return None
    if any(k == "break" or t.text in (";", ".") for t, k in kinds if findings[0].start <= t.start < last.start):
        return None  # separate clauses: the window is the last one's
    if any(_CLAUSE_VERB.search(text[_atom_end(text, a):b.start]) for a, b in zip(findings, findings[1:])):
        return None  # "a diagnosis of immunodeficiency or is receiving steroids within 7 days": a verb starts a clause of its own
    return [f.with_(window=last.window) for f in findings[:-1]] + [last]


def _runs(ops: list[str]):
    """Group neighbours by the connectives between them: a list of runs (index lists) joined by
    "or" inside a run, or a string when the grouping is ambiguous. "A, B or C" is one run; "A or B,
    C" is two ("ER+ and/or PR+, HER2-" → (ER or PR) and HER2-)."""
    if "or" not in ops:
        return [[i] for i in range(len(ops) + 1)]
    if "and" in ops:
        return "'and' and 'or' in one criterion: grouping ambiguous"
    if all(op == "list" for op in ops[:-1]) and ops[-1] == "or":
        return [list(range(len(ops) + 1))]
    runs: list[list[int]] = [[0]]
    seen_list_after_or = False
    for i, op in enumerate(ops, start=1):
        if op == "or":
            if seen_list_after_or and len(runs[-1]) == 1 and len(runs) > 1 and any(len(r) > 1 for r in runs[:-1]):
                return "commas and 'or' in one criterion: grouping ambiguous"
            runs[-1].append(i)
        else:
            if len(runs[-1]) == 1 and any(o == "or" for o in ops[i:]):
                return "commas and 'or' in one criterion: grouping ambiguous"
            seen_list_after_or = True
            runs.append([i])
    return runs


def _join(text: str, findings: list[Finding], formulas: list, kinds: list[tuple[_Token, str]], section: str):
    """Join neighbouring findings by the connectives between them."""
    ops: list[str] = []
    joined_with = compound = False
    for left, right in zip(findings, findings[1:]):
        between = [(t, k) for t, k in kinds if _atom_end(text, left) <= t.start < right.start]
        gap = {k for _, k in between}
        if "or" in gap and "and" in gap:
            return "'and' and 'or' between two findings: grouping ambiguous"
        if left.kind == right.kind == "condition" and not between and not re.search(r"[,;/]", text[_atom_end(text, left):right.start]):
            # "NYHA class III or IV heart disease": two findings with nothing between them are one compound
            # term, both parts at once — not a list (under an exclusion heading a list is any of them)
            if left.negated != right.negated:
                return "a negation over a compound term: scope not clear"
            compound = True
        ops.append("or" if "or" in gap else ("and" if "and" in gap else "list"))
        joined_with = joined_with or any(t.low == "with" for t, _ in between)
    both = any(k == "both" for _, k in kinds)
    if compound:
        if len(findings) != 2:
            return "a compound term in a list: grouping ambiguous"
        if findings[0].negated:
            # "No NYHA class III or IV heart disease" is ¬(class III–IV ∧ heart disease); negating each part
            # (¬III, ¬IV, ¬heart disease) would refuse every heart patient, the text only the severe ones
            if any(isinstance(f, tuple) for f in formulas):
                return "a negation over a compound term: scope not clear"
            return negate(node("all", [from_finding(f.with_(negated=False)) for f in findings], text))
        both = True
    if joined_with:
        # "HBsAg positive with HBV DNA ≥ 2,000 copies/mL": "with" joins what must hold together
        if len(findings) != 2:
            return "'with' between findings of a list: grouping ambiguous"
        both = True
    timed = [f.window is not None for f in findings if f.kind in ("condition", "treatment")]
    if len(findings) > 1 and any(timed) and not all(timed):
        spread = _spread_window(text, findings, kinds)
        if spread is None:
            return "a time window may apply to more than one finding"
        findings = spread
        formulas = [f if isinstance(f, tuple) else from_finding(g) for f, g in zip(formulas, findings)]
    special = [(f[1], f[2]) for f in formulas if isinstance(f, tuple)]
    plain = [f for f in formulas if not isinstance(f, tuple)]
    has_or = "or" in ops
    if special:
        if "and" in ops and has_or:
            return "'and' and 'or' in one criterion: grouping ambiguous"
        if has_or:
            # "creatinine ≤ ULN or CrCl ≥ 60 for patients with creatinine > ULN": the conditional one is an alternative
            return node("any", plain + [node("all", [a, b]) for a, b in special], text)
        alternatives = [node("all", [a, b]) for a, b in special]
        if plain:
            if section == "EXCLUSION":
                return "a subgroup threshold under an exclusion heading is not understood"
            default = node("all", [negate(a) for a, _ in special] + plain)
            return node("any", [default, *alternatives], text)
        # "AST > 155 U/L for females and > 200 U/L for males": each subgroup's rule; under an exclusion
        # heading each one is a reason to exclude (all of them at once could never hold: no one is both)
        return node("any" if section == "EXCLUSION" else "all", [_conditional(a, b, section) for a, b in special], text)
    grouped = _runs(ops)
    if isinstance(grouped, str):
        return grouped
    members: list[Formula] = []
    for run in grouped:
        alternatives = [plain[i] for i in run]
        if len(alternatives) > 1 and all(isinstance(m, Lit) and not m.holds for m in alternatives):
            members.append(node("all", alternatives))  # "no A or B": neither may hold
        elif len(alternatives) > 1 and any(isinstance(m, Lit) and not m.holds for m in alternatives):
            # "no history of angina, CHF or ejection fraction < 40 %": the negation reaches the measurement
            # too, but only the conditions carry it — any(¬A, ¬B, LVEF < 40) would admit nearly everyone
            return "a negation over an 'or' list that also holds what it cannot negate: scope not clear"
        else:
            members.append(node("any", alternatives))
    if len(members) > 1 and section == "EXCLUSION" and not both:
        return node("any", members, text)  # a list of reasons to exclude: any one excludes
    return node("all", members, text)


def _implication(text: str, findings: list[Finding], kinds: list[tuple[_Token, str]], cues: list[_Token], section: str):
    """"if A, B" / "for patients with A: B" / "B if A" / "B in patients with A"."""
    if len(cues) > 1 and any(c.low in ("if", "when", "unless") for c in cues[1:]):
        return "more than one condition clause"
    cue = cues[0]
    before = [f for f in findings if f.start < cue.start]
    after = [f for f in findings if f.start > cue.start]
    if not after:
        return "a condition clause names nothing that could be coded"
    if before:
        consequence, condition = before, after
    else:
        # leading cue: the condition runs to the first clause break (",", ":", "then", "must")
        breaks = [t.start for t, k in kinds if t.start > cue.start and (t.text in (",", ":", ";") or t.low in ("then", "must", "should"))]
        if not breaks:
            return "where the condition ends is not clear"
        cut = breaks[0]
        condition = [f for f in after if f.start < cut]
        consequence = [f for f in after if f.start > cut]
        if not condition or not consequence:
            return "a condition or its consequence names nothing that could be coded"
    if any(f.condition for f in findings):
        return "nested conditions"
    a = _join(text, condition, [from_finding(f) for f in condition], kinds, "INCLUSION")
    b = _join(text, consequence, [from_finding(f) for f in consequence], kinds, section)
    if isinstance(a, str):
        return a
    if isinstance(b, str):
        return b
    return _conditional(a, b, section)


# --- criteria trees ---------------------------------------------------------------------------------

#: A parent whose children are alternatives: "one of the following", "any of", "either", "at least one".
ANY_OF = re.compile(r"\b(?:one|any|either)\s+(?:or\s+more\s+)?of\b|\bat\s+least\s+one\b", re.I)
#: A parent that makes its children apply to a subgroup only: "If HER2-positive:", "For women of …".
CONDITIONAL_PARENT = re.compile(
    r"^\s*(?:if|when|for\s+(?:patients?|subjects?|participants?|women|men|those)\s+(?:with|who)|in\s+(?:the\s+)?(?:absence|presence|case)\s+of)\b",
    re.I,
)
#: A parent whose children are exceptions or permissions ("Prior malignancies except:").
EXCEPTION_PARENT = re.compile(r"\bexcept\b|\bother\s+than\b|\bunless\b|\bexcluding\b|\ballowed\b|\bpermitted\b|\bexception", re.I)
#: A parent that negates its children ("None of the following:", "No history of:").
NEGATING_PARENT = re.compile(r"^\s*(?:no|none|without|absence\s+of|must\s+not|should\s+not)\b", re.I)
#: A short label ("Age:", "Hepatic:"): its children are read with it.
LABEL = re.compile(r"^\s*(?P<label>[A-Za-z][A-Za-z /-]{1,30}):\s*$")


@dataclass(frozen=True)
class Item:
    """One criterion with its children, read: ``statement`` covers the whole subtree (uncoded parts
    are :class:`~.logic.Opaque`), ``reading`` is the item's own text."""

    criterion: object
    reading: Reading
    children: tuple["Item", ...]
    statement: Formula
    reason: Optional[str] = None


def label_context(parent_text: Optional[str]) -> Optional[str]:
    """The short label a parent item gives its children ("Age:", "Performance status:"), if any."""
    if not parent_text:
        return None
    match = LABEL.match(parent_text)
    return match.group("label") if match else None


def _only_filler(text: str, *, intro: bool = False) -> bool:
    """Whether a parent's words say nothing but "the following" / "adequate organ function:".
    An introduction ending in a colon may also carry qualifiers and time words ("… confirmed by the
    following laboratory tests during the screening period:"): they describe how, not who."""
    spans = _phrase_spans(text)
    allowed = ("ignore", "break", "and", "narrowing", "time") if intro else ("ignore", "break", "and")
    return all(_classify(token) in allowed for token in _residual(text, spans))


def read_item(criterion, section: Optional[str] = None, context: Optional[str] = None,  # type: ignore[no-untyped-def]
              *, studied_malignancy: bool = False) -> Item:
    """Read a criterion and its children into one statement (see :mod:`.logic` for the forms).

    A statement that contradicts itself somewhere (a branch needing a condition and its absence)
    is a wrong reading, whatever produced it: the item then stays words."""
    item = _read_item(criterion, section, context, studied_malignancy)
    if not isinstance(item.statement, Opaque) and not satisfiable(item.statement):
        return _as_words(item, "not coded: the reading contradicts itself (it must be wrong)", section)
    return item


def _read_item(criterion, section: Optional[str], context: Optional[str], studied_malignancy: bool) -> Item:  # type: ignore[no-untyped-def]
    section = section or criterion.category
    text = criterion.text
    reading = read_criterion(text, section, context, studied_malignancy)
    child_context = label_context(text)
    children = tuple(alternatives_in_line(
        [read_item(child, section, child_context, studied_malignancy=studied_malignancy) for child in criterion.children]))
    if not children:
        statement = _wrap(reading.statement, text) if reading.coded else Opaque(text)
        return Item(criterion, reading, (), statement, reading.reason)

    def opaque(reason: str) -> Item:
        return Item(criterion, reading, children, _text_tree(criterion, section), reason)

    members = [child.statement for child in children]
    if EXCEPTION_PARENT.search(text):
        return opaque("not coded: the sub-items are exceptions or permissions")
    if all(isinstance(member, Opaque) for member in members) and not reading.coded:
        return opaque(reading.reason if reading.findings else "not coded: no sub-item could be coded")
    if CONDITIONAL_PARENT.match(text):
        subgroup = _subgroup(text.rstrip(" :"))
        if subgroup is None:
            return opaque("not coded: the condition is not understood")
        if all(isinstance(member, Opaque) for member in members):
            return opaque("not coded: no sub-item could be coded")
        body = Node("all" if section != "EXCLUSION" else "any", tuple(members), text)
        return Item(criterion, reading, children, Node("all", (_conditional(subgroup, body, section),), text))
    if NEGATING_PARENT.match(text) and not reading.coded:
        if section == "EXCLUSION" or not _only_filler(NEGATING_PARENT.sub("", text)):
            return opaque("not coded: a negating parent item is not understood here")
        return Item(criterion, reading, children, Node("all", (negate(Node("any", tuple(members), text)),), text))
    if reading.coded and section != "EXCLUSION" and _EXAMPLES.search(text):
        # "Women with systemic autoimmune disease, including:": the sub-items are instances of the term,
        # not further requirements (all of them would be required)
        return opaque("not coded: the sub-items are examples of the item's term")
    heading = reading.coded and _is_heading(text, reading.statement)
    if heading:
        if not all(lit.finding.kind == "treatment" for lit in necessary(reading.statement)):
            # "Asthmatic Subjects", "Cardiovascular Disease" over sub-items: a cohort or a topic, not a requirement
            return opaque("not coded: a heading naming a condition may define a cohort")
        reading = Reading(reading.text, section, None, "a heading for the sub-items", (), reading.warnings)
    if ANY_OF.search(text):
        own = [reading.statement] if reading.coded else []
        if not reading.coded and reading.findings:
            return opaque(reading.reason or "not coded")
        alternatives = Node("any", tuple(members), text)
        return Item(criterion, reading, children, Node("all", tuple(own) + (alternatives,), text) if own else alternatives)
    if reading.coded:
        own = [reading.statement]
    elif reading.findings or not (heading or LABEL.match(text) or _only_filler(text, intro=text.rstrip().endswith(":"))):
        return opaque(reading.reason if reading.findings else "not coded: the parent item is not understood")
    else:
        own = []
    joiner = "any" if section == "EXCLUSION" else "all"
    return Item(criterion, reading, children, Node(joiner, tuple(own + members), text))


def _is_heading(text: str, statement: Formula) -> bool:
    """A parent that is only the name of a condition or treatment class ("Chemotherapy", "Cardiovascular
    Disease"): in NCI outlines it is the topic of its sub-items ("Chemotherapy: Not specified"), not a
    requirement to have had it."""
    literals_ = necessary(statement)
    if len(literals_) != 1 or len(re.findall(r"[A-Za-z]+", text)) > 4:
        return False
    lit = literals_[0]
    return lit.holds and lit.finding.window is None and lit.finding.kind in ("condition", "treatment")


def _text_tree(criterion, section: str) -> Formula:  # type: ignore[no-untyped-def]
    """An uncoded item with all its sub-items as words only: nothing is coded below an item that
    was not understood (its sub-items may be exceptions, alternatives or conditions)."""
    parts = tuple(_text_tree(child, section) for child in criterion.children)
    operator = "any" if section == "EXCLUSION" or ANY_OF.search(criterion.text) else "all"
    return Opaque(criterion.text, parts, operator)  # type: ignore[arg-type]


def _wrap(statement: Formula, text: str) -> Formula:
    """An item-level node carrying the criterion's words (a single member keeps them as its description)."""
    if isinstance(statement, Node) and statement.text == text:
        return statement
    return Node("all", (statement,), text)


def read_criteria(criteria, studied: Sequence[str] = ()) -> list[Item]:  # type: ignore[no-untyped-def]
    """Every top-level criterion read with its children; ``studied`` are the trial's own conditions
    (a trial of a malignancy keeps "other malignancy" as text, see :func:`read_criterion`)."""
    malignant = studies_malignancy(studied)
    return alternatives_in_line([read_item(criterion, studied_malignancy=malignant) for criterion in criteria])


#: An item that ends in "or" ("Fasting plasma glucose > 126 mg/dL or"): it and the next are alternatives.
_DANGLING_OR = re.compile(r"\b(?:and/)?or\s*[:;,]?\s*$", re.I)


def alternatives_in_line(items: list[Item]) -> list[Item]:
    """Siblings that are really alternatives of each other stay words.

    Registry text often flattens "one of the following:" lists: the alternatives follow the item that
    announces them as its siblings, not its sub-items, and an item may end in "or" with its alternative
    as the next item. Read alone, each would be coded as a requirement for everyone. (Exclusion items
    are reasons of which any one excludes: alternatives there change nothing.)
    """
    out = list(items)
    announcing: Optional[str] = None
    category = None
    for index, item in enumerate(out):
        text = item.criterion.text.strip()
        if item.criterion.category == "EXCLUSION":
            announcing = None  # under an exclusion heading every item is already one reason of several
            continue
        if announcing is not None and not text.endswith(":") and item.criterion.category == category:
            out[index] = _as_words(item, f"not coded: one of the alternatives announced by {announcing!r}")
            continue
        announcing = text[:60] if text.endswith(":") and ANY_OF.search(text) and not item.children else None
        category = item.criterion.category
        if _DANGLING_OR.search(text):
            out[index] = _as_words(item, "not coded: the item ends in 'or': it is an alternative to the next one")
            if index + 1 < len(out):
                out[index + 1] = _as_words(out[index + 1], "not coded: the item before ends in 'or': they are alternatives")
    return out


def _as_words(item: Item, reason: str, section: Optional[str] = None) -> Item:
    """The item (and its sub-items) as words only, with why; an item already left as words keeps its reason."""
    if isinstance(item.statement, Opaque) and item.reason:
        return item
    return Item(item.criterion, item.reading, item.children, _text_tree(item.criterion, section or item.criterion.category), reason)


def criterion_warnings(criteria) -> list[str]:  # type: ignore[no-untyped-def]
    """Warnings about criterion text (implausible values, missing units), one line each naming the
    criterion, so that a batch report counts them, not only ``explain``."""
    out: list[str] = []

    def walk(items: tuple[Item, ...] | list[Item]) -> None:
        for item in items:
            for warning in dict.fromkeys(item.reading.warnings):
                out.append(f"criterion {item.criterion.text[:80]!r}: {warning}")
            walk(item.children)

    walk(read_criteria(criteria))
    return out
