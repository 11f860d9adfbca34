"""Compare every output trialconv writes for the shared corpus and the samples between two revisions.

    python scripts/compare_outputs.py HEAD~1 HEAD          # two git revisions
    python scripts/compare_outputs.py HEAD .               # a revision against the working tree
    python scripts/compare_outputs.py /path/a /path/b      # two checkouts

Each side is a git revision (exported with ``git archive`` into a temporary folder) or a folder holding
a checkout (``.`` is the working tree, uncommitted changes included). Both sides convert the same
input files — the shared ClinicalTrials.gov corpus (``../shared/ctgov/v2``, ``../shared/ctgov/xml``)
and this checkout's ``samples/`` — to ``all`` plus ``trial-json``, and to ``fhir-r5`` and ``fhir-r4b``
with ``--bundle-type transaction``, with ``SOURCE_DATE_EPOCH`` pinned. Every output file (reports
included) is then compared byte for byte. Differing, missing and extra files are printed; the exit
code is 1 on any difference.

Outputs of a committed revision are cached under the system temp folder by tree hash, so comparing a
new commit against its parent converts only once.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EPOCH = "1700000000"
CACHE = Path(tempfile.gettempdir()) / "trialconv-compare-cache"

# (input set name, input path)
INPUTS = (
    ("ctgov-v2", SHARED / "ctgov" / "v2"),
    ("ctgov-xml", SHARED / "ctgov" / "xml"),
    ("samples", ROOT / "samples"),
)
# (run name, extra convert arguments)
RUNS = (
    ("all", ["--to", "all", "--to", "trial-json"]),
    ("transaction", ["--to", "fhir-r5", "--to", "fhir-r4b", "--bundle-type", "transaction"]),
)


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _checkout(side: str, scratch: Path) -> tuple[Path, str | None]:
    """A folder holding the side's source tree, and its tree hash when it is a committed revision."""
    if Path(side).is_dir():
        return Path(side).resolve(), None
    tree = _git("rev-parse", f"{side}^{{tree}}")
    target = scratch / tree
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", tree], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, tree


def _convert(tree: Path, out: Path, inputs: Path, extra: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree), "SOURCE_DATE_EPOCH": EPOCH, "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "converter.cli", "convert", str(inputs), *extra, "--out", str(out), "--quiet"]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    # Exit 1 (some record failed) is an output like any other: the report and the files say which.
    if done.returncode not in (0, 1) or not (out / "trialconv-report.ndjson").exists():
        raise SystemExit(f"conversion crashed in {tree} ({' '.join(extra)}):\n{done.stderr[-3000:]}")
    return f"exit {done.returncode}\n"


def _outputs(side: str, scratch: Path, jobs: int) -> Path:
    tree, tree_hash = _checkout(side, scratch)
    if tree_hash:
        inputs_key = hashlib.sha256("|".join(str(p) for _, p in INPUTS).encode()).hexdigest()[:12]
        cached = CACHE / f"{tree_hash}-{inputs_key}"
        if (cached / ".complete").exists():
            return cached
    out = scratch / f"out-{hashlib.sha256(str(tree).encode()).hexdigest()[:12]}"
    tasks = [(out / name / run, path, extra) for name, path in INPUTS for run, extra in RUNS]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        statuses = list(pool.map(lambda task: _convert(tree, *task), tasks))
    for (target, _, _), status in zip(tasks, statuses):
        target.mkdir(parents=True, exist_ok=True)
        (target / "exit-status.txt").write_text(status)
    if tree_hash:
        if cached.exists():
            shutil.rmtree(cached)
        shutil.copytree(out, cached)
        (cached / ".complete").write_text("")
        return cached
    return out


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".complete"}


def compare(a: Path, b: Path) -> list[str]:
    left, right = _files(a), _files(b)
    problems = [f"only in A: {name}" for name in sorted(left - right)]
    problems += [f"only in B: {name}" for name in sorted(right - left)]
    problems += [f"differs:   {name}" for name in sorted(left & right) if not filecmp.cmp(a / name, b / name, shallow=False)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="git revision or checkout folder (the baseline)")
    parser.add_argument("b", help="git revision or checkout folder (the candidate)")
    parser.add_argument("--jobs", type=int, default=2, help="conversions run at once (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and print its path")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="trialconv-compare-"))
    try:
        a = _outputs(args.a, scratch, args.jobs)
        b = _outputs(args.b, scratch, args.jobs)
        problems = compare(a, b)
        total = len(_files(a) | _files(b))
        for problem in problems:
            print(problem)
        verdict = "IDENTICAL" if not problems else f"{len(problems)} DIFFERENCE(S)"
        print(f"{verdict}: {total} output files compared ({args.a} vs {args.b})")
        return 1 if problems else 0
    finally:
        if args.keep:
            print(f"scratch kept in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
