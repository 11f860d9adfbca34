"""Shared machinery for the registry text-page readers (``page_*.py``).

A "page" is the text of a registry web page saved as plain text: labels and values survive, but the
HTML structure does not — table cells become ``|``-separated fragments, list items run together,
headings go missing and site boilerplate (contact forms, FAQs, share buttons) is mixed in. Every
layout reader cuts its page into labelled values and hands them to the small pure functions here,
which turn registry words into model values. Vocabulary lives in the tables at the top so a domain
expert can review it without reading code.

Readers build a plain ``dict`` shaped like :class:`~converter.model.Trial` (the *draft*) and call
:func:`finish`, which validates it once; that keeps the layout code free of model plumbing and turns
every validation failure into a :class:`ConversionError` naming the record and the field.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Iterable, Optional

from pydantic import ValidationError as PydanticValidationError

from ..errors import ConversionError
from ..model import Age, Trial
from ..normalize.ages import parse_age
from ..eligibility.criteria import parse_criteria
from ..normalize.dates import trial_date
from ..normalize.text import clean, clean_line, enum_key
from .base import ReadResult

Draft = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Vocabulary tables (data). Keys are lower-case page words; values are model enumerations.
# ---------------------------------------------------------------------------------------------

STATUS = {
    "not yet recruiting": "NOT_YET_RECRUITING", "recruiting": "RECRUITING",
    "enrolling by invitation": "ENROLLING_BY_INVITATION", "active, not recruiting": "ACTIVE_NOT_RECRUITING",
    "active not recruiting": "ACTIVE_NOT_RECRUITING", "suspended": "SUSPENDED", "terminated": "TERMINATED",
    "completed": "COMPLETED", "withdrawn": "WITHDRAWN", "unknown": "UNKNOWN", "unknown status": "UNKNOWN",
    "available": "AVAILABLE", "no longer available": "NO_LONGER_AVAILABLE",
    "temporarily not available": "TEMPORARILY_NOT_AVAILABLE", "approved for marketing": "APPROVED_FOR_MARKETING",
    "withheld": "WITHHELD",
}

PHASE_WORDS = {"1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4", "i": "PHASE1", "ii": "PHASE2", "iii": "PHASE3", "iv": "PHASE4"}

STUDY_TYPE = {"interventional": "INTERVENTIONAL", "observational": "OBSERVATIONAL", "expanded access": "EXPANDED_ACCESS", "expanded_access": "EXPANDED_ACCESS"}

ALLOCATION = {"randomized": "RANDOMIZED", "non-randomized": "NON_RANDOMIZED", "non_randomized": "NON_RANDOMIZED", "nonrandomized": "NON_RANDOMIZED", "n/a": "NA", "na": "NA"}

INTERVENTION_MODEL = {
    "single group assignment": "SINGLE_GROUP", "single group": "SINGLE_GROUP", "single_group": "SINGLE_GROUP",
    "parallel assignment": "PARALLEL", "parallel": "PARALLEL",
    "crossover assignment": "CROSSOVER", "crossover": "CROSSOVER",
    "factorial assignment": "FACTORIAL", "factorial": "FACTORIAL",
    "sequential assignment": "SEQUENTIAL", "sequential": "SEQUENTIAL",
}

OBSERVATIONAL_MODEL = {
    "cohort": "COHORT", "case-control": "CASE_CONTROL", "case_control": "CASE_CONTROL", "case-only": "CASE_ONLY",
    "case_only": "CASE_ONLY", "case-crossover": "CASE_CROSSOVER", "case_crossover": "CASE_CROSSOVER",
    "ecologic or community": "ECOLOGIC_OR_COMMUNITY", "ecologic_or_community": "ECOLOGIC_OR_COMMUNITY",
    "family-based": "FAMILY_BASED", "family_based": "FAMILY_BASED", "defined population": "DEFINED_POPULATION",
    "defined_population": "DEFINED_POPULATION", "natural history": "NATURAL_HISTORY",
    "natural_history": "NATURAL_HISTORY", "other": "OTHER",
}

TIME_PERSPECTIVE = {"retrospective": "RETROSPECTIVE", "prospective": "PROSPECTIVE", "cross-sectional": "CROSS_SECTIONAL", "cross_sectional": "CROSS_SECTIONAL", "other": "OTHER"}

MASKING = {"none": "NONE", "none (open label)": "NONE", "open label": "NONE", "single": "SINGLE", "double": "DOUBLE", "triple": "TRIPLE", "quadruple": "QUADRUPLE"}

WHO_MASKED = {"participant": "PARTICIPANT", "care provider": "CARE_PROVIDER", "care_provider": "CARE_PROVIDER", "investigator": "INVESTIGATOR", "outcomes assessor": "OUTCOMES_ASSESSOR", "outcomes_assessor": "OUTCOMES_ASSESSOR"}

PRIMARY_PURPOSE = {
    "treatment": "TREATMENT", "prevention": "PREVENTION", "diagnostic": "DIAGNOSTIC", "ect": "ECT",
    "supportive care": "SUPPORTIVE_CARE", "supportive_care": "SUPPORTIVE_CARE", "screening": "SCREENING",
    "health services research": "HEALTH_SERVICES_RESEARCH", "health_services_research": "HEALTH_SERVICES_RESEARCH",
    "basic science": "BASIC_SCIENCE", "basic_science": "BASIC_SCIENCE", "device feasibility": "DEVICE_FEASIBILITY",
    "device_feasibility": "DEVICE_FEASIBILITY", "other": "OTHER",
}

SEX = {"all": "ALL", "both": "ALL", "female": "FEMALE", "females": "FEMALE", "women": "FEMALE", "male": "MALE", "males": "MALE", "men": "MALE"}

STD_AGES = {"child": "CHILD", "adult": "ADULT", "older adult": "OLDER_ADULT", "older_adult": "OLDER_ADULT"}

#: Intervention type as pages print it ("Drug: …") → model value; display words are the reverse.
INTERVENTION_TYPE = {
    "drug": "DRUG", "device": "DEVICE", "biological": "BIOLOGICAL", "procedure": "PROCEDURE",
    "radiation": "RADIATION", "behavioral": "BEHAVIORAL", "genetic": "GENETIC",
    "dietary supplement": "DIETARY_SUPPLEMENT", "combination product": "COMBINATION_PRODUCT",
    "diagnostic test": "DIAGNOSTIC_TEST", "other": "OTHER",
    "procedure/surgery": "PROCEDURE", "biological/vaccine": "BIOLOGICAL",
}
INTERVENTION_DISPLAY = {
    "DRUG": "Drug", "DEVICE": "Device", "BIOLOGICAL": "Biological", "PROCEDURE": "Procedure", "RADIATION": "Radiation",
    "BEHAVIORAL": "Behavioral", "GENETIC": "Genetic", "DIETARY_SUPPLEMENT": "Dietary Supplement",
    "COMBINATION_PRODUCT": "Combination Product", "DIAGNOSTIC_TEST": "Diagnostic Test", "OTHER": "Other",
}

ARM_TYPE = {
    "experimental": "EXPERIMENTAL", "active comparator": "ACTIVE_COMPARATOR", "placebo comparator": "PLACEBO_COMPARATOR",
    "sham comparator": "SHAM_COMPARATOR", "no intervention": "NO_INTERVENTION", "other": "OTHER",
}
ARM_DISPLAY = {value: key.title() for key, value in ARM_TYPE.items()}

RESPONSIBLE_PARTY = {"sponsor": "SPONSOR", "principal investigator": "PRINCIPAL_INVESTIGATOR", "sponsor-investigator": "SPONSOR_INVESTIGATOR", "sponsor investigator": "SPONSOR_INVESTIGATOR"}

#: Investigator / contact roles as pages print them.
PERSON_ROLE = {
    "principal investigator": "PRINCIPAL_INVESTIGATOR", "sub-investigator": "SUB_INVESTIGATOR",
    "study director": "STUDY_DIRECTOR", "study chair": "STUDY_CHAIR", "contact": "CONTACT",
}

#: Text that belongs to a site, never to a trial; matched against whole cleaned lines.
SHARED_BOILERPLATE = (
    r".*\{\{[^}]*\}\}.*", r"powered by ai", r"add a private note", r"share( this)?( page| study)?",
    r"image", r"investigator avatar", r"print( this page)?", r"©.*", r"copyright.*all rights reserved.*",
)

#: Country names as registries print them (ClinicalTrials.gov spelling plus common variants); used to
#: tell a country heading or the country part of an address from a facility name.
COUNTRIES = frozenset("""
Afghanistan|Albania|Algeria|American Samoa|Andorra|Angola|Argentina|Armenia|Aruba|Australia|Austria|Azerbaijan|Bahamas|
Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bermuda|Bhutan|Bolivia|Bosnia and Herzegovina|Botswana|Brazil|
Brunei Darussalam|Bulgaria|Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Cape Verde|Cayman Islands|Central African Republic|
Chad|Chile|China|Colombia|Comoros|Congo|Congo, The Democratic Republic of the|Costa Rica|Cote D'Ivoire|Côte d'Ivoire|Croatia|
Cuba|Curaçao|Cyprus|Czech Republic|Czechia|Denmark|Djibouti|Dominica|Dominican Republic|Ecuador|Egypt|El Salvador|
Equatorial Guinea|Eritrea|Estonia|Eswatini|Ethiopia|Faroe Islands|Fiji|Finland|Former Serbia and Montenegro|France|
French Guiana|French Polynesia|Gabon|Gambia|Georgia|Germany|Ghana|Gibraltar|Greece|Greenland|Grenada|Guadeloupe|Guam|
Guatemala|Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|Hong Kong|Hungary|Iceland|India|Indonesia|Iran|
Iran, Islamic Republic of|Iraq|Ireland|Israel|Italy|Jamaica|Japan|Jersey|Jordan|Kazakhstan|Kenya|Korea, Democratic People's Republic of|
Korea, Republic of|Kosovo|Kuwait|Kyrgyzstan|Lao People's Democratic Republic|Latvia|Lebanon|Lesotho|Liberia|Libya|
Libyan Arab Jamahiriya|Liechtenstein|Lithuania|Luxembourg|Macao|Macedonia, The Former Yugoslav Republic of|Madagascar|Malawi|
Malaysia|Maldives|Mali|Malta|Martinique|Mauritania|Mauritius|Mayotte|Mexico|Moldova|Moldova, Republic of|Monaco|Mongolia|
Montenegro|Morocco|Mozambique|Myanmar|Namibia|Nepal|Netherlands|Netherlands Antilles|New Caledonia|New Zealand|Nicaragua|
Niger|Nigeria|North Macedonia|Norway|Oman|Pakistan|Palestine|Palestinian Territory, occupied|Panama|Papua New Guinea|Paraguay|Peru|
Philippines|Poland|Portugal|Puerto Rico|Qatar|Réunion|Reunion|Romania|Russia|Russian Federation|Rwanda|Saint Kitts and Nevis|
Saint Lucia|Samoa|San Marino|Saudi Arabia|Senegal|Serbia|Seychelles|Sierra Leone|Singapore|Slovakia|Slovenia|Somalia|
South Africa|South Korea|South Sudan|Spain|Sri Lanka|Sudan|Suriname|Swaziland|Sweden|Switzerland|Syrian Arab Republic|
Taiwan|Tajikistan|Tanzania|Tanzania, United Republic of|Thailand|Timor-Leste|Togo|Trinidad and Tobago|Tunisia|Turkey|
Türkiye|Turkmenistan|Uganda|Ukraine|United Arab Emirates|United Kingdom|United States|Uruguay|Uzbekistan|Venezuela|
Vietnam|Viet Nam|Virgin Islands (U.S.)|Yemen|Zambia|Zimbabwe
""".replace("\n", "").split("|"))

_FLAGS = re.compile("[\U0001F1E6-\U0001F1FF]")
_NCT = re.compile(r"\bNCT\d{8}\b")
_MD_ESCAPE = re.compile(r"\\([\[\]()*_#<>~`|{}+\-.!=])")

# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


# A run of blanks longer than any indentation or table padding a page has. Longer runs carry no
# information, but many layout patterns start with ``\s*`` and scan such a run once per position,
# so one line of 100,000 spaces would cost minutes; every run is cut to this length on decoding.
MAX_BLANK_RUN = 64
_LONG_BLANK_RUN = re.compile(r"[ \t\u00a0]{%d,}" % (MAX_BLANK_RUN + 1))


# Characters that are not page text (C0/C1 controls but tab and newline, lone surrogates, U+FFFE/
# U+FFFF): layout code copies some lines into the draft as they are, and one NUL in a title makes
# the FHIR narrative invalid XML. Unicode's other line breaks are line breaks.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAK = re.compile("\r\n?|[\x85\u2028\u2029]")


def decode(data: bytes) -> str:
    """Bytes → clean text with Unix line ends. Pages are saved as UTF-8, but a stray cp1252 file must not crash."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    text = _NOT_TEXT.sub("", _LINE_BREAK.sub("\n", text))
    text = _LONG_BLANK_RUN.sub(" " * MAX_BLANK_RUN, text)
    return unicodedata.normalize("NFC", text)


def head_text(head: bytes) -> str:
    """The sniffed bytes as text; a multi-byte character cut at the end must not spoil detection."""
    return head.decode("utf-8", errors="ignore")


def looks_structured(head: bytes) -> bool:
    """JSON or XML input: page readers never claim it, whatever words it contains."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start in (b"{", b"[", b"<")


def unescape(text: Optional[str]) -> Optional[str]:
    """Drop markdown backslash escapes ("\\[version 4\\]") that registry text carries onto pages."""
    return _MD_ESCAPE.sub(r"\1", text) if text else text


def strip_flags(text: str) -> str:
    """Remove flag emoji (regional-indicator pairs) that location lists put before addresses."""
    return _FLAGS.sub("", text)


def is_boilerplate(line: str, extra: Iterable[str] = ()) -> bool:
    """True when a whole line is site furniture (shared table plus a layout's own patterns)."""
    text = (clean_line(line) or "").lower().rstrip("| ").strip()
    if not text:
        return bool(clean_line(line))  # a line of bare "|" separators
    return any(re.fullmatch(pattern, text, flags=re.I) for pattern in (*SHARED_BOILERPLATE, *extra))


def cells(line: str) -> list[str]:
    """Split a flattened table row ("Study Type : | Interventional |") into its non-empty cells."""
    return [cell.strip() for cell in line.split("|") if cell.strip()]


def nct_ids(text: str) -> list[str]:
    """All NCT numbers in order of appearance, without repeats."""
    return list(dict.fromkeys(_NCT.findall(text)))


def split_glued(text: str) -> list[str]:
    """Split items that lost their separators: "OligometastasisBreast Cancer" → two items.

    A lower-case letter or closing bracket immediately followed by an upper-case letter is where one
    list item ended and the next began (item names do not normally contain such a join; acronyms like
    "HER2" or "NK" are upper-case on both sides and stay whole).
    """
    parts = re.split(r"(?<=[a-z\)\]])(?=[A-Z])", text)
    return [part.strip() for part in parts if part.strip()]


_TYPE_PREFIX = re.compile(r"(?:(?<=^)|(?<=[^A-Za-z]|[a-z]))(" + "|".join(sorted((re.escape(k.title()) for k in INTERVENTION_TYPE), key=len, reverse=True)) + r"):\s*")


def split_typed(text: str) -> list[tuple[Optional[str], str]]:
    """Split "Other: Palliative treatmentProcedure: Radical resection" into (type, name) pairs.

    The type words are a closed list, so they are reliable separators even when the page ran the
    items together without a space.
    """
    matches = list(_TYPE_PREFIX.finditer(text))
    if not matches:
        name = clean_line(text)
        return [(None, name)] if name else []
    out: list[tuple[Optional[str], str]] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = clean_line(text[match.end():end])
        if name:
            out.append((INTERVENTION_TYPE[match.group(1).lower()], name))
    return out


def intervention_label(kind: Optional[str], name: str) -> str:
    """The "Drug: name" form arms use to point at interventions (plain name when the type is unknown)."""
    return f"{INTERVENTION_DISPLAY[kind]}: {name}" if kind else name


# ---------------------------------------------------------------------------------------------
# Registry words → model values
# ---------------------------------------------------------------------------------------------


def lookup(table: dict[str, str], value: Optional[str]) -> Optional[str]:
    """Table lookup on the cleaned, lower-cased value; enumeration keys ("NOT_YET_RECRUITING") pass too."""
    text = clean_line(value)
    if text is None:
        return None
    hit = table.get(text.lower())
    if hit:
        return hit
    key = enum_key(text)
    return key if key in table.values() else None


def status(value: Optional[str]) -> Optional[str]:
    return lookup(STATUS, value)


def phases(value: Optional[str]) -> list[str]:
    """"Phase 2/Phase 3", "PHASE2, PHASE3", "Phase III", "Early Phase 1", "Not Applicable" → model phases."""
    if isinstance(value, str) and value.strip().lower() in {"not applicable", "na", "n/a"}:
        return ["NA"]  # a real answer for phase, not a missing value (checked before clean_line drops it)
    text = clean_line(value)
    if text is None:
        return []
    lowered = text.lower()
    out: list[str] = []
    for match in re.finditer(r"(early[\s_]*)?phase[\s_]*(iv|iii|ii|i|[1-4])\b", lowered):
        phase = "EARLY_PHASE1" if match.group(1) else PHASE_WORDS[match.group(2)]
        if phase not in out:
            out.append(phase)
    # "Phase 1/2" and "Phase 2/3" name two phases with one word.
    if (combined := re.search(r"phase[\s_]*([1-4])\s*/\s*([1-4])\b", lowered)) and PHASE_WORDS[combined.group(2)] not in out:
        out.append(PHASE_WORDS[combined.group(2)])
    return out


def phases_in_prose(text: Optional[str]) -> list[str]:
    """Phases a title or summary names for the study itself ("A Phase III Trial of …")."""
    if not text:
        return []
    match = re.search(r"\b(?:(early)\s+)?phase\s+((?:iv|iii|ii|i|[1-4])(?:\s*(?:/|-|and)\s*(?:iv|iii|ii|i|[1-4]))?)\b(?=[\s,]+(?:randomi[sz]ed\s+|open[- ]label\s+|multi-?cent(?:er|re)\s+|clinical\s+|pilot\s+)*(?:trial|study))", text, re.I)
    if not match:
        return []
    words = re.split(r"\s*(?:/|-|and)\s*", match.group(2).lower())
    if match.group(1):
        return ["EARLY_PHASE1"]
    return list(dict.fromkeys(PHASE_WORDS[word] for word in words if word in PHASE_WORDS))


def masking(value: Optional[str]) -> tuple[Optional[str], list[str]]:
    """"Double (Participant, Investigator)" → ("DOUBLE", [PARTICIPANT, INVESTIGATOR]); "None" is open label here."""
    if isinstance(value, str) and value.strip().lower() == "none":
        return "NONE", []
    text = clean_line(value)
    if text is None:
        return None, []
    head, _, rest = text.partition("(")
    level = lookup(MASKING, head.strip()) or lookup(MASKING, text)
    who = [WHO_MASKED[w.strip().lower()] for w in re.split(r"[,;]", rest.rstrip(")")) if w.strip().lower() in WHO_MASKED]
    return level, who


def _model_accepts(field: str, value: str) -> bool:
    """Whether the model takes this design value (its placeholder rule refuses "NONE" for masking)."""
    from ..model import Design

    try:
        Design(**{field: value})
    except PydanticValidationError:
        return False
    return True


MASKING_NONE_ACCEPTED = _model_accepts("masking", "NONE")


def put_masking(draft: Draft, label: str, value: Optional[str]) -> None:
    """Masking level and who is masked; "None (Open Label)" is kept as unmapped while the model refuses "NONE"."""
    level, who = masking(value)
    if level == "NONE" and not MASKING_NONE_ACCEPTED:
        unmapped(draft, label, value)
        warn(draft, "masking NONE (open label) cannot be stored: the model refuses the value 'NONE'")
        return
    put(draft, "design.masking", level)
    put(draft, "design.who_masked", who)


def enrollment(value: Optional[str], label: str = "") -> Optional[dict[str, Any]]:
    """"100 participants" plus the label's "Estimated"/"Actual" → Enrollment dict."""
    text = clean_line(value)
    match = re.search(r"\d[\d,]*", text or "")
    if not match:
        return None
    count = int(match.group(0).replace(",", ""))
    words = f"{label} {text}".lower()
    kind = "ACTUAL" if "actual" in words else "ESTIMATED" if re.search(r"estimated|anticipated", words) else None
    return {"count": count, "type": kind} if kind else {"count": count}


def date(value: Optional[str], label: str = "") -> Optional[dict[str, Any]]:
    """A page date with the type its label states ("Estimated Primary Completion Date")."""
    text = clean_line(value)
    if text is None:
        return None
    kind = None
    if re.search(r"\b(actual)\b", f"{label} {text}", re.I):
        kind = "Actual"
    elif re.search(r"\b(estimated|anticipated)\b", f"{label} {text}", re.I):
        kind = "Estimated"
    text = re.sub(r"\s*\((?:actual|estimated|anticipated)\)\s*$", "", text, flags=re.I)
    found = trial_date(text, kind)
    return found.model_dump(exclude_none=True) if found else None


_AGE_UNIT = r"(years?|yrs?|months?|weeks?|days?)"
# A number of bounded length, not inside a longer one: an unbounded ``\d+`` in a search is retried
# from every digit of a long digit run, which makes one line of digits cost quadratic time.
_AGE_NUMBER = r"(?<![\d.])(\d{1,6}(?:\.\d{1,3})?)"
_AGE_FORMS: tuple[tuple[str, str], ...] = (
    # (regex, which bounds it gives); numbers are groups 1 (and 2), unit the last group.
    (_AGE_NUMBER + r"\s*" + _AGE_UNIT + r"?\s*(?:-|–|to|and)\s*" + _AGE_NUMBER + r"\s*" + _AGE_UNIT, "range"),
    (r"(?:>=?|≥|over|above|at least|older than|minimum(?: of)?)\s*" + _AGE_NUMBER + r"\s*" + _AGE_UNIT, "min"),
    (_AGE_NUMBER + r"\s*" + _AGE_UNIT + r"\s*(?:of age\s*)?(?:and|or)\s*(?:older|above|over)", "min"),
    (r"(?:<=?|≤|up to|under|younger than|maximum(?: of)?)\s*" + _AGE_NUMBER + r"\s*" + _AGE_UNIT, "max"),
    (_AGE_NUMBER + r"\s*" + _AGE_UNIT + r"\s*(?:of age\s*)?(?:and|or)\s*(?:younger|under|below)", "max"),
)


def _age(number: str, unit: Optional[str]) -> Optional[dict[str, Any]]:
    found: Optional[Age] = parse_age(f"{number} {unit or 'years'}")
    return found.model_dump() if found else None


def age_range(text: Optional[str]) -> tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]:
    """Age limits from a field value: "18 Years and older", "18-75 years", "Age > 18 years", "18 Years to 75 Years"."""
    line = clean_line(text)
    if line is None:
        return None, None
    line = re.sub(r"\([^()]*\)", "", line).lower()  # [^()]: ".*?" rescans to the end from every "("
    for pattern, kind in _AGE_FORMS:
        match = re.search(pattern, line)
        if not match:
            continue
        if kind == "range":
            low, low_unit, high, high_unit = match.groups()
            return _age(low, low_unit or high_unit), _age(high, high_unit)
        number, unit = match.group(1), match.group(2)
        return (_age(number, unit), None) if kind == "min" else (None, _age(number, unit))
    return None, None


def age_from_criteria(text: Optional[str]) -> tuple[Optional[dict[str, Any]], Optional[dict[str, Any]]]:
    """Age limits stated in a criterion ("Women aged 18-75 years old", "Age > 18 years").

    Only a phrase that is about age counts — "within 5 years" is not an age limit.
    """
    if not text:
        return None, None
    for line in text.splitlines():
        match = re.search(r"\bage[sd]?\b\s*(?:of\s+|between\s+|from\s+|:\s*|is\s+)?(.{0,40})", line, re.I)
        if match:
            low, high = age_range(match.group(1))
            if low or high:
                return low, high
    return None, None


def std_ages(text: Optional[str]) -> list[str]:
    """"(Adult, Older Adult)" → [ADULT, OLDER_ADULT]."""
    found = re.search(r"\(([^)]*)\)", text or "")
    words = found.group(1) if found else (text or "")
    out = [STD_AGES[w.strip().lower()] for w in words.split(",") if w.strip().lower() in STD_AGES]
    return list(dict.fromkeys(out))


def derived_id(title: str) -> str:
    """Stable, file-name-safe id for a page without a registry id: same title, same id."""
    normal = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", title)).strip().lower()
    return "page-" + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# People and places
# ---------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"((?:\(\+\))?\+?\(?\d[\d\s().\-/]{5,}\d)(?:\s*(?:ext\.?|x|extension)\s*(\d+))?", re.I)


def person(text: str, role: Optional[str] = None) -> Optional[dict[str, Any]]:
    """"Dorte Nielsen, Professor +45 4488 ext 82344 a@b.dk" → Person dict (name keeps its degree suffix)."""
    rest = text
    email = _EMAIL.search(rest)
    if email:
        rest = rest.replace(email.group(0), " ")
    phone = _PHONE.search(rest)
    if phone:
        rest = rest[: phone.start()] + " " + rest[phone.end():]
    out: dict[str, Any] = {
        "name": clean_line(rest.strip(" |,;")),
        "role": role,
        "phone": clean_line(phone.group(1)) if phone else None,
        "phone_ext": phone.group(2) if phone else None,
        "email": email.group(0) if email else None,
    }
    out = {key: value for key, value in out.items() if value}
    return out if out.get("name") or out.get("email") or out.get("phone") else None


def address(text: str) -> dict[str, Any]:
    """"Lishui, Zhejiang, China" / "Herlev, Denmark, DK-2730" → city, state, country, zip.

    Pages print "City, State, Country" (MedPath) or "City, [State,] Country[, Zip]" (ClinicalTrials.gov);
    a trailing part with a digit is the postal code.
    """
    parts = [p.strip() for p in strip_flags(text).split(",") if p.strip()]
    out: dict[str, Any] = {}
    if len(parts) > 1 and re.search(r"\d", parts[-1]):
        out["zip"] = parts.pop()
    if len(parts) > 2 and ", ".join(parts[-2:]) in COUNTRIES:  # "Korea, Republic of"
        out["country"] = ", ".join(parts[-2:])
        parts = parts[:-2]
    elif parts:
        out["country"] = parts.pop()
    if parts:
        out["city"] = parts.pop(0)
    if parts:
        out["state"] = ", ".join(parts)
    return out


# ---------------------------------------------------------------------------------------------
# Draft → Trial
# ---------------------------------------------------------------------------------------------


def new_draft(source_format: str, source: str, index: int = 0) -> Draft:
    """An empty draft with its provenance, so readers only add what they read."""
    return {
        "provenance": {"source_format": source_format, "source_file": source, "record_index": index, "unmapped": [], "warnings": [], "inferred": []},
        "identifiers": [], "design": {}, "dates": {}, "eligibility": {},
    }


def warn(draft: Draft, message: str) -> None:
    if message not in draft["provenance"]["warnings"]:
        draft["provenance"]["warnings"].append(message)


def unmapped(draft: Draft, label: str, value: Optional[str] = None) -> None:
    """Record a page field the reader saw but has no place for ("label: value", shortened)."""
    text = clean_line(f"{label}: {value}" if value else label)
    if text:
        text = text if len(text) <= 200 else text[:197] + "…"
        if text not in draft["provenance"]["unmapped"]:
            draft["provenance"]["unmapped"].append(text)


def unreadable(draft: Draft, label: str, value: Optional[str], what: str) -> None:
    """A value of a field the reader knows but could not map: listed as unmapped *and* warned, so
    the report and summary count it (issue 17: quietly dropping "WEIRD" or "2015-13-45" hides it)."""
    text = clean_line(value)
    if text is None:
        return
    unmapped(draft, label, text)
    shown = text if len(text) <= 80 else text[:77] + "…"
    warn(draft, f"{label}: {shown!r} is not {what}; not mapped")


def put_date(draft: Draft, path: str, value: Optional[str], label: str = "") -> None:
    """Set a date field; a value that is no readable date is warned about, not silently dropped."""
    found = date(value, label)
    if found is None:
        unreadable(draft, label or path, value, "a readable date")
    put(draft, path, found)


def put_status(draft: Draft, path: str, value: Optional[str], label: str = "") -> None:
    """Set a recruitment status; a value outside the registry vocabulary is warned about."""
    found = status(value)
    if found is None:
        unreadable(draft, label or path, value, "a known recruitment status")
    put(draft, path, found)


def infer(draft: Draft, field: str) -> None:
    if field not in draft["provenance"]["inferred"]:
        draft["provenance"]["inferred"].append(field)


def put(draft: Draft, path: str, value: Any) -> None:
    """Set a dotted path when the value is present; the first value read wins (pages repeat fields)."""
    if value is None or value == [] or value == {}:
        return
    *parents, leaf = path.split(".")
    node = draft
    for part in parents:
        node = node.setdefault(part, {})
    if node.get(leaf) in (None, [], {}):
        node[leaf] = value


def add_identifier(draft: Draft, value: Optional[str], kind: str = "SECONDARY", **extra: Any) -> None:
    text = clean_line(value)
    if text and all(existing["value"] != text for existing in draft["identifiers"]):
        draft["identifiers"].append({"value": text, "kind": kind, **{k: v for k, v in extra.items() if v}})


def registry_id(draft: Draft, nct: Optional[str]) -> None:
    """Record the NCT number as the trial id and its registry identifier."""
    if nct and "id" not in draft:
        draft["id"] = nct
        draft["identifiers"].insert(0, {"value": nct, "kind": "REGISTRY", "issuer": "ClinicalTrials.gov"})


def block_text(text: Optional[str]) -> Optional[str]:
    """Like :func:`clean` but keeps indentation: in criteria it is what nests "Platelets ≥ …" under "7."."""
    if text is None:
        return None
    lines = [re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", line).replace("\u00a0", " ").rstrip() for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    margin = min(indents) if indents else 0
    joined = "\n".join(line[margin:] for line in lines)
    joined = re.sub(r"\n{3,}", "\n\n", joined)
    return clean(joined) and joined


def set_criteria(draft: Draft, text: Optional[str]) -> None:
    """Eligibility text as cut from the page, plus its items from the shared criteria parser."""
    block = block_text(unescape(text))
    if not block:
        return
    put(draft, "eligibility.criteria_text", block)
    items = parse_criteria(block)
    if items:
        draft["eligibility"]["criteria"] = [item.model_dump() for item in items]


def infer_ages_from_criteria(draft: Draft) -> None:
    """No age field on the page: take an explicit age limit from the criteria and say so."""
    eligibility = draft["eligibility"]
    if eligibility.get("minimum_age") or eligibility.get("maximum_age"):
        return
    low, high = age_from_criteria(eligibility.get("criteria_text"))
    if low:
        eligibility["minimum_age"] = low
        infer(draft, "eligibility.minimum_age")
    if high:
        eligibility["maximum_age"] = high
        infer(draft, "eligibility.maximum_age")


def infer_phases(draft: Draft) -> None:
    """No phase field: take the phase the title (or, failing that, the summary) names, and say so."""
    if draft.get("phases"):
        return
    for field in ("official_title", "brief_title", "brief_summary"):
        found = phases_in_prose(draft.get(field))
        if found:
            draft["phases"] = found
            infer(draft, "phases")
            warn(draft, f"phase inferred from the {field.replace('_', ' ')}")
            return


# ---------------------------------------------------------------------------------------------
# Design words in prose (pages without allocation / masking / arm-type fields)
# ---------------------------------------------------------------------------------------------

#: Design words of a study's own description ("A Randomized, Open Label, Phase III Trial") → (field, value).
#: Longer words first, so "non-randomized" is never read as "randomized".
DESIGN_WORDS: tuple[tuple[str, Optional[tuple[str, str]]], ...] = (
    (r"non[- ]?randomi[sz]ed", ("allocation", "NON_RANDOMIZED")),
    (r"randomi[sz]ed", ("allocation", "RANDOMIZED")),
    (r"open[- ]label(?:led)?", ("masking", "NONE")),
    (r"(?:double|two)[- ](?:blind(?:ed)?|mask(?:ed)?)", ("masking", "DOUBLE")),
    (r"single[- ](?:blind(?:ed)?|mask(?:ed)?)", ("masking", "SINGLE")),
    (r"triple[- ](?:blind(?:ed)?|mask(?:ed)?)", ("masking", "TRIPLE")),
    (r"quadruple[- ](?:blind(?:ed)?|mask(?:ed)?)", ("masking", "QUADRUPLE")),
    # words that may stand in the same chain but say nothing about allocation or masking
    (r"(?:early\s+)?phase\s+(?:iv|iii|ii|i|[1-4])(?:\s*(?:/|-|and)\s*(?:iv|iii|ii|i|[1-4]))?|(?:placebo|active|sham)[- ]controlled|"
     r"controlled|multi-?cent(?:er|re)|single[- ]cent(?:er|re)|multi-?national|international|prospective|"
     r"parallel(?:[- ]group|[- ]arm)?|two[- ]arm|multi[- ]arm|pilot|interventional|comparative|clinical|"
     r"cross-?over|exploratory|pragmatic|superiority|non-?inferiority|confirmatory|feasibility|investigator[- ](?:initiated|sponsored)", None),
)
_DESIGN_WORD = re.compile("|".join(f"(?:{pattern})" for pattern, _ in DESIGN_WORDS), re.I)
_DESIGN_FIELD = [(re.compile(rf"(?:{pattern})", re.I), found) for pattern, found in DESIGN_WORDS if found]
#: A chain of design words naming ONE study: "Randomized, Open Label, Phase III Trial". A plural noun
#: ("randomized trials have shown") is about other studies and never matches.
#: The chain is an atomic group with unambiguous separators: a failed match (no "trial"/"study" after
#: a long run of design words) must not retry every way of splitting the run — that is exponential.
_CHAIN = re.compile(
    rf"((?>(?:{_DESIGN_WORD.pattern})(?:\s*(?:,\s*)?(?:(?:and|or)\s+)?(?:{_DESIGN_WORD.pattern}))*))\s*,?\s+(?:trial|study)\b(?!-)",
    re.I,
)
#: Where a chain may start: the very start of a title or summary sentence ("A Randomized …"), after a
#: title's colon or dash ("Drug X: a Double-blind Study"), or after "this (study/trial) (is a)".
_AT_START = re.compile(r"^\s*(?:(?:an?|the)\s+)?", re.I)
_AFTER_TITLE_BREAK = re.compile(r"[:–—]\s*(?:(?:an?|the)\s+)?|\s-\s*(?:(?:an?|the)\s+)?", re.I)
_AFTER_THIS = re.compile(r"\b(?:this|the\s+present|the\s+current)\s+(?:(?:study|trial)\s+)?(?:is\s+)?(?:an?\s+)?", re.I)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])|\n+", text) if s.strip()]


def _chains(text: str, starts: re.Pattern[str], anchored: bool) -> list[str]:
    """Design-word chains that begin right where ``starts`` ends (at the text start when anchored)."""
    found = []
    for start in ([_AT_START.match(text)] if anchored else starts.finditer(text)):
        if start is None:
            continue
        chain = _CHAIN.match(text, start.end())
        if chain:
            found.append(chain.group(1))
    return found


def design_in_prose(title: Optional[str] = None, summary: Optional[str] = None, description: Optional[str] = None) -> dict[str, Any]:
    """Allocation and masking a page states for the study itself, from explicit design words only.

    Read from the title, the first sentence of the brief summary and any "this (is a) … study/trial"
    sentence of the summary or description. A field named two different ways ("randomized" in one
    place, "non-randomized" in another) is ambiguous and left out. Returns {field: value}, with the
    key "_from" naming where each value was read.
    """
    chains: list[tuple[str, str]] = []  # (where, chain)
    if title:
        for line in title.split("\n"):
            chains += [("title", c) for c in _chains(line, _AT_START, True) + _chains(line, _AFTER_TITLE_BREAK, False)]
    for where, text in (("brief summary", summary), ("detailed description", description)):
        sentences = _sentences(clean(text) or "")
        if where == "brief summary" and sentences:
            chains += [(where, c) for c in _chains(sentences[0], _AT_START, True)]
        for sentence in sentences:
            chains += [(where, c) for c in _chains(sentence, _AFTER_THIS, False)]
    values: dict[str, set[str]] = {}
    origin: dict[str, str] = {}
    for where, chain in chains:
        for word in _DESIGN_WORD.finditer(chain):
            for pattern, hit in _DESIGN_FIELD:
                if hit and pattern.fullmatch(word.group(0)):
                    values.setdefault(hit[0], set()).add(hit[1])
                    origin.setdefault(hit[0], where)
                    break
    out: dict[str, Any] = {field: next(iter(found)) for field, found in values.items() if len(found) == 1}
    out["_from"] = {field: origin[field] for field in out}
    out["_ambiguous"] = sorted(field for field, found in values.items() if len(found) > 1)
    return out


def infer_design(draft: Draft) -> None:
    """No allocation / masking field on the page: take what the title or summary states, and say so."""
    found = design_in_prose(
        "\n".join(t for t in (draft.get("official_title"), draft.get("brief_title")) if t) or None,
        draft.get("brief_summary"), draft.get("detailed_description"),
    )
    design = draft.setdefault("design", {})
    for field in ("allocation", "masking"):
        if design.get(field) or field not in found:
            continue
        if field == "masking" and found[field] == "NONE" and not MASKING_NONE_ACCEPTED:
            continue
        design[field] = found[field]
        infer(draft, f"design.{field}")
        warn(draft, f"{field} inferred from the {found['_from'][field]}")
    for field in found["_ambiguous"]:
        if not design.get(field):
            warn(draft, f"{field} not inferred: the page describes the study in conflicting terms")


#: Role words that open an arm label or a group statement ("Control group: Palliative treatment").
_ARM_ROLE = re.compile(r"^\s*(experimental|control|placebo)(?:\s+(?:group|arm|cohort))?\s*(?:\d{1,2}|[A-D])?\s*(?:[:：.\-–]|$)", re.I)
_ROLE_STATEMENT = re.compile(r"(?:^|(?<=[\n.;]))\s*(experimental|control|placebo)\s+(?:group|arm)\s*(?:\d{1,2}|[A-D])?\s*[:：]\s*", re.I)
_PLACEBO_NAME = re.compile(r"\b(placebo|sham|vehicle|dummy)\b", re.I)
#: Intervention names that say the control group gets nothing (or only watching): not an active comparator.
_NO_TREATMENT = re.compile(r"\b(no (?:intervention|treatment|therapy)|wait(?:ing)?[- ]?list|observation(?: only)?|watchful waiting|untreated)\b", re.I)


def _role_type(role: str, arm: dict[str, Any]) -> Optional[str]:
    """Arm type for a role word, only when the arm's interventions settle it; None when they do not.

    Experimental is experimental. A control or placebo arm is a placebo comparator when every linked
    intervention is a placebo/sham, an active comparator when it gets interventions and none of them is;
    with no linked intervention (no intervention? usual care? a lost table?) or a mix, it is left untyped.
    """
    role = role.lower()
    if role == "experimental":
        return "EXPERIMENTAL"
    names = arm.get("intervention_names") or []
    placebo = [bool(_PLACEBO_NAME.search(name)) for name in names]
    if names and all(placebo):
        return "PLACEBO_COMPARATOR"
    if role == "control" and names and not any(placebo) and not any(_NO_TREATMENT.search(name) for name in names):
        return "ACTIVE_COMPARATOR"
    return None


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def infer_arm_types(draft: Draft) -> None:
    """Arms without a type: the role word of their label, or of a "Control group: <arm label>" statement
    in the summary or description. Conflicting roles, or a role the interventions do not settle, leave
    the type missing."""
    arms = [arm for arm in draft.get("arms", []) if not arm.get("type")]
    if not arms:
        return
    labels = {_squeeze(arm.get("label") or "") for arm in draft.get("arms", [])} - {""}
    lengths = sorted({len(label) for label in labels}, reverse=True)
    stated: dict[str, set[str]] = {}  # squeezed arm label → roles the summary / description give it
    for field in ("brief_summary", "detailed_description"):
        text = draft.get(field) or ""
        for match in _ROLE_STATEMENT.finditer(text):
            after = _squeeze(text[match.end(): match.end() + 300])
            # the longest label the statement opens with: "Usual care plus X" is not "Usual care"
            named = next((after[:n] for n in lengths if after[:n] in labels and not after[n: n + 1].isalnum()), None)
            if named is not None:
                stated.setdefault(named, set()).add(match.group(1).lower())
    for arm in arms:
        label = arm.get("label") or ""
        roles = set(stated.get(_squeeze(label), ()))
        if match := _ARM_ROLE.match(label):
            roles.add(match.group(1).lower())
        if len(roles) != 1:
            continue
        kind = _role_type(roles.pop(), arm)
        if kind:
            arm["type"] = kind
            infer(draft, "arms.type")
    if "arms.type" in draft["provenance"]["inferred"]:
        warn(draft, "arm types inferred from the role words (experimental / control / placebo) the page gives the groups")


def ensure_id(draft: Draft) -> None:
    """No registry id on the page: derive one from the title so re-reading gives the same id."""
    if draft.get("id"):
        return
    title = draft.get("brief_title") or draft.get("official_title")
    if title:
        draft["id"] = derived_id(title)
        warn(draft, f"no registry id on the page; id {draft['id']} derived from the title")


def link_arms(draft: Draft) -> None:
    """Fill Intervention.arm_labels from the arms that name each intervention."""
    for intervention in draft.get("interventions", []):
        labels = [arm["label"] for arm in draft.get("arms", [])
                  if any(name == intervention["name"] or name.split(": ", 1)[-1] == intervention["name"] for name in arm.get("intervention_names", []))]
        if labels and not intervention.get("arm_labels"):
            intervention["arm_labels"] = labels


def _prune(value: Any) -> Any:
    """Drop None and empty members so the model applies its own defaults."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != [] and v != {} or k in ("provenance",)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def finish(draft: Draft) -> ReadResult:
    """Validate the draft once; a failure comes back as a ConversionError with record and field."""
    ensure_id(draft)
    record = draft.get("id") or f"{draft['provenance'].get('source_file')}#{draft['provenance'].get('record_index', 0)}"
    if not draft.get("id"):
        return ConversionError("page has neither a registry id nor a title", record=record, field="id", stage="read")
    try:
        return Trial.model_validate(_prune(draft))
    except PydanticValidationError as error:
        detail = error.errors()[0]
        path = ".".join(str(p) for p in detail["loc"]) or "(root)"
        return ConversionError(detail["msg"], record=record, field=path, stage="read")


__all__ = [name for name in dir() if not name.startswith("_")]
