"""Render real ClinicalTrials.gov records into the two registry page layouts the page readers know.

Why: the five seed pages are too few to measure a reader. Rendering real records into the same
layouts — the classic record page (layout 1, like seeds/001) and the field dump (layout 2, like
seeds/004) — gives pages whose every field is known, so the readers can be scored field by field
(tests/test_pages_rendered.py).

The renderers copy the seeds' quirks on purpose: table rows as "Label : | value |", condition,
keyword and MeSH cells run together with spaces, outcome descriptions glued to "]", site
boilerplate in between. They add only what the seeds cut off (layout 2 after "Study Oversight")
or what the real layout has but the seed lost (outcome section headings, sponsor rows).

Usage::

    python tests/render_pages.py [CORPUS_V2_DIR]      # writes tests/data/rendered/

Source records are read with the project's ClinicalTrials.gov v2 reader when it is available and
with :func:`trial_from_v2` (a small mapping of the fields the layouts show) until then.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.model import Trial  # noqa: E402
from converter.normalize.dates import MONTHS  # noqa: E402
from converter.readers import page_common as pc  # noqa: E402

OUT = ROOT / "tests" / "data" / "rendered"
DEFAULT_CORPUS = ROOT.parent / "shared" / "ctgov" / "v2"
EVERY = 6  # every 6th record of the sorted corpus: 25 records, no hand-picking

MONTH_NAMES = {index: name.title() for name, index in MONTHS.items() if len(name) > 3 or name == "may"}

# ---------------------------------------------------------------------------------------------
# Source records
# ---------------------------------------------------------------------------------------------


def select_sources(corpus: Path) -> list[Path]:
    return sorted(corpus.glob("*.json"))[::EVERY]


def source_trial(path: Path) -> Trial:
    """The record as a Trial: the project's v2 reader if it reads it, else :func:`trial_from_v2`."""
    from converter.readers import read_source

    try:
        trials = list(read_source(path, fmt="ctgov-v2"))
    except Exception:  # the v2 reader is still being written; fall back to the local mapping
        trials = []
    if trials:
        return trials[0]
    return trial_from_v2(json.loads(path.read_text(encoding="utf-8")), str(path))


def _date(struct: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not struct or not struct.get("date"):
        return None
    return {"date": struct["date"], **({"type": struct["type"]} if struct.get("type") in ("ACTUAL", "ESTIMATED") else {})}


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def trial_from_v2(record: dict[str, Any], source: str) -> Trial:
    """Minimal v2 → Trial mapping of the fields the two page layouts can show."""
    p = record["protocolSection"]
    ident, status, sponsor = p["identificationModule"], p["statusModule"], p.get("sponsorCollaboratorsModule", {})
    design, cond = p.get("designModule", {}), p.get("conditionsModule", {})
    arms_mod, outcomes, elig = p.get("armsInterventionsModule", {}), p.get("outcomesModule", {}), p.get("eligibilityModule", {})
    contacts, oversight, derived = p.get("contactsLocationsModule", {}), p.get("oversightModule", {}), record.get("derivedSection", {})
    info = design.get("designInfo", {})
    masking = info.get("maskingInfo", {})
    party = sponsor.get("responsibleParty", {})
    identifiers = [{"value": ident["nctId"], "kind": "REGISTRY", "issuer": "ClinicalTrials.gov"}]
    if ident.get("orgStudyIdInfo", {}).get("id"):
        identifiers.append({"value": ident["orgStudyIdInfo"]["id"], "kind": "ORG_STUDY_ID"})
    for secondary in ident.get("secondaryIdInfos", []):
        identifiers.append({"value": secondary["id"], "kind": "SECONDARY", "type": secondary.get("type"), "issuer": secondary.get("domain")})
    level = masking.get("masking")
    data = {
        "id": ident["nctId"], "identifiers": identifiers,
        "brief_title": ident.get("briefTitle"), "official_title": ident.get("officialTitle"), "acronym": ident.get("acronym"),
        "overall_status": status.get("overallStatus"), "last_known_status": status.get("lastKnownStatus"),
        "why_stopped": status.get("whyStopped"), "has_expanded_access": status.get("expandedAccessInfo", {}).get("hasExpandedAccess"),
        "phases": design.get("phases", []), "study_type": design.get("studyType"),
        "design": {
            "allocation": info.get("allocation"), "intervention_model": info.get("interventionModel"),
            "intervention_model_description": info.get("interventionModelDescription"),
            "masking": level if level != "NONE" or pc.MASKING_NONE_ACCEPTED else None,
            "who_masked": masking.get("whoMasked", []), "masking_description": masking.get("maskingDescription"),
            "primary_purpose": info.get("primaryPurpose"), "observational_model": info.get("observationalModel"),
            "time_perspective": info.get("timePerspective"), "patient_registry": design.get("patientRegistry"),
        },
        "conditions": cond.get("conditions", []), "keywords": cond.get("keywords", []),
        "condition_mesh": [{"term": m["term"], "id": m.get("id")} for m in derived.get("conditionBrowseModule", {}).get("meshes", [])],
        "intervention_mesh": [{"term": m["term"], "id": m.get("id")} for m in derived.get("interventionBrowseModule", {}).get("meshes", [])],
        "brief_summary": p.get("descriptionModule", {}).get("briefSummary"),
        "detailed_description": p.get("descriptionModule", {}).get("detailedDescription"),
        "sponsor": {"name": sponsor["leadSponsor"]["name"], "agency_class": sponsor["leadSponsor"].get("class")} if sponsor.get("leadSponsor") else None,
        "collaborators": [{"name": c["name"], "agency_class": c.get("class")} for c in sponsor.get("collaborators", [])],
        "responsible_party": {"type": party.get("type"), "name": party.get("investigatorFullName"), "title": party.get("investigatorTitle"), "affiliation": party.get("investigatorAffiliation")} if party.get("type") else None,
        "officials": [{"name": o.get("name"), "role": o.get("role"), "affiliation": o.get("affiliation")} for o in contacts.get("overallOfficials", [])],
        "contacts": [{"name": c.get("name"), "role": c.get("role"), "phone": c.get("phone"), "phone_ext": c.get("phoneExt"), "email": c.get("email")} for c in contacts.get("centralContacts", [])],
        "dates": {
            "start": _date(status.get("startDateStruct")), "primary_completion": _date(status.get("primaryCompletionDateStruct")),
            "completion": _date(status.get("completionDateStruct")), "first_submitted": _date({"date": status.get("studyFirstSubmitDate")}),
            "first_posted": _date(status.get("studyFirstPostDateStruct")), "last_update_posted": _date(status.get("lastUpdatePostDateStruct")),
            "results_first_posted": _date(status.get("resultsFirstPostDateStruct")), "status_verified": _date({"date": status.get("statusVerifiedDate")}),
        },
        "enrollment": {"count": design["enrollmentInfo"]["count"], "type": design["enrollmentInfo"].get("type")} if design.get("enrollmentInfo", {}).get("count") is not None else None,
        "arms": [{"label": a["label"], "type": a.get("type"), "description": a.get("description"), "intervention_names": a.get("interventionNames", [])} for a in arms_mod.get("armGroups", [])],
        "interventions": [{"name": i["name"], "type": i.get("type"), "description": i.get("description"), "other_names": i.get("otherNames", []), "arm_labels": i.get("armGroupLabels", [])} for i in arms_mod.get("interventions", [])],
        "outcomes": [{"kind": kind, "measure": o["measure"], "time_frame": o.get("timeFrame"), "description": o.get("description")}
                     for kind, key in (("PRIMARY", "primaryOutcomes"), ("SECONDARY", "secondaryOutcomes"), ("OTHER", "otherOutcomes")) for o in outcomes.get(key, [])],
        "eligibility": {
            "sex": elig.get("sex"), "gender_based": elig.get("genderBased"),
            "minimum_age": _age(elig.get("minimumAge")), "maximum_age": _age(elig.get("maximumAge")),
            "std_ages": elig.get("stdAges", []), "healthy_volunteers": elig.get("healthyVolunteers"),
            "criteria_text": elig.get("eligibilityCriteria"), "study_population": elig.get("studyPopulation"),
            "sampling_method": elig.get("samplingMethod"),
        },
        "locations": [{"facility": l.get("facility"), "city": l.get("city"), "state": l.get("state"), "zip": l.get("zip"), "country": l.get("country"), "status": l.get("status"),
                       "contacts": [{"name": c.get("name"), "role": c.get("role"), "phone": c.get("phone"), "phone_ext": c.get("phoneExt"), "email": c.get("email")} for c in l.get("contacts", [])]}
                      for l in contacts.get("locations", [])],
        "references": [{"citation": r.get("citation"), "pmid": r.get("pmid"), "type": r.get("type")} for r in p.get("referencesModule", {}).get("references", [])],
        "oversight": {"has_dmc": oversight.get("oversightHasDmc"), "fda_regulated_drug": oversight.get("isFdaRegulatedDrug"),
                      "fda_regulated_device": oversight.get("isFdaRegulatedDevice"), "unapproved_device": oversight.get("isUnapprovedDevice"), "us_export": oversight.get("isUsExport")},
        "provenance": {"source_format": "ctgov-v2 (render_pages fallback)", "source_file": source},
    }
    from converter.eligibility.criteria import parse_criteria

    data = _prune(data)
    data.setdefault("provenance", {"source_format": "ctgov-v2"})
    trial = Trial.model_validate(data)
    trial.eligibility.criteria = parse_criteria(trial.eligibility.criteria_text)
    return trial


def _age(text: Optional[str]) -> Optional[dict[str, Any]]:
    from converter.normalize.ages import parse_age

    age = parse_age(text)
    return age.model_dump() if age else None


# ---------------------------------------------------------------------------------------------
# Display words
# ---------------------------------------------------------------------------------------------


def words(value: Optional[str]) -> str:
    """ENUM_VALUE → "Enum value" as the registry pages print it."""
    return (value or "").replace("_", " ").capitalize()


STATUS_WORDS = {"ACTIVE_NOT_RECRUITING": "Active, not recruiting", "UNKNOWN": "Unknown"}
ALLOCATION_WORDS = {"RANDOMIZED": "Randomized", "NON_RANDOMIZED": "Non-Randomized", "NA": "N/A"}
MODEL_WORDS = {"SINGLE_GROUP": "Single Group Assignment", "PARALLEL": "Parallel Assignment", "CROSSOVER": "Crossover Assignment", "FACTORIAL": "Factorial Assignment", "SEQUENTIAL": "Sequential Assignment"}
OBS_WORDS = {"CASE_CONTROL": "Case-Control", "CASE_ONLY": "Case-Only", "CASE_CROSSOVER": "Case-Crossover", "FAMILY_BASED": "Family-Based", "CROSS_SECTIONAL": "Cross-Sectional"}
PHASE_WORDS = {"EARLY_PHASE1": "Early Phase 1", "PHASE1": "Phase 1", "PHASE2": "Phase 2", "PHASE3": "Phase 3", "PHASE4": "Phase 4", "NA": "Not Applicable"}
ID_TYPE_WORDS = {"NIH": "U.S. NIH Grant/Contract", "FDA": "U.S. FDA Grant/Contract", "EUDRACT_NUMBER": "EudraCT Number", "CTIS": "CTIS", "OTHER_GRANT": "Other Grant/Funding Number", "OTHER": "Other Identifier"}
ROLE_WORDS = {"PRINCIPAL_INVESTIGATOR": "Principal Investigator", "SUB_INVESTIGATOR": "Sub-Investigator", "STUDY_DIRECTOR": "Study Director", "STUDY_CHAIR": "Study Chair", "CONTACT": "Contact"}


def title_words(value: Optional[str]) -> str:
    return " ".join(w.capitalize() if w not in ("or", "of", "and") else w for w in (value or "").lower().split("_"))


def long_date(date: Optional[str]) -> str:
    """"2010-04" → "April 2010"; "2011-07-04" → "July 4, 2011" (the classic page's style)."""
    if not date:
        return ""
    parts = date.split("-")
    if len(parts) == 1:
        return parts[0]
    month = MONTH_NAMES[int(parts[1])]
    return f"{month} {parts[0]}" if len(parts) == 2 else f"{month} {int(parts[2])}, {parts[0]}"


def age_text(age: Any) -> str:
    return f"{int(age.value) if float(age.value).is_integer() else age.value} {age.unit.title()}"


def markdown_bullets(text: str) -> str:
    """Criteria markdown ("* item") as the page shows it ("- item")."""
    return "\n".join(line.replace("* ", "- ", 1) if line.lstrip().startswith("* ") else line for line in text.split("\n"))


# ---------------------------------------------------------------------------------------------
# Layout 1: the classic record page
# ---------------------------------------------------------------------------------------------


def _cell(lines: Iterable[str]) -> list[str]:
    """A multi-line table cell: its last line carries the closing "|"."""
    out = [line for line in lines]
    if not out:
        return ["|"]
    out[-1] = f"{out[-1]} |"
    return out


def render_classic(t: Trial) -> str:
    lines: list[str] = [t.brief_title or t.id, "![]() |",
                        "The safety and scientific validity of this study is the responsibility of the study sponsor and investigators. Listing a study does not mean it has been evaluated by the U.S. Federal Government. Read our disclaimer for details. |",
                        f"ClinicalTrials.gov Identifier: {t.id} |"]
    if t.overall_status:
        lines.append(f"Recruitment Status : {STATUS_WORDS.get(t.overall_status, words(t.overall_status))}")
    if t.dates.status_verified:
        by = t.sponsor.name if t.sponsor else "the sponsor"
        lines.append(f"Verified {long_date(t.dates.status_verified.date)} by {by}.")
    if t.last_known_status:
        lines.append(f"Recruitment status was: {STATUS_WORDS.get(t.last_known_status, words(t.last_known_status))}")
    for label, value in (("First Posted", t.dates.first_posted), ("Results First Posted", t.dates.results_first_posted), ("Last Update Posted", t.dates.last_update_posted)):
        if value:
            lines.append(f"{label} : {long_date(value.date)}")
    lines += ["|", "- Study Details", "- Tabular View", "- No Results Posted", "- Disclaimer", "- How to Read a Study Record"]
    if t.brief_summary:
        lines += t.brief_summary.split("\n")
    if t.detailed_description:
        lines += ["Detailed Description:", *t.detailed_description.split("\n")]
    interventions = " ".join(f"{pc.INTERVENTION_DISPLAY.get(i.type or '', 'Other')}: {i.name}" for i in t.interventions)
    lines += ["Condition or disease | Intervention/treatment | Phase |", "---|---|---|",
              f"{' '.join(t.conditions)} | {interventions} | {' '.join(PHASE_WORDS[p] for p in t.phases)} |"]
    lines += _classic_design(t)
    lines += _classic_arms(t)
    lines += _classic_outcomes(t)
    lines += _classic_eligibility(t)
    lines += _classic_contacts(t)
    lines += _classic_tail(t)
    return "\n".join(lines) + "\n"


def _row(label: str, value: Any) -> list[str]:
    return [f"{label}: | {value} |"] if value not in (None, "", []) else []


def _classic_design(t: Trial) -> list[str]:
    d = t.design
    out: list[str] = []
    if t.study_type == "INTERVENTIONAL":
        out += ["Study Type : | Interventional (Clinical Trial) |"]
    elif t.study_type:
        out += [f"Study Type : | {words(t.study_type)}{' [Patient Registry]' if d.patient_registry else ''} |"]
    if t.enrollment:
        kind = {"ACTUAL": "Actual ", "ESTIMATED": "Estimated "}.get(t.enrollment.type or "", "")
        out.append(f"{kind}Enrollment : | {t.enrollment.count} participants |")
    out += _row("Allocation", ALLOCATION_WORDS.get(d.allocation or ""))
    out += _row("Intervention Model", MODEL_WORDS.get(d.intervention_model or ""))
    out += _row("Intervention Model Description", d.intervention_model_description and " ".join(d.intervention_model_description.split()))
    if d.masking:
        who = f" ({', '.join(title_words(w) for w in d.who_masked)})" if d.who_masked else ""
        out += _row("Masking", "None (Open Label)" if d.masking == "NONE" else f"{words(d.masking)}{who}")
    out += _row("Masking Description", d.masking_description and " ".join(d.masking_description.split()))
    out += _row("Primary Purpose", title_words(d.primary_purpose) if d.primary_purpose else None)
    out += _row("Observational Model", OBS_WORDS.get(d.observational_model or "", title_words(d.observational_model)) if d.observational_model else None)
    out += _row("Time Perspective", OBS_WORDS.get(d.time_perspective or "", title_words(d.time_perspective)) if d.time_perspective else None)
    out += _row("Official Title", t.official_title)
    out += _row("Acronym", t.acronym)
    for label, value in (("Study Start Date", t.dates.start), ("Primary Completion Date", t.dates.primary_completion), ("Study Completion Date", t.dates.completion)):
        if value:
            kind = {"ACTUAL": "Actual ", "ESTIMATED": "Estimated "}.get(value.type or "", "")
            out.append(f"{kind}{label} : | {long_date(value.date)} |")
    return out + [""]


def _classic_arms(t: Trial) -> list[str]:
    if not t.arms:
        return []
    out = [("Arm" if t.study_type != "OBSERVATIONAL" else "Group/Cohort") + " | Intervention/treatment |", "---|---|"]
    for arm in t.arms:
        head = f"{pc.ARM_DISPLAY[arm.type]}: {arm.label}" if arm.type else arm.label
        out += _cell([head, *(arm.description.split("\n") if arm.description else [])])
        treat: list[str] = []
        for name in arm.intervention_names:
            kind, _, plain = name.partition(": ")
            item = next((i for i in t.interventions if i.name == plain and pc.INTERVENTION_DISPLAY.get(i.type or "") == kind), None)
            treat.append(name)
            if item and item.description:
                treat += item.description.split("\n")
            if item:
                treat += [f"Other Name: {other}" for other in item.other_names]
        out += _cell(treat)
    return out


def _classic_outcomes(t: Trial) -> list[str]:
    out: list[str] = []
    for kind, heading in (("PRIMARY", "Primary Outcome Measures :"), ("SECONDARY", "Secondary Outcome Measures :"), ("OTHER", "Other Outcome Measures:")):
        items = [o for o in t.outcomes if o.kind == kind]
        if items:
            out.append(heading)
        for o in items:
            description = (o.description or "").split("\n")
            out.append(f"- {' '.join(o.measure.split())} [ Time Frame: {' '.join((o.time_frame or '').split())} ]{description[0]}")
            out += [line for line in description[1:]]
    return out + [""]


def _classic_eligibility(t: Trial) -> list[str]:
    e = t.eligibility
    out = ["Choosing to participate in a study is an important personal decision. Talk with your doctor and family members or friends about deciding to join a study. To learn more about this study, you or your doctor may contact the study research staff using the contacts provided below. For general information, Learn About Clinical Studies."]
    groups = ", ".join(title_words(a) for a in e.std_ages)
    if e.minimum_age and e.maximum_age:
        ages = f"{age_text(e.minimum_age)} to {age_text(e.maximum_age)}"
    elif e.minimum_age:
        ages = f"{age_text(e.minimum_age)} and older"
    elif e.maximum_age:
        ages = f"up to {age_text(e.maximum_age)}"
    else:
        ages = ""
    out += _row("Ages Eligible for Study", f"{ages} ({groups})" if ages and groups else ages or groups)
    out += _row("Sexes Eligible for Study", words(e.sex) if e.sex else None)
    out += _row("Gender Based", {True: "Yes", False: "No"}.get(e.gender_based)) if e.gender_based is not None else []
    out += _row("Accepts Healthy Volunteers", {True: "Yes", False: "No"}.get(e.healthy_volunteers)) if e.healthy_volunteers is not None else []
    out += _row("Sampling Method", title_words(e.sampling_method).replace("Non Probability", "Non-Probability") if e.sampling_method else None)
    if e.study_population:
        out += ["Study Population", *e.study_population.split("\n"), "Criteria"]
    if e.criteria_text:
        out += markdown_bullets(pc.unescape(e.criteria_text) or "").split("\n")
    return out + ["", "To learn more about this study, you or your doctor may contact the study research staff using the contact information provided by the sponsor.",
                  f"Please refer to this study by its ClinicalTrials.gov identifier (NCT number): {t.id}"]


def _person_line(person: Any, pipes: bool) -> str:
    phone = f"{person.phone}{f' ext {person.phone_ext}' if person.phone_ext else ''}" if person.phone else ""
    parts = [p for p in (person.name or "", phone, person.email or "") if p]
    return " | ".join(parts) + " | |" if pipes else " ".join(parts) + " | |"


def _classic_contacts(t: Trial) -> list[str]:
    out = [f"Contact: {_person_line(c, True)}" for c in t.contacts]
    heading: Optional[str] = None
    for loc in t.locations:
        group = f"{loc.country}, {loc.state}" if loc.country == "United States" and loc.state else loc.country
        if group and group != heading:
            out.append(f"{group} | |")
            heading = group
        if loc.facility:
            status = STATUS_WORDS.get(loc.status or "", words(loc.status)) if loc.status else ""
            out.append(f"{loc.facility} | {status} |" if status else f"{loc.facility} | |")
        address = ", ".join(p for p in (loc.city, loc.state, loc.country, loc.zip) if p)
        if address:
            out.append(f"{address} | |")
        for person in loc.contacts:
            role = ROLE_WORDS.get(person.role or "CONTACT", "Contact")
            out.append(f"Contact: {_person_line(person, False)}" if role == "Contact" else f"{role}: {person.name} |")
    if t.sponsor:
        out += _row("Sponsor", t.sponsor.name)
    if t.collaborators:
        out += ["Collaborators: |", *[c.name for c in t.collaborators[:-1]], f"{t.collaborators[-1].name} |"]
    out.append("Investigators")
    for official in t.officials:
        out.append(f"{ROLE_WORDS.get(official.role or '', 'Principal Investigator')}: | {official.name} | {official.affiliation or ''} |")
    return out


def _classic_tail(t: Trial) -> list[str]:
    out: list[str] = []
    party = t.responsible_party
    if party and party.type == "SPONSOR" and t.sponsor:
        out += _row("Responsible Party", t.sponsor.name)
    elif party and party.name:
        out += _row("Responsible Party", ", ".join(p for p in (party.name, party.title, party.affiliation) if p))
    out += _row("ClinicalTrials.gov Identifier", t.id)
    others = [i for i in t.identifiers if i.kind != "REGISTRY" or i.value != t.id]
    if others:
        rendered = []
        for ident in others:
            note = ID_TYPE_WORDS.get(ident.type or "") if ident.kind == "SECONDARY" else None
            if ident.type == "REGISTRY":
                note = f"REGISTRY: {ident.issuer}" if ident.issuer else "REGISTRY"
            rendered.append(f"{ident.value} ( {note} )" if note else ident.value)
        out += ["Other Study ID Numbers: |", *rendered[:-1], f"{rendered[-1]} |"]
    o = t.oversight
    for label, value in (("Has Data Monitoring Committee", o.has_dmc), ("Studies a U.S. FDA-regulated Drug Product", o.fda_regulated_drug), ("Studies a U.S. FDA-regulated Device Product", o.fda_regulated_device)):
        if value is not None:
            out += _row(label, "Yes" if value else "No")
    if t.dates.first_posted:
        out.append(f"First Posted: | {long_date(t.dates.first_posted.date)} Key Record Dates |")
    if t.dates.last_update_posted:
        out += _row("Last Update Posted", long_date(t.dates.last_update_posted.date))
    if t.dates.status_verified:
        out += _row("Last Verified", long_date(t.dates.status_verified.date))
    if t.keywords:
        out.append(" ".join(t.keywords) + " |")
    mesh = [m.term for m in t.condition_mesh] + [m.term for m in t.intervention_mesh]
    if mesh:
        half = (len(mesh) + 1) // 2  # the page wraps the MeSH cell over two lines
        out += [" ".join(mesh[:half]) + " |", " ".join(mesh[half:]) + " |"] if len(mesh) > 1 else [mesh[0] + " |"]
    return out


# ---------------------------------------------------------------------------------------------
# Layout 2: the field dump
# ---------------------------------------------------------------------------------------------


def py(value: Any) -> str:
    """Python-style value as the dump prints it (True, None, ['a', 'b'])."""
    if value is None or value == "":
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, dict)):
        return repr(value)
    return str(value)


def render_fields(t: Trial) -> str:
    d, e = t.design, t.eligibility
    out = [f"Viewing Study {t.id}", "", "", "Ignite Creation Date: 2025-12-25 @ 4:05 AM", "Ignite Modification Date: 2025-12-31 @ 2:06 PM",
           f"Study NCT ID: {t.id}", f"Status: {py(t.overall_status)}",
           f"Last Update Posted: {py(t.dates.last_update_posted and t.dates.last_update_posted.date)}",
           f"First Post: {py(t.dates.first_posted and t.dates.first_posted.date)}", "Is NOT Gene Therapy: True",
           f"Has Adverse Events: {py(bool(t.dates.results_first_posted))}", "",
           f"Brief Title: {py(t.brief_title)}", f"Sponsor: {py(t.sponsor and t.sponsor.name)}",
           f"Organization: {next((i.issuer for i in t.identifiers if i.kind == 'ORG_STUDY_ID' and i.issuer), '')}".rstrip(), "",
           "Study Overview", "", f"Official Title: {py(t.official_title)}", f"Status: {py(t.overall_status)}",
           f"Status Verified Date: {py(t.dates.status_verified and t.dates.status_verified.date)}",
           f"Last Known Status: {py(t.last_known_status)}", "Delayed Posting: No", f"If Stopped, Why?: {t.why_stopped or 'Not Stopped'}",
           f"Has Expanded Access: {py(t.has_expanded_access)}", "If Expanded Access, NCT#: N/A", "Has Expanded Access, NCT# Status: N/A",
           f"Acronym: {py(t.acronym)}", f"Brief Summary: {py(t.brief_summary)}", f"Detailed Description: {py(t.detailed_description)}", "",
           "Study Oversight", "", f"Has Oversight DMC: {py(t.oversight.has_dmc)}", f"Is a FDA Regulated Drug?: {py(t.oversight.fda_regulated_drug)}",
           f"Is a FDA Regulated Device?: {py(t.oversight.fda_regulated_device)}", f"Is an Unapproved Device?: {py(t.oversight.unapproved_device)}",
           "Is a PPSD?: None", f"Is a US Export?: {py(t.oversight.us_export)}", "Is an FDA AA801 Violation?: None", "",
           "Identification", ""]
    for ident in t.identifiers:
        if ident.kind == "ORG_STUDY_ID":
            out.append(f"Org Study ID: {ident.value}")
        elif ident.kind == "SECONDARY":
            out += [f"Secondary ID: {ident.value}", f"Secondary ID Type: {py(ident.type)}", f"Secondary ID Domain: {py(ident.issuer)}"]
    out += ["", "Status", ""]
    for label, value in (("Start Date", t.dates.start), ("Primary Completion Date", t.dates.primary_completion), ("Completion Date", t.dates.completion)):
        out += [f"{label}: {py(value and value.date)}", f"{label} Type: {py(value and value.type)}"]
    out.append(f"First Submit Date: {py(t.dates.first_submitted and t.dates.first_submitted.date)}")
    out.append(f"Results First Posted: {py(t.dates.results_first_posted and t.dates.results_first_posted.date)}")
    party = t.responsible_party
    out += ["", "Sponsor and Collaborators", "", f"Lead Sponsor: {py(t.sponsor and t.sponsor.name)}",
            f"Lead Sponsor Class: {py(t.sponsor and t.sponsor.agency_class)}",
            *[line for c in t.collaborators for line in (f"Collaborator: {c.name}", f"Collaborator Class: {py(c.agency_class)}")],
            f"Responsible Party Type: {py(party and party.type)}", f"Responsible Party Investigator Full Name: {py(party and party.name)}",
            f"Responsible Party Investigator Title: {py(party and party.title)}", f"Responsible Party Investigator Affiliation: {py(party and party.affiliation)}",
            "", "Conditions", "", f"Conditions: {py(t.conditions)}", f"Keywords: {py(t.keywords)}",
            f"Condition MeSH Terms: {py([m.model_dump(exclude_none=True) for m in t.condition_mesh])}",
            f"Intervention MeSH Terms: {py([m.model_dump(exclude_none=True) for m in t.intervention_mesh])}",
            "", "Design", "", f"Study Type: {py(t.study_type)}", f"Phases: {py(list(t.phases))}", f"Allocation: {py(d.allocation)}",
            f"Intervention Model: {py(d.intervention_model)}", f"Intervention Model Description: {py(d.intervention_model_description)}",
            f"Primary Purpose: {py(d.primary_purpose)}", f"Masking: {py(d.masking)}", f"Who Masked: {py(list(d.who_masked))}",
            f"Masking Description: {py(d.masking_description)}", f"Observational Model: {py(d.observational_model)}",
            f"Time Perspective: {py(d.time_perspective)}", f"Patient Registry: {py(d.patient_registry)}",
            f"Enrollment Count: {py(t.enrollment and t.enrollment.count)}", f"Enrollment Type: {py(t.enrollment and t.enrollment.type)}",
            "", "Arms and Interventions", ""]
    for arm in t.arms:
        out += [f"Arm Group Label: {arm.label}", f"Arm Group Type: {py(arm.type)}", f"Arm Group Description: {py(arm.description)}",
                f"Arm Group Intervention Names: {py(list(arm.intervention_names))}"]
    for item in t.interventions:
        out += [f"Intervention Type: {py(item.type)}", f"Intervention Name: {item.name}", f"Intervention Description: {py(item.description)}",
                f"Intervention Other Names: {py(list(item.other_names))}", f"Intervention Arm Group Labels: {py(list(item.arm_labels))}"]
    out += ["", "Outcomes", ""]
    for o in t.outcomes:
        out += [f"{o.kind.title()} Outcome Measure: {o.measure}", f"Outcome Time Frame: {py(o.time_frame)}", f"Outcome Description: {py(o.description)}"]
    out += ["", "Eligibility", "", f"Eligibility Criteria: {py(e.criteria_text)}", f"Healthy Volunteers: {py(e.healthy_volunteers)}",
            f"Sex: {py(e.sex)}", f"Gender Based: {py(e.gender_based)}", f"Minimum Age: {age_text(e.minimum_age) if e.minimum_age else 'None'}",
            f"Maximum Age: {age_text(e.maximum_age) if e.maximum_age else 'None'}", f"Standard Ages: {py(list(e.std_ages))}",
            f"Study Population: {py(e.study_population)}", f"Sampling Method: {py(e.sampling_method)}", "", "Contacts and Locations", ""]
    for c in t.contacts:
        out += [f"Central Contact Name: {py(c.name)}", f"Central Contact Role: {py(c.role)}", f"Central Contact Phone: {py(c.phone)}",
                f"Central Contact Phone Ext: {py(c.phone_ext)}", f"Central Contact Email: {py(c.email)}"]
    for official in t.officials:
        out += [f"Overall Official Name: {py(official.name)}", f"Overall Official Affiliation: {py(official.affiliation)}", f"Overall Official Role: {py(official.role)}"]
    for loc in t.locations:
        out += [f"Location Facility: {py(loc.facility)}", f"Location Status: {py(loc.status)}", f"Location City: {py(loc.city)}",
                f"Location State: {py(loc.state)}", f"Location Zip: {py(loc.zip)}", f"Location Country: {py(loc.country)}"]
        for c in loc.contacts:
            out += [f"Location Contact Name: {py(c.name)}", f"Location Contact Role: {py(c.role)}", f"Location Contact Phone: {py(c.phone)}",
                    f"Location Contact Phone Ext: {py(c.phone_ext)}", f"Location Contact Email: {py(c.email)}"]
    out += ["", "References", ""]
    for ref in t.references:
        out += [f"Reference Citation: {py(ref.citation)}", f"Reference PMID: {py(ref.pmid)}", f"Reference Type: {py(ref.type)}"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    corpus = Path(argv[0]) if argv else DEFAULT_CORPUS
    sources = select_sources(corpus)
    for folder in ("classic", "fields", "source"):
        (OUT / folder).mkdir(parents=True, exist_ok=True)
    ids: list[str] = []
    for path in sources:
        trial = source_trial(path)
        ids.append(trial.id)
        (OUT / "classic" / f"{trial.id}.txt").write_text(render_classic(trial), encoding="utf-8")
        (OUT / "fields" / f"{trial.id}.txt").write_text(render_fields(trial), encoding="utf-8")
        (OUT / "source" / f"{trial.id}.json").write_text(json.dumps(trial.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (OUT / "SOURCES.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    print(f"rendered {len(ids)} records into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
