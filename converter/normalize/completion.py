"""Reader-independent completion of a :class:`Trial`: what the model itself makes clear although the
record does not say it in so many words.

Every reader's trials pass through :func:`complete` (in :func:`converter.readers.read_input`), so
FHIR, CDISC and the synopsis all get the same answer whatever the input format, and a writer never
has to guess. Each completion is recorded in ``provenance.inferred``; what could not be completed is
a warning. Two completions, both for old and terse records:

* criteria listed without Inclusion/Exclusion headings get the category their wording makes
  clear (:mod:`converter.eligibility.categories`);
* an interventional study whose record lists interventions but no arm gets its arms when the record
  makes them clear: one arm built from the interventions of a single-group study, or the arms its
  description names one by one ("Arm I: Patients receive … Arm II: …", the outline of old NCI
  records); such arms are marked ``derived`` in the model and say so in their description.

Completing an already completed trial changes nothing (the parsed-trial JSON reader reads
trialconv's own output back).
"""

from __future__ import annotations

import re
from typing import Optional

from ..eligibility.categories import infer_categories
from ..model import Arm, Trial

# How many unresolved criteria a warning quotes, and how long each quote is.
_QUOTED = 3
_QUOTE_CHARS = 80

#: Wording that names a second group, randomisation or a placebo: the study is not single-group,
#: wherever the record says it.
MORE_THAN_ONE_GROUP = re.compile(
    r"\brandomi[sz]|\bplacebo\b|\bwith\s+or\s+without\b|\bcross-?over\b|\bsham\b"
    r"|\bcontrol\s+(?:group|arm)\b|\b(?:allocated|assigned)\s+to\b|\beach\s+(?:arm|group|cohort)\b"
    r"|\b(?:arm|group|regimen|cohort|stratum|part)\s+(?:[IVX]{1,4}|[A-H]|\d{1,2})\b"
    r"|\b(?:two|three|four|five|six|[2-9])\s+(?:(?:treatment|study|different|dose|dosing)\s+)?(?:arms|groups|regimens|cohorts|schedules)\b",
    re.I,
)

#: A comparison named in a title or summary ("Docetaxel versus paclitaxel", "… compared with …").
#: Descriptions are not searched for these: their objectives compare methods or strata
#: ("Compare response rates", "HER2 by FISH versus immunohistochemistry") within one group.
COMPARISON = re.compile(r"\bversus\b|\bvs\.?\s|\bcompar(?:e|ed|es|ing|ison)\b", re.I)

_LABEL_CHARS = 120


def complete(trial: Trial) -> Trial:
    """The trial with criterion categories and arms filled in where the record makes them clear;
    unchanged when there is nothing to complete."""
    return _derive_named_arms(_derive_single_arm(_categorise_criteria(trial)))


# ------------------------------------------------------------------------------------ criteria


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"


def _categorise_criteria(trial: Trial) -> Trial:
    criteria, decided, unresolved = infer_categories(trial.eligibility.criteria)
    if not decided and not unresolved:
        return trial
    provenance = trial.provenance
    inferred, warnings = list(provenance.inferred), list(provenance.warnings)
    if decided:
        inferred.append("eligibility.criteria.category (items without an Inclusion/Exclusion heading, from their wording)")
    if unresolved:
        quoted = "; ".join(f"«{_quote(text)}»" for text in unresolved[:_QUOTED]) + (" …" if len(unresolved) > _QUOTED else "")
        warnings.append(
            f"eligibility.criteria: {len(unresolved)} criteria have no Inclusion/Exclusion heading and their wording does not say which; "
            f"category left UNKNOWN (CDISC TI leaves them out): {quoted}"
        )
    eligibility = trial.eligibility.model_copy(update={"criteria": criteria})
    return trial.model_copy(update={
        "eligibility": eligibility,
        "provenance": provenance.model_copy(update={"inferred": list(dict.fromkeys(inferred)), "warnings": list(dict.fromkeys(warnings))}),
    })


# ------------------------------------------------------------------------------------ arms


def single_group_reason(trial: Trial) -> Optional[str]:
    """Why the study is single-group, or None when the record does not make that clear.

    The registry's own words decide first (intervention model, one arm, allocation N/A — which
    ClinicalTrials.gov defines as "single-arm study"); a randomised design or a second arm never
    counts. When the design is not recorded at all (old records), the study counts as single-group
    only if neither its titles nor its descriptions mention randomisation, a comparison, placebo or
    a second arm, group, regimen or cohort.
    """
    design = trial.design
    if design.intervention_model == "SINGLE_GROUP" and (design.allocation != "RANDOMIZED" or design.number_of_arms == 1):
        return "intervention model single group"
    if design.intervention_model not in (None, "SINGLE_GROUP") or design.allocation == "RANDOMIZED":
        return None
    if design.number_of_arms == 1:
        return "one arm stated"
    if design.number_of_arms is not None:
        return None
    if design.allocation == "NA":
        return "allocation N/A (single-arm study)"
    if design.allocation is not None:
        return None
    headline = [trial.brief_title, trial.official_title, trial.brief_summary]
    texts = [*headline, trial.detailed_description, design.intervention_model_description]
    if any(text and MORE_THAN_ONE_GROUP.search(text) for text in texts) or any(text and COMPARISON.search(text) for text in headline):
        return None
    return "design not recorded; no randomisation, comparison or second group named in the record"


def _arm_label(names: list[str]) -> str:
    label = "Single group: " + ", ".join(names)
    if len(label) <= _LABEL_CHARS:
        return label
    shown: list[str] = []
    for name in names:
        if len("Single group: " + ", ".join([*shown, name])) > _LABEL_CHARS - 20:
            break
        shown.append(name)
    shown = shown or [names[0]]
    return f"Single group: {', '.join(shown)} and {len(names) - len(shown)} more"


def _derive_single_arm(trial: Trial) -> Trial:
    if trial.arms or not trial.interventions or trial.study_type != "INTERVENTIONAL":
        return trial
    reason = single_group_reason(trial)
    if reason is None:
        return trial
    names = list(dict.fromkeys(intervention.name for intervention in trial.interventions))
    arm = Arm(
        label=_arm_label(names),
        description=(
            "Derived by trialconv, not stated by the registry: the record lists interventions but no arm, "
            f"and the study is single-group ({reason}), so every participant is taken to receive them."
        ),
        intervention_names=names,
        derived=True,
    )
    provenance = trial.provenance
    inferred = list(dict.fromkeys([*provenance.inferred, f"arms (one arm derived from the interventions: {reason})"]))
    return trial.model_copy(update={"arms": [arm], "provenance": provenance.model_copy(update={"inferred": inferred})})


#: "Arm I:", "* Arm II (control):", "Group 2:" at a sentence or line start opens a named arm; "Arm I and
#: II:", "Both groups:" or "All patients:" opens a part common to several arms, which ends the arm above.
_ARM_TERM = r"(?:[IVX]{1,4}|[A-H]|\d{1,2})"
_ARM_START = re.compile(
    rf"(?:^|(?<=[\s.;]))(?:[*•-]\s*)?(?:"
    rf"(?P<kind>Arm|ARM|Group|GROUP)\s+(?P<term>{_ARM_TERM})(?P<more>\s*(?:,|and|&|/)\s*{_ARM_TERM})*"
    rf"|(?:Both|All)\s+(?:arms|groups|patients)"
    rf")\s*(?:\([^)]{{0,60}}\))?\s*:",
)
_PARAGRAPH_END = re.compile(r"\n\s*\n")
#: A sentence about several arms or about what follows every arm ("Patients in arms I and II
#: continue …", "All patients undergo surgery …", "Patients are followed …") is no longer one arm's.
#: ("Patients then receive …" stays: within an arm it is the next step of that arm's sequence.)
_SHARED_SENTENCE = re.compile(
    r"(?<=[.;])\s+(?=(?:All\s+patients|Both\s+(?:arms|groups)|Patients\s+(?:in|on|of)\s+(?:both|all|each|arms?\s+(?:[IVX]{1,4}|\d{1,2})\s*(?:,|and|&))"
    r"|Patients\s+are\s+(?:followed|evaluated))\b)"
)
_SALTS = re.compile(r"\s+(?:hydrochloride|citrate|sodium|tartrate|acetate|sulfate|mesylate|phosphate|maleate|calcium|HCl)\b.*$", re.I)


def named_arms(text: str) -> list[tuple[str, str]]:
    """(label, description) of each arm a description names in turn ("Arm I: …", "Arm II: …").

    An arm's text runs to the next arm label, a part common to several arms ("Arm I and II:"), a
    sentence about several arms or what follows them all ("All patients undergo surgery …"), or the
    end of its paragraph. Fewer than two distinct arms, or labels out of order, give nothing.
    """
    starts = list(_ARM_START.finditer(text))
    arms: dict[str, str] = {}
    for index, match in enumerate(starts):
        if not match.group("kind") or match.group("more"):
            continue
        label = f"{match.group('kind').capitalize()} {match.group('term')}"
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        paragraph = _PARAGRAPH_END.search(text, match.end(), end)
        body = " ".join(text[match.end(): paragraph.start() if paragraph else end].split())
        shared = _SHARED_SENTENCE.search(body)
        body = body[: shared.start()].strip() if shared else body
        if body and label not in arms:
            arms[label] = body
    terms = [label.split()[1] for label in arms]
    return list(arms.items()) if len(arms) >= 2 and _in_order(terms) else []


def _in_order(terms: list[str]) -> bool:
    """I, II, III… or 1, 2, 3… or A, B, C… from the first, with no gap."""
    romans = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
    for sequence in (romans, [str(n) for n in range(1, 100)], [chr(c) for c in range(ord("A"), ord("Z") + 1)]):
        if terms == sequence[: len(terms)]:
            return True
    return False


def _mentions(text: str, name: str) -> bool:
    """Does an arm's text name this intervention ("doxorubicin" for "doxorubicin hydrochloride")?"""
    for candidate in {name, _SALTS.sub("", name)}:
        if len(candidate) >= 4 and re.search(rf"(?<!\w){re.escape(candidate)}(?!\w)", text, re.I):
            return True
    return False


def _derive_named_arms(trial: Trial) -> Trial:
    if trial.arms or not trial.interventions or trial.study_type != "INTERVENTIONAL" or not trial.detailed_description:
        return trial
    found = named_arms(trial.detailed_description)
    if not found:
        return trial
    arms = []
    for label, body in found:
        names = [i.name for i in trial.interventions if any(_mentions(body, n) for n in [i.name, *i.other_names])]
        arms.append(Arm(
            label=label,
            description=f"Derived by trialconv from the study description (the record lists no arms): {body}",
            intervention_names=list(dict.fromkeys(names)),
            derived=True,
        ))
    provenance = trial.provenance
    inferred = list(dict.fromkeys([*provenance.inferred, f"arms ({len(arms)} arms derived from the arms the description names)"]))
    return trial.model_copy(update={"arms": arms, "provenance": provenance.model_copy(update={"inferred": inferred})})
