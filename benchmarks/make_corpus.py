"""A registry-sized corpus for the scale benchmark: the shared ClinicalTrials.gov v2 records cycled
with unique ids (run by hand, not in CI).

    python benchmarks/make_corpus.py 10000 --files /tmp/ctgov-10k        # one JSON file per study
    python benchmarks/make_corpus.py 100000 --ndjson /tmp/ctgov-100k.ndjson
    python benchmarks/make_corpus.py 10000 --files /tmp/ctgov-10k --change 1   # rewrite 1 % in place

Copy *n* of record *r* (the records in sorted order) gets the id ``NCT9xxxxxxx`` (8 digits, so it stays
a well-formed NCT number and can never be a real registration, which are all below NCT08000000);
``--change P`` rewrites P % of the files of an existing folder (a word appended to the brief
summary), which is what an incremental rerun then has to convert.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "ctgov" / "v2"


def studies(source: Path):
    records = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(source.glob("*.json"))]
    index = 0
    while True:
        study = json.loads(json.dumps(records[index % len(records)]))
        study["protocolSection"]["identificationModule"]["nctId"] = f"NCT{90000000 + index:08d}"
        yield index, study
        index += 1


def change(folder: Path, percent: float) -> int:
    files = sorted(folder.glob("*.json"))
    step = max(1, round(100 / percent))
    changed = 0
    for path in files[::step]:
        study = json.loads(path.read_text(encoding="utf-8"))
        description = study["protocolSection"].setdefault("descriptionModule", {})
        description["briefSummary"] = (description.get("briefSummary") or "") + " (revised)"
        path.write_text(json.dumps(study), encoding="utf-8")
        changed += 1
    return changed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--files", type=Path, help="folder for one JSON file per study")
    parser.add_argument("--ndjson", type=Path, help="one NDJSON file (a study per line)")
    parser.add_argument("--change", type=float, help="percent of the files in --files to rewrite")
    parser.add_argument("--source", type=Path, default=SHARED)
    args = parser.parse_args()
    if args.change:
        print(f"changed {change(args.files, args.change)} files")
        return 0
    if args.files:
        args.files.mkdir(parents=True, exist_ok=True)
    out = open(args.ndjson, "w", encoding="utf-8") if args.ndjson else None
    for index, study in studies(args.source):
        if index >= args.count:
            break
        text = json.dumps(study)
        if args.files:
            (args.files / f"{study['protocolSection']['identificationModule']['nctId']}.json").write_text(text, encoding="utf-8")
        if out:
            out.write(text + "\n")
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
