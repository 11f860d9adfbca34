"""Regenerate schemas/trial.schema.json from converter.model (run after changing the model)."""

from __future__ import annotations

import json
from pathlib import Path

from converter.model import trial_json_schema

TARGET = Path(__file__).resolve().parent.parent / "schemas" / "trial.schema.json"


def render() -> str:
    return json.dumps(trial_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
