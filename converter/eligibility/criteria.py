"""Eligibility prose → ordered :class:`Criterion` items with category and nesting.

Registry criteria arrive in three shapes that must all come out the same way:

* ClinicalTrials.gov API v2 markdown: ``* item`` bullets, nested by indentation (``  * sub``),
  numbered lists, and backslash escapes (``\\>= 17``);
* legacy XML ``<textblock>``: hard-wrapped at about 100 columns with deep indentation, paragraphs
  separated by blank lines, and old NCI/PDQ records organised by sub-headings
  ("DISEASE CHARACTERISTICS:", "Age:", …) that are sometimes run together on one line;
* text copied from web pages, where indentation may be gone and headings may be glued to the first
  item ("Inclusion Criteria:• Informed consent").

The parser reads the text the way a careful human would: headings set the category of the items
after them and are not items themselves; sub-headings become parent items; bullets and numbers are
stripped; wrapped lines are joined; nothing else is dropped. It never guesses a category: text
before any heading stays ``UNKNOWN``, except under the sections of the old NCI/PDQ template
("DISEASE CHARACTERISTICS:", "PATIENT CHARACTERISTICS:", "PRIOR CONCURRENT THERAPY:"), which by that
template's definition list what a patient must meet — inclusion criteria, some stated negatively
("No prior chemotherapy"). Deciding the category of other items from their wording is a separate
step (:mod:`converter.eligibility.categories`).

It works in three passes, each a small pure function: physical lines → logical lines (markers
recognised, wrapped lines joined, glued headings split) → a tree built with an indentation/marker
stack → :class:`Criterion` objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Optional

from ..model import PLACEHOLDERS, Criterion

Category = Literal["INCLUSION", "EXCLUSION", "UNKNOWN"]

# ---------------------------------------------------------------------------------------------
# Tables (data, not logic): what counts as a heading, a list marker, an NCI/PDQ label.
# ---------------------------------------------------------------------------------------------

#: Words that may precede "Inclusion Criteria" without changing its meaning; such headings are
#: plain section markers and are not kept as items.
PLAIN_HEADING_QUALIFIERS = ("key", "main", "major", "general", "principal", "other", "additional", "further", "specific", "study")

#: Who a sentence-style heading may talk about ("Patients will be excluded if …:").
HEADING_SUBJECTS = r"(?:the\s+following\s+)?(?:eligible\s+)?(?:patients?|subjects?|participants?|individuals?|persons?|people|volunteers?|candidates?)"

#: Labels of the old NCI/PDQ eligibility template. Inside those records they act as sub-headings
#: ("Age:" on its own line) or are run together in one paragraph ("Age: 18 to 65 Sex: Women only").
NCI_LABELS = (
    "Age", "Sex", "Menopausal status", "Performance status", "Life expectancy", "Hematopoietic",
    "Hepatic", "Renal", "Cardiovascular", "Pulmonary", "Neurologic", "Gastrointestinal",
    "Immunologic", "Metabolic", "Other", "Hormone receptor status", "Biologic therapy",
    "Chemotherapy", "Endocrine therapy", "Radiotherapy", "Surgery",
)

#: Bullet characters by the outline level they conventionally mark. Characters of one level are
#: interchangeable ("•" then "-" at the same indentation are siblings); a character of another
#: level at the same indentation opens a sub-list, as in word-processor lists pasted without
#: their indentation ("•" item, "o" sub-item).
BULLET_LEVELS = {"o": 2, "◦": 2, "○": 2, "▪": 3, "■": 3, "□": 3, "§": 3, "►": 3, "➢": 3, "✓": 3}

#: Bullet characters. ``-``, ``+`` and ``o`` need a following space (otherwise "-10 %" or "or"
#: would read as bullets); the typographic ones do not.
_BULLET = re.compile(r"^(?:([-+–—])\s+|([*•·◦○▪■□►➢✓§])\s*|(o)\s+(?=[A-Z]))")
_DOTTED = re.compile(r"^\(?(\d{1,2}(?:\.\d{1,2})+)[.)]?\s+(?=[A-Z(\"'])")
_NUMBER = re.compile(r"^(\()?(\d{1,2})(?:([.)])\s+| ?(\.)(?=[A-Z]))")
_PAREN_NUMBER = re.compile(r"^\((\d{1,2})\)\s*")
_ROMAN = re.compile(r"^(\()?(i{1,3}|iv|vi{0,3}|ix|xi{0,3}|I{1,3}|IV|VI{0,3}|IX|XI{0,3})([.)])\s+")
_ALPHA = re.compile(r"^(\()?([a-zA-Z])([.)])\s+")
_PAREN_ALPHA = re.compile(r"^\(([a-zA-Z])\)\s*")

_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>~|=^$&%:;'\"])")
_SPACES = re.compile(r"\s+")

#: Line ends that show a sentence goes on in the next line (used only outside hard-wrapped text).
_OPEN_END = re.compile(r"(?:[,(/&\-]|\b(?:and|or|of|the|a|an|to|with|without|in|for|by|than|at|on|as|from|per|if|who|which|that|including|except)|\band/or)$", re.I)


# ---------------------------------------------------------------------------------------------
# Headings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """A recognised heading: what category it opens and whether its words must be kept as a parent item.

    ``category`` is ``None`` for headings that do not say inclusion or exclusion ("Eligibility").
    ``keep`` is true for qualified headings ("Healthy Control Inclusion Criteria:"), whose qualifier
    is information a reader needs, so the heading becomes a parent item as well.
    """

    category: Optional[Category]
    keep: bool


def _heading_key(text: str) -> str:
    """Lower-case the heading text and drop trailing punctuation, for matching."""
    return _SPACES.sub(" ", text).strip().rstrip(":.;-–— ").strip().lower()


def _side(word: str) -> Category:
    """Category named by a heading word (inclusion/exclusion and their synonyms)."""
    word = word.lower()
    if word.startswith(("exclu", "inelig", "non-inclu", "non inclu", "not eligible", "not be eligible")):
        return "EXCLUSION"
    return "INCLUSION"


_PLAIN_HEADING = re.compile(
    rf"^(?:(?:{'|'.join(PLAIN_HEADING_QUALIFIERS)})\s+)?"
    r"(inclusion|exclusion|non-?inclusion|ineligibility)(?:\s+criteri(?:a|on|as))?(?:\s*\(.{0,30}\))?$"
    r"|^(inclusions|exclusions)$"
    r"|^criteria\s+for\s+(inclusion|exclusion|non-?inclusion)$"
)
_GENERIC_HEADING = re.compile(r"^(?:eligibility|eligibility criteria|entry criteria|selection criteria|patient selection)$")
_SENTENCE_HEADING = re.compile(
    rf"^{HEADING_SUBJECTS}\s+(?:will|must|shall|may|are|is|should)\s+(?:also\s+)?(?:be\s+)?(?:considered\s+)?(?:also\s+)?"
    r"(excluded|ineligible|not\s+(?:be\s+)?eligible|eligible|included)\b.*$"
    rf"|^{HEADING_SUBJECTS}\s+(?:will|must|shall)\s+(?:meet|fulfil+|satisfy)\s+(?:all|each)\b.*$"
)
_QUALIFIED_HEADING = re.compile(r"\b(inclusion|exclusion|non-?inclusion|eligibility|ineligibility)\b")


# A heading's key is at most 130 characters; no real heading line is longer than this even with
# its punctuation and spacing, and the bound keeps joining thousands of wrapped lines linear.
_MAX_HEADING_CHARS = 600


def classify_heading(text: str, *, marked: bool = False) -> Optional[Heading]:
    """Recognise a category heading, or return ``None`` for ordinary text.

    ``marked`` says the text carried a bullet or number: such lines are headings only when they
    are nothing but a heading ("1. Inclusion criteria"), never the qualified or sentence forms.
    """
    if len(text) > _MAX_HEADING_CHARS:  # cheap exit: called on every growing line while joining wrapped text
        return None
    raw = _SPACES.sub(" ", text).strip()
    key = _heading_key(raw)
    if not key or len(key) > 130:
        return None
    plain = _PLAIN_HEADING.match(key)
    if plain:
        word = next(group for group in plain.groups() if group)
        return Heading(_side(word), keep=False)
    if _GENERIC_HEADING.match(key):
        return Heading(None, keep=False)
    if marked:
        return None
    ends_like_heading = raw.endswith((":", "…", "...")) or not raw.endswith((".", ";", ","))
    sentence = _SENTENCE_HEADING.match(key)
    if sentence and raw.endswith((":", "…", "...")) and not re.search(r"\d", key):
        return Heading(_side(sentence.group(1) or "included"), keep=False)
    sides = {_side(word) for word in _QUALIFIED_HEADING.findall(key) if word not in ("eligibility",)}
    words = key.split()
    if (
        _QUALIFIED_HEADING.search(key)
        and ends_like_heading
        and len(words) <= 10
        and ("criteri" in key or raw.endswith(":") or raw.isupper() or words[-1] in ("inclusion", "exclusion"))
        and not re.search(r"\b(?:inclusion|exclusion)\s+(?:criteria\s+)?(?:may|apply|applies|will)\b|protocol-defined", key)
    ):
        if "eligibility" in key and not sides:
            sides = {"INCLUSION"} if "ineligibility" not in key else {"EXCLUSION"}
        category: Optional[Category] = sides.pop() if len(sides) == 1 else "UNKNOWN"
        return Heading(category, keep=True)
    return None


def _is_caps_heading(text: str) -> bool:
    """An ALL-CAPS label ending in a colon: "DISEASE CHARACTERISTICS:" (rank-1 sub-heading)."""
    stripped = text.strip()
    letters = [ch for ch in stripped if ch.isalpha()]
    return stripped.endswith(":") and len(letters) >= 3 and all(ch.isupper() for ch in letters) and len(stripped) <= 80


#: Section headings of the old NCI/PDQ eligibility template; every item under them is a requirement.
NCI_INCLUSION_SECTION = re.compile(r"^(?:DISEASE|PATIENT|DONOR|RECIPIENT)\s+CHARACTERISTICS\s*:$|^PRIOR\s*(?:/|AND\s+)?\s*CONCURRENT\s+THERAPY\s*:$")


def is_nci_inclusion_section(text: str) -> bool:
    """"DISEASE CHARACTERISTICS:" and its siblings: the NCI/PDQ template's inclusion sections."""
    return bool(NCI_INCLUSION_SECTION.match(_SPACES.sub(" ", text).strip()))


_GLUED_CATEGORY = re.compile(
    r"^((?:(?:key|main|major|general|other|additional)\s+)?(?:inclusion|exclusion|non-?inclusion)\s+criteria?\s*:)\s*(\S.*)$",
    re.I,
)
_GLUED_CAPS = re.compile(r"^([A-Z][A-Z0-9 ,/&()'-]{3,60}[A-Z)]\s*:)\s*(\S.*)$")
_CONDITIONAL = re.compile(r"^((?:if|for|in)\s+(?:the\s+)?(?:patients?|subjects?|participants?|women|men|cohort|part|arm)\b[^:]{0,100}:)\s*(\S.*)$", re.I)


# ---------------------------------------------------------------------------------------------
# Pass 1: physical lines → logical lines
# ---------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One logical line: a list item, a heading or a paragraph, with its wrapped lines joined."""

    indent: int
    style: str  # marker family ("bullet:-", "num.", "alpha)", "roman.", …) or "none"
    value: str  # the marker itself ("7", "a", "iv"), used to tell "i." the letter from "i." the numeral
    text: str
    blank_before: bool
    end_column: int  # where the last physical line ended: hard-wrapped text ends near the margin


def _unescape(text: str) -> str:
    """Undo markdown backslash escapes (``\\>=`` → ``>=``) that CT.gov API v2 adds to plain text."""
    return _MARKDOWN_ESCAPE.sub(r"\1", text)


def split_marker(text: str) -> tuple[str, str, str]:
    """Split a leading bullet or number off ``text``: returns (style, marker value, rest).

    Style ``"none"`` means no marker. Single letters that are also roman numerals (i, v, x) come
    back as roman here; :func:`_resolve_letter` turns them into letters where a letter list is open.
    """
    match = _BULLET.match(text)
    if match:
        char = next(group for group in match.groups() if group)
        rest = text[match.end():]
        if rest.strip():
            return f"bullet{BULLET_LEVELS.get(char, 1)}", char, rest
    match = _DOTTED.match(text)
    if match:
        return f"dotted{match.group(1).count('.')}", match.group(1), text[match.end():]
    match = _PAREN_NUMBER.match(text)
    if match:
        return "(num)", match.group(1), text[match.end():]
    match = _NUMBER.match(text)
    if match and not match.group(1):
        return f"num{match.group(3) or match.group(4)}", match.group(2), text[match.end():]
    match = _ROMAN.match(text)
    if match and not match.group(1):
        case = "roman" if match.group(2).islower() else "ROMAN"
        return f"{case}{match.group(3)}", match.group(2), text[match.end():]
    match = _PAREN_ALPHA.match(text)
    if match:
        case = "(alpha)" if match.group(1).islower() else "(ALPHA)"
        return case, match.group(1), text[match.end():]
    match = _ALPHA.match(text)
    if match and not match.group(1):
        case = "alpha" if match.group(2).islower() else "ALPHA"
        return f"{case}{match.group(3)}", match.group(2), text[match.end():]
    return "none", "", text


def _wrap_width(lines: list[str]) -> Optional[int]:
    """The right margin of hard-wrapped text (legacy XML wraps near column 100), or None if unwrapped."""
    widths = sorted((len(line.rstrip()) for line in lines if line.strip()), reverse=True)
    if len(widths) < 2:
        return None
    width = widths[0]
    near = sum(1 for w in widths if w >= width - 25)
    return width if 60 <= width <= 130 and near >= 2 else None


def _continues(previous: Line, raw: str, style: str, width: Optional[int]) -> bool:
    """Does an unmarked physical line continue the previous logical line (a wrapped or broken sentence)?

    In hard-wrapped text a line that ended near the margin always goes on, even when the next
    line looks like a heading ("… prior to" / "inclusion"); only a sentence that ended before the
    margin can be followed by a heading. Elsewhere a line goes on only when the previous one
    visibly breaks off (a trailing comma or "and") or the next starts in lower case.
    """
    if style != "none" or classify_heading(previous.text) is not None:
        return False
    prev = previous.text.rstrip()
    wrapped = width is not None and previous.end_column >= width - 25
    if wrapped and not prev.endswith((":", ".")):
        return True
    if classify_heading(raw) is not None:
        return False
    if wrapped:
        return True
    if prev.endswith(":"):
        return False
    if _OPEN_END.search(prev[-40:]):  # the pattern is anchored at the end; a tail keeps long joins linear
        return True
    return raw[:1].islower() and not prev.endswith((".", ";", "!", "?"))


def logical_lines(text: str) -> list[Line]:
    """Pass 1: recognise markers, join wrapped lines, split headings glued to their first item."""
    physical = _unescape(text).replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n")
    width = _wrap_width(physical)
    out: list[Line] = []
    blank = False
    for raw_line in physical:
        if not raw_line.strip():
            blank = True
            continue
        indent = len(raw_line) - len(raw_line.lstrip())
        content = raw_line.strip().replace("\u00a0", " ")
        style, value, rest = split_marker(content)
        if out and not blank and _continues(out[-1], content, style, width):
            out[-1].text = f"{out[-1].text.rstrip()} {content}"
            out[-1].end_column = len(raw_line.rstrip())
            continue
        for piece in _unglue(Line(indent, style, value, rest.strip(), blank, len(raw_line.rstrip()))):
            out.append(piece)
        blank = False
    return [piece for line in out for outline in _split_run_on_outline(line) for piece in _split_run_on_numbers(outline)]


_OUTLINE_NUMBER = re.compile(r"(?:(?<=\s)|^)(\d{1,2}(?:\.\d{1,2})+)\.?\s+(?=[A-Z(])")


def _outline_step(previous: tuple[int, ...], number: tuple[int, ...]) -> bool:
    """Does ``number`` follow ``previous`` in a dotted outline: first child (4.1 → 4.1.1), next sibling
    (4.1.1 → 4.1.2) or the next item of a level above (4.1.2 → 4.2)?"""
    if number == previous + (1,):
        return True
    for depth in range(len(previous), 0, -1):
        if len(number) == depth and number[:-1] == previous[: depth - 1] and number[-1] == previous[depth - 1] + 1:
            return True
    return False


def _split_run_on_outline(line: Line) -> list[Line]:
    """"4.1 Inclusion Criteria 4.1.1 Age ≥ 18 4.1.2 … 4.2 Exclusion Criteria 4.2.1 …" run together
    on one line (protocol sections pasted into a registry field) are headings and items.

    Split only where the dotted numbers form an outline in order and at least one piece is a category
    heading, so a sentence quoting "section 4.1" stays whole.
    """
    text = f"{line.value} {line.text}" if line.style.startswith("dotted") else line.text
    matches = list(_OUTLINE_NUMBER.finditer(text))
    if len(matches) < 2 or matches[0].start() != 0:
        return [line]
    numbers = [tuple(int(part) for part in m.group(1).split(".")) for m in matches]
    if not all(_outline_step(a, b) for a, b in zip(numbers, numbers[1:])):
        return [line]
    pieces = [text[m.end(): (matches[i + 1].start() if i + 1 < len(matches) else len(text))].strip() for i, m in enumerate(matches)]
    if not any((heading := classify_heading(piece, marked=True)) is not None and heading.category for piece in pieces):
        return [line]
    return [
        Line(line.indent, f"dotted{m.group(1).count('.')}", m.group(1), piece, line.blank_before and i == 0, line.end_column)
        for i, (m, piece) in enumerate(zip(matches, pieces))
        if piece
    ]


def _split_run_on_numbers(line: Line) -> list[Line]:
    """"10. ALT … 11. Serum creatinine … 12. Haemoglobin …" on one line are three numbered items.

    Only the numbers that follow the line's own number in sequence count, so a stray "2." inside
    a sentence does not split it.
    """
    if line.style not in ("num.", "num)"):
        return [line]
    lines = [line]
    number = int(line.value)
    while True:
        current = lines[-1]
        pattern = re.compile(rf"(?<=\s){number + 1}{re.escape(line.style[-1])}\s*(?=[A-Z(])")
        match = pattern.search(current.text)
        if not match:
            return lines
        tail = current.text[match.end():]
        current.text = current.text[: match.start()].rstrip()
        number += 1
        lines.append(Line(line.indent, line.style, str(number), tail, False, line.end_column))


def _unglue(line: Line) -> list[Line]:
    """Split "Inclusion Criteria:• Informed consent" or "DISEASE CHARACTERISTICS: Histologically …"
    into the heading and a line of its own for the rest (repeatedly, without recursion)."""
    out: list[Line] = []
    while line.style == "none":
        for pattern in (_GLUED_CATEGORY, _GLUED_CAPS):
            match = pattern.match(line.text)
            if match and (pattern is _GLUED_CATEGORY or _is_caps_heading(match.group(1))):
                break
        else:
            break
        out.append(Line(line.indent, "none", "", match.group(1).strip(), line.blank_before, line.end_column))
        style, value, rest = split_marker(match.group(2))
        if not rest.strip():
            return out
        line = Line(line.indent, style, value, rest.strip(), False, line.end_column)
    out.append(line)
    return out


# ---------------------------------------------------------------------------------------------
# Pass 2: logical lines → tree
# ---------------------------------------------------------------------------------------------


@dataclass
class Node:
    """A tree node while building; ``rank`` orders sub-headings (0 qualified category heading,
    1 ALL-CAPS sub-heading, 2 other label ending in a colon, None for ordinary items)."""

    text: str
    category: Category
    indent: int = 0
    style: str = "none"
    value: str = ""
    rank: Optional[int] = None
    children: list["Node"] = field(default_factory=list)


def _resolve_letter(style: str, value: str, stack: list[Node]) -> tuple[str, str]:
    """Read "i."/"v."/"x." as a letter when a letter list of the same form is open and its last
    letter is the one before (… h. i.), otherwise as a roman numeral."""
    if not style.lower().startswith("roman") or len(value) != 1:
        return style, value
    letter_style = style.replace("roman", "alpha").replace("ROMAN", "ALPHA")
    for node in reversed(stack):
        if node.style == letter_style and len(node.value) == 1 and ord(node.value.lower()) + 1 == ord(value.lower()):
            return letter_style, value
    return style, value


def _nci_section(stack: list[Node]) -> bool:
    """Are we under one of the NCI/PDQ template's ALL-CAPS sections, where run-on labels are split?"""
    return any(node.rank == 1 and re.search(r"CHARACTERISTICS|THERAPY", node.text) for node in stack)


_NCI_SPLIT = re.compile(r"(?<=\S)\s+(?=(?:" + "|".join(re.escape(label) for label in NCI_LABELS) + r")\s*:\s)")


def split_nci_labels(text: str) -> list[str]:
    """Split a run-on NCI paragraph at its labels: "Age: 18 to 65 Sex: Women only" → two items."""
    return [part.strip() for part in _NCI_SPLIT.split(text) if part.strip()]


def _has_exclusion_heading_after(lines: list[Line], start: int) -> bool:
    for line in lines[start:]:
        heading = classify_heading(line.text, marked=line.style != "none")
        if heading and heading.category == "EXCLUSION":
            return True
    return False


#: Deeper nesting than this is an artefact (no registry outline goes near it); deeper items become
#: siblings at this depth, which also keeps pathological input from exhausting the recursion limit.
MAX_DEPTH = 12


def _attach(stack: list[Node], roots: list[Node], node: Node) -> None:
    while len(stack) >= MAX_DEPTH:
        stack.pop()
    (stack[-1].children if stack else roots).append(node)
    stack.append(node)


def _pop_for_item(stack: list[Node], indent: int, style: str) -> None:
    """Pop the stack to where an item with this indentation and marker style belongs.

    Deeper items close; at the same indentation the same marker style means a sibling, a style
    already open further up means going back to that level, and a new style means a sub-list
    (how flattened outlines such as "1. … a. … b. … 2. …" nest when indentation is lost).
    Sub-headings stay open for items at or right of their own indentation.
    """
    while stack:
        top = stack[-1]
        if top.rank is not None:
            if top.indent > indent:
                stack.pop()
                continue
            return
        if top.indent > indent:
            stack.pop()
            continue
        if top.indent < indent:
            return
        if top.style == style:
            stack.pop()
            return
        if any(node.style == style and node.indent == indent and node.rank is None for node in stack):
            stack.pop()
            continue
        return


def _pop_for_heading(stack: list[Node], indent: int, rank: int) -> None:
    """Close items at or right of a sub-heading's indentation and sub-headings of equal or lower rank."""
    while stack:
        top = stack[-1]
        if top.rank is None and top.indent >= indent:
            stack.pop()
        elif top.rank is not None and top.rank >= rank:
            stack.pop()
        elif top.rank is None and top.indent < indent:
            # an indented label under an item ("- Hormone receptor status:" … "Age:") stays inside it
            return
        else:
            return


def build_tree(lines: list[Line]) -> list[Node]:
    """Pass 2: place each logical line in the tree and give it the category of its section."""
    roots: list[Node] = []
    stack: list[Node] = []
    category: Category = "UNKNOWN"
    for index, line in enumerate(lines):
        heading = classify_heading(line.text, marked=line.style != "none")
        if heading is not None:
            stack.clear()
            if heading.category is None:
                category = "INCLUSION" if _has_exclusion_heading_after(lines, index + 1) else "UNKNOWN"
            else:
                category = heading.category
            if heading.keep:
                _attach(stack, roots, Node(line.text, category, line.indent, "none", "", rank=0))
            continue

        if line.style == "none":
            if category == "UNKNOWN" and is_nci_inclusion_section(line.text):
                category = "INCLUSION"
            _place_paragraph(line, stack, roots, category)
            continue

        style, value = _resolve_letter(line.style, line.value, stack)
        _pop_for_item(stack, line.indent, style)
        _add_item(line.text, category, line.indent, style, value, stack, roots)
    return roots


def _add_item(text: str, category: Category, indent: int, style: str, value: str, stack: list[Node], roots: list[Node]) -> None:
    """Attach an item.

    "If the patient is HER2-positive:Baseline LVEF ≥ 50 %" becomes a parent with one child, and
    "… the following standards are met: a) Routine blood … b) Biochemical …" a parent with
    one child per lettered part.
    """
    conditional = _CONDITIONAL.match(text)
    if conditional:
        parent = Node(conditional.group(1), category, indent, style, value)
        _attach(stack, roots, parent)
        parent.children.append(Node(conditional.group(2), category, indent + 1, "none", ""))
        return
    head, parts = split_inline_enumeration(text)
    node = Node(head if parts else text, category, indent, style, value)
    node.children.extend(Node(part, category, indent + 1, "inline", "") for part in parts)
    _attach(stack, roots, node)


_INLINE_MARKER = re.compile(r"(?:(?<=[\s;:,.)）])|^)(\(?)([a-z]|\d{1,2})([.)])\.?(?![a-z]\.)\s*(?=\S)")


def split_inline_enumeration(text: str) -> tuple[str, list[str]]:
    """Find "a) … b) … c) …" (or "a. …", "(a) …", "(1) …", "1) …") run together in one item.

    Returns the text before the first marker and the parts; no parts when there is no run of at
    least two markers in order starting at "a" or "1". One missing step is tolerated
    ("d. … f. …", "3) … 5)" occur in real records); anything else out of order is ordinary text.
    """
    chain: list[re.Match[str]] = []
    form: Optional[tuple[str, str, bool]] = None
    for match in _INLINE_MARKER.finditer(text):
        opening, symbol, closing = match.groups()
        is_letter = symbol.isalpha()
        this_form = (opening, closing, is_letter)
        if not chain:
            if symbol in ("a", "1") and (is_letter or closing == ")"):
                chain, form = [match], this_form
            continue
        if this_form != form:
            continue
        previous = chain[-1].group(2)
        step = ord(symbol) - ord(previous) if is_letter else int(symbol) - int(previous)
        if step in (1, 2):
            chain.append(match)
    if len(chain) < 2:
        return text, []
    head = text[: chain[0].start()].strip()
    parts = [text[m.end(): (chain[i + 1].start() if i + 1 < len(chain) else len(text))].strip() for i, m in enumerate(chain)]
    return head, [part for part in parts if part]


def _place_paragraph(line: Line, stack: list[Node], roots: list[Node], category: Category) -> None:
    """Place an unmarked paragraph: sub-heading, child of an item ending in a colon, continuation
    of the item above (indented under it), or an item of its own."""
    text = line.text
    if _is_caps_heading(text) or (text.endswith(":") and not text.endswith("::")):
        rank = 1 if _is_caps_heading(text) else 2
        _pop_for_heading(stack, line.indent, rank)
        _attach(stack, roots, Node(text, category, line.indent, "none", "", rank=rank))
        return
    top = stack[-1] if stack else None
    if top is not None and top.rank is None and line.indent > top.indent and top.style != "none":
        if not top.text.rstrip().endswith(":") and not top.children:
            top.text = f"{top.text} {text}"
            return
    if _nci_section(stack) and len(split_nci_labels(text)) > 1:
        pieces = split_nci_labels(text)
    else:
        pieces = [text]
    for piece in pieces:
        _pop_for_item(stack, line.indent, "none")
        _add_item(piece, category, line.indent, "none", "", stack, roots)


# ---------------------------------------------------------------------------------------------
# Pass 3: tree → model
# ---------------------------------------------------------------------------------------------


def _flatten_staircase(nodes: list[Node]) -> list[Node]:
    """Undo "staircase" lists: a chain of three or more items each indented one step deeper than
    the previous, with the same marker and no colon, is a conversion artefact of a flat list
    (each drug of "taking one of the following:" one level deeper), so they become siblings."""
    out: list[Node] = []
    for node in nodes:
        chain = [node]
        while (
            len(chain[-1].children) == 1
            and chain[-1].children[0].style == node.style
            and chain[-1].children[0].rank is None
            and not chain[-1].text.rstrip().endswith(":")
        ):
            chain.append(chain[-1].children[0])
        if len(chain) >= 3 and node.rank is None:
            for link in chain:
                link.children = [] if link is not chain[-1] else link.children
            out.extend(chain)
        else:
            out.append(node)
    for node in out:
        node.children = _flatten_staircase(node.children)
    return out


def _to_criteria(node: Node) -> list[Criterion]:
    """A node becomes one criterion; a node without words of its own hands up its children.

    "None" or "N/A" as an item ("Exclusion Criteria: * None") states that the section is empty;
    the model refuses such placeholder strings, and there is no criterion to keep, so it is dropped.
    """
    text = _SPACES.sub(" ", node.text).strip()
    children = [criterion for child in node.children for criterion in _to_criteria(child)]
    if not text or text.strip(" .").lower() in PLACEHOLDERS:
        return children
    return [Criterion(text=text, category=node.category, children=children)]


def parse_criteria(text: str | None) -> list[Criterion]:
    """Split eligibility text into ordered items with category and nesting.

    Headings ("Inclusion Criteria:", "Patients will be excluded if …:") set the category of the
    items that follow and are not items themselves; sub-headings ("DISEASE CHARACTERISTICS:",
    "If the patient is HER2-positive:") become parent items. Text before any heading is
    ``UNKNOWN``. Bullets and numbers are stripped; every other word is kept.
    """
    if not text or not text.strip():
        return []
    tree = _flatten_staircase(build_tree(logical_lines(text)))
    return [criterion for node in tree for criterion in _to_criteria(node)]


def flatten(criteria: list[Criterion], depth: int = 0) -> list[tuple[int, Criterion]]:
    """Depth-first list of (depth, criterion), handy for tests, explanations and word checks."""
    out: list[tuple[int, Criterion]] = []
    for criterion in criteria:
        out.append((depth, criterion))
        out.extend(flatten(criterion.children, depth + 1))
    return out
