"""Keyword prefilter: skip a pattern whose required words do not occur in the text at all.

Criteria are read by some hundred patterns (lab tests, conditions, treatment classes); most of them
cannot match a given criterion because their words are not in it. Scanning the text with each
pattern costs far more than looking up a few words, so every pattern gets a set of *required
literals* — lower-case ASCII strings one of which any match must contain — derived from the
pattern's own parse tree (no hand-kept keyword lists that could drift from the patterns). A pattern
is run only when one of its literals occurs in the lower-cased text; when no such set can be
derived (a pattern that may match without any fixed word), the pattern always runs.

The filter can only skip a search that would have found nothing, so results are unchanged:

* literals are ASCII and compared with ``text.lower()``; a case-sensitive match is contained in the
  lower-cased text too;
* under IGNORECASE four non-ASCII characters match ASCII letters (ı İ ſ K: found with
  ``re.findall("(?i)[a-z]", every non-ASCII character)`` on CPython 3.11); a text containing one of
  them is never filtered;
* only constructs whose meaning is certain give literals (literal characters, groups, alternation,
  repeats of at least one); anything else (classes, back-references, conditionals) gives none.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Optional

if sys.version_info >= (3, 11):  # CPython's regular-expression parser; 3.10 calls it sre_parse
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _sre  # type: ignore[attr-defined]
else:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

import re

#: Non-ASCII characters that IGNORECASE matching treats as ASCII letters.
_ASCII_FOLDING = frozenset("\u0131\u0130\u017f\u212a")

#: A required literal: (word, exact). An exact word is compared with the text as written (it comes
#: from a case-sensitive part of the pattern, "PE", "RT"); the others in lower case with the
#: lower-cased text.
Literal = tuple[str, bool]
Literals = Optional[frozenset[Literal]]

_ZERO_WIDTH = {_c.AT, _c.ASSERT_NOT}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT} | ({_c.POSSESSIVE_REPEAT} if hasattr(_c, "POSSESSIVE_REPEAT") else set())


def _score(literals: frozenset[Literal]) -> tuple[int, int]:
    return min(len(word) + (2 if exact else 0) for word, exact in literals), -len(literals)


def _best(candidates: list[frozenset[Literal]]) -> Literals:
    """Of several sets all required together, the most selective one (longest shortest word)."""
    if not candidates:
        return None
    return max(candidates, key=_score)


def _sequence(items, ignorecase: bool) -> Literals:  # type: ignore[no-untyped-def]
    candidates: list[frozenset[Literal]] = []
    run: list[str] = []
    run_exact: list[bool] = []

    def flush() -> None:
        if run:
            exact = all(run_exact)
            candidates.append(frozenset([("".join(run) if exact else "".join(run).lower(), exact)]))
            run.clear()
            run_exact.clear()

    for op, av in items:
        if op is _c.LITERAL and av < 128:
            char = chr(av)
            run.append(char)
            # a letter under IGNORECASE may be written in either case; other ASCII characters have none
            run_exact.append(not (ignorecase and char.isalpha()))
            continue
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: the characters around it are adjacent in a match
        if op is _c.ASSERT:
            # a positive lookaround consumes nothing, but what it needs must be in the text as well
            found = _sequence(av[1], ignorecase)
            if found:
                candidates.append(found)
            continue
        flush()
        found = _node(op, av, ignorecase)
        if found:
            candidates.append(found)
    flush()
    return _best(candidates)


def _node(op, av, ignorecase: bool) -> Literals:  # type: ignore[no-untyped-def]
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, body = av
        if add_flags & re.IGNORECASE:
            ignorecase = True
        if del_flags & re.IGNORECASE:
            ignorecase = False
        return _sequence(body, ignorecase)
    if hasattr(_c, "ATOMIC_GROUP") and op is _c.ATOMIC_GROUP:
        return _sequence(av, ignorecase)
    if op is _c.BRANCH:
        union: set[Literal] = set()
        for alternative in av[1]:
            found = _sequence(alternative, ignorecase)
            if not found:
                return None
            union |= found
        return frozenset(union)
    if op in _REPEATS:
        low, _high, body = av
        return _sequence(body, ignorecase) if low >= 1 else None
    return None


def required_literals(pattern: re.Pattern[str]) -> Literals:
    """Literals one of which every match of ``pattern`` needs in the text, or None."""
    try:
        parsed = _sre.parse(pattern.pattern, pattern.flags)
        found = _sequence(parsed, bool(parsed.state.flags & re.IGNORECASE))
    except Exception:  # pragma: no cover - an unexpected parse tree: never filter
        return None
    if not found or any(not word for word, _ in found):
        return None
    return found


@lru_cache(maxsize=None)
def literals_of(pattern: re.Pattern[str]) -> Literals:
    """:func:`required_literals`, computed once per compiled pattern."""
    return required_literals(pattern)


class Haystack:
    """One text prepared for prefiltering: the text, its lower-cased form, and whether it holds a
    character that IGNORECASE folds to an ASCII letter (then folded literals never filter)."""

    __slots__ = ("text", "low", "unfiltered")

    def __init__(self, text: str) -> None:
        self.text = text
        self.low = text.lower()
        self.unfiltered = not text.isascii() and not _ASCII_FOLDING.isdisjoint(text)


def _trie_pattern(words: set[str]) -> Optional[re.Pattern[str]]:
    """One regular expression for a set of words, factored as a trie so that the engine follows one
    branch per character; at each position it matches the *longest* word starting there (a child is
    tried before the word ends). Wrapped in a lookahead so that every position is tried."""
    if not words:
        return None
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return re.compile(f"(?=({render(trie)}))")


class LiteralIndex:
    """Which of many patterns may match a text, found with two scans of the text instead of one
    literal test per pattern.

    Every pattern's required literals (:func:`literals_of`) go into two tries (case-folded and
    exact); one scan per trie finds, at each position, the longest literal starting there; every
    literal that is a prefix of a found one occurs at that position as well, so the set of literals
    present is complete and the answer equals testing each pattern's literals against the text one by one.
    """

    def __init__(self, patterns: "list[re.Pattern[str]] | tuple[re.Pattern[str], ...]") -> None:
        self.size = len(patterns)
        self.always: list[int] = []
        self.folded: dict[str, list[int]] = {}
        self.exact: dict[str, list[int]] = {}
        for index, pattern in enumerate(patterns):
            literals = literals_of(pattern)
            if literals is None:
                self.always.append(index)
                continue
            for word, exact in literals:
                (self.exact if exact else self.folded).setdefault(word, []).append(index)
        self._folded_scan = _trie_pattern(set(self.folded))
        self._exact_scan = _trie_pattern(set(self.exact))
        self._folded_prefixes = _prefixes(self.folded)
        self._exact_prefixes = _prefixes(self.exact)
        self._any_folded = frozenset(index for owners in self.folded.values() for index in owners)

    def candidates(self, haystack: Haystack) -> list[int]:
        """Indices, in order, of the patterns that may match the haystack's text."""
        chosen = set(self.always)
        if haystack.unfiltered:  # a character that folds to an ASCII letter: every folded literal may match
            chosen.update(self._any_folded)
        for scan, text, prefixes, owners in ((self._folded_scan, haystack.low, self._folded_prefixes, self.folded),
                                             (self._exact_scan, haystack.text, self._exact_prefixes, self.exact)):
            if scan is None or (haystack.unfiltered and owners is self.folded):
                continue
            for found in set(scan.findall(text)):
                for word in prefixes[found]:
                    chosen.update(owners[word])
        return sorted(chosen)


def _prefixes(words: dict[str, list[int]]) -> dict[str, tuple[str, ...]]:
    """For each word, the words of the same set that are prefixes of it (itself included)."""
    return {word: tuple(word[:end] for end in range(1, len(word) + 1) if word[:end] in words) for word in words}
