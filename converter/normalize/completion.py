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
  text names (:mod:`converter.normalize.arm_text`: "Arm I: Patients receive … Arm II: …" and the
  other outline forms of old NCI records, a randomisation statement "randomized to receive either X
  or Y", a list of groups "1 of 8 dosing times (…)"), one treatment against placebo in two
  randomised groups, or the two orders of a randomised two-treatment crossover. Such arms are marked
  ``derived`` in the model and say so in their description; a record that states no arm any rule
  can take keeps none, and :func:`why_no_arm` says why.

Completing an already completed trial changes nothing (the parsed-trial JSON reader reads
trialconv's own output back).
"""

from __future__ import annotations

import re
from typing import Optional

from ..eligibility.categories import infer_categories
from ..model import Arm, Trial
from . import arm_text

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

#: An outline that gives its lettered regimens one after another to the same patients.
_SEQUENTIAL_REGIMENS = re.compile(
    r"\b(?:beginning|starting)\s+with\s+regimen\s+[A-H]\b|\b(?:after|following)\s+(?:(?:the\s+)?(?:initiation|completion|start)\s+of\s+)?regimen\s+[A-H]\b", re.I
)
#: The record's own words for a study with one group (used for a non-randomised study without a model).
SINGLE_GROUP_WORDS = re.compile(r"\buncontrolled\b|\bsingle[- ](?:arm|group)\b|\bnon-?comparative\b|\bone[- ](?:arm|group)\s+(?:study|trial)\b", re.I)

_LABEL_CHARS = 120


def complete(trial: Trial) -> Trial:
    """The trial with criterion categories and arms filled in where the record makes them clear;
    unchanged when there is nothing to complete."""
    return _derive_text_arms(_derive_single_arm(_categorise_criteria(trial)))


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
    if design.number_of_arms == 1 and design.allocation != "RANDOMIZED":
        return "one arm stated"
    if design.intervention_model not in (None, "SINGLE_GROUP") or design.allocation == "RANDOMIZED" or design.number_of_arms is not None:
        return None
    if design.allocation == "NA":
        return "allocation N/A (single-arm study)"
    headline = [trial.brief_title, trial.official_title, trial.brief_summary]
    texts = [text for text in (*headline, trial.detailed_description, design.intervention_model_description) if text]
    if any(_names_a_second_group(text) for text in texts):
        return None
    if any(text and COMPARISON.search(text) for text in headline):
        return None
    if design.allocation is None:
        return "design not recorded; no randomisation, comparison or second group named in the record"
    if any(text and SINGLE_GROUP_WORDS.search(text) for text in texts):
        return "non-randomised, called uncontrolled or single-arm, and no second group named in the record"
    return None


def _names_a_second_group(text: str) -> bool:
    """Does the text name randomisation, placebo or a second group? "Regimen A … regimen B" of an
    outline that gives the regimens one after another ("beginning with regimen A", "after completion
    of regimen B") are steps of one group's treatment, not groups."""
    found = [m.group(0) for m in MORE_THAN_ONE_GROUP.finditer(text)]
    if found and _SEQUENTIAL_REGIMENS.search(text):
        found = [word for word in found if not re.fullmatch(r"regimen\s+[A-H]", word, re.I)]
    return bool(found)


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


_SALTS = re.compile(r"\s+(?:hydrochloride|citrate|sodium|tartrate|acetate|sulfate|mesylate|phosphate|maleate|calcium|HCl)\b.*$", re.I)
_PLACEBO = re.compile(r"\bplacebo\b", re.I)
#: The record calls the study placebo-controlled, or sets the treatment against placebo.
_PLACEBO_CONTROLLED = re.compile(
    r"\bplacebo[- ]controlled\b|\b(?:versus|vs\.?|or|compared\s+(?:with|to))\s+(?:a\s+|matching\s+)?placebo\b|\bplacebo\s+or\b", re.I
)
_TWO_GROUPS = re.compile(r"\b(?:two|2)\s+(?:treatment\s+|study\s+|parallel\s+)?(?:arms|groups)\b", re.I)
_MORE_PERIODS = re.compile(r"\b(?:three|four|five|[3-9])[- ](?:period|way|treatment|sequence)\b", re.I)
_TWO_PERIODS = re.compile(r"\b(?:two|2)[- ]period\b|\b(?:inverse|reverse|opposite)\s+order\b", re.I)


def _mentions(text: str, name: str) -> bool:
    """Does an arm's text name this intervention ("doxorubicin" for "doxorubicin hydrochloride")?"""
    for candidate in {name, _SALTS.sub("", name)}:
        if len(candidate) >= 4 and re.search(rf"(?<!\w){re.escape(candidate)}(?!\w)", text, re.I):
            return True
    return False


def _given(trial: Trial, text: str) -> list[str]:
    """The listed interventions an arm's text names (by name or other name)."""
    names = [i.name for i in trial.interventions if any(_mentions(text, n) for n in [i.name, *i.other_names])]
    return list(dict.fromkeys(names))


def _texts(trial: Trial) -> list[str]:
    return [text for text in (trial.brief_title, trial.official_title, trial.brief_summary, trial.detailed_description) if text]


def _randomised(trial: Trial) -> bool:
    allocation = trial.design.allocation
    return allocation == "RANDOMIZED" or (allocation is None and any(re.search(r"\brandomi[sz]", t, re.I) for t in _texts(trial)))


def _active(trial: Trial) -> list[str]:
    """Names of the listed interventions that are not a placebo."""
    return list(dict.fromkeys(i.name for i in trial.interventions if not _PLACEBO.search(i.name)))


#: A candidate set of derived arms: (label, description text, intervention names) each.
_Candidate = list[tuple[str, str, list[str]]]


def _from_description(trial: Trial) -> Optional[_Candidate]:
    """The arms the description names in turn ("Arm I: …", "Patients in arm I receive …", "The first group …")."""
    text = trial.detailed_description or ""
    found = arm_text.named_arms(text) or arm_text.ordinal_arms(text)
    basis = "Derived by trialconv from the study description (the record lists no arms): "
    return [(label, basis + body, _given(trial, body)) for label, body in found] or None


def _from_statement(trial: Trial) -> Optional[_Candidate]:
    """The alternatives of the record's one randomisation statement ("randomized to receive either X
    or Y"), or the groups it lists ("1 of 8 dosing times (0000, 0300, …)", "two arms: the A group and
    the B group"); the description is read before the summary."""
    for text in (trial.detailed_description, trial.brief_summary):
        if not text:
            continue
        for parse, what in ((arm_text.randomised_alternatives, "randomisation statement"), (arm_text.listed_groups, "list of groups")):
            found = parse(text) if parse is arm_text.listed_groups or _randomised(trial) else None
            if found:
                statement, labels = found
                basis = f"Derived by trialconv from the record's {what} (the record lists no arms): «{' '.join(statement.split())}»"
                return [(label, basis, _given(trial, label)) for label in labels]
    return None


def _placebo_controlled(trial: Trial) -> Optional[_Candidate]:
    """One treatment against placebo in two randomised groups: the treatment's arm and the placebo arm."""
    active, design = _active(trial), trial.design
    if len(active) != 1 or not _randomised(trial) or design.intervention_model in ("CROSSOVER", "FACTORIAL", "SINGLE_GROUP"):
        return None
    texts = _texts(trial)
    if not any(_PLACEBO_CONTROLLED.search(t) for t in texts):
        return None
    if not (design.number_of_arms == 2 or (design.number_of_arms is None and any(_TWO_GROUPS.search(t) for t in texts))):
        return None
    basis = ("Derived by trialconv (the record lists no arms): the record describes a randomised, placebo-controlled study "
             f"of one treatment in two groups, so one group receives {active[0]}")
    return [(active[0], basis + ".", [active[0]]), ("Placebo", basis + " and this one placebo.", [])]


def _crossover_orders(trial: Trial) -> Optional[_Candidate]:
    """A randomised two-period crossover of two treatments: its two arms can only be the two orders."""
    design, texts = trial.design, _texts(trial)
    if design.intervention_model != "CROSSOVER" or not _randomised(trial) or any(_MORE_PERIODS.search(t) for t in texts):
        return None
    if not (design.number_of_arms == 2 or (design.number_of_arms is None and any(_TWO_PERIODS.search(t) for t in texts))):
        return None
    active = _active(trial)
    placebo = any(_PLACEBO.search(t) for t in texts) or len(active) < len(trial.interventions)
    treatments = active if len(active) == 2 and not placebo else [*active, "placebo"] if len(active) == 1 and placebo else []
    if not treatments:
        return None
    first, second = treatments
    basis = (f"Derived by trialconv (the record lists no arms): a randomised crossover of two treatments ({first} and {second}) "
             "in two arms, which can only be the two orders; this arm receives ")
    return [(f"{_capital(a)}, then {b}", basis + f"{a} first.", active) for a, b in ((first, second), (second, first))]


#: The rules in the order of their evidence: the record's own arm names first.
_RULES = (_from_description, _from_statement, _placebo_controlled, _crossover_orders)


def _derive_text_arms(trial: Trial) -> Trial:
    if trial.arms or not trial.interventions or trial.study_type != "INTERVENTIONAL":
        return trial
    stated = trial.design.number_of_arms
    for rule in _RULES:
        found = rule(trial)
        if found and (stated is None or stated == len(found)):
            break
    else:
        return trial
    arms = [Arm(label=_capped(label), description=description, intervention_names=names, derived=True) for label, description, names in found]
    provenance = trial.provenance
    inferred = list(dict.fromkeys([*provenance.inferred, f"arms ({len(arms)} arms derived from the arms the record's text names)"]))
    return trial.model_copy(update={"arms": arms, "provenance": provenance.model_copy(update={"inferred": inferred})})


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _capped(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1].rsplit(" ", 1)[0] + "…"


# ------------------------------------------------------------------------------------ no arm


_UNSTATED_DOSES = re.compile(
    r"\b(?:1|one)\s+of\s+(?:two|three|four|[2-9])\s+(?:different\s+)?dose|\bdifferent\s+doses\b|\bdose[- ]ranging\b"
    r"|\bfixed\s+doses\b|\b(?:two|three|four|[2-9])\s+dose\s+levels\b",
    re.I,
)
_ESCALATION = re.compile(r"\bdose[- ]escalat|\bescalating\s+doses\b|\bascending\b", re.I)


def why_no_arm(trial: Trial) -> Optional[str]:
    """Why an interventional record with interventions has no arm after completion, in a few words
    (for the notes that say TA is empty); None when it has arms or nothing to say."""
    if trial.arms or not trial.interventions or trial.study_type != "INTERVENTIONAL":
        return None
    texts, design = _texts(trial), trial.design
    statements = sum(len(arm_text.randomisation_statements(t)) for t in texts[2:])
    for rule in _RULES:
        found = rule(trial)
        if found and design.number_of_arms is not None and len(found) != design.number_of_arms:
            return f"the record states {design.number_of_arms} arms but its text names {len(found)}"
    if statements > 1:
        return "the record describes more than one randomisation, and which arms they make together is not stated"
    if any(_ESCALATION.search(t) for t in texts):
        return "dose-escalation cohorts or parts, which the record does not list as arms"
    if any(_UNSTATED_DOSES.search(t) for t in texts):
        return "the arms differ by dose levels the record does not state"
    if design.intervention_model in ("CROSSOVER", "FACTORIAL"):
        what = "treatment sequences" if design.intervention_model == "CROSSOVER" else "groups"
        return f"a {design.intervention_model.lower()} design whose {what} the record does not state"
    if design.number_of_arms is not None:
        return f"the record states {design.number_of_arms} arms but names none of them"
    if not _randomised(trial) and not any(_names_a_second_group(t) for t in texts):
        return "its title or summary names a comparison, and the record does not say whether it is between groups, or which"
    kind = "randomised" if _randomised(trial) else "non-randomised multi-group" if design.allocation == "NON_RANDOMIZED" else "multi-group"
    return f"a {kind} study that names no arm"
