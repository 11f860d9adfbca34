"""Arms a record names in its own prose although it lists none: pure text parsers, no model.

Old ClinicalTrials.gov records (the NCI/PDQ outlines, early sponsor uploads) often have no arm list,
yet their text states the groups outright: "Arm I: … Arm II: …", "Patients in arm I receive …",
"The first group receives … The second group …", "randomized to receive either X or Y",
"randomized to 1 of 8 dosing times (0000, 0300, …)", "two treatment arms: the standard therapy group
and the enhanced therapy group". Each parser here returns the arms such a statement names, as
(label, text) pairs, or nothing when the wording is not one of these clear forms — a parser never
guesses a group the text does not name. :mod:`converter.normalize.completion` decides which parser
a trial's record supports and builds the (derived) arms.
"""

from __future__ import annotations

import re
from typing import Optional

NamedArm = tuple[str, str]

_ARM_TERM = r"(?:[IVX]{1,4}|[A-H]|\d{1,2})"
_MORE_TERMS = rf"(?P<more>(?:\s*(?:,|and|&|/)\s*{_ARM_TERM})+)"
#: "Arm I:", "* Arm II (control):", "Arms II and III:", "Group 2:" at a sentence or line start opens a named
#: arm (several terms: each of those arms, when not named before); "Both groups:" or "All patients:" opens
#: a part common to several arms, which ends the arm above.
_ARM_HEADING = re.compile(
    rf"(?:^|(?<=[\s.;]))(?:[*•-]\s*)?(?:"
    rf"(?P<kind>Arms?|ARMS?|Groups?|GROUPS?)\s+(?P<term>{_ARM_TERM}){_MORE_TERMS}?"
    rf"|(?:Both|All)\s+(?:arms|groups|patients)"
    rf")\s*(?:\([^)]{{0,60}}\))?\s*:",
)
#: The same as a sentence: "Patients in arm I receive …", "Group A will receive …", "Group C is a
#: control group …". Several terms ("Patients in groups A and B undergo …") speak of arms already named.
_ARM_SENTENCE = re.compile(
    rf"(?:^|(?<=[.;:]\s)|(?<=\n))(?:[*•-]\s*)?(?:Patients\s+(?:in|on|randomi[sz]ed\s+to)\s+)?"
    rf"(?P<kind>[Aa]rms?|ARMS?|[Gg]roups?|GROUPS?)\s+(?P<term>{_ARM_TERM}){_MORE_TERMS}?"
    rf"\s+(?:will\s+)?(?:receives?|undergoe?s?|is|are|gets?|takes?)\b",
)
_PARAGRAPH_END = re.compile(r"\n\s*\n")
#: A sentence about several arms or about what follows every arm ("Patients in arms I and II
#: continue …", "All patients undergo surgery …", "Patients are followed …") is no longer one arm's.
#: ("Patients then receive …" stays: within an arm it is the next step of that arm's sequence.)
_SHARED_SENTENCE = re.compile(
    rf"(?<=[.;])\s+(?=(?:All\s+patients|Both\s+(?:arms|groups)"
    rf"|Patients\s+(?:in|on|of)\s+(?:both|all|each|(?:arms?|groups?)\s+{_ARM_TERM}\s*(?:,|and|&))"
    rf"|Patients\s+are\s+(?:followed|evaluated))\b)",
    re.I,
)
_ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def _terms(match: re.Match[str]) -> list[str]:
    return [match.group("term"), *re.findall(_ARM_TERM, match.group("more") or "")]


def _body(text: str, start: int, end: int) -> str:
    """An arm's own text: from ``start`` to ``end``, the end of its paragraph or the first sentence
    about several arms, whichever comes first."""
    paragraph = _PARAGRAPH_END.search(text, start, end)
    body = " ".join(text[start: paragraph.start() if paragraph else end].split())
    shared = _SHARED_SENTENCE.search(body)
    return body[: shared.start()].strip() if shared else body


def named_arms(text: str) -> list[NamedArm]:
    """(label, description) of each arm a description names in turn ("Arm I: …", "Arm II: …", or
    "Patients in arm I receive …", "Patients in arm II receive …").

    An arm's text runs to the next arm label, a part common to several arms ("Arm I and II:", "All
    patients: …"), a sentence about several arms or what follows them all ("All patients undergo
    surgery …"), or the end of its paragraph. A heading naming several arms ("Arms II and III: …")
    gives its text to each of them that is not named before. Fewer than two distinct arms, or labels
    out of order, give nothing. The colon headings are read first; the sentence form only when the
    headings name no arms.
    """
    return _named_by(text, _ARM_HEADING, body_from_label=False) or _named_by(text, _ARM_SENTENCE, body_from_label=True)


def _named_by(text: str, pattern: re.Pattern[str], body_from_label: bool) -> list[NamedArm]:
    starts = list(pattern.finditer(text))
    single: dict[str, str] = {}
    shared: list[tuple[list[str], str]] = []
    for index, match in enumerate(starts):
        if not match.group("kind"):
            continue
        kind = match.group("kind").rstrip("sS").capitalize()
        labels = [f"{kind} {term.upper()}" for term in _terms(match)]
        if match.group("more") and body_from_label:
            continue  # "Patients in arms I and II continue …": of arms named elsewhere
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        body = _body(text, match.start() if body_from_label else match.end(), end)
        if not body:
            continue
        if match.group("more"):
            shared.append((labels, f"{body} (the description gives this text to {', '.join(labels)} together)"))
        elif labels[0] not in single:
            single[labels[0]] = body
    arms = dict(single)
    for labels, body in shared:  # "Arms II and III: …" names the arms no heading of their own names
        for label in labels:
            arms.setdefault(label, body)
    ordered = sorted(arms.items(), key=lambda item: _rank(item[0].split()[1]))
    terms = [label.split()[1] for label, _ in ordered]
    return ordered if len(ordered) >= 2 and _in_order(terms) else []


def _rank(term: str) -> int:
    if term in _ROMANS:
        return _ROMANS.index(term)
    return int(term) if term.isdigit() else ord(term)


def _in_order(terms: list[str]) -> bool:
    """I, II, III… or 1, 2, 3… or A, B, C… from the first, with no gap."""
    for sequence in (_ROMANS, [str(n) for n in range(1, 100)], [chr(c) for c in range(ord("A"), ord("Z") + 1)]):
        if terms == sequence[: len(terms)]:
            return True
    return False


# ------------------------------------------------------------------------------------ "the first group …"

_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth"]
#: "The first group receives …", "Then second group receives …" (sic), "The final group receives …",
#: "One treatment arm receives …", "The other arm receives …", at a sentence start.
_ORDINAL_SENTENCE = re.compile(
    r"(?:^|(?<=[.;:]\s)|(?<=\n))(?:The|Then|One)\b\s*(?P<ordinal>first|second|third|fourth|fifth|sixth|final|last|other)?"
    r"\s+(?P<kind>(?:treatment\s+)?(?:group|arm))\s+(?:will\s+)?(?:receives?|undergoe?s?|is|gets?|takes?)\b",
    re.I,
)


def ordinal_arms(text: str) -> list[NamedArm]:
    """The groups an outline counts off: "The first group receives … The second group receives …
    The final group receives …", or "One treatment arm receives … The other arm receives …".

    The ordinals must run first, second, … from the first (a "final"/"last" group may close the
    list); "one … the other" names exactly two. Each group's text runs to the next group's sentence,
    a sentence about every group, or the paragraph end.
    """
    starts = [m for m in _ORDINAL_SENTENCE.finditer(text) if m.group(0)[:3].lower() == "one" or m.group("ordinal")]
    words = [(m.group("ordinal") or "one").lower() for m in starts]
    if words == ["one", "other"]:
        labels = [f"One {starts[0].group('kind').lower()}", f"Other {starts[1].group('kind').lower()}"]
    elif len(words) >= 2 and "one" not in words and "other" not in words:
        counted = words[:-1] if words[-1] in ("final", "last") else words
        if counted != _ORDINALS[: len(counted)]:
            return []
        labels = [f"{word.capitalize()} {m.group('kind').split()[-1].lower()}" for word, m in zip(words, starts)]
    else:
        return []
    arms = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        arms.append((labels[index], _body(text, match.start(), end)))
    return arms


# ------------------------------------------------------------------------------------ "randomized to X or Y"

#: "Patients are randomized to receive …", "randomized either to …", "randomly assigned to …",
#: "We will randomize each group to …", "randomized in a 1:1 ratio to …".
_RANDOMISED_TO = re.compile(
    r"\b(?:randomi[sz]ed|randomly\s+assigned|randomi[sz]e\s+(?:each\s+group|them|patients|subjects|participants))"
    r"(?:\s+in\s+a\s+\d+\s*:\s*\d+(?:\s*:\s*\d+)*\s+ratio)?\s+(?:either\s+)?(?:to|into|between)\s+",
    re.I,
)
_PARTICIPLE = re.compile(r"\b(?:patients|subjects|participants|those|women|men|children)\s+$", re.I)
_LEAD = re.compile(r"^(?:to\s+)?(?:receive\s+|be\s+treated\s+with\s+|undergo\s+)?(?:either\s+)?(?:(?:a|an|the)\s+)?", re.I)
_MAX_ALTERNATIVE = 160


def _depth0(text: str) -> list[int]:
    """The depth (within brackets) of every character of ``text``."""
    depth, depths = 0, []
    for char in text:
        if char in "([{":
            depth += 1
        depths.append(depth)
        if char in ")]}" and depth:
            depth -= 1
    return depths


def _split_top(text: str, pattern: str) -> list[str]:
    """``text`` split where ``pattern`` matches outside brackets."""
    depths = _depth0(text)
    pieces, last = [], 0
    for match in re.finditer(pattern, text):
        if depths[match.start()] == 0:
            pieces.append(text[last: match.start()])
            last = match.end()
    return [*pieces, text[last:]]


def _after_first(text: str, pattern: str) -> str:
    """What follows the first match of ``pattern`` outside brackets (all of ``text`` when none)."""
    depths = _depth0(text)
    return next((text[m.end():] for m in re.finditer(pattern, text) if depths[m.start()] == 0), text)


def _clause(text: str, start: int) -> str:
    """From ``start`` to the end of its sentence (a full stop, or a semicolon, outside brackets)."""
    return _split_top(text[start:], r"\.(?=\s|$|[A-Z])|;|\n")[0]


def _label(text: str) -> str:
    text = " ".join(_LEAD.sub("", text.strip(" ,:")).split())
    return text[:1].upper() + text[1:]


def randomised_alternatives(text: str) -> Optional[tuple[str, list[str]]]:
    """The one randomisation statement of a text and the alternatives it randomises between:
    "randomized to receive either oral tamoxifen or a placebo …" → ["Oral tamoxifen", "Placebo …"],
    "randomized to stop tamoxifen … or to continue tamoxifen …", "randomized in a 1:1 ratio to receive
    study medication: Rosiglitazone (…) or Glyburide (…), both …", "X, Y, or Z".

    Returns (the statement, the alternatives), or None when the text has no such statement, more
    than one (several randomisations: which arms they make together is not clear), or one whose
    alternatives are not a plain "… or …" list (an "or" inside an alternative makes the split ambiguous).
    """
    found = randomisation_statements(text)
    return found[0] if len(found) == 1 else None


def randomisation_statements(text: str) -> list[tuple[str, list[str]]]:
    """Every "randomized to … X or Y" statement of a text with its alternatives."""
    found = []
    for match in _RANDOMISED_TO.finditer(text):
        if _PARTICIPLE.search(text, 0, match.start()):
            continue  # "Patients randomized to intensification undergo …": about one of the groups
        clause = _clause(text, match.end())
        alternatives = _alternatives(clause)
        if alternatives:
            before = text[: match.start()]
            sentence_start = max([0, *(before.rfind(mark) + len(mark) for mark in (". ", "\n") if mark in before)])
            found.append((" ".join((text[sentence_start: match.end()] + clause).split()) + ".", alternatives))
    return found


def _alternatives(clause: str) -> list[str]:
    region = _split_top(clause, r":\s")[-1]
    parts = _split_top(region, r"\beither\s+")
    if len(parts) > 2:
        return []
    region = parts[-1]
    with_or_without = _split_top(region, r"\bwith\s+or\s+without\b")
    if len(with_or_without) == 2:  # "X with or without Y": X with Y, and X without Y
        head, tail = with_or_without[0].strip(), _split_top(with_or_without[1], r",\s")[0].strip()
        return [_label(f"{head} with {tail}"), _label(f"{head} without {tail}")] if head and tail and " or " not in head + tail else []
    halves = _split_top(region, r",?\s+or\s+")
    if len(halves) < 2:
        return []
    left, right = halves[0], _after_first(region, r",?\s+or\s+")
    if len(_split_top(_split_top(right, r",\s")[0], r"\s+or\s+")) > 1:
        return []  # "X or Y or Z"
    if re.search(r"\d\s*$", left) and re.match(r"\s*\d", right):
        return []  # "for 2 or 5 years": the alternatives share words the split cannot give back
    right = _split_top(right, r",\s")[0]
    listed = _split_top(left, r",\s*")
    alternatives = [_label(piece) for piece in [*listed, right]]
    if len(listed) > 1 and len(parts) == 1 and any(len(piece.split()) > 6 for piece in listed):
        return []  # commas in a long phrase are not a list of alternatives
    if any(not alt or len(alt) > _MAX_ALTERNATIVE for alt in alternatives) or len(set(alternatives)) != len(alternatives):
        return []
    return alternatives


# ------------------------------------------------------------------------------------ listed groups

_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_COUNT = r"(?P<count>two|three|four|five|six|seven|eight|nine|ten|\d{1,2})"
#: "randomized to 1 of 8 vinorelbine dosing times (0000, 0300, …, or 2100)", "… 1 of 2 durations of
#: culture (6 days vs 9 days)": a choice between values the parentheses list.
_ONE_OF = re.compile(
    rf"\b(?:randomi[sz]ed|randomly\s+assigned|assigned)\s+to\s+(?:1|one)\s+of\s+(?:the\s+)?{_COUNT}\s+"
    r"(?P<noun>[^().;:]{3,80}?)\s*\((?P<items>[^()]{1,200})\)",
    re.I,
)
#: "… accrued in each group (high-dose rate vs low-dose rate)".
_EACH_GROUP = re.compile(r"\b(?:in\s+)?each\s+(?:treatment\s+)?(?:group|arm)\s*\((?P<items>[^()]{1,160})\)", re.I)
#: "… will comprise two treatment arms: the standard therapy group and the enhanced therapy group".
_ARMS_COLON = re.compile(
    rf"\b{_COUNT}\s+(?:treatment\s+|study\s+|parallel\s+)?(?:arms|groups)\s*:\s*(?P<items>.{{1,240}})",
    re.I | re.S,
)
_GROUP_ITEM = re.compile(r"(?:the\s+)?(?P<name>[\w+/-]+(?:\s+[\w+/-]+){0,5}?\s+(?:group|arm))\b", re.I)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


def _items(text: str) -> list[str]:
    pieces = re.split(r"\s*,\s*(?:or\s+|and\s+)?|\s+(?:or|and|vs\.?|versus)\s+", text.strip())
    return [piece.strip() for piece in pieces if piece.strip()]


def listed_groups(text: str) -> Optional[tuple[str, list[str]]]:
    """Groups a text lists with their count or in parentheses: "randomized to 1 of 8 dosing times
    (0000, 0300, …)" → ["Dosing times: 0000", …], "in each group (high-dose rate vs low-dose rate)",
    "two treatment arms: the standard therapy group and the enhanced therapy group".

    Returns (the statement, the labels), or None unless exactly one such statement lists at least two
    distinct items and, where it gives a count, exactly that many.
    """
    found: list[tuple[str, list[str]]] = []
    for match in _ONE_OF.finditer(text):
        items = _items(match.group("items"))
        noun = " ".join(match.group("noun").split())
        if len(items) == _count(match.group("count")):
            found.append((match.group(0), [f"{noun[:1].upper()}{noun[1:]}: {item}" for item in items]))
    for match in _EACH_GROUP.finditer(text):
        items = _items(match.group("items"))
        if len(items) >= 2:
            found.append((match.group(0), [item[:1].upper() + item[1:] for item in items]))
    for match in _ARMS_COLON.finditer(text):
        names, rest = [], match.group("items")
        while item := _GROUP_ITEM.match(rest):
            names.append(" ".join(item.group("name").split()))
            rest = rest[item.end():]
            separator = re.match(r"\s*(?:,\s*(?:and\s+)?|and\s+)", rest)
            if not separator:
                break
            rest = rest[separator.end():]
        if len(names) == _count(match.group("count")):
            statement = match.group(0)[: len(match.group(0)) - len(rest)].strip()
            found.append((statement, [name[:1].upper() + name[1:] for name in names]))
    unique = [(statement, labels) for statement, labels in found if len(set(labels)) == len(labels) >= 2]
    return unique[0] if len(unique) == 1 else None
