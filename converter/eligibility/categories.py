"""Inclusion or exclusion from an item's own wording, for criteria listed without headings.

Many registry records, legacy ones above all, list their criteria with no "Inclusion/Exclusion"
heading ("Patients must have …", "No prior chemotherapy", "Patients with … are ineligible"). The
parser (:mod:`.criteria`) leaves such items ``UNKNOWN``, because a heading is the only thing it
trusts. This step reads the item itself, the way a reviewer would:

* an item that says the patient is excluded ("… are ineligible", "… will be excluded") is an
  exclusion criterion, unless it is itself a requirement ("must be excluded by CT" rules a disease
  out, it does not exclude the patient);
* an item that states a requirement by itself — a modal ("must", "should", "required") or a
  negation at its start ("No prior …", "Not pregnant": an inclusion criterion stated negatively) —
  is an inclusion criterion;
* wording that only suggests a requirement (a threshold "≥ 1,500/mm3", an age, consent, a confirmed
  diagnosis) counts only when every item of the list reads as a requirement: a list that also
  holds bare descriptions ("Pregnancy or lactation") has probably lost its headings, and its
  "ALT > 3 × ULN" may be an exclusion;
* anything else keeps ``UNKNOWN`` and is reported by the caller: a wrong category is worse than
  none, because FHIR and CDISC would both carry it as fact.

A parent item takes its own wording's category, else the one its marked children agree on; the
decision then covers its whole subtree, so "No evidence of CNS disease" under an inclusion parent
stays an inclusion criterion stated negatively. Items that already have a category are not touched.
The word lists are data (:data:`EXCLUDING`, :data:`REQUIRING`, :data:`SUGGESTING`); the logic is small functions.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from ..model import Criterion

Side = Literal["INCLUSION", "EXCLUSION"]

_SUBJECT = r"(?:patients?|subjects?|participants?|individuals?|persons?|people|women|men|volunteers?|children|candidates?|those|anyone|cases?)"

#: Wording that puts the patient out of the study.
EXCLUDING = re.compile(
    r"\b(?:are|is|be|being|considered|deemed|remain)\s+(?:also\s+)?(?:ineligible|excluded|not\s+eligible)\b"
    r"|\bexclusion\b"
    r"|\b(?:will|shall|may|can|could)\s+not\s+be\s+(?:enrolled|entered|included|accepted|admitted|randomi[sz]ed|treated)\b"
    r"|\b(?:cannot|can't)\s+(?:be\s+)?(?:enrolled|entered|included|accepted|participate)\b"
    r"|\bnot\s+(?:be\s+)?(?:allowed|permitted)\s+to\s+(?:participate|enrol+|enter)\b"
    rf"|^(?:{_SUBJECT}\s+)?(?:who|with|having)\b.{{0,400}}\bineligible\b",
    re.I | re.S,
)

#: Wording that states a requirement by itself: a modal ("must", "should", "required"), an
#: eligibility word, or a negation at the start ("No prior …", "Without …": an inclusion criterion
#: stated negatively). Checked after :data:`EXCLUDING`.
REQUIRING = re.compile(
    r"\b(?:must|should|shall|required|requires?|requirement|mandatory|needs?\s+to|has\s+to|have\s+to|eligible|qualif(?:y|ies))\b"
    r"|^(?:no|not|non|without|absence\s+of|never|none\s+of|free\s+of|negative\s+for)\b",
    re.I,
)

#: Wording typical of requirements that an exclusion list can also use ("Platelets ≥ 100,000" is
#: an inclusion item; "ALT > 3 × ULN" an exclusion one). Trusted only in a list whose every item
#: reads as a requirement, never in one that also holds bare descriptions ("Pregnancy or
#: lactation") — the mark of a list that lost its headings.
SUGGESTING = re.compile(
    r"[≥≤<>]=?|\b(?:at\s+least|at\s+most|greater\s+than|less\s+than|more\s+than|fewer\s+than|up\s+to|or\s+(?:more|less|greater|older|younger)|and\s+(?:over|under|older|above))\b"
    r"|\b(?:within|above|below)\s+(?:the\s+)?(?:normal|upper|lower|institutional)\b|\b(?:ULN|LLN)\b|^(?:normal|adequate|sufficient|stable)\b"
    r"|^(?:age[ds]?|men|women|males?|females?|sex|gender)\b|\b\d+\s*(?:to|-|–)\s*\d+\s*years\b|\b\d+\s*years\s+(?:of\s+age|old)\b"
    r"|\b(?:informed\s+consent|willing(?:ness)?|able\s+to|ability\s+to|capable\s+of|agrees?\s+to)\b"
    r"|^(?:histolog|cytolog|patholog|biops|confirmed|documented|proven|diagnos|measurable|evaluable|performance\s+status|karnofsky|ecog|zubrod|life\s+expectancy)",
    re.I,
)


def side_of(text: str, *, trust_suggestions: bool = False) -> Optional[Side]:
    """The category one item's wording makes clear, or None.

    ``trust_suggestions`` lets threshold, age, consent and diagnosis wording count as a requirement
    (only for lists whose every item reads as one).
    """
    if re.search(r"\binclusion\b", text, re.I) and re.search(r"\bexclusion\b", text, re.I):
        return None  # "Inclusion/Exclusion:" names both sides; its children may still tell
    if EXCLUDING.search(text) and not re.search(r"\b(?:must|should|shall|required)\b", text, re.I):
        return "EXCLUSION"
    if REQUIRING.search(text) or (trust_suggestions and SUGGESTING.search(text)):
        return "INCLUSION"
    return None


def _decide(item: Criterion, trust: bool) -> Optional[Side]:
    """An item's own wording, else the one category its children's wording agrees on."""
    own = side_of(item.text, trust_suggestions=trust)
    if own or not item.children:
        return own
    sides = {side for child in item.children if (side := _decide(child, trust))}
    return sides.pop() if len(sides) == 1 else None


def _reads_as_requirements(items: list[Criterion]) -> bool:
    """Does every item of the list state or suggest a requirement (no bare descriptions)?"""
    def suggests(item: Criterion) -> bool:
        return side_of(item.text, trust_suggestions=True) is not None or (bool(item.children) and all(suggests(c) for c in item.children))
    return all(suggests(item) for item in items)


def _with_category(item: Criterion, side: Side) -> Criterion:
    """``item`` and its uncategorised descendants under ``side``."""
    children = [_with_category(child, side) if child.category == "UNKNOWN" else child for child in item.children]
    return item.model_copy(update={"category": side, "children": children})


def infer_categories(criteria: list[Criterion]) -> tuple[list[Criterion], int, list[str]]:
    """Give uncategorised top-level items the category their wording makes clear.

    Returns the new list, how many items were given a category, and the texts of the items that
    stay ``UNKNOWN`` (for the caller's report). Items with a category are returned unchanged.
    """
    out: list[Criterion] = []
    decided = 0
    unresolved: list[str] = []
    trust = _reads_as_requirements([item for item in criteria if item.category == "UNKNOWN"])
    for item in criteria:
        if item.category != "UNKNOWN":
            out.append(item)
            continue
        side = _decide(item, trust)
        if side is None:
            unresolved.append(item.text)
            out.append(item)
            continue
        decided += 1
        out.append(_with_category(item, side))
    return out, decided, unresolved
