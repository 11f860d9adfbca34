"""Receptor status: HER2 (with IHC scores and FISH), ER, PR, hormone-receptor status and triple-negative.

Status words are read next to the receptor's name only ("HER2-negative", "HER2 (-)", "ER+ and/or
PR+", "negative for HER2"), so "HER2-targeted therapy" or "ER visit" say nothing. "HER2-" directly
followed by a disease word ("HER2-metastatic breast cancer") is read as negative, the way the
registry text uses it; other words after the hyphen are not.

Status findings use the LOINC interpretation codes (48676-1 HER2, 16112-5 ER, 16113-3 PR) with
SNOMED CT Positive/Negative; IHC scores (0, 1+, 2+, 3+) use 85319-2 with the score as text, because
no verified LOINC answer codes for IHC scores are in the tables. "Hormone receptor-positive" is
ER positive OR PR positive; "hormone receptor-negative" is ER negative AND PR negative.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

from .findings import Finding
from .prefilter import Haystack, LiteralIndex
from .tables import concept

_HER2 = r"(?:HER[- ]?2(?:\s*[/-]\s*neu)?|ERBB2|c-?erbB-?2)"
_ER = r"(?:(?-i:\bER)|estrogen[- ]receptors?|oestrogen[- ]receptors?)"
_PR = r"(?:(?-i:\bPg?R)|progesterone[- ]receptors?)"
_HR = r"(?:(?-i:\bHR)|hormone[- ]receptors?)"

_POS_WORD = r"(?:positive|positivity|overexpress(?:ing|ion|ed)|amplified|amplification)"
_NEG_WORD = r"(?:negative|negativity|non-?amplified|not\s+amplified|non-?overexpressing)"
_DISEASE_WORD = r"(?:metastatic|advanced|breast|early|locally|recurrent|MBC|EBC|BC|tumou?rs?|cancers?|disease|inoperable|unresectable|invasive|primary)\b"

_STATUS_AFTER = re.compile(
    rf"[\s-]*(?:\(\s*)?(?:status\s*(?:is\s*|:\s*|was\s*)?|receptor\s*|expression\s*(?:is\s*)?)?(?P<status>{_POS_WORD}|{_NEG_WORD})"
    r"|\s*(?P<sym>\(\+\)|\(-\)|\(−\)|\+|-|−|–)",
    re.I,
)
_STATUS_BEFORE = re.compile(rf"(?P<status>positive|negative)\s+(?:for\s+)?$", re.I)
#: "No overexpression of HER-2", "amplification of HER2": the status named before the receptor.
_NAMED_STATUS_BEFORE = re.compile(r"(?:(?P<no>\b(?:no|without|absence\s+of|lack\s+of)\s+)(?:evidence\s+of\s+)?)?\b(?:over-?expression|amplification)\s+of\s+(?:the\s+)?$", re.I)
_ALLOWED_AFTER = re.compile(r"[^.;]{0,80}?\b(?:allowed|permitted|not\s+excluded|may\s+be\s+(?:included|enrolled|eligible))\b", re.I)
_IHC = re.compile(r"\bIHC\b[^.;]{0,40}?(?P<scores>(?:[0-3]\+?(?:\s*(?:,|or|and|/)\s*)?)+)", re.I)
#: "HER2-neu overexpressing tumor (2+ or 3+)": staining scores in a bracket right after the HER2 status.
_BRACKET_SCORES = re.compile(rf"{_HER2}[\s-]*(?:{_POS_WORD})[^.;()]{{0,20}}?\((?P<scores>\s*[0-3]\+(?:\s*(?:,|or|and|/)\s*[0-3]\+)*\s*)\)", re.I)
_IHC_SCORE = re.compile(r"[0-3]\+|\b0\b")
_FISH = re.compile(r"\bFISH\b[^.;]{0,25}?(?P<status>positive|negative|non-?amplified|amplified)|(?P<status2>positive|negative|non-?amplified|amplified)\s+(?:by\s+)?FISH\b", re.I)
_DISEASE_WORD_AT = re.compile(_DISEASE_WORD, re.I)
_PAIR = re.compile(r"\s*/\s*(?:PR|PgR|ER)\b", re.I)
_HAZARD_RATIO_AFTER = re.compile(r"\s*(?:\d|=|of\b)")
_TRIPLE = re.compile(r"\btriple[- ]negative\b|\bTNBC\b", re.I)


def _status_word(word: str) -> Optional[str]:
    lowered = word.lower()
    if lowered in ("+", "(+)") or lowered.startswith(("pos", "overexpress", "amplif")):
        return "positive"
    if lowered in ("-", "−", "–", "(-)", "(−)") or lowered.startswith(("neg", "non", "not")):
        return "negative"
    return None


def _status_after(text: str, end: int) -> Optional[tuple[str, int]]:
    """The status written right after a receptor's name, with where it ends."""
    match = _STATUS_AFTER.match(text, end)
    if not match:
        return None
    if match.group("status"):
        status = _status_word(match.group("status"))
        return (status, match.end()) if status else None
    symbol = match.group("sym")
    following = text[match.end():match.end() + 1]
    if symbol == "+" and following.isdigit():
        return None
    if symbol in ("-", "−", "–"):
        # "HER2- is defined as …", "HER2-, …" read negative; so does "HER2-metastatic breast cancer";
        # "HER2-targeted", "HER2-low", "HER2-directed" do not.
        if following.isalnum() and not _DISEASE_WORD_AT.match(text, match.end()):
            return None
    status = _status_word(symbol)
    return (status, match.end()) if status else None


def _marker_finding(key: str, status: str, span: str, start: int) -> Finding:
    return Finding(kind="biomarker", concept=concept("biomarkers", key), values=(concept("values", status),), text=span, start=start)


def _receptor(pattern: str, key: str, text: str) -> list[Finding]:
    findings: list[Finding] = []
    for match in _compiled(pattern).finditer(text):
        if key != "her2" and _PAIR.match(text, match.end()):
            # "ER/PR-positive": the status after the pair applies to both
            pair = _PAIR.match(text, match.end())
            assert pair is not None
            after = _status_after(text, pair.end())
        else:
            after = _status_after(text, match.end())
        if after:
            opposite = "positive" if after[0] == "negative" else "negative"
            if re.match(rf"[^.;]{{0,25}}?\b{opposite}\b", text[after[1]:after[1] + 40], re.I):  # bounded: the longest match is 33 characters
                continue  # "Estrogen receptor negative, positive, or unknown": any status, no restriction
            findings.append(_marker_finding(key, after[0], text[match.start():after[1]].strip(), match.start()))
            continue
        named = _NAMED_STATUS_BEFORE.search(text[max(0, match.start() - 40):match.start()]) if key == "her2" else None
        if named and not _ALLOWED_AFTER.match(text, match.end()):
            # "No overexpression of HER-2" is HER2 negative; "overexpression of HER2" positive
            status = "negative" if named.group("no") else "positive"
            findings.append(_marker_finding(key, status, text[match.start() - len(named.group(0)):match.end()], match.start() - len(named.group(0))))
            continue
        before = _STATUS_BEFORE.search(text[max(0, match.start() - 20):match.start()])
        if before:
            findings.append(_marker_finding(key, before.group("status").lower(), text[match.start() - len(before.group(0)):match.end()], match.start()))
    return findings


def _her2_details(text: str) -> list[Finding]:
    """IHC scores and FISH results stated for HER2 ("IHC 0 or 1+, or IHC 2+ and negative ISH")."""
    if not _compiled(_HER2).search(text):
        return []
    findings: list[Finding] = []
    seen: set[str] = set()
    matches = list(_IHC.finditer(text)) or list(_BRACKET_SCORES.finditer(text))
    for match in matches:
        for score in _IHC_SCORE.findall(match.group("scores")):
            score = score if score.endswith("+") or score == "0" else score
            if score in seen:
                continue
            seen.add(score)
            findings.append(Finding(kind="biomarker", concept=concept("biomarkers", "her2_ihc"), value_text=score, text=match.group(0).strip(), start=match.start()))
    if len(findings) > 1:
        findings = [Finding(kind="biomarker", operator="OR", parts=tuple(findings), text="; ".join(f.text for f in findings), start=findings[0].start)]
    for match in _FISH.finditer(text):
        status = _status_word(match.group("status") or match.group("status2"))
        if status:
            findings.append(_marker_finding("her2_fish", status, match.group(0).strip(), match.start()))
    return findings


def _hormone_receptor(text: str) -> list[Finding]:
    findings: list[Finding] = []
    for match in _compiled(_HR).finditer(text):
        if match.group(0) == "HR" and _HAZARD_RATIO_AFTER.match(text, match.end()):
            continue  # "HR 0.7", "HR of": hazard ratio
        after = _status_after(text, match.end())
        if not after:
            continue
        span = text[match.start():after[1]].strip()
        er = _marker_finding("er", after[0], span, match.start())
        pr = _marker_finding("pr", after[0], span, match.start())
        operator = "OR" if after[0] == "positive" else "AND"
        findings.append(Finding(kind="biomarker", operator=operator, parts=(er, pr), text=span, start=match.start()))
    return findings


_ER_AND_PR = re.compile(r"\b(?:o?estrogen)(?:[- ]receptors?)?\s*(?P<op>and/or|or|and|/)\s*progesterone[- ]receptors?", re.I)


def _er_and_pr(text: str) -> list[Finding]:
    """"Estrogen or progesterone receptor positive": one status word for both receptors."""
    findings = []
    for match in _ER_AND_PR.finditer(text):
        after = _status_after(text, match.end())
        if not after:
            continue
        span = text[match.start():after[1]].strip()
        parts = (_marker_finding("er", after[0], span, match.start()), _marker_finding("pr", after[0], span, match.start()))
        operator = "AND" if match.group("op").lower() == "and" else "OR"
        findings.append(Finding(kind="biomarker", operator=operator, parts=parts, text=span, start=match.start()))
    return findings


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


@lru_cache(maxsize=1)
def _gate() -> LiteralIndex:
    """Every finding below starts from one of these names (HER2 details and FISH only after HER2)."""
    return LiteralIndex([_ER_AND_PR, _compiled(_HER2), _compiled(_ER), _compiled(_PR), _compiled(_HR), _TRIPLE])


def understand_biomarkers(text: str) -> list[Finding]:
    """Receptor findings of one criterion, in reading order."""
    if not _gate().candidates(Haystack(text)):
        return []  # no receptor is named: one scan instead of six searches
    pairs = _er_and_pr(text)
    covered = [(pair.start, pair.start + len(pair.text)) for pair in pairs]
    findings = list(pairs)
    findings += _receptor(_HER2, "her2", text)
    findings += _her2_details(text)
    findings += [f for f in _receptor(_ER, "er", text) + _receptor(_PR, "pr", text)
                 if not any(start <= f.start < end for start, end in covered)]
    findings += _hormone_receptor(text)
    for match in _TRIPLE.finditer(text):
        findings.append(Finding(kind="biomarker", concept=concept("biomarkers", "triple_negative"), text=match.group(0), start=match.start()))
        break
    return sorted(findings, key=lambda f: f.start)
