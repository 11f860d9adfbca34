"""Draw the items of one blind eligibility round: criteria of blind records (see ``eligibility_split``)
whose text no earlier gold set used (``tests/gold`` nor the items of earlier rounds), at most 10 per
record (seed ``blind<N>:<NCT id>``), dealt into three parts for three judges.

Run: ``python benchmarks/blind_sample.py 5`` (blind-5; ``6`` drew blind-6). Output:
``benchmarks/gold/blind<N>_items_<k>.json`` (k = 0, 1, 2), the items to judge, without answers.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from eligibility_split import record_files

from converter import read

ROOT = Path(__file__).resolve().parents[1]
PER_RECORD = 10


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _used_texts(round_: int) -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "tests" / "gold").glob("eligibility_*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["criteria"] if "criteria" in data else [c for s in data["seeds"].values() for c in s["criteria"]]
        used |= {_norm(item["text"]) for item in items}
    for earlier in range(5, round_):
        for path in (ROOT / "benchmarks" / "gold").glob(f"blind{earlier}_items_*.json"):
            used |= {_norm(item["text"]) for item in json.loads(path.read_text(encoding="utf-8"))["items"]}
    return used


def _items(criteria, path: str, parent: str | None):
    for index, item in enumerate(criteria, 1):
        here = f"{path}{index}"
        yield {"path": here, "section": item.category.lower(), "parent": parent, "text": item.text}
        yield from _items(item.children, here + ".", item.text)


def main(round_: int) -> None:
    used = _used_texts(round_)
    seen: set[str] = set()
    parts: list[list[dict]] = [[], [], []]
    records = 0
    for path in record_files(True):
        nct = re.search(r"NCT\d{8}", path.name).group(0)
        if nct in seen:
            continue  # the v2 copy comes first and stands for the trial
        seen.add(nct)
        trial = next(iter(read(path)))
        items = [i for i in _items(trial.eligibility.criteria, "", None) if _norm(i["text"]) not in used and len(i["text"]) > 3]
        random.Random(f"blind{round_}:{nct}").shuffle(items)
        chosen = sorted(items[:PER_RECORD], key=lambda i: [int(n) for n in i["path"].split(".")])
        conditions = list(trial.conditions)[:3] if hasattr(trial, "conditions") else []
        for item in chosen:
            item.update(record=nct, conditions=[getattr(c, "name", str(c)) for c in conditions])
        parts[records % 3].extend(chosen)
        records += 1
    for k, part in enumerate(parts):
        out = ROOT / "benchmarks" / "gold" / f"blind{round_}_items_{k}.json"
        out.write_text(json.dumps({"items": part}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(out.name, len(part), "items from", len({i["record"] for i in part}), "records")


if __name__ == "__main__":
    main(int(sys.argv[1]))
