"""Known terms for splitting lists that pages ran together ("Breast Neoplasms Neoplasm Metastasis …").

When a registry page is saved as text, a table cell that listed one term per line becomes one line
of words with nothing between the terms. No rule of grammar can put the boundaries back, but a
vocabulary can: MeSH descriptors and the condition / keyword phrases registries use are a closed
enough set. ``page_vocab.json`` holds that vocabulary; it is data built from public
ClinicalTrials.gov records (``python -m converter.readers.page_vocab CORPUS_DIR``) plus the
hand-reviewed :data:`CURATED_MESH` and :data:`CURATED_PHRASES` below.

:func:`segment` finds the split that covers the most words with known terms. Words no term covers
stay together as one piece, and a single unknown word is attached to the term after it ("Metastatic"
+ "Breast Cancer"), because one stray word is far more often a qualifier than a term of its own.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

from .record import mesh_ui

VOCAB_FILE = Path(__file__).with_name("page_vocab.json")

#: MeSH descriptors common in oncology records that the corpus may lack: (term, id, kind). Ids are
#: left out here rather than typed from memory; the corpus supplies them where it has the term.
CURATED_MESH: tuple[tuple[str, Optional[str], str], ...] = (
    ("Breast Neoplasms", None, "condition"), ("Neoplasm Metastasis", None, "condition"),
    ("Neoplasms, Second Primary", None, "condition"), ("Liver Neoplasms", None, "condition"),
    ("Neoplasms by Site", None, "condition"), ("Neoplasms", None, "condition"),
    ("Breast Diseases", None, "condition"), ("Skin Diseases", None, "condition"),
    ("Neoplastic Processes", None, "condition"), ("Pathologic Processes", None, "condition"),
    ("Digestive System Neoplasms", None, "condition"), ("Digestive System Diseases", None, "condition"),
    ("Liver Diseases", None, "condition"), ("Lung Neoplasms", None, "condition"),
    ("Brain Neoplasms", None, "condition"), ("Bone Neoplasms", None, "condition"),
    ("Meningeal Neoplasms", None, "condition"), ("Prostatic Neoplasms", None, "condition"),
    ("Carcinoma", None, "condition"), ("Adenocarcinoma", None, "condition"),
    ("Capecitabine", None, "intervention"), ("Oxaliplatin", None, "intervention"),
    ("Trastuzumab", None, "intervention"), ("Antimetabolites, Antineoplastic", None, "intervention"),
    ("Antimetabolites", None, "intervention"), ("Molecular Mechanisms of Pharmacological Action", None, "intervention"),
    ("Antineoplastic Agents", None, "intervention"), ("Antineoplastic Agents, Immunological", None, "intervention"),
    ("Paclitaxel", None, "intervention"), ("Docetaxel", None, "intervention"), ("Cisplatin", None, "intervention"),
    ("Carboplatin", None, "intervention"), ("Cyclophosphamide", None, "intervention"), ("Doxorubicin", None, "intervention"),
    ("Tubulin Modulators", None, "intervention"), ("Antimitotic Agents", None, "intervention"),
    ("Mitosis Modulators", None, "intervention"), ("Antineoplastic Agents, Phytogenic", None, "intervention"),
    ("Antineoplastic Agents, Hormonal", None, "intervention"), ("Immune Checkpoint Inhibitors", None, "intervention"),
)

#: Condition and keyword phrases registries use often; matched case-insensitively.
CURATED_PHRASES: tuple[str, ...] = (
    "breast cancer", "metastatic breast cancer", "liver metastases", "brain metastases", "bone metastases",
    "lung metastases", "leptomeningeal metastasis", "prostate cancer", "lung cancer", "non-small cell lung cancer",
    "colorectal cancer", "ovarian cancer", "gastric cancer", "pancreatic cancer", "bladder cancer",
    "intrahepatic chemotherapy", "chemotherapy", "radiotherapy", "immunotherapy", "quality of life",
)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, dict]:
    """The shipped vocabulary plus the curated tables: {"mesh": {term: [id, kind]}, "phrases": set}."""
    data = json.loads(VOCAB_FILE.read_text(encoding="utf-8")) if VOCAB_FILE.exists() else {"mesh": {}, "phrases": []}
    mesh = dict(data.get("mesh", {}))
    for term, mesh_id, kind in CURATED_MESH:
        mesh.setdefault(term, [mesh_id, kind])
    phrases = {p.lower() for p in data.get("phrases", [])} | set(CURATED_PHRASES)
    return {"mesh": mesh, "phrases": phrases}


#: Words that never start or end a list item ("sexual dysfunction and infertility" is one keyword).
FUNCTION_WORDS = frozenset({"and", "or", "of", "with", "in", "for", "the", "to", "by", "on", "at", "vs", "vs.", "from", "a", "an", "&", "-", "/"})


def _boundary_ok(words: list[str], index: int) -> bool:
    """May one item end before ``words[index]`` and the next begin there?"""
    before, after = words[index - 1], words[index]
    return not before.endswith((",", ";", ":", "-", "/")) and before.lower() not in FUNCTION_WORDS and after.lower() not in FUNCTION_WORDS


def segment(text: str, known: Iterable[str] | frozenset[str], *, fold_case: bool, weak: frozenset[str] = frozenset(), piece_cost: float = 0.0) -> tuple[list[str], list[str]]:
    """Split run-together terms; return (pieces, pieces no known term covered).

    Dynamic programming over words: maximise words covered by known terms less ``piece_cost`` per
    piece, then minimise pieces. A cost of ½ keeps a lone known word inside unknown text from
    splitting it ("… in Lung Cancer Whole …"); MeSH lines, made almost only of known terms, use 0.
    Items never begin or end at a function word or after a comma. ``weak`` known terms (single
    common words such as "treatment") count only where the text capitalises them, as list items do.
    """
    words = text.split()
    if not words:
        return [], []
    known_set = {k.lower() for k in known} if fold_case else set(known)
    longest = max((len(k.split()) for k in known_set), default=1)
    key = (lambda ws: " ".join(ws).lower()) if fold_case else (lambda ws: " ".join(ws))
    n = len(words)
    # best[i][state]: (covered, -pieces, path) for words[:i]; state 1 = ends in an unknown run.
    best: list[list[Optional[tuple[float, int, list[tuple[int, int, bool]]]]]] = [[None, None] for _ in range(n + 1)]
    best[0][0] = (0, 0, [])
    for i in range(n):
        for state in (0, 1):
            here = best[i][state]
            if here is None:
                continue
            covered, neg_pieces, path = here
            starts_piece = i == 0 or _boundary_ok(words, i)
            for j in range(i + 1, min(n, i + longest) + 1):
                if not starts_piece:
                    break
                term = key(words[i:j])
                if term in known_set and not (term in weak and not words[i][:1].isupper()):
                    cand = (covered + (j - i) - piece_cost, neg_pieces - 1, path + [(i, j, True)])
                    if best[j][0] is None or cand[:2] > best[j][0][:2]:
                        best[j][0] = cand
            if state == 1:
                start, _, _ = path[-1]
                cand = (covered, neg_pieces, path[:-1] + [(start, i + 1, False)])
            elif starts_piece:
                cand = (covered - piece_cost, neg_pieces - 1, path + [(i, i + 1, False)])
            else:
                continue
            if best[i + 1][1] is None or cand[:2] > best[i + 1][1][:2]:
                best[i + 1][1] = cand
    options = [b for b in best[n] if b is not None]
    path = max(options, key=lambda b: b[:2])[2]
    # A lone unknown word qualifies the known term after it ("Metastatic" + "Breast Cancer").
    merged: list[tuple[int, int, bool]] = []
    for start, end, is_known in path:
        if merged and not merged[-1][2] and merged[-1][1] - merged[-1][0] == 1 and is_known:
            merged[-1] = (merged[-1][0], end, True)
        else:
            merged.append((start, end, is_known))
    pieces = [" ".join(words[s:e]) for s, e, _ in merged]
    unknown = [" ".join(words[s:e]) for s, e, k in merged if not k]
    return pieces, unknown


def split_mesh(text: str, local: Optional[dict[str, str]] = None) -> tuple[list[dict], list[dict], list[str]]:
    """Run-together MeSH terms → (condition terms, intervention terms, unresolved pieces).

    ``local`` adds the page's own names (its interventions → "intervention") to the vocabulary:
    intervention MeSH terms are very often the drug names the same page lists. Matching ignores
    case. An unresolved piece takes the kind of the known term before it (pages list condition
    terms first, then intervention terms), or of the one after it at the start.
    """
    mesh = vocabulary()["mesh"]
    by_lower: dict[str, tuple[str, Optional[str], str]] = {}
    for term, (mesh_id, kind) in mesh.items():
        by_lower.setdefault(term.lower(), (term, mesh_id, kind))
    for term, kind in (local or {}).items():
        by_lower.setdefault(term.lower(), (term, None, kind))
    pieces, unknown = segment(text, frozenset(by_lower), fold_case=True)
    kinds = [by_lower[p.lower()][2] if p.lower() in by_lower else None for p in pieces]
    conditions: list[dict] = []
    interventions: list[dict] = []
    for index, piece in enumerate(pieces):
        kind = kinds[index] or next((k for k in reversed(kinds[:index]) if k), None) or next((k for k in kinds[index:] if k), "condition")
        entry = by_lower.get(piece.lower())
        item = {"term": piece, "id": mesh_ui(entry[1])} if entry and entry[1] else {"term": piece}
        target = conditions if kind == "condition" else interventions
        if all(existing["term"] != piece for existing in target):
            target.append(item)
    return conditions, interventions, unknown


#: Broad MeSH headings (tree categories and pharmacological-action classes) that ClinicalTrials.gov
#: lists among a record's MeSH terms as *ancestors* of its own terms. Hand-reviewed against the MeSH
#: trees; the corpus-built ``mesh_ancestors.json`` adds the ones it has seen only as ancestors.
CURATED_ANCESTORS: tuple[str, ...] = (
    "Neoplasms by Site", "Neoplasms", "Neoplastic Processes", "Pathologic Processes", "Skin Diseases",
    "Skin and Connective Tissue Diseases", "Breast Diseases", "Digestive System Diseases", "Digestive System Neoplasms",
    "Neoplasms by Histologic Type", "Neoplasms, Glandular and Epithelial", "Disease Attributes",
    "Molecular Mechanisms of Pharmacological Action", "Antineoplastic Agents", "Antimetabolites",
    "Enzyme Inhibitors", "Physiological Effects of Drugs", "Antimetabolites, Antineoplastic", "Antineoplastic Agents, Immunological",
    "Antineoplastic Agents, Phytogenic", "Antineoplastic Agents, Hormonal", "Tubulin Modulators", "Antimitotic Agents",
    "Mitosis Modulators",
)

MESH_ANCESTORS_FILE = Path(__file__).with_name("mesh_ancestors.json")


@lru_cache(maxsize=1)
def ancestor_knowledge() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """(own term → its known ancestors, terms only ever seen as ancestors), all lower-cased."""
    data = json.loads(MESH_ANCESTORS_FILE.read_text(encoding="utf-8")) if MESH_ANCESTORS_FILE.exists() else {}
    relations = {term.lower(): frozenset(a.lower() for a in found) for term, found in data.get("ancestors", {}).items()}
    only = frozenset(t.lower() for t in data.get("ancestor_only", [])) | frozenset(t.lower() for t in CURATED_ANCESTORS)
    return relations, only


def split_ancestors(terms: list[dict], own_names: Iterable[str] = ()) -> tuple[list[dict], list[dict]]:
    """A page's MeSH list of one kind → (the record's own terms, their ancestors).

    ClinicalTrials.gov lists a record's own MeSH terms first and their broader ancestors after
    them ("Breast Neoplasms … Neoplasms by Site, Neoplasms, Breast Diseases, Skin Diseases"); a
    saved page runs both together. The first term that is known to be broader — an ancestor of a
    term before it, or a heading seen only as an ancestor — starts the ancestors. The page's own
    intervention names are never ancestors, and the first term never is (something must be own).
    Without such a term, every term stays the record's own: no term is demoted on a guess.
    """
    relations, only = ancestor_knowledge()
    local = {name.lower() for name in own_names}
    for index, item in enumerate(terms):
        term = item["term"].lower()
        if index == 0 or term in local:
            continue
        if term in only or any(term in relations.get(earlier["term"].lower(), ()) for earlier in terms[:index]):
            return terms[:index], terms[index:]
    return terms, []


def split_phrases(text: str, local: Iterable[str] = ()) -> tuple[list[str], bool]:
    """Run-together conditions or keywords → (items, whether the split rests on known phrases).

    Known phrases are the shipped ones, MeSH terms (conditions are often named exactly so) and
    ``local`` — the page's own other lists. When no known phrase occurs, the text is returned
    whole: one real item is better than a guess.
    """
    strong = {term.lower() for term in vocabulary()["mesh"]} | {term.lower() for term in local}
    weak = frozenset(p for p in vocabulary()["phrases"] if " " not in p) - strong
    pieces, unknown = segment(text, frozenset(vocabulary()["phrases"] | strong), fold_case=True, weak=weak, piece_cost=0.5)
    if len(pieces) == len(unknown):
        return [text.strip()], False
    return pieces, True


# ---------------------------------------------------------------------------------------------
# Building page_vocab.json from a corpus of ClinicalTrials.gov records
# ---------------------------------------------------------------------------------------------


def _from_v2(record: dict, mesh: dict[str, list], phrases: set[str]) -> None:
    derived = record.get("derivedSection", {})
    for module, kind in (("conditionBrowseModule", "condition"), ("interventionBrowseModule", "intervention")):
        block = derived.get(module, {})
        for item in block.get("meshes", []) + block.get("ancestors", []):
            mesh.setdefault(item["term"], [item.get("id") or None, kind])
        for leaf in block.get("browseLeaves", []):
            mesh.setdefault(leaf["name"], [None, kind])
    conditions = record.get("protocolSection", {}).get("conditionsModule", {})
    phrases.update(p.lower() for p in conditions.get("conditions", []) + conditions.get("keywords", []))


def _from_xml(text: str, mesh: dict[str, list], phrases: set[str]) -> None:
    for tag, kind in (("condition_browse", "condition"), ("intervention_browse", "intervention")):
        for block in re.findall(rf"<{tag}>(.*?)</{tag}>", text, re.S):
            for term in re.findall(r"<mesh_term>(.*?)</mesh_term>", block):
                mesh.setdefault(term.strip(), [None, kind])
    for tag in ("condition", "keyword"):
        phrases.update(t.strip().lower() for t in re.findall(rf"<{tag}>(.*?)</{tag}>", text))


def build(corpus: Path, exclude: frozenset[str] = frozenset()) -> dict:
    """Vocabulary from every v2 JSON and legacy XML record under ``corpus`` except the excluded NCT ids.

    The records the page tests render are excluded, so their read-back accuracy measures the
    vocabulary on records it has not seen.
    """
    mesh: dict[str, list] = {}
    phrases: set[str] = set()
    for path in sorted(corpus.rglob("*")):
        if path.stem in exclude or not path.is_file():
            continue
        if path.suffix == ".json":
            _from_v2(json.loads(path.read_text(encoding="utf-8")), mesh, phrases)
        elif path.suffix == ".xml":
            _from_xml(path.read_text(encoding="utf-8"), mesh, phrases)
    # One- and two-letter phrases ("ca", "nk") would split real terms apart.
    kept = sorted(p for p in phrases if len(p) > 3 and len(p.split()) <= 6)
    return {"mesh": dict(sorted(mesh.items())), "phrases": kept}


def build_ancestors(corpus: Path) -> dict:
    """Which MeSH terms are broader than which, from the v2 records' own terms and ancestors.

    A term's ancestors are those of the records where it is the only own term of its kind (exact);
    when it never is, the ancestors every record with it shares (a superset of its own ones that
    leaves out headings another term brought in). ``ancestor_only`` lists headings seen as
    ancestors but never as any record's own term (legacy XML own terms count as own too).
    """
    sole: dict[str, set[str]] = {}
    shared: dict[str, set[str]] = {}
    seen_own: set[str] = set()
    seen_ancestor: set[str] = set()
    for path in sorted(corpus.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".xml":
            for block in re.findall(r"<(?:condition|intervention)_browse>(.*?)</(?:condition|intervention)_browse>", path.read_text(encoding="utf-8"), re.S):
                seen_own.update(t.strip() for t in re.findall(r"<mesh_term>(.*?)</mesh_term>", block))
            continue
        if path.suffix != ".json":
            continue
        derived = json.loads(path.read_text(encoding="utf-8")).get("derivedSection", {})
        for module in ("conditionBrowseModule", "interventionBrowseModule"):
            block = derived.get(module, {})
            own = [m["term"] for m in block.get("meshes", []) if m.get("term")]
            ancestors = {m["term"] for m in block.get("ancestors", []) if m.get("term")}
            seen_own.update(own)
            seen_ancestor.update(ancestors)
            for term in own:
                if len(own) == 1:
                    sole.setdefault(term, set()).update(ancestors)
                else:
                    shared[term] = shared[term] & ancestors if term in shared else set(ancestors)
    relations = {term: sorted(sole.get(term) or shared.get(term) or ()) for term in sorted(set(sole) | set(shared))}
    return {"ancestors": {t: a for t, a in relations.items() if a}, "ancestor_only": sorted(seen_ancestor - seen_own)}


def dump_ancestors(data: dict) -> str:
    """mesh_ancestors.json with one term per line, so a reviewer reads (and diffs) it term by term."""
    rows = ",\n".join(f"  {json.dumps(term, ensure_ascii=False)}: {json.dumps(found, ensure_ascii=False)}" for term, found in data["ancestors"].items())
    only = ",\n".join(f"  {json.dumps(term, ensure_ascii=False)}" for term in data["ancestor_only"])
    return f'{{"ancestors": {{\n{rows}\n}},\n"ancestor_only": [\n{only}\n]}}\n'


def main(argv: list[str]) -> int:
    """``python -m converter.readers.page_vocab CORPUS_DIR [EXCLUDED_IDS_FILE]`` rewrites page_vocab.json and mesh_ancestors.json."""
    if not argv:
        print(main.__doc__)
        return 2
    exclude = frozenset(Path(argv[1]).read_text().split()) if len(argv) > 1 else frozenset()
    data = build(Path(argv[0]), exclude)
    VOCAB_FILE.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{VOCAB_FILE}: {len(data['mesh'])} MeSH terms, {len(data['phrases'])} phrases")
    ancestors = build_ancestors(Path(argv[0]))
    MESH_ANCESTORS_FILE.write_text(dump_ancestors(ancestors), encoding="utf-8")
    print(f"{MESH_ANCESTORS_FILE}: {len(ancestors['ancestors'])} terms with known ancestors, {len(ancestors['ancestor_only'])} ancestor-only headings")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
