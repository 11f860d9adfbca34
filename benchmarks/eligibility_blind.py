"""Score the eligibility engine on the blind-5 gold (``benchmarks/gold/blind5_gold_*.json``).

The gold was written by hand, before the engine ran on these criteria, for 867 criteria of 106 blind
records (see ``eligibility_split.py`` and ``blind_sample.py 5``). Each criterion is read as the
converter reads it (its section, and a parent label as context) and every coded literal is compared
with the gold findings of that criterion: concept (by the tables' keys), value and comparator (a
threshold that excludes, "platelets < 100, exclude", is the same as one that is required,
"platelets ≥ 100"), unit where the gold gives one, time window, and effective polarity (required /
excluding). An emitted literal that names the subgroup of a conditional criterion ("if HER2-positive")
is the condition, not a finding, and is not scored.

Run: ``python benchmarks/eligibility_blind5.py [--set=blind5|blind6] [--details]`` (blind-6: 424 further
criteria of 57 blind records, drawn by ``blind_sample.py 6`` and judged the same way). Prints precision and recall with counts
and Wilson 95 % intervals, per kind, and the count of polarity errors.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from converter import read  # noqa: E402
from converter.eligibility import tables  # noqa: E402
from converter.eligibility.logic import Opaque, literals  # noqa: E402
from converter.eligibility.reading import read_criteria  # noqa: E402

SHARED = ROOT.parent / "shared" / "ctgov"


def _tree(record: str) -> dict:
    """path ("3.1.2", 1-based as in the item files) → (item, whether an ancestor was left as text)."""
    path = SHARED / "v2" / f"{record}.json"
    if not path.exists():
        path = SHARED / "xml" / f"{record}.xml"
    trial = next(iter(read(path)))
    out: dict = {}

    def walk(items, prefix: str, hidden: bool) -> None:  # type: ignore[no-untyped-def]
        for index, item in enumerate(items, 1):
            here = f"{prefix}{index}"
            out[here] = (item, hidden)
            walk(item.children, here + ".", hidden or isinstance(item.statement, Opaque))

    walk(read_criteria(trial.eligibility.criteria, trial.conditions), "", False)
    return out

ALIASES = {"congestive_heart_failure": "heart_failure", "qtcf": "qtc", "nyha": "nyha_class", "neutrophils": "anc",
           "endocrine_therapy": "hormonal_therapy", "other_malignancy": "malignancy", "her2_ihc": "her2",
           "hormone_receptor": "er", "triple_negative": "triple_negative"}
FLIP = {">=": "<", ">": "<=", "<=": ">", "<": ">="}
POSITIVE, NEGATIVE = "10828004", "260385009"


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def code_keys() -> dict[str, str]:
    out: dict[str, str] = {}
    concepts = tables.concepts_table()
    for group in (tables.labs_table(), tables.conditions_table(), tables.events_table(), concepts["performance"],
                  concepts["biomarkers"], concepts["conditions"], concepts["demographics"]):
        for key, entry in group.items():
            if isinstance(entry, dict) and "code" in entry:
                out.setdefault(entry["code"], ALIASES.get(key, key))
                for variant in entry.get("variants", {}).values():
                    out.setdefault(variant["code"], ALIASES.get(key, key))
    return out


def _norm_key(key: str) -> str:
    return ALIASES.get(key, key)


def emitted(item, hidden: bool) -> list[dict]:  # type: ignore[no-untyped-def]
    """The coded literals the converter writes for one item (its own reading; nothing when it or an
    ancestor stays text), in the gold's terms."""
    keys = code_keys()
    out: list[dict] = []
    if hidden or isinstance(item.statement, Opaque) or not item.reading.coded:
        return out
    section = item.criterion.category
    for lit in literals(item.reading.statement):
        f = lit.finding
        exclude = (not lit.holds) != (section == "EXCLUSION")
        entry = {"key": keys.get(f.concept.code, f.concept.code) if f.concept else "?", "exclude": exclude,
                 "kind": f.kind, "text": f.text}
        if f.quantity is not None and f.comparator:
            entry.update(cmp=f.comparator, value=f.quantity.value, unit="ULN" if f.uln else f.quantity.unit)
        elif f.low is not None or f.high is not None:
            entry.update(cmp="range", low=f.low.value if f.low else None, high=f.high.value if f.high else None,
                         unit="ULN" if f.uln else (f.low or f.high).unit)
        value = lit.value or (f.values[0] if f.values else None)
        if value is not None:
            entry["answer"] = {POSITIVE: "positive", NEGATIVE: "negative", "female": "female", "male": "male"}.get(value.code, value.display)
        if f.window is not None:
            entry["window"] = (f.window.quantity.value, f.window.quantity.unit)
        out.append(entry)
    return out


def _require_form(e: dict) -> tuple:
    """(comparator, value[s]) with the polarity folded in: exclude '<100' == require '>=100'."""
    cmp = e.get("cmp") or e.get("comparator")
    if cmp in FLIP and e["exclude"]:
        return (FLIP[cmp], e.get("value"))
    if cmp == "range":
        low, high = e.get("low"), e.get("high")
        if e["key"] in ("ecog",) and low in (0, None):
            return ("<=", high) if not e["exclude"] else ("x", low, high)
        if e["key"] == "karnofsky" and high in (100, None):
            return (">=", low) if not e["exclude"] else ("x", low, high)
        return ("range", low, high, e["exclude"])
    if cmp == "=":
        return ("=", e.get("value"), e["exclude"])
    return (cmp, e.get("value"))


def _same_value(a: dict, g: dict) -> bool:
    ga = dict(g, exclude=g.get("polarity") == "exclude", cmp=g.get("comparator"))
    if a.get("cmp") is None and ga.get("cmp") is None:
        return True
    ra, rg = _require_form(a), _require_form(ga)
    if ra[0] == "<=" and rg[0] == "range" and rg[1] in (0, None):
        rg = ("<=", rg[2])
    if ra != rg:
        # equal numbers with same direction class
        return False
    unit = g.get("unit")
    if unit and a.get("unit") and unit.lower().replace("µ", "u") != str(a["unit"]).lower():
        return unit in ("{score}", "%") and a["key"] in ("ecog", "karnofsky")
    return True


def _same_window(a: dict, g: dict) -> bool:
    gw = g.get("window")
    aw = a.get("window")
    if gw is None:
        return aw is None
    if aw is None:
        return False
    return float(gw.get("value") or 0) == float(aw[0]) and (gw.get("unit") or "") == aw[1]


def _answer(a: dict, g: dict) -> bool:
    ga, aa = g.get("answer"), a.get("answer")
    if a["key"] in ("her2", "er", "pr", "sex"):
        if ga is None or aa is None:
            return ga == aa or a["key"] == "sex"
        same_answer = str(ga).lower() == str(aa).lower()
        same_pol = (g.get("polarity") == "exclude") == a["exclude"]
        return same_answer == same_pol
    return True


def match(a: dict, gold: list[dict]) -> tuple[str, int | None]:
    """'ok' (with the gold index), 'polarity' (right concept and value, wrong polarity) or 'wrong'."""
    candidates = [(i, g) for i, g in enumerate(gold) if _norm_key(g["key"]) == a["key"]
                  or (str(g["key"]).startswith("other:") and a["key"].replace("_", " ")[:6] in str(g["key"]).replace("_", " "))]
    for i, g in candidates:
        if a["key"] == "nyha_class" or str(g["key"]).startswith("other:"):
            if (g.get("polarity") == "exclude") == a["exclude"]:
                return "ok", i
            return "polarity", i
        if _same_value(a, g) and _same_window(a, g) and _answer(a, g):
            if a.get("cmp") in FLIP or a.get("cmp") == "range" or a["key"] in ("her2", "er", "pr", "sex"):
                return "ok", i
            if (g.get("polarity") == "exclude") == a["exclude"]:
                return "ok", i
            return "polarity", i
    return "wrong", None


def main() -> None:
    details = "--details" in sys.argv
    name = next((arg.split("=", 1)[1] for arg in sys.argv if arg.startswith("--set=")), "blind5")
    gold_items = []
    for k in range(3):
        gold_items += json.loads((ROOT / "benchmarks" / "gold" / f"{name}_gold_{k}.json").read_text(encoding="utf-8"))["items"]
    tp = fp = pol = 0
    per_kind: dict[str, Counter] = defaultdict(Counter)
    recall_hit = recall_all = 0
    recall_kind: dict[str, Counter] = defaultdict(Counter)
    mistakes = []
    diseases = set()
    trees: dict = {}
    for item in gold_items:
        if item.get("expected") is None:
            continue
        if item["record"] not in trees:
            trees[item["record"]] = _tree(item["record"])
        node, hidden = trees[item["record"]][item["path"]]
        assert node.criterion.text == item["text"], (item["record"], item["path"])
        gold = item["expected"]
        found = emitted(node, hidden)
        if found:
            diseases.update(item.get("conditions", [])[:1])
        subgroups = " ".join((g.get("subgroup") or "") for g in gold).lower()
        hit: set[int] = set()
        for a in found:
            verdict, index = match(a, gold)
            if verdict == "wrong" and a["key"].replace("_", " ")[:5] in subgroups or (verdict == "wrong" and a.get("text", "").lower()[:8] in subgroups and subgroups):
                continue  # the condition of a conditional criterion
            kind = a["kind"]
            if verdict == "ok":
                tp += 1
                per_kind[kind]["tp"] += 1
                hit.add(index)  # type: ignore[arg-type]
            else:
                fp += 1
                per_kind[kind]["fp"] += 1
                pol += verdict == "polarity"
                mistakes.append((verdict, item["record"], item["text"][:140], a))
        for i, g in enumerate(gold):
            if g.get("optional") or str(g["key"]).startswith(("other:", "drug:")):
                continue
            recall_all += 1
            kind = _kind(g["key"])
            recall_kind[kind]["n"] += 1
            if i in hit:
                recall_hit += 1
                recall_kind[kind]["hit"] += 1
            elif details:
                mistakes.append(("missed", item["record"], item["text"][:140], g))
    n = tp + fp
    lo, hi = wilson(tp, n)
    print(f"{name}: {len(gold_items)} criteria; emitted {n} coded findings in {len(diseases)} diseases")
    print(f"precision {tp}/{n} = {tp / max(n, 1):.1%} (95 % CI {lo:.1%}-{hi:.1%}); polarity errors {pol}")
    rlo, rhi = wilson(recall_hit, recall_all)
    print(f"recall {recall_hit}/{recall_all} = {recall_hit / max(recall_all, 1):.1%} (95 % CI {rlo:.1%}-{rhi:.1%}) of required gold findings of the listed kinds")
    for kind in sorted(set(per_kind) | set(recall_kind)):
        c, r = per_kind[kind], recall_kind[kind]
        print(f"  {kind:10} precision {c['tp']}/{c['tp'] + c['fp']}  recall {r['hit']}/{r['n']}")
    for verdict, record, text, a in mistakes:
        if verdict != "missed" or details:
            print(f"  [{verdict}] {record}: {text} → {a}")


def _kind(key: str) -> str:
    key = _norm_key(key)
    if key in tables.labs_table():
        return "lab"
    if key in ("ecog", "karnofsky", "lansky"):
        return "performance"
    if key in ("age", "sex"):
        return key
    if key in ("her2", "er", "pr", "triple_negative", "egfr_mutation", "alk"):
        return "biomarker"
    if key in tables.events_table() or key in ("chemotherapy", "radiotherapy", "major_surgery", "surgery", "investigational_agent",
                                              "immunotherapy", "systemic_corticosteroids", "live_vaccine", "transfusion",
                                              "hormonal_therapy", "targeted_therapy", "biologic_therapy", "anticoagulants", "antiplatelets"):
        return "treatment"
    if key in ("qtc", "lvef", "bmi", "body_weight", "sbp", "dbp", "life_expectancy", "gestational_age", "mmse", "asa_class", "fev1"):
        return "lab"
    return "condition"


if __name__ == "__main__":
    main()
