"""The canonical trial model: the one contract between readers and writers.

Readers fill it from whatever shape a record arrives in; writers read only this model. Vocabulary
for coded fields (status, phase, design) follows the ClinicalTrials.gov API v2 enumerations because
they are the most complete public vocabulary for registry records; writers map them to FHIR or CDISC.

Missing stays missing: every optional field is ``None`` or an empty list, never ``"None"``, ``"N/A"``
or ``""`` — a validator on the base class rejects such placeholder strings, so a reader that forgets
to clean its input fails loudly instead of leaking placeholders into standards output.
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum
from typing import Any, Literal, Optional, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PLACEHOLDERS = frozenset({"", "none", "n/a", "null", "not stopped", "not applicable"})

_ISO_PARTIAL = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# Characters XML (FHIR narratives, XPT labels) and JSON text cannot carry: C0/C1 controls except tab
# and newline, lone surrogates, and the non-characters U+FFFE/U+FFFF. Readers clean them; the model
# refuses them so a reader that forgets fails loudly instead of producing invalid output.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
FHIR_MAX_UNSIGNED = 2_147_483_647


class _Base(BaseModel):
    """Shared config: forbid unknown keys (catches reader typos) and refuse placeholder strings."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=True)

    @model_validator(mode="before")
    @classmethod
    def _no_placeholders(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, str):
                    if value.strip().lower() in PLACEHOLDERS and not _is_coded(cls, key):
                        raise ValueError(f"{key}: placeholder value {value!r}; leave the field missing instead")
                    if _UNWRITABLE.search(value):
                        raise ValueError(f"{key}: contains control characters or lone surrogates that no output format can carry")
        return data


def _is_coded(model: type[BaseModel], key: str) -> bool:
    """Coded fields (Literal / Enum) are checked by their vocabulary; there "NONE" (masking: open label)
    is a real answer, not a placeholder."""
    info = model.model_fields.get(key)
    if info is None:
        return False

    def coded(annotation: Any) -> bool:
        if get_origin(annotation) is Literal or (isinstance(annotation, type) and issubclass(annotation, Enum)):
            return True
        return any(coded(arg) for arg in get_args(annotation))

    return coded(info.annotation)


class OverallStatus(str, Enum):
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING"
    RECRUITING = "RECRUITING"
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION"
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    COMPLETED = "COMPLETED"
    WITHDRAWN = "WITHDRAWN"
    UNKNOWN = "UNKNOWN"
    AVAILABLE = "AVAILABLE"
    NO_LONGER_AVAILABLE = "NO_LONGER_AVAILABLE"
    TEMPORARILY_NOT_AVAILABLE = "TEMPORARILY_NOT_AVAILABLE"
    APPROVED_FOR_MARKETING = "APPROVED_FOR_MARKETING"
    WITHHELD = "WITHHELD"


class Phase(str, Enum):
    EARLY_PHASE1 = "EARLY_PHASE1"
    PHASE1 = "PHASE1"
    PHASE2 = "PHASE2"
    PHASE3 = "PHASE3"
    PHASE4 = "PHASE4"
    NA = "NA"  # registry value "Not Applicable" — a real answer, not a missing one


class StudyType(str, Enum):
    INTERVENTIONAL = "INTERVENTIONAL"
    OBSERVATIONAL = "OBSERVATIONAL"
    EXPANDED_ACCESS = "EXPANDED_ACCESS"


DateType = Literal["ACTUAL", "ESTIMATED"]


class TrialDate(_Base):
    """A date as precise as the source gave it: "2010-04" is a month, never silently 2010-04-01."""

    date: str = Field(description="ISO 8601 date, possibly partial: YYYY, YYYY-MM or YYYY-MM-DD")
    type: Optional[DateType] = Field(default=None, description="ACTUAL or ESTIMATED (anticipated)")

    @field_validator("date")
    @classmethod
    def _iso_partial(cls, value: str) -> str:
        if not _ISO_PARTIAL.match(value):
            raise ValueError(f"not an ISO 8601 (partial) date: {value!r}")
        parts = [int(p) for p in value.split("-")]
        try:
            date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        except ValueError as error:
            raise ValueError(f"not a calendar date: {value!r}") from error
        return value

    @property
    def precision(self) -> Literal["year", "month", "day"]:
        return {4: "year", 7: "month", 10: "day"}[len(self.date)]


class Dates(_Base):
    start: Optional[TrialDate] = None
    primary_completion: Optional[TrialDate] = None
    completion: Optional[TrialDate] = None
    first_submitted: Optional[TrialDate] = None
    first_posted: Optional[TrialDate] = None
    last_update_submitted: Optional[TrialDate] = None
    last_update_posted: Optional[TrialDate] = None
    results_first_posted: Optional[TrialDate] = None
    status_verified: Optional[TrialDate] = None


def _safe_link(value: Optional[str]) -> Optional[str]:
    """Links leave trialconv as FHIR/HTML links a viewer may follow, so only http(s)/ftp/urn URLs are
    held (readers drop others with a warning; a model built elsewhere is refused, naming the field)."""
    from .safety import LINK_SCHEMES, is_safe_link

    if value is not None and not is_safe_link(value):
        raise ValueError(f"link {value[:80]!r} is not an absolute {'/'.join(LINK_SCHEMES)} URL")
    return value


class Identifier(_Base):
    """A registry or sponsor identifier; ``kind`` says what it is, ``issuer`` who assigned it."""

    value: str
    kind: Literal["REGISTRY", "ORG_STUDY_ID", "SECONDARY"] = "SECONDARY"
    type: Optional[str] = Field(default=None, description="Registry id type, e.g. NIH, FDA, EUDRACT_NUMBER, CTIS, OTHER_GRANT, REGISTRY, OTHER")
    issuer: Optional[str] = Field(default=None, description="Who assigned it (domain / registry / organisation)")
    link: Optional[str] = None

    _link_is_safe = field_validator("link")(_safe_link)


class Organization(_Base):
    name: str
    agency_class: Optional[str] = Field(default=None, description="NIH, FED, INDUSTRY, NETWORK, OTHER_GOV, INDIV, OTHER, AMBIG, UNKNOWN")


class Person(_Base):
    """An investigator or contact. ``role`` uses registry values (PRINCIPAL_INVESTIGATOR, CONTACT, …)."""

    name: Optional[str] = None
    role: Optional[str] = None
    affiliation: Optional[str] = None
    phone: Optional[str] = None
    phone_ext: Optional[str] = None
    email: Optional[str] = None


class ResponsibleParty(_Base):
    type: Optional[Literal["SPONSOR", "PRINCIPAL_INVESTIGATOR", "SPONSOR_INVESTIGATOR"]] = None
    name: Optional[str] = None
    title: Optional[str] = None
    affiliation: Optional[str] = None


class Design(_Base):
    allocation: Optional[Literal["RANDOMIZED", "NON_RANDOMIZED", "NA"]] = None
    intervention_model: Optional[Literal["SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL"]] = None
    intervention_model_description: Optional[str] = None
    masking: Optional[Literal["NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"]] = None
    who_masked: list[Literal["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]] = Field(default_factory=list)
    masking_description: Optional[str] = None
    primary_purpose: Optional[
        Literal[
            "TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT", "SUPPORTIVE_CARE", "SCREENING",
            "HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE", "DEVICE_FEASIBILITY", "OTHER",
        ]
    ] = None
    observational_model: Optional[
        Literal["COHORT", "CASE_CONTROL", "CASE_ONLY", "CASE_CROSSOVER", "ECOLOGIC_OR_COMMUNITY", "FAMILY_BASED", "DEFINED_POPULATION", "NATURAL_HISTORY", "OTHER"]
    ] = None
    time_perspective: Optional[Literal["RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL", "OTHER"]] = None
    patient_registry: Optional[bool] = None
    target_duration: Optional[str] = None
    number_of_arms: Optional[int] = None
    bio_spec_retention: Optional[str] = None
    bio_spec_description: Optional[str] = None


class Enrollment(_Base):
    count: int = Field(ge=0, le=FHIR_MAX_UNSIGNED)
    type: Optional[Literal["ACTUAL", "ESTIMATED"]] = None


class Arm(_Base):
    label: str
    type: Optional[Literal["EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR", "NO_INTERVENTION", "OTHER"]] = None
    description: Optional[str] = None
    intervention_names: list[str] = Field(default_factory=list, description="Names of interventions given in this arm, as 'TYPE: name' or plain name")
    derived: Optional[bool] = Field(
        default=None,
        description="True when the registry lists no arm and trialconv built this one: from the interventions of a single-group study, or from the arms the record's text names ('Arm I: …', 'randomized to receive either X or Y', one treatment against placebo, the two orders of a two-treatment crossover); the description says which",
    )


class Intervention(_Base):
    name: str
    type: Optional[
        Literal["DRUG", "DEVICE", "BIOLOGICAL", "PROCEDURE", "RADIATION", "BEHAVIORAL", "GENETIC", "DIETARY_SUPPLEMENT", "COMBINATION_PRODUCT", "DIAGNOSTIC_TEST", "OTHER"]
    ] = None
    description: Optional[str] = None
    other_names: list[str] = Field(default_factory=list)
    arm_labels: list[str] = Field(default_factory=list)


class Outcome(_Base):
    kind: Literal["PRIMARY", "SECONDARY", "OTHER"]
    measure: str
    time_frame: Optional[str] = None
    description: Optional[str] = None


class Age(_Base):
    """An age limit with its unit as the registry stated it ("18 Years", "6 Months")."""

    value: float = Field(ge=0)
    unit: Literal["YEARS", "MONTHS", "WEEKS", "DAYS", "HOURS", "MINUTES"]

    def as_text(self) -> str:
        number = int(self.value) if float(self.value).is_integer() else self.value
        return f"{number} {self.unit.lower()}"


class Criterion(_Base):
    """One eligibility item. Nesting is kept: "7. Organ function: … Platelets ≥ …" has children."""

    text: str
    category: Literal["INCLUSION", "EXCLUSION", "UNKNOWN"] = "UNKNOWN"
    children: list["Criterion"] = Field(default_factory=list)


class Eligibility(_Base):
    sex: Optional[Literal["ALL", "FEMALE", "MALE"]] = None
    gender_based: Optional[bool] = None
    gender_description: Optional[str] = None
    minimum_age: Optional[Age] = None
    maximum_age: Optional[Age] = None
    std_ages: list[Literal["CHILD", "ADULT", "OLDER_ADULT"]] = Field(default_factory=list)
    healthy_volunteers: Optional[bool] = None
    criteria_text: Optional[str] = None
    criteria: list[Criterion] = Field(default_factory=list)
    study_population: Optional[str] = None
    sampling_method: Optional[Literal["PROBABILITY_SAMPLE", "NON_PROBABILITY_SAMPLE"]] = None


class Location(_Base):
    facility: Optional[str] = None
    city: Optional[str] = None
    state: Optional[str] = None
    zip: Optional[str] = None
    country: Optional[str] = None
    status: Optional[str] = Field(default=None, description="Site recruitment status, registry vocabulary (RECRUITING, …)")
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    contacts: list[Person] = Field(default_factory=list)


class Reference(_Base):
    citation: Optional[str] = None
    pmid: Optional[str] = None
    type: Optional[Literal["BACKGROUND", "RESULT", "DERIVED"]] = None


class Link(_Base):
    url: str
    label: Optional[str] = None

    _url_is_safe = field_validator("url")(_safe_link)


class MeshTerm(_Base):
    term: str
    id: Optional[str] = Field(default=None, description="MeSH descriptor id, e.g. D001943")


class Oversight(_Base):
    has_dmc: Optional[bool] = None
    fda_regulated_drug: Optional[bool] = None
    fda_regulated_device: Optional[bool] = None
    unapproved_device: Optional[bool] = None
    us_export: Optional[bool] = None


class IpdSharing(_Base):
    sharing: Optional[Literal["YES", "NO", "UNDECIDED"]] = None
    description: Optional[str] = None
    info_types: list[str] = Field(default_factory=list)
    time_frame: Optional[str] = None
    access_criteria: Optional[str] = None
    url: Optional[str] = None

    _url_is_safe = field_validator("url")(_safe_link)


class Provenance(_Base):
    """Where the trial came from and what the reader could not carry over."""

    source_format: str
    source_file: Optional[str] = None
    record_index: Optional[int] = Field(default=None, description="Position of the record in its source (0-based)")
    unmapped: list[str] = Field(default_factory=list, description="Source fields or values the reader saw but could not map")
    warnings: list[str] = Field(default_factory=list)
    inferred: list[str] = Field(default_factory=list, description="Model fields filled by inference, not read directly (e.g. 'phases')")
    truncated: bool = False


class Trial(_Base):
    """One clinical trial, independent of any input or output format."""

    id: str = Field(description="Primary registry id (e.g. NCT01234567); used for file names and FHIR ids")
    identifiers: list[Identifier] = Field(default_factory=list, description="All identifiers, the primary one included")
    brief_title: Optional[str] = None
    official_title: Optional[str] = None
    acronym: Optional[str] = None
    overall_status: Optional[OverallStatus] = None
    last_known_status: Optional[OverallStatus] = None
    why_stopped: Optional[str] = None
    has_expanded_access: Optional[bool] = None
    has_results: Optional[bool] = Field(default=None, description="Whether the registry has posted results for the study (the results themselves are not carried)")
    phases: list[Phase] = Field(default_factory=list)
    study_type: Optional[StudyType] = None
    design: Design = Field(default_factory=Design)
    conditions: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    condition_mesh: list[MeshTerm] = Field(default_factory=list, description="The record's own MeSH condition terms")
    intervention_mesh: list[MeshTerm] = Field(default_factory=list, description="The record's own MeSH intervention terms")
    condition_mesh_ancestors: list[MeshTerm] = Field(
        default_factory=list,
        description="Broader MeSH headings the registry derives from the record's own condition terms ('Neoplasms by Site'); never conditions of the study, kept for search",
    )
    intervention_mesh_ancestors: list[MeshTerm] = Field(
        default_factory=list,
        description="Broader MeSH headings (pharmacological classes) the registry derives from the record's own intervention terms; never interventions of the study",
    )
    brief_summary: Optional[str] = None
    detailed_description: Optional[str] = None
    sponsor: Optional[Organization] = None
    collaborators: list[Organization] = Field(default_factory=list)
    responsible_party: Optional[ResponsibleParty] = None
    officials: list[Person] = Field(default_factory=list, description="Overall officials / investigators")
    contacts: list[Person] = Field(default_factory=list, description="Central contacts (and backup)")
    dates: Dates = Field(default_factory=Dates)
    enrollment: Optional[Enrollment] = None
    arms: list[Arm] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    locations: list[Location] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    oversight: Oversight = Field(default_factory=Oversight)
    ipd_sharing: Optional[IpdSharing] = None
    provenance: Provenance

    @field_validator("id")
    @classmethod
    def _id_is_filename_safe(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
            raise ValueError(f"trial id {value!r} must be 1-64 characters of letters, digits, '.', '_' or '-'")
        return value

    @property
    def title(self) -> str:
        """The best human title: brief, then official, then the id."""
        return self.brief_title or self.official_title or self.id

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict without empty members, the "parsed trial" exchange format."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


Criterion.model_rebuild()


def trial_json_schema() -> dict[str, Any]:
    """JSON schema of the model, the checked-in ``schemas/trial.schema.json``."""
    schema = Trial.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://trialconv.dev/schemas/trial.schema.json"
    return schema
