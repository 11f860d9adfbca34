"""What every writer provides and returns. A writer knows one standard and reads only the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..model import Arm, Intervention, Trial


@dataclass(frozen=True)
class Written:
    """What a writer produced for one trial: the structured value for library callers and the files
    (relative name → bytes) for the CLI, both already validated."""

    value: Any
    files: dict[str, bytes]
    notes: list[str] = field(default_factory=list)
    batch_state: Any = None  # what a writer's batch step needs (e.g. CDISC datasets to stack)
    # Findings on the written output a reader of the report must see (e.g. USDM rules a registry
    # record cannot satisfy); unlike notes they count as the record's warnings.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Writer:
    name: str
    description: str
    produce: Callable[[Trial, dict[str, Any]], Written]
    # Optional batch step (e.g. stacked CDISC datasets over all trials of a run).
    finish: Optional[Callable[[list[Written]], dict[str, bytes]]] = None
    # Part of ``--to all`` (the trial-json round-trip format is not).
    in_all: bool = True


def names_intervention(name: str, interventions: list[Intervention]) -> bool:
    """Whether an arm's 'TYPE: name' (or bare name) entry is one of these interventions."""
    wanted = {name.strip().lower()}
    if ":" in name:
        wanted.add(name.split(":", 1)[1].strip().lower())
    return any(iv.name.strip().lower() in wanted for iv in interventions)


def arm_intervention_indexes(arm: Arm, interventions: list[Intervention]) -> list[int]:
    """Indexes of the interventions an arm uses, matched by name (arms list 'Drug: X' or 'X')."""
    found = [i for i, iv in enumerate(interventions) if any(names_intervention(name, [iv]) for name in arm.intervention_names)]
    for i, iv in enumerate(interventions):
        if arm.label in iv.arm_labels and i not in found:
            found.append(i)
    return sorted(found)
