"""The literal index that picks which recogniser patterns run on a criterion must give exactly the
answer of testing every pattern's required literals one by one (it may only skip searches that
would find nothing), on real criteria and on the texts where case folding or prefixes are tricky."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from converter import read
from converter.eligibility import biomarkers, conditions, labs
from converter.eligibility.prefilter import Haystack, LiteralIndex, Literals, literals_of
from converter.eligibility.reading import _phrases

SHARED = Path(__file__).resolve().parents[2] / "shared" / "ctgov"


def _corpus_texts() -> list[str]:
    texts: list[str] = []
    paths = sorted((SHARED / "v2").glob("*.json"))[:60] + sorted((SHARED / "xml").glob("*.xml"))[:60]
    for path in paths:
        for trial in read(path):
            stack = list(trial.eligibility.criteria)
            while stack:
                criterion = stack.pop()
                texts.append(criterion.text)
                stack.extend(criterion.children)
    return texts


def may_match(haystack: Haystack, literals: Literals) -> bool:
    """The plain definition the index must equal: some required literal occurs in the text (folded
    literals in the lower-cased text, or anywhere when the text holds an ASCII-folding character)."""
    if literals is None:
        return True
    return any(word in haystack.text if exact else (haystack.unfiltered or word in haystack.low) for word, exact in literals)


def _pattern_sets() -> dict[str, list[re.Pattern[str]]]:
    groups, specs = labs.lab_groups(), labs.lab_specs()
    return {
        "conditions": [rule.mention for rule in conditions.RULES],
        "lab groups": [pattern for pattern, _ in groups],
        "lab tests": [spec.pattern for spec in specs],
        "phrases": list(_phrases()),
        "receptors": [biomarkers._compiled(p) for p in (biomarkers._HER2, biomarkers._ER, biomarkers._PR, biomarkers._HR)],
    }


TRICKY = [
    "",
    "HIV",                     # exact upper-case literal
    "hiv",                     # the same word folded
    "Known HİV infection",     # dotted capital I: IGNORECASE folds it, the index must not filter
    "KELVIN-like K sign",      # Kelvin sign
    "brachytherapy or radiotherapy within 4 weeks",  # literals that are prefixes of each other
    "chemoradiation",
    "ESRD on dialysis; CKD stage 4",
]


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/ctgov")
@pytest.mark.parametrize("name", sorted(_pattern_sets()))
def test_index_equals_literal_by_literal_test(name: str) -> None:
    patterns = _pattern_sets()[name]
    index = LiteralIndex(patterns)
    texts = _corpus_texts() + TRICKY
    chosen_total = 0
    for text in texts:
        haystack = Haystack(text)
        expected = [i for i, pattern in enumerate(patterns) if may_match(haystack, literals_of(pattern))]
        got = index.candidates(haystack)
        assert got == expected, (name, text[:80])
        chosen_total += len(got)
        # and nothing skipped could have matched
        assert not [i for i, p in enumerate(patterns) if i not in got and p.search(text)], (name, text[:80])
    assert chosen_total < len(texts) * len(patterns), "the index never skipped anything"


def test_unfiltered_text_runs_every_pattern() -> None:
    patterns = [re.compile(r"\bhiv\b", re.I), re.compile(r"\bkidney\b", re.I)]
    index = LiteralIndex(patterns)
    assert index.candidates(Haystack("nothing here")) == []
    assert index.candidates(Haystack("HİV")) == [0, 1]  # a character that folds to ASCII: folded words never filter
    assert index.candidates(Haystack("chronic KIDNEY disease")) == [1]
