"""Trial Summary (TS) rows from the canonical Trial: one function per group of parameters.

Every parameter a submission expects is written: with its value when the record has one, else with
a null flavor (or the codelist's own U/NA term, SDTMIG TS assumption 11) and a note saying what to
take from the protocol. Registry values map to CDISC CT through ``converter/terminology/cdisc_ct.json``;
a value CDISC has no term for gets TSVALNF "OTH" and a note, never an invented code.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable, Optional

from ...model import Age, Trial, TrialDate
from ...terminology import sdtm as ct
from .text import one_line, strip_type_prefix

# Registry statuses: still running (ONGOSIND=Y, future dates plausible) versus finished.
ONGOING = frozenset({"NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING", "SUSPENDED"})
FINISHED = frozenset({"COMPLETED", "TERMINATED", "WITHDRAWN"})
COMPARATOR_ARMS = ("PLACEBO_COMPARATOR", "ACTIVE_COMPARATOR", "SHAM_COMPARATOR")


def iso_duration(age: Age) -> str:
    """Registry age limit → ISO 8601 duration: 18 years → P18Y, 6 months → P6M, 12 hours → PT12H."""
    value = float(age.value)
    number = str(int(value)) if value.is_integer() else f"{value:g}"
    designator = {"YEARS": "Y", "MONTHS": "M", "WEEKS": "W", "DAYS": "D", "HOURS": "H", "MINUTES": "M"}[age.unit]
    return f"PT{number}{designator}" if age.unit in ("HOURS", "MINUTES") else f"P{number}{designator}"


_REGISTRY_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^NCT\d{8}$"), "ClinicalTrials.gov"),
    (re.compile(r"^(EUDRACT[- ]?)?\d{4}-\d{6}-\d{2}(-[A-Z]{2})?$", re.I), "EudraCT"),
    (re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}$"), "CTIS"),
    (re.compile(r"^ISRCTN\d+$", re.I), "ISRCTN"),
    (re.compile(r"^ChiCTR", re.I), "ChiCTR"),
    (re.compile(r"^ACTRN\d+", re.I), "ANZCTR"),
    (re.compile(r"^CTRI/", re.I), "CTRI"),
    (re.compile(r"^DRKS\d+", re.I), "DRKS"),
    (re.compile(r"^(jRCT|JPRN-|UMIN)", re.I), "JPRN"),
    (re.compile(r"^KCT\d+", re.I), "CRIS"),
    (re.compile(r"^IRCT\d+", re.I), "IRCT"),
    (re.compile(r"^PACTR\d+", re.I), "PACTR"),
)
_REGISTRY_TYPES = {"EUDRACT_NUMBER": "EudraCT", "CTIS": "CTIS"}


def _registry_of(value: str, id_type: Optional[str], issuer: Optional[str]) -> Optional[str]:
    """Name of the registry that issued an identifier, or None when it is not a registry number."""
    if id_type in _REGISTRY_TYPES:
        return _REGISTRY_TYPES[id_type]
    for pattern, name in _REGISTRY_PATTERNS:
        if pattern.match(value.strip()):
            return name
    if id_type == "REGISTRY":
        return issuer or ""
    return None


_OBJECTIVE_SENTENCE = re.compile(
    r"(?:^|(?<=[.!?]\s))((?:The\s+|Our\s+)?primary\s+(?:study\s+)?(?:objective|aim|purpose|goal)s?\b[^.!?]{10,}?[.!?])(?=\s|$)",
    re.I,
)
_OBJECTIVE_HEADING = re.compile(r"^\s*(?:(primary|secondary|tertiary|exploratory)\s+)?objectives?\s*:\s*(.*)$", re.I)
_OBJECTIVE_SUBHEADING = re.compile(r"^\s*(primary|secondary|tertiary|exploratory)(?:\s+objectives?)?\s*:?\s*$", re.I)
_OTHER_HEADING = re.compile(r"^\s*[A-Z][A-Z0-9 ,/&()'-]{2,60}:")
_BULLET = re.compile(r"^\s*(?:[*•\-–]|\d{1,2}[.)])\s+")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV")
_OBJECTIVE_PARAMETER = {"": "OBJPRIM", "PRIMARY": "OBJPRIM", "SECONDARY": "OBJSEC", "TERTIARY": "OBJEXP", "EXPLORATORY": "OBJEXP"}


def _split_roman(text: str) -> list[str]:
    """ "I. Determine a. II. Compare b." → two items, accepting numerals only in sequence I, II, III…"""
    cuts: list[tuple[int, int]] = []
    position = 0
    for numeral in _ROMAN:
        match = re.compile(rf"(?:(?<=\s)|^){numeral}\.\s+").search(text, position)
        if not match:
            break
        cuts.append((match.start(), match.end()))
        position = match.end()
    if len(cuts) < 2 and not (cuts and cuts[0][0] == 0):
        return [text]
    items = [text[end : (cuts[i + 1][0] if i + 1 < len(cuts) else len(text))] for i, (_, end) in enumerate(cuts)]
    return [one_line(item) for item in items if one_line(item)]


def _objective_items(lines: list[str]) -> list[str]:
    """Items of one objectives block: bullets, else I./II. numerals, else the block as one item."""
    items: list[str] = []
    bulleted = any(_BULLET.match(line) for line in lines)
    for line in lines:
        if not line.strip():
            continue
        if bulleted and _BULLET.match(line):
            items.append(_BULLET.sub("", line, count=1))
        elif bulleted and items:
            items[-1] += " " + line.strip()
        else:
            items.append(line.strip())
    if not bulleted:
        return _split_roman(one_line(" ".join(items))) if items else []
    return [one_line(item) for item in items if one_line(item)]


def stated_objectives(trial: Trial) -> dict[str, list[str]]:
    """Objectives the record states, by TS parameter (OBJPRIM, OBJSEC, OBJEXP).

    Registry descriptions (NCI PDQ style especially) often carry an "OBJECTIVES:" section, with or
    without "Primary"/"Secondary" sub-headings. Unranked objectives all go to OBJPRIM, as SDTMIG TS
    assumption 14 asks. Failing that, a sentence "The primary objective … is to …" is used.
    """
    found: dict[str, list[str]] = {}
    blocks: list[tuple[str, list[str]]] = []
    kind: Optional[str] = None
    for line in (trial.detailed_description or "").splitlines():
        heading = _OBJECTIVE_HEADING.match(line)
        sub = _OBJECTIVE_SUBHEADING.match(line) if kind is not None else None
        if heading:
            kind = (heading.group(1) or "").upper()
            blocks.append((kind, [heading.group(2)] if heading.group(2).strip() else []))
        elif sub:
            kind = sub.group(1).upper()
            blocks.append((kind, []))
        elif kind is not None and _OTHER_HEADING.match(line):
            kind = None
        elif kind is not None:
            blocks[-1][1].append(line)
    for block_kind, lines in blocks:
        for item in _objective_items(lines):
            found.setdefault(_OBJECTIVE_PARAMETER[block_kind], []).append(item)
    if "OBJPRIM" not in found:
        for text in (trial.brief_summary, trial.detailed_description):
            match = _OBJECTIVE_SENTENCE.search(one_line(text)) if text else None
            if match:
                found["OBJPRIM"] = [match.group(1).strip()]
                break
    return found


_PLACEBO = re.compile(r"\b(placebo|sham|vehicle)\b", re.I)
_PRODUCT_SEPARATOR = re.compile(r"\s*[,;+]\s*")


def products_of(name: str, trial: Trial) -> list[str]:
    """One name per product of a registry intervention that lists several, else the name itself.

    "oxaliplatin, capecitabine, trastuzumab" is one registry intervention but three investigational
    products, and TRT/COMPTRT need a row per product (each gets its own UNII). The name is split only
    when every part is itself a MeSH intervention term of the record, so "Insulin, Regular" or
    "Vitamin D, 50,000 IU" stay whole.
    """
    parts = [part for part in _PRODUCT_SEPARATOR.split(name) if part]
    if len(parts) < 2:
        return [name]
    mesh = {one_line(term.term).casefold() for term in trial.intervention_mesh}
    return parts if all(part.casefold() in mesh for part in parts) else [name]


# ------------------------------------------------------------------------------------------- TS


class _TrialSummary:
    """Collects TS rows; TSSEQ counts per parameter, CT-coded values carry code, reference, version."""

    def __init__(self, study_id: str, notes: list[str]) -> None:
        self.study_id = study_id
        self.notes = notes
        self.rows: list[dict[str, Any]] = []
        self._seq: Counter[str] = Counter()

    def add(self, parmcd: str, value: Optional[str] = None, *, nf: str = "", code: str = "", ref: str = "", ver: str = "", grp: str = "") -> None:
        text = one_line(value) if value else ""
        if text:
            nf = ""
        else:
            if not nf:
                raise ValueError(f"TS {parmcd}: a row needs TSVAL or TSVALNF")
            code = ref = ver = ""  # SDTMIG TS example 3: a null TSVAL has no code or code system
        self._seq[parmcd] += 1
        self.rows.append(
            {
                "STUDYID": self.study_id, "DOMAIN": "TS", "TSSEQ": self._seq[parmcd], "TSGRPID": grp,
                "TSPARMCD": parmcd, "TSPARM": ct.parameter_name(parmcd), "TSVAL": text, "TSVALNF": nf,
                "TSVALCD": code, "TSVCDREF": ref, "TSVCDVER": ver,
            }
        )

    def term(self, parmcd: str, found: ct.Term) -> None:
        self.add(parmcd, found.value, code=found.code, ref=ct.CT_REF, ver=ct.ct_version())

    def coded(self, parmcd: str, codelist: str, registry_value: str, shown: Optional[str] = None) -> None:
        """A CT-coded parameter; a registry value without a CDISC term becomes TSVALNF OTH + a note."""
        found = ct.from_registry(codelist, registry_value)
        if found is not None:
            self.term(parmcd, found)
            return
        self.add(parmcd, nf="OTH")
        info = ct.codelist(codelist)
        self.note(parmcd, f"registry value {shown or registry_value} has no term in CDISC CT {info['name']} ({info['codelist']}); TSVALNF=OTH, TSVALCD left empty")

    def flag(self, parmcd: str, value: Optional[bool], why_unknown: str = "") -> None:
        """Y/N parameter (NY codelist C66742); unknown is the codelist's own U term (TS assumption 11)."""
        key = "unknown" if value is None else ("true" if value else "false")
        self.term(parmcd, ct.from_registry("NY", key))  # type: ignore[arg-type]
        if value is None:
            self.note(parmcd, why_unknown or "not recorded by the registry; TSVAL=U")

    def not_applicable(self, parmcd: str) -> None:
        self.add(parmcd, nf="NA")

    def unknown(self, parmcd: str, why: str, nf: str = "UNK") -> None:
        self.add(parmcd, nf=nf)
        self.note(parmcd, f"{why}; TSVALNF={nf}")

    def note(self, parmcd: str, text: str) -> None:
        self.notes.append(f"TS {parmcd} ({ct.parameter_name(parmcd)}): {text}")


def ts_rows(trial: Trial, notes: list[str]) -> list[dict[str, Any]]:
    """All TS rows of one trial in a fixed, readable parameter order; notes collect what is missing."""
    ts = _TrialSummary(trial.id, notes)
    for section in TS_SECTIONS:
        section(trial, ts)
    return ts.rows


def _title_and_identifiers(trial: Trial, ts: _TrialSummary) -> None:
    """TITLE, REGID (registry numbers only), SPREFID and SPONSOR."""
    title = trial.official_title or trial.brief_title
    if title:
        ts.add("TITLE", title)
    else:
        ts.unknown("TITLE", "the record has no title")

    registry_ids: list[tuple[str, str]] = []
    not_registry: list[str] = []
    sponsor_ids: list[str] = []
    seen: set[str] = set()
    primary_ref = _registry_of(trial.id, None, None)
    if primary_ref:
        registry_ids.append((trial.id, primary_ref))
        seen.add(trial.id)
    for ident in trial.identifiers:
        value = one_line(ident.value)
        if not value or value in seen:
            continue
        seen.add(value)
        if ident.kind == "ORG_STUDY_ID":
            sponsor_ids.append(value)
            continue
        registry = _registry_of(value, ident.type, ident.issuer)
        if registry is None:
            not_registry.append(f"{value} ({ident.type or 'type not stated'})")
        else:
            registry_ids.append((value, registry))
    for value, registry in registry_ids:
        ts.add("REGID", value, code=value if registry else "", ref=registry)
        if not registry:
            ts.note("REGID", f"{value}: issuing registry not stated, TSVCDREF left empty")
    if not registry_ids:
        ts.unknown("REGID", "no registry identifier in the record")
    if not_registry:
        ts.note("REGID", "secondary identifiers that are not registry numbers were left out: " + "; ".join(not_registry))
    for value in sponsor_ids:
        ts.add("SPREFID", value)

    if trial.sponsor:
        ts.add("SPONSOR", trial.sponsor.name)
        ts.note("SPONSOR", "D-U-N-S number not in registry records; TSVALCD/TSVCDREF left empty")
    else:
        ts.unknown("SPONSOR", "no sponsor in the record")


def _type_phase_intent(trial: Trial, ts: _TrialSummary) -> None:
    """STYPE, TPHASE, TINDTP and TTYPE (never in a registry)."""
    design = trial.design
    interventional = trial.study_type == "INTERVENTIONAL"
    study_kind = trial.study_type or ""
    if trial.study_type:
        key = "OBSERVATIONAL+PATIENT_REGISTRY" if trial.study_type == "OBSERVATIONAL" and design.patient_registry else trial.study_type
        ts.coded("STYPE", "STYPE", key)
    else:
        ts.unknown("STYPE", "study type not recorded")

    phases = [str(p) for p in trial.phases]
    if phases:
        ts.coded("TPHASE", "TPHASE", "+".join(phases) if "NA" not in phases else "NA", shown="/".join(phases))
    elif study_kind in ("OBSERVATIONAL", "EXPANDED_ACCESS"):
        ts.term("TPHASE", ct.term("TPHASE", "NOT APPLICABLE"))  # type: ignore[arg-type]
    else:
        ts.unknown("TPHASE", "phase not recorded")

    if design.primary_purpose:
        ts.coded("TINDTP", "TINDTP", design.primary_purpose)
    elif interventional:
        ts.unknown("TINDTP", "primary purpose not recorded")
    else:
        ts.not_applicable("TINDTP")
    ts.unknown("TTYPE", "trial type (efficacy, safety, PK, …) is not recorded by registries")


def _design(trial: Trial, ts: _TrialSummary) -> None:
    """INTMODEL or OBSMODEL/OBSTIMP, RANDOM, TBLIND, TCNTRL and NARMS/NCOHORT."""
    design = trial.design
    interventional = trial.study_type == "INTERVENTIONAL"
    if interventional:
        if design.intervention_model:
            ts.coded("INTMODEL", "INTMODEL", design.intervention_model)
        else:
            ts.unknown("INTMODEL", "intervention model not recorded")
    else:
        ts.not_applicable("INTMODEL")
        if design.observational_model:
            ts.coded("OBSMODEL", "OBSMODEL", design.observational_model)
        if design.time_perspective:
            ts.coded("OBSTIMP", "OBSTIMP", design.time_perspective)

    if interventional:
        allocation = design.allocation
        if allocation == "RANDOMIZED":
            ts.flag("RANDOM", True)
        elif allocation in ("NON_RANDOMIZED", "NA"):  # registry N/A = single-arm, i.e. not randomized
            ts.flag("RANDOM", False)
        else:
            ts.flag("RANDOM", None, "allocation not recorded; TSVAL=U")
    else:
        ts.term("RANDOM", ct.from_registry("NY", "not_applicable"))  # type: ignore[arg-type]

    if interventional:
        masking = design.masking
        if masking is None:
            ts.unknown("TBLIND", "masking not recorded")
        else:
            assessor_only = masking == "SINGLE" and list(design.who_masked) == ["OUTCOMES_ASSESSOR"]
            ts.coded("TBLIND", "TBLIND", "SINGLE+OUTCOMES_ASSESSOR_ONLY" if assessor_only else str(masking))
            if masking in ("TRIPLE", "QUADRUPLE"):
                who = ", ".join(str(w).lower().replace("_", " ") for w in design.who_masked) or "parties not listed"
                ts.note("TBLIND", f"registry masking {masking} ({who}) has no CDISC term; submitted as DOUBLE BLIND")
    else:
        ts.not_applicable("TBLIND")

    arm_types = [arm.type for arm in trial.arms]
    if interventional:
        controls = [t for t in COMPARATOR_ARMS if t in arm_types]
        for control in controls:
            ts.coded("TCNTRL", "TCNTRL", control)
        if "NO_INTERVENTION" in arm_types:
            ts.coded("TCNTRL", "TCNTRL", "NO_INTERVENTION", shown="no-intervention control arm")
        if not controls and "NO_INTERVENTION" not in arm_types:
            if arm_types and all(t == "EXPERIMENTAL" for t in arm_types):
                ts.coded("TCNTRL", "TCNTRL", "NO_COMPARATOR")
            elif design.intervention_model == "SINGLE_GROUP":  # one group, all get the same intervention
                ts.coded("TCNTRL", "TCNTRL", "NO_COMPARATOR")
                ts.note("TCNTRL", "no comparator arm is listed and the design is single-group; submitted as NONE")
            else:
                ts.unknown("TCNTRL", "arm types do not say whether there is a control" if arm_types else "no arms in the record")
    else:
        ts.not_applicable("TCNTRL")

    count_param = "NARMS" if interventional else "NCOHORT"
    arms_listed = len(trial.arms)
    arms_count = design.number_of_arms if design.number_of_arms is not None else (arms_listed or None)
    if arms_count is not None:
        ts.add(count_param, str(arms_count))
        if design.number_of_arms is not None and arms_listed and arms_listed != design.number_of_arms:
            ts.note(count_param, f"registry states {design.number_of_arms} arms/groups but lists {arms_listed}; the stated number is used")
        if design.number_of_arms is None and any(arm.derived for arm in trial.arms):
            ts.note(count_param, "counted from the arms trialconv derived (the record lists none)")
    elif interventional:
        ts.unknown(count_param, "number of arms not recorded")


def _enrollment(trial: Trial, ts: _TrialSummary) -> None:
    """PLANSUB/ACTSUB: the registry keeps one count, anticipated or actual."""
    status = trial.overall_status or ""
    enrollment = trial.enrollment
    ongoing = status in ONGOING
    if enrollment is None:
        ts.unknown("PLANSUB", "enrollment not recorded")
        ts.unknown("ACTSUB", "enrollment not recorded")
    else:
        kind = enrollment.type
        if kind is None:
            kind = "ESTIMATED" if ongoing else "ACTUAL"
            ts.notes.append(f"TS PLANSUB/ACTSUB: enrollment type not stated; {enrollment.count} taken as {kind.lower()} because the status is {status or 'not recorded'}")
        if kind == "ESTIMATED":
            ts.add("PLANSUB", str(enrollment.count))
            if ongoing:
                ts.unknown("ACTSUB", "study still running, actual enrollment not yet reported", nf="NAV")
            else:
                ts.unknown("ACTSUB", f"status {status or 'not recorded'} but only an anticipated enrollment is recorded")
        else:
            ts.unknown("PLANSUB", "the registry replaces the planned enrollment with the actual one")
            ts.add("ACTSUB", str(enrollment.count))


def _population(trial: Trial, ts: _TrialSummary) -> None:
    """AGEMIN/AGEMAX (ISO 8601 durations), SEXPOP, HLTSUBJI, INDIC, TDIGRP, KEYWORD."""
    eligibility = trial.eligibility
    if eligibility.minimum_age is not None:
        ts.add("AGEMIN", iso_duration(eligibility.minimum_age), ref=ct.ISO8601)
    else:
        ts.add("AGEMIN", nf="NINF")
        ts.note("AGEMIN", "no minimum age in the record (registry 'N/A' means no limit); TSVALNF=NINF")
    if eligibility.maximum_age is not None:
        ts.add("AGEMAX", iso_duration(eligibility.maximum_age), ref=ct.ISO8601)
    else:
        ts.add("AGEMAX", nf="PINF")
    if eligibility.sex:
        ts.coded("SEXPOP", "SEXPOP", eligibility.sex)
    else:
        ts.unknown("SEXPOP", "sex of participants not recorded")
    ts.flag("HLTSUBJI", eligibility.healthy_volunteers, "registry does not say whether healthy volunteers are accepted; TSVAL=U")

    conditions = [one_line(c) for c in trial.conditions if one_line(c)]
    for condition in conditions:
        ts.add("INDIC", condition)
    if conditions:
        ts.note("INDIC", "conditions are registry free text; SNOMED CT codes (TSVALCD) must be added")
    else:
        ts.unknown("INDIC", "no conditions in the record")
    if eligibility.healthy_volunteers:
        ts.unknown("TDIGRP", "healthy volunteers are accepted, so the diagnosis group cannot be taken from the conditions")
    elif conditions:
        for condition in conditions:
            ts.add("TDIGRP", condition)
    else:
        ts.unknown("TDIGRP", "no conditions in the record")
    for keyword in dict.fromkeys(one_line(k) for k in trial.keywords if one_line(k)):
        ts.add("KEYWORD", keyword)


def _objectives_and_outcomes(trial: Trial, ts: _TrialSummary) -> None:
    """OBJPRIM/OBJSEC/OBJEXP where the text states them; OUTMSPRI/OUTMSSEC/OUTMSEXP one row each."""
    objectives = stated_objectives(trial)
    for parmcd in ("OBJPRIM", "OBJSEC", "OBJEXP"):
        for objective in objectives.get(parmcd, []):
            ts.add(parmcd, objective)
    if objectives:
        ts.note("OBJPRIM", "objectives taken from the record's description text (unranked ones as primary, SDTMIG TS assumption 14); check against the protocol")
    else:
        ts.unknown("OBJPRIM", "the record states no objectives")
    outcome_param = {"PRIMARY": "OUTMSPRI", "SECONDARY": "OUTMSSEC", "OTHER": "OUTMSEXP"}
    for outcome in trial.outcomes:
        ts.add(outcome_param[outcome.kind], outcome.measure)
    if not any(o.kind == "PRIMARY" for o in trial.outcomes):
        ts.unknown("OUTMSPRI", "no primary outcome measure in the record")
    if any(o.kind == "OTHER" for o in trial.outcomes):
        ts.note("OUTMSEXP", "registry 'other pre-specified' outcomes submitted as exploratory; check against the protocol")


def _dates_and_status(trial: Trial, ts: _TrialSummary) -> None:
    """SSTDTC, SENDTC and ONGOSIND."""
    status = trial.overall_status or ""
    _dates(trial, ts, status)
    if status in ONGOING:
        ts.flag("ONGOSIND", True)
    elif status in FINISHED:
        ts.flag("ONGOSIND", False)
    else:
        ts.flag("ONGOSIND", None, f"registry status {status or 'not recorded'} does not say whether the study is running; TSVAL=U")


def _countries(trial: Trial, ts: _TrialSummary) -> None:
    """FCNTRY: one ISO 3166-1 alpha-3 row per site country, sorted."""
    codes: set[str] = set()
    unmapped: list[str] = []
    for location in trial.locations:
        if location.country:
            code = ct.country_alpha3(location.country)
            if code:
                codes.add(code)
            elif location.country not in unmapped:
                unmapped.append(location.country)
    for code in sorted(codes):
        ts.add("FCNTRY", code, ref=ct.ISO3166)
    if unmapped:
        ts.note("FCNTRY", "no ISO 3166-1 alpha-3 code for " + ", ".join(repr(u) for u in unmapped) + "; left out")
    if not codes:
        ts.unknown("FCNTRY", "no site countries in the record")


def _oversight(trial: Trial, ts: _TrialSummary) -> None:
    """DMCIND, FDADRIND, FDADEIND when the record answers them."""
    oversight = trial.oversight
    for parmcd, answer in (("DMCIND", oversight.has_dmc), ("FDADRIND", oversight.fda_regulated_drug), ("FDADEIND", oversight.fda_regulated_device)):
        if answer is not None:
            ts.flag(parmcd, answer)


def _not_in_registries(trial: Trial, ts: _TrialSummary) -> None:
    """Parameters a submission expects that no registry has, plus the standard versions."""
    for parmcd in ("ADDON", "ADAPT", "EXTTIND"):
        ts.flag(parmcd, None, "not recorded by registries; TSVAL=U, take it from the protocol")
    for parmcd in ("LENGTH", "STOPRULE", "DCUTDTC", "DCUTDESC", "PCLAS"):
        ts.unknown(parmcd, "not recorded by registries, take it from the protocol")

    standard = ct.structures()["standard"]
    ts.add("SDTMVER", standard["sdtm"])
    ts.add("SDTIGVER", standard["sdtmig"])


def _treatments(trial: Trial, ts: _TrialSummary) -> None:
    """TRT (investigational), COMPTRT (active comparators) and INTTYPE from interventions and arms.

    An intervention given in an experimental (or untyped/other) arm is investigational; one given only
    in comparator arms is the comparator. Placebo/sham products are neither (TCNTRL says PLACEBO/SHAM).
    """
    interventional = trial.study_type == "INTERVENTIONAL"
    arm_type = {one_line(arm.label).casefold(): arm.type for arm in trial.arms}
    arms_of: dict[str, set[Optional[str]]] = {}
    for intervention in trial.interventions:
        types: set[Optional[str]] = set()
        for label in intervention.arm_labels:
            key = one_line(label).casefold()
            if key in arm_type:
                types.add(arm_type[key])
        for arm in trial.arms:
            names = {strip_type_prefix(n).casefold() for n in arm.intervention_names} | {n.casefold() for n in arm.intervention_names}
            if intervention.name.casefold() in names:
                types.add(arm.type)
        arms_of[intervention.name] = types

    linked = any(arms_of.values())
    trt: list[str] = []
    comptrt: list[str] = []
    split: list[str] = []
    for intervention in trial.interventions:
        name = one_line(intervention.name)
        if _PLACEBO.search(name):
            continue
        products = products_of(name, trial)
        if len(products) > 1:
            split.append(name)
        types = arms_of[intervention.name]
        if not linked or types - set(COMPARATOR_ARMS) or not types:
            trt.extend(products)
        else:
            comptrt.extend(products)
    for name in dict.fromkeys(trt):
        ts.add("TRT", name)
    for name in dict.fromkeys(comptrt):
        ts.add("COMPTRT", name)
    if trt or comptrt:
        ts.note("TRT", "UNII codes (TSVALCD/TSVCDREF) are not in registry records")
    if split:
        ts.note("TRT", "registry interventions naming several products, one row per product (each part is a MeSH intervention term of the record): " + "; ".join(split))
    if not linked and trial.interventions and len(trial.arms) > 1:
        ts.note("TRT", "interventions are not linked to arms in the record; all are listed as investigational")
    elif linked and len(trial.arms) > 1 and any(arm.type is None for arm in trial.arms):
        ts.note("TRT", "arm types are not recorded, so comparators cannot be told from investigational treatments; interventions of untyped arms are listed as investigational (TRT), check against the protocol")
    if not trt:
        if trial.interventions:
            ts.unknown("TRT", "only placebo/sham or comparator interventions are listed")
        elif interventional:
            ts.unknown("TRT", "no interventions in the record")
        else:
            ts.not_applicable("TRT")
    if not comptrt:
        if "ACTIVE_COMPARATOR" in {arm.type for arm in trial.arms} and linked:
            ts.unknown("COMPTRT", "an active comparator arm is listed but no intervention is linked to it only")
        else:
            ts.not_applicable("COMPTRT")

    # A placebo typed OTHER says nothing about the kind of intervention studied; leave it out.
    types_seen = list(dict.fromkeys(i.type for i in trial.interventions if i.type and not (i.type == "OTHER" and _PLACEBO.search(i.name))))
    for kind in types_seen:
        ts.coded("INTTYPE", "INTTYPE", kind)
    if not types_seen:
        if interventional:
            ts.unknown("INTTYPE", "no intervention types in the record")
        else:
            ts.not_applicable("INTTYPE")


def _date_usable(date: TrialDate, ts: _TrialSummary, parmcd: str, status: str) -> bool:
    """Actual (or untyped) dates are used; an anticipated date is a null flavor with a note.

    As for ACTSUB: NAV (not available yet) while the study runs, UNK once the registry status says
    it is over or no longer known, since then the actual date will not follow from the record.
    """
    if date.type == "ACTUAL":
        return True
    if date.type == "ESTIMATED":
        if status in ONGOING:
            ts.unknown(parmcd, f"only an anticipated date ({date.date}) is recorded", nf="NAV")
        else:
            ts.unknown(parmcd, f"status {status or 'not recorded'} but only an anticipated date ({date.date}) is recorded")
        return False
    ts.note(parmcd, f"date type not stated by the registry; {date.date} taken as actual")
    return True


def _dates(trial: Trial, ts: _TrialSummary, status: str) -> None:
    """SSTDTC/SENDTC keep the registry's precision: "2010-04" stays a month (ISO 8601 partial date)."""
    for parmcd, date in (("SSTDTC", trial.dates.start), ("SENDTC", trial.dates.completion)):
        if status == "WITHDRAWN":
            ts.unknown(parmcd, "study withdrawn before enrolling", nf="NA")
        elif date is None:
            if status in ONGOING:
                ts.unknown(parmcd, "not recorded; study still running", nf="NAV")
            else:
                ts.unknown(parmcd, "not recorded")
        elif _date_usable(date, ts, parmcd, status):
            ts.add(parmcd, date.date, ref=ct.ISO8601)
            if date.precision != "day":
                ts.note(parmcd, f"registry gives only the {date.precision} ({date.date}); kept as an ISO 8601 partial date")


# The TS parameters, section by section, in output order (docs/field-map.md is generated from these docstrings).
TS_SECTIONS: tuple[Callable[[Trial, _TrialSummary], None], ...] = (
    _title_and_identifiers, _type_phase_intent, _design, _enrollment, _population, _treatments,
    _objectives_and_outcomes, _dates_and_status, _countries, _oversight, _not_in_registries,
)
