"""The fixed development / blind split of the shared ClinicalTrials.gov records for eligibility work.

A record is blind when the first byte of SHA-256("trialconv-eligibility-split:" + NCT id) is below 64
(about a quarter of the records). The split depends on the id only, so the v2 JSON and legacy XML copies of
one trial fall on the same side, and it was fixed before anyone looked at the blind part. Tuning the engine
on blind records is not allowed: their criteria are only scored, after gold answers were committed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SALT = "trialconv-eligibility-split:"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "ctgov"


def is_blind(nct_id: str) -> bool:
    """True when the record belongs to the blind part (never tuned on)."""
    return hashlib.sha256((SALT + nct_id.upper()).encode("ascii")).digest()[0] < 64


def record_files(blind: bool, root: Path = SHARED) -> list[Path]:
    """The shared record files of one part, v2 JSON first, sorted by name."""
    files = sorted((root / "v2").glob("NCT*.json")) + sorted((root / "xml").glob("NCT*.xml"))
    return [path for path in files if is_blind(re.search(r"NCT\d{8}", path.name).group(0)) == blind]


if __name__ == "__main__":
    blind = record_files(True)
    print(f"blind files: {len(blind)}; development files: {len(record_files(False))}")
