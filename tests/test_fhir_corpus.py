"""Real ClinicalTrials.gov records through the FHIR writers: valid, complete, reviewable, deterministic.

The hand-built trials in ``test_fhir_r5_writer.py`` show the mapping works; these tests show it holds
on what registries really publish. They run on the records copied into ``tests/data/ctgov`` always,
and on the whole shared corpus (``../shared/ctgov``, 440 records in the API v2 and legacy XML
formats) when it is present.

Three promises are checked:

* every record becomes an R5 Bundle (collection and transaction) and an R4B Bundle with zero
  validation errors — a record that cannot is a defect *in the record*, named in
  :data:`KNOWN_DEFECTS` with the reason;
* nothing the record says is lost: :data:`R5_FIELDS` says, field by field, where in the Bundle each
  value must be found, and the test counts and prints presence in source versus bundle;
  :data:`R4B_FIELDS` does the same for what R4B can hold;
* the same record always gives the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from converter.writers.fhir.common import is_stand_in_site

from conftest import DATA, ROOT
from converter.model import Criterion, Location, Person, Trial
from converter.readers import read_source
from converter.validate.fhir import validate_bundle
from converter.writers.fhir import r4b as fhir_r4b
from converter.writers.fhir import r5 as fhir_r5
from converter.terminology import load as terminology
from converter.writers.fhir.common import full_url
from converter.writers.targets import dumps

#: Record file (``v2/NCT….json`` / ``xml/NCT….xml``) → why it cannot become a valid Bundle. Empty:
#: every record in the corpus converts. A new entry must name the defect in the record itself.
KNOWN_DEFECTS: dict[str, str] = {}

#: Field → why its values may be missing from the R5 Bundle. Empty: everything is carried.
R5_EXCEPTIONS: dict[str, str] = {}

#: Fields of :data:`R5_FIELDS` no record of the shared corpus fills, and why.
NOT_IN_CORPUS: dict[str, str] = {
    "official.phone": "ClinicalTrials.gov publishes no telecom for overall officials",
    "official.email": "ClinicalTrials.gov publishes no telecom for overall officials",
    "contact.affiliation": "central contacts carry name, phone and e-mail only",
}

#: Field → why R4B cannot carry it (those fields are simply not in :data:`R4B_FIELDS`).
R4B_NOT_HELD: dict[str, str] = {
    "outcome.description": "ResearchStudy.objective has only name and type",
    "intervention.description / other names": "R4B has no EvidenceVariable for interventions; focus is a CodeableConcept",
    "arm → intervention links": "R4B arm has no exposure reference; the names are kept in the arm description",
    "criteria nesting": "Group.characteristic cannot nest; a child carries its parent's text as a prefix instead",
    "site contacts": "R4B Location has telecom but no named contacts",
}


# --------------------------------------------------------------------------------------------------
# Records and their bundles, built once per session
# --------------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One source file, its trial and (lazily) its bundles; the cache keeps the corpus run to one build per version."""

    name: str
    trial: Trial
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def bundle(self, version: str, bundle_type: str = "collection") -> dict[str, Any]:
        key = f"{version}/{bundle_type}"
        if key not in self._cache:
            writer = fhir_r5 if version == "R5" else fhir_r4b
            self._cache[key] = writer.build_bundle(self.trial, bundle_type)
        return self._cache[key]


def _load(root: Path) -> list[Record]:
    records = []
    for folder in ("v2", "xml"):
        for path in sorted((root / folder).iterdir()):
            trials = list(read_source(path))
            assert len(trials) == 1, f"{path}: expected one study per file, got {len(trials)}"
            records.append(Record(f"{folder}/{path.name}", trials[0]))
    return records


@pytest.fixture(scope="session")
def local_records() -> list[Record]:
    return _load(DATA / "ctgov")


@pytest.fixture(scope="session")
def corpus(shared_dir: Path) -> list[Record]:
    records = _load(shared_dir / "ctgov")
    on_disk = sum(1 for folder in ("v2", "xml") for _ in (shared_dir / "ctgov" / folder).iterdir())
    assert len(records) == on_disk
    return records


def _by_name(records: list[Record], name: str) -> Record:
    return next(r for r in records if r.name == name)


# --------------------------------------------------------------------------------------------------
# 1. Validity
# --------------------------------------------------------------------------------------------------


def _without_requests(bundle: dict[str, Any]) -> dict[str, Any]:
    """A transaction as the equivalent collection: same entries, no ``request``."""
    return {**bundle, "type": "collection", "entry": [{k: v for k, v in e.items() if k != "request"} for e in bundle["entry"]]}


def _conversion_problems(record: Record, *, full: bool) -> list[str]:
    """Validation problems for one record; empty when it converts cleanly.

    The R5 transaction is validated in full (it is the collection plus a conditional-create request
    per entry, and the request checks are stricter); the collection must then be exactly the
    transaction without requests, so validating it again would only repeat the same walk. With
    ``full`` (the small local set) every bundle is validated anyway.
    """
    try:
        transaction, collection, r4b = record.bundle("R5", "transaction"), record.bundle("R5"), record.bundle("R4B")
        r4b_transaction = fhir_r4b.build_bundle(record.trial, "transaction")
    except Exception as error:  # a writer crash is a finding for this record, not the end of the run
        return [f"build failed: {error!r}"]
    problems = [f"R5 transaction: {m}" for m in validate_bundle(transaction, "R5")]
    if full:
        problems += [f"R5 collection: {m}" for m in validate_bundle(collection, "R5")]
    if _without_requests(transaction) != collection:
        problems.append("R5 collection differs from the transaction beyond type and requests")
    for entry in transaction["entry"]:
        request = entry.get("request", {})
        if request.get("method") != "POST" or request.get("url") != entry["resource"]["resourceType"] or "ifNoneExist" not in request:
            problems.append(f"R5 transaction entry {entry['fullUrl']}: not a conditional create: {request}")
    problems += [f"R4B collection: {m}" for m in validate_bundle(r4b, "R4B")]
    if full:
        problems += [f"R4B transaction: {m}" for m in validate_bundle(r4b_transaction, "R4B")]
    if _without_requests(r4b_transaction) != r4b:
        problems.append("R4B collection differs from the transaction beyond type and requests")
    return problems


def _assert_all_convert(records: list[Record], *, full: bool) -> None:
    failures = {}
    for record in records:
        problems = _conversion_problems(record, full=full)
        if problems:
            failures[record.name] = problems
    unexpected = {name: problems[:5] for name, problems in failures.items() if name not in KNOWN_DEFECTS}
    assert not unexpected, json.dumps(unexpected, indent=1)
    stale = [name for name in KNOWN_DEFECTS if name in {r.name for r in records} and name not in failures]
    assert not stale, f"records listed as defective now convert; remove them from KNOWN_DEFECTS: {stale}"


def test_local_records_convert_to_valid_r5_and_r4b(local_records: list[Record]) -> None:
    _assert_all_convert(local_records, full=True)


def test_corpus_converts_to_valid_r5_and_r4b(corpus: list[Record]) -> None:
    assert len(corpus) >= 440
    _assert_all_convert(corpus, full=False)


# --------------------------------------------------------------------------------------------------
# 2. Completeness: where each model field must appear in the Bundle
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """A source value and the strings of the Bundle element(s) it must be found in.

    ``fold`` compares registry enum words case-, underscore- and hyphen-insensitively
    ("NON_RANDOMIZED" ~ "non-randomized"); ``exact`` demands equality (numbers, ids, URLs), not
    a substring.
    """

    value: str
    where: list[str]
    fold: bool = False
    exact: bool = False

    def found(self) -> bool:
        if self.fold:
            value = _fold(self.value)
            return any(value in _fold(text) for text in self.where)
        if self.exact:
            return self.value in self.where
        return any(self.value in text for text in self.where)


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.lower()).strip()


def _words(value: Optional[str]) -> str:
    """Registry enum → the words a reader sees: "ACTIVE_NOT_RECRUITING" → "active not recruiting", "PHASE1" → "phase 1"."""
    return re.sub(r"(?<=[a-z])(?=\d)", " ", (value or "").replace("_", " ").lower())


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _texts(concepts: Any) -> list[str]:
    """Text, codes and displays of one or more CodeableConcepts."""
    items = concepts if isinstance(concepts, list) else [concepts]
    out = []
    for cc in items:
        if not cc:
            continue
        if cc.get("text"):
            out.append(cc["text"])
        for coding in cc.get("coding", []):
            out += [coding.get("code", ""), coding.get("display", "")]
    return out


class R5View:
    """Navigation over one R5 Bundle: the study, resolved references and the pieces fields map to."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self.by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        self.study = bundle["entry"][0]["resource"]
        assert self.study["resourceType"] == "ResearchStudy"

    def resolve(self, ref: dict[str, Any]) -> dict[str, Any]:
        return self.by_url[ref["reference"]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.by_url.values() if r["resourceType"] == kind]

    @cached_property
    def notes(self) -> list[str]:
        return [n["text"] for n in self.study.get("note", [])]

    @cached_property
    def design_texts(self) -> list[str]:
        return [d.get("text", "") for d in self.study.get("studyDesign", [])]

    def labels(self, code: str) -> list[str]:
        return [l["value"] for l in self.study.get("label", []) if any(c["code"] == code for c in l["type"].get("coding", []))]

    @cached_property
    def status_text(self) -> list[str]:
        progress = self.study.get("progressStatus", [])
        return [progress[0]["state"].get("text", "")] if progress and progress[0]["state"].get("text", "").startswith("Overall status") else []

    def milestone(self, words: str) -> list[dict[str, Any]]:
        return [p for p in self.study.get("progressStatus", []) if p["state"].get("text") == words]

    def parties(self, role_code: Optional[str] = None) -> list[dict[str, Any]]:
        return [p for p in self.study.get("associatedParty", [])
                if role_code is None or any(c["code"] == role_code for c in p["role"].get("coding", []))]

    def parties_for(self, person: Person) -> list[dict[str, Any]]:
        """The associatedParty entries naming this person (a nameless contact: by its telecom)."""
        if person.name:
            return [p for p in self.parties() if p.get("name") == person.name]
        values = {v for v in (person.email, person.phone) if v}
        return [p for p in self.parties() if "party" in p and values & {t["value"].split(" ext. ")[0] for t in self.practitioner(p).get("telecom", [])}]

    def practitioner(self, party: dict[str, Any]) -> dict[str, Any]:
        target = self.resolve(party["party"])
        return self.resolve(target["practitioner"]) if target["resourceType"] == "PractitionerRole" else target

    def affiliation(self, party: dict[str, Any]) -> list[str]:
        target = self.resolve(party["party"]) if "party" in party else {}
        if target.get("resourceType") != "PractitionerRole":
            return []
        return [self.resolve(target["organization"])["name"]]

    def telecom(self, parties: list[dict[str, Any]]) -> list[str]:
        return [t["value"] for p in parties if "party" in p for t in self.practitioner(p).get("telecom", [])]

    @cached_property
    def eligibility(self) -> dict[str, Any]:
        return self.resolve(self.study["recruitment"]["eligibility"])

    @cached_property
    def eligibility_notes(self) -> list[str]:
        return [n["text"] for n in self.eligibility.get("note", [])]

    @cached_property
    def criterion_nodes(self) -> list[dict[str, Any]]:
        """Top-level characteristics that stand for a registry criterion, in order."""
        return [c for c in self.eligibility.get("characteristic", []) if re.fullmatch(r"(inclusion|exclusion|criterion)-\d+", c.get("linkId", ""))]

    @cached_property
    def interventions(self) -> list[dict[str, Any]]:
        return [self.resolve(f["reference"]) for f in self.study.get("focus", []) if "reference" in f]

    def variables_for(self, name: str) -> list[dict[str, Any]]:
        """Intervention variables standing for an intervention of this name (repeats share one)."""
        return [e for e in self.interventions if e["characteristic"][0]["definitionCodeableConcept"].get("text") == name]

    @cached_property
    def outcomes(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(m, self.resolve(m["reference"])) for m in self.study.get("outcomeMeasure", [])]

    @cached_property
    def groups(self) -> list[dict[str, Any]]:
        return self.study.get("comparisonGroup", [])

    @cached_property
    def sites(self) -> list[dict[str, Any]]:
        return [self.resolve(s) for s in self.study.get("site", [])]

    def sites_for(self, site: Location) -> list[dict[str, Any]]:
        """Locations that can be this registry site: same facility name (or, unnamed, same city)."""
        if site.facility:
            return [s for s in self.sites if s.get("name") == site.facility]
        return [s for s in self.sites if "name" not in s and s.get("address", {}).get("city") == site.city]

    def artifacts(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.study.get("relatedArtifact", []) if a["type"] == kind]


Check = Callable[[Trial, Any], list[Expect]]

_UCUM = {"YEARS": "a", "MONTHS": "mo", "WEEKS": "wk", "DAYS": "d", "HOURS": "h", "MINUTES": "min"}
_OBJECTIVE = {"PRIMARY": "primary", "SECONDARY": "secondary", "OTHER": "exploratory"}  # CT.gov "other pre-specified"
_MILESTONES = {"start": "Study start", "primary_completion": "Primary completion", "completion": "Study completion"}
_RECORD_DATES = {"first_submitted": "First submitted", "first_posted": "First posted", "last_update_submitted": "Last update submitted",
                 "last_update_posted": "Last update posted", "results_first_posted": "Results first posted"}


def _persons(trial: Trial, kind: str) -> list[Person]:
    return trial.officials if kind == "official" else trial.contacts


def _person_checks(kind: str) -> dict[str, Check]:
    """Name, role, affiliation, phone and e-mail of officials or central contacts."""
    def name(t: Trial, v: R5View) -> list[Expect]:
        return [Expect(p.name, [x.get("name", "") for x in v.parties()], exact=True) for p in _persons(t, kind) if p.name]

    def role(t: Trial, v: R5View) -> list[Expect]:
        out = []
        for p in _persons(t, kind):
            if p.role:
                words = "central contact" if kind == "contact" else _words(p.role)
                out.append(Expect(words, [x["role"].get("text", "") for x in v.parties_for(p)], fold=True))
        return out

    def affiliation(t: Trial, v: R5View) -> list[Expect]:
        return [Expect(p.affiliation, [a for x in v.parties_for(p) for a in v.affiliation(x)], exact=True) for p in _persons(t, kind) if p.affiliation]

    def phone(t: Trial, v: R5View) -> list[Expect]:
        return [Expect(p.phone, v.telecom(v.parties_for(p))) for p in _persons(t, kind) if p.phone]

    def email(t: Trial, v: R5View) -> list[Expect]:
        return [Expect(p.email, v.telecom(v.parties_for(p)), exact=True) for p in _persons(t, kind) if p.email]

    return {f"{kind}.name": name, f"{kind}.role": role, f"{kind}.affiliation": affiliation, f"{kind}.phone": phone, f"{kind}.email": email}


def _criteria_category(t: Trial, v: R5View) -> list[Expect]:
    """Each top-level criterion is, in order, a characteristic whose linkId names its list."""
    out = []
    nodes = v.criterion_nodes
    for index, criterion in enumerate(t.eligibility.criteria):
        node = nodes[index] if index < len(nodes) else {}
        prefix = "criterion" if criterion.category == "UNKNOWN" else criterion.category.lower()
        out.append(Expect(f"{prefix}|{criterion.text}", [f"{node.get('linkId', '').split('-')[0]}|{node.get('description', '')}"], exact=True))
    return out


def _criteria_nesting(t: Trial, v: R5View) -> list[Expect]:
    """Every nested criterion sits inside its parent's characteristic, with the parent's linkId as prefix."""
    out: list[Expect] = []

    def visit(criterion: Criterion, node: dict[str, Any]) -> None:
        below = {n.get("linkId"): n for n in _walk(node.get("definitionByCombination", {})) if "linkId" in n}
        for position, child in enumerate(criterion.children, start=1):
            child_node = below.get(f"{node['linkId']}.{position}", {})
            out.append(Expect(child.text, [child_node.get("description", "")], exact=True))
            if child_node:
                visit(child, child_node)

    for criterion, node in zip(t.eligibility.criteria, v.criterion_nodes):
        visit(criterion, node)
    return out


def _all_criteria(items: list[Criterion]) -> Iterator[Criterion]:
    for item in items:
        yield item
        yield from _all_criteria(item.children)


def _arm_links(t: Trial, v: R5View) -> list[Expect]:
    """Each intervention an arm names is an intendedExposure of that arm (or, unlisted, in its description)."""
    out = []
    for arm, group in zip(t.arms, v.groups):
        exposures = [e.get("display", "") for e in group.get("intendedExposure", [])] + [group.get("description", "")]
        for name in arm.intervention_names:
            out.append(Expect(name.split(":", 1)[-1].strip(), exposures))
    return out


def _site_field(attr: str, element: Callable[[dict[str, Any]], list[str]], *, fold: bool = False, exact: bool = False) -> Check:
    def check(t: Trial, v: R5View) -> list[Expect]:
        out = []
        for site in t.locations:
            value = getattr(site, attr)
            if value:
                shown = _words(value) if fold else value
                out.append(Expect(shown, [x for s in v.sites_for(site) for x in element(s)], fold=fold, exact=exact))
        return out
    return check


def _site_contacts(attr: str) -> Check:
    def check(t: Trial, v: R5View) -> list[Expect]:
        out = []
        for site in t.locations:
            places = v.sites_for(site)
            for person in site.contacts:
                value = getattr(person, attr)
                if not value:
                    continue
                if attr == "name":
                    where = [n["text"] for s in places for c in s.get("contact", []) for n in c.get("name", [])]
                elif attr == "role":
                    where = [c["purpose"]["text"] for s in places for c in s.get("contact", [])]
                    value = _words(value)
                else:
                    where = [t_["value"] for s in places for c in s.get("contact", []) for t_ in c.get("telecom", [])]
                out.append(Expect(value, where, fold=attr == "role"))
        return out
    return check


def _dates(t: Trial, v: R5View) -> list[Expect]:
    """Start / primary completion / completion: milestone period.start (precision kept) and actual flag."""
    out = []
    for attr, words in _MILESTONES.items():
        when = getattr(t.dates, attr)
        if when is None:
            continue
        entries = v.milestone(words)
        out.append(Expect(when.date, [e["period"]["start"] for e in entries], exact=True))
        if when.type:
            out.append(Expect(f"{words}: {when.type}", [f"{words}: {'ACTUAL' if e.get('actual') else 'ESTIMATED'}" for e in entries if 'actual' in e], exact=True))
    return out


def _record_dates(t: Trial, v: R5View) -> list[Expect]:
    out = []
    for attr, words in _RECORD_DATES.items():
        when = getattr(t.dates, attr)
        if when:
            notes = [n for n in v.notes if n.startswith(words + ":")]
            out.append(Expect(when.date, notes))
            if when.type:
                out.append(Expect(when.type, notes, fold=True))
    return out


def _enrollment(t: Trial, v: R5View) -> list[Expect]:
    e = t.enrollment
    if e is None:
        return []
    recruitment = v.study.get("recruitment", {})
    key = {"ACTUAL": "actualNumber", "ESTIMATED": "targetNumber", None: "targetNumber"}[e.type]
    out = [Expect(f"{key}={e.count}", [f"{k}={recruitment[k]}" for k in ("actualNumber", "targetNumber") if k in recruitment], exact=True)]
    if e.type is None:
        out.append(Expect(f"Enrollment: {e.count}", v.notes))
    return out


def _age(attr: str, bound: str) -> Check:
    def check(t: Trial, v: R5View) -> list[Expect]:
        age = getattr(t.eligibility, attr)
        if age is None:
            return []
        number = int(age.value) if float(age.value).is_integer() else age.value
        ranges = [n["definitionByTypeAndValue"]["valueRange"] for n in v.eligibility.get("characteristic", [])
                  if "valueRange" in n.get("definitionByTypeAndValue", {}) and n.get("description", "").startswith("Age")]
        return [Expect(f"{number} {_UCUM[age.unit]}", [f"{r[bound]['value']} {r[bound]['code']}" for r in ranges if bound in r], exact=True)]
    return check


def _sex(t: Trial, v: R5View) -> list[Expect]:
    sex = t.eligibility.sex
    if sex is None:
        return []
    if sex == "ALL":
        return [Expect("Sexes eligible: all", v.eligibility_notes)]
    codes = [c["code"] for n in v.eligibility.get("characteristic", []) for c in
             n.get("definitionByTypeAndValue", {}).get("valueCodeableConcept", {}).get("coding", [])]
    return [Expect(sex.lower(), codes, exact=True)]


def _identifier_type(t: Trial, v: R5View) -> list[Expect]:
    words = terminology("fhir_r5")["identifier_type_text"]
    return [Expect(words[i.type], [x.get("type", {}).get("text", "") for x in v.study["identifier"] if x["value"] == i.value])
            for i in t.identifiers if i.type]


def _responsible_party(t: Trial, v: R5View) -> list[Expect]:
    rp = t.responsible_party
    if rp is None:
        return []
    out = []
    named = [p for p in v.parties() if rp.name and p.get("name") == rp.name and p["role"].get("text", "").startswith("Responsible party")]
    if rp.type == "SPONSOR" and t.sponsor:
        out.append(Expect("responsible party", [p["role"].get("text", "") for p in v.parties("lead-sponsor")], fold=True))
    elif rp.type and rp.name:
        out.append(Expect(_words(rp.type), [p["role"].get("text", "") for p in named], fold=True))
    elif rp.type:
        out.append(Expect(_words(rp.type), [n for n in v.notes if n.startswith("Responsible party")], fold=True))
    if rp.name:
        out.append(Expect(rp.name, [p["name"] for p in named], exact=True))
    if rp.title:
        out.append(Expect(rp.title, [p["role"].get("text", "") for p in named]))
    if rp.affiliation:
        out.append(Expect(rp.affiliation, [a for p in named for a in v.affiliation(p)], exact=True))
    return out


def _classifier_texts(study: dict) -> list[str]:
    return [c.get("text", "") for c in study.get("classifier", [])]


def _opt(value: Optional[str]) -> list[str]:
    return [value] if value else []


#: Model field → where its values go in an R5 Bundle. Each check returns the values the record has
#: for the field (none: the field is absent) with the element strings each must be found in.
R5_FIELDS: dict[str, Check] = {
    # identity
    "identifiers.registry": lambda t, v: [Expect(i.value, [x["value"] for x in v.study["identifier"] if x.get("use") == "official"], exact=True)
                                          for i in t.identifiers if i.kind == "REGISTRY"],
    "identifiers.secondary": lambda t, v: [Expect(i.value, [x["value"] for x in v.study["identifier"] if x.get("use") in {"secondary", "old"}], exact=True)
                                           for i in t.identifiers if i.kind != "REGISTRY"],
    "identifiers.issuer": lambda t, v: [Expect(i.issuer, [x.get("assigner", {}).get("display", "") for x in v.study["identifier"] if x["value"] == i.value], exact=True)
                                        for i in t.identifiers if i.issuer],
    "identifiers.type": _identifier_type,
    "identifiers.link": lambda t, v: [Expect(i.link, [a["document"]["url"] for a in v.artifacts("documentation")], exact=True) for i in t.identifiers if i.link],
    "brief_title": lambda t, v: [Expect(x, _opt(v.study.get("title")), exact=True) for x in _opt(t.brief_title)],  # issue 17: title ← brief title
    "official_title": lambda t, v: [Expect(x, v.labels("official") + _opt(v.study.get("title")), exact=True) for x in _opt(t.official_title)],
    "acronym": lambda t, v: [Expect(x, v.labels("acronym"), exact=True) for x in _opt(t.acronym)],
    # status
    "overall_status": lambda t, v: [Expect(f"overall status: {_words(t.overall_status)}", v.status_text, fold=True)] if t.overall_status else [],
    "last_known_status": lambda t, v: [Expect(f"last known status: {_words(t.last_known_status)}", v.status_text, fold=True)] if t.last_known_status else [],
    "status_verified": lambda t, v: [Expect(t.dates.status_verified.date, v.status_text + [n for n in v.notes if n.startswith("Status verified")])] if t.dates.status_verified else [],
    "why_stopped": lambda t, v: [Expect(x, _opt(v.study.get("whyStopped", {}).get("text")), exact=True) for x in _opt(t.why_stopped)],
    # classification and design
    "phases": lambda t, v: [Expect(_words(p), _opt(v.study.get("phase", {}).get("text")), fold=True) for p in t.phases] if t.phases != ["NA"] else
                           [Expect("not applicable", _opt(v.study.get("phase", {}).get("text")), fold=True)],
    "study_type": lambda t, v: [Expect(f"study type: {_words(t.study_type)}", v.design_texts, fold=True)] if t.study_type else [],
    "design.allocation": lambda t, v: [Expect("allocation: " + ("not applicable" if t.design.allocation == "NA" else _words(t.design.allocation)), v.design_texts, fold=True)]
                                      if t.design.allocation else [],
    "design.intervention_model": lambda t, v: [Expect(f"intervention model: {_words(t.design.intervention_model)}", v.design_texts, fold=True)] if t.design.intervention_model else [],
    "design.intervention_model_description": lambda t, v: [Expect(x, v.design_texts) for x in _opt(t.design.intervention_model_description)],
    "design.masking": lambda t, v: [Expect("masking: " + ("none" if t.design.masking == "NONE" else _words(t.design.masking)), v.design_texts, fold=True)] if t.design.masking else [],
    "design.who_masked": lambda t, v: [Expect(_words(w), [d for d in v.design_texts if d.startswith("Masking")], fold=True) for w in t.design.who_masked],
    "design.masking_description": lambda t, v: [Expect(x, [d for d in v.design_texts if d.startswith("Masking")]) for x in _opt(t.design.masking_description)],
    "design.primary_purpose": lambda t, v: [Expect(_words(t.design.primary_purpose), _opt(v.study.get("primaryPurposeType", {}).get("text")), fold=True)]
                                           if t.design.primary_purpose else [],
    "design.observational_model": lambda t, v: [Expect(f"observational model: {_words(t.design.observational_model)}", v.design_texts, fold=True)] if t.design.observational_model else [],
    "design.time_perspective": lambda t, v: [Expect(f"time perspective: {_words(t.design.time_perspective)}", v.design_texts, fold=True)] if t.design.time_perspective else [],
    "design.patient_registry": lambda t, v: [Expect("Patient registry", v.design_texts, exact=True)] if t.design.patient_registry else [],
    "design.target_duration": lambda t, v: [Expect(x, v.design_texts) for x in _opt(t.design.target_duration)],
    "design.number_of_arms": lambda t, v: [Expect(f"Number of arms: {t.design.number_of_arms}", v.notes, exact=True)] if t.design.number_of_arms is not None else [],
    "design.bio_spec": lambda t, v: [Expect(x, [d for d in v.design_texts if d.startswith("Biospecimen")]) for x in _opt(t.design.bio_spec_description)]
                                    + ([Expect(_words(t.design.bio_spec_retention), [d for d in v.design_texts if d.startswith("Biospecimen")], fold=True)] if t.design.bio_spec_retention else []),
    # subject matter
    "conditions": lambda t, v: [Expect(c, [x.get("text", "") for x in v.study.get("condition", [])], exact=True) for c in t.conditions],
    "keywords": lambda t, v: [Expect(k, [x.get("text", "") for x in v.study.get("keyword", [])], exact=True) for k in t.keywords],
    "condition_mesh": lambda t, v: [Expect(m.id or m.term, _texts(v.study.get("condition", [])), exact=True) for m in t.condition_mesh],
    "intervention_mesh": lambda t, v: [Expect(m.id or m.term, _texts([f["concept"] for f in v.study.get("focus", []) if "concept" in f]), exact=True) for m in t.intervention_mesh],
    "brief_summary": lambda t, v: [Expect(x, _opt(v.study.get("descriptionSummary")), exact=True) for x in _opt(t.brief_summary)],
    "detailed_description": lambda t, v: [Expect(x, _opt(v.study.get("description")), exact=True) for x in _opt(t.detailed_description)],
    # parties
    "sponsor": lambda t, v: [Expect(t.sponsor.name, [v.resolve(p["party"])["name"] for p in v.parties("lead-sponsor")], exact=True)] if t.sponsor else [],
    "sponsor.agency_class": lambda t, v: [Expect(t.sponsor.agency_class, [x for p in v.parties("lead-sponsor") for x in _texts(v.resolve(p["party"]).get("type", []))])]
                                         if t.sponsor and t.sponsor.agency_class else [],
    "collaborators": lambda t, v: [Expect(c.name, [v.resolve(p["party"])["name"] for p in v.parties("collaborator")], exact=True) for c in t.collaborators],
    "responsible_party": _responsible_party,
    **_person_checks("official"),
    **_person_checks("contact"),
    # dates and size
    "dates.start/primary_completion/completion": _dates,
    "dates.period": lambda t, v: [Expect(f"{k}={d.date}", [f"{k}={v.study.get('period', {}).get(k)}"], exact=True)
                                  for k, d in (("start", t.dates.start), ("end", t.dates.completion)) if d
                                  and not (t.dates.start and t.dates.completion and t.dates.completion.date < t.dates.start.date)],
    "dates.posted/updated/submitted": _record_dates,
    "enrollment": _enrollment,
    # arms, interventions, outcomes
    "arms.label": lambda t, v: [Expect(a.label, [g["name"] for g in v.groups], exact=True) for a in t.arms],
    "arms.type": lambda t, v: [Expect(_words(a.type), _texts(g.get("type")), fold=True) for a, g in zip(t.arms, v.groups) if a.type],
    "arms.description": lambda t, v: [Expect(a.description, _opt(g.get("description"))) for a, g in zip(t.arms, v.groups) if a.description],
    "arms.interventions": _arm_links,
    "interventions.name": lambda t, v: [Expect(i.name, [e["title"] for e in v.variables_for(i.name)]) for i in t.interventions],
    "interventions.type": lambda t, v: [Expect(f"{_words(i.type)}: {i.name}", [e["title"] for e in v.variables_for(i.name)], fold=True) for i in t.interventions if i.type],
    "interventions.description": lambda t, v: [Expect(i.description, [e.get("description", "") for e in v.variables_for(i.name)], exact=True) for i in t.interventions if i.description],
    "interventions.other_names": lambda t, v: [Expect(n, [x["text"] for e in v.variables_for(i.name) for x in e.get("note", [])]) for i in t.interventions for n in i.other_names],
    "outcomes.measure": lambda t, v: [Expect(o.measure, [m["name"], e["title"]], exact=True) for o, (m, e) in zip(t.outcomes, v.outcomes)],
    "outcomes.kind": lambda t, v: [Expect(_OBJECTIVE[o.kind], [c["code"] for c in m["type"][0]["coding"]], exact=True) for o, (m, e) in zip(t.outcomes, v.outcomes)],
    "outcomes.time_frame": lambda t, v: [Expect(o.time_frame, [tf["description"] for tf in e["characteristic"][0].get("timeFromEvent", [])], exact=True)
                                         for o, (m, e) in zip(t.outcomes, v.outcomes) if o.time_frame],
    "outcomes.description": lambda t, v: [Expect(o.description, _opt(e.get("description")), exact=True) for o, (m, e) in zip(t.outcomes, v.outcomes) if o.description],
    # eligibility
    "eligibility.sex": _sex,
    "eligibility.gender_based": lambda t, v: [Expect("is based on gender" if t.eligibility.gender_based else "is not based on gender", v.eligibility_notes)]
                                             if t.eligibility.gender_based is not None else [],
    "eligibility.gender_description": lambda t, v: [Expect(x, v.eligibility_notes) for x in _opt(t.eligibility.gender_description)],
    "eligibility.minimum_age": _age("minimum_age", "low"),
    "eligibility.maximum_age": _age("maximum_age", "high"),
    "eligibility.healthy_volunteers": lambda t, v: [Expect("accepts healthy volunteers" if t.eligibility.healthy_volunteers else "does not accept healthy volunteers",
                                                           [c.get("description", "") for c in v.eligibility.get("characteristic", []) if c.get("linkId") == "healthy-volunteers"], fold=True)]
                                                   if t.eligibility.healthy_volunteers is not None else [],
    "eligibility.criteria_text": lambda t, v: [Expect(x, _opt(v.eligibility.get("description")), exact=True) for x in _opt(t.eligibility.criteria_text)],
    "eligibility.criteria (every item)": lambda t, v: [Expect(c.text, [n.get("description", "") for n in _walk(v.eligibility.get("characteristic", []))], exact=True)
                                                       for c in _all_criteria(t.eligibility.criteria)],
    "eligibility.criteria category": _criteria_category,
    "eligibility.criteria nesting": _criteria_nesting,
    "eligibility.std_ages/population/sampling": lambda t, v: ([Expect(_words(a), v.eligibility_notes, fold=True) for a in t.eligibility.std_ages]
                                                              + [Expect(x, v.eligibility_notes) for x in _opt(t.eligibility.study_population)]
                                                              + ([Expect(_words(t.eligibility.sampling_method), v.eligibility_notes, fold=True)] if t.eligibility.sampling_method else [])),
    # sites
    "locations.facility": _site_field("facility", lambda s: _opt(s.get("name")), exact=True),
    "locations.city": _site_field("city", lambda s: _opt(s.get("address", {}).get("city")), exact=True),
    "locations.state": _site_field("state", lambda s: _opt(s.get("address", {}).get("state")), exact=True),
    "locations.zip": _site_field("zip", lambda s: _opt(s.get("address", {}).get("postalCode")), exact=True),
    "locations.country": _site_field("country", lambda s: _opt(s.get("address", {}).get("country")), exact=True),
    "locations.status": _site_field("status", lambda s: _opt(s.get("description")), fold=True),
    "locations.geo": lambda t, v: [Expect(f"{s.latitude},{s.longitude}", [f"{x['position']['latitude']},{x['position']['longitude']}" for x in v.sites_for(s) if "position" in x], exact=True)
                                   for s in t.locations if s.latitude is not None and s.longitude is not None],
    "locations.contacts.name": _site_contacts("name"),
    "locations.contacts.role": _site_contacts("role"),
    "locations.contacts.phone": _site_contacts("phone"),
    "locations.contacts.email": _site_contacts("email"),
    "region (countries)": lambda t, v: [Expect(c, _texts(v.study.get("region", [])), exact=True) for c in sorted({s.country for s in t.locations if s.country})],
    # literature and links
    "references.citation": lambda t, v: [Expect(r.citation, [a.get("citation", "") for a in v.artifacts("citation")], exact=True) for r in t.references if r.citation],
    "references.pmid": lambda t, v: [Expect(f"https://pubmed.ncbi.nlm.nih.gov/{r.pmid}/", [a.get("document", {}).get("url", "") for a in v.artifacts("citation")], exact=True)
                                     for r in t.references if r.pmid],
    "references.type": lambda t, v: [Expect(r.type.lower(), [a.get("label", "") for a in v.artifacts("citation")], exact=True) for r in t.references if r.type],
    "links.url": lambda t, v: [Expect(l.url, [a["document"]["url"] for a in v.artifacts("documentation")], exact=True) for l in t.links],
    "links.label": lambda t, v: [Expect(l.label, [a.get("display", "") for a in v.artifacts("documentation")], exact=True) for l in t.links if l.label],
    # oversight and sharing
    # issue 17: the oversight flags are classifiers, as in HL7's ClinicalTrials.gov example
    "oversight.has_dmc": lambda t, v: [Expect("data monitoring committee", _classifier_texts(v.study))] if t.oversight.has_dmc is not None else [],
    "oversight.fda_regulated": lambda t, v: [Expect(f"fda-regulated-{kind}", [c["code"] for x in v.study.get("classifier", []) for c in x.get("coding", [])], exact=True)
                                             if flag else Expect(f"Does not study a U.S. FDA-regulated {kind} product", _classifier_texts(v.study), exact=True)
                                             for kind, flag in (("drug", t.oversight.fda_regulated_drug), ("device", t.oversight.fda_regulated_device)) if flag is not None],
    "has_results": lambda t, v: [Expect("results posted on the registry", _classifier_texts(v.study))] if t.has_results is not None else [],
    "oversight.us_export": lambda t, v: [Expect("export", v.notes)] if t.oversight.us_export is not None else [],
    "has_expanded_access": lambda t, v: [Expect("expanded access", v.notes, fold=True)] if t.has_expanded_access is not None else [],
    "ipd_sharing": lambda t, v: ([Expect(f"individual participant data sharing: {_words(t.ipd_sharing.sharing)}", v.notes, fold=True)] if t.ipd_sharing and t.ipd_sharing.sharing else [])
                                + ([Expect(t.ipd_sharing.description, v.notes)] if t.ipd_sharing and t.ipd_sharing.description and t.ipd_sharing.sharing else []),
}


@dataclass
class Coverage:
    """Per field: records that carry it, records whose every value was found, items found / present."""

    records: Counter = field(default_factory=Counter)
    complete: Counter = field(default_factory=Counter)
    items: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    def table(self, title: str) -> str:
        lines = [title, f"{'field':48} {'records':>8} {'in bundle':>10} {'values':>8} {'found':>8}"]
        for name in sorted(self.records):
            lines.append(f"{name:48} {self.records[name]:8} {self.complete[name]:10} {self.items[name]:8} {self.found[name]:8}")
        total_items, total_found = sum(self.items.values()), sum(self.found.values())
        lines.append(f"{'ALL':48} {'':8} {'':10} {total_items:8} {total_found:8}  ({100 * total_found / max(total_items, 1):.2f} %)")
        return "\n".join(lines)


def _coverage(records: list[Record], version: str, fields: dict[str, Check], view: Callable[[dict[str, Any]], Any]) -> Coverage:
    cov = Coverage()
    for record in records:
        if record.name in KNOWN_DEFECTS:  # no valid bundle to look into
            continue
        v = view(record.bundle(version))
        for name, check in fields.items():
            expects = check(record.trial, v)
            if not expects:
                continue
            cov.records[name] += 1
            hits = [e.found() for e in expects]
            cov.items[name] += len(hits)
            cov.found[name] += sum(hits)
            cov.complete[name] += all(hits)
            cov.misses += [f"{record.name} {name}: {e.value[:80]!r} not in {[w[:60] for w in e.where][:4]}" for e, hit in zip(expects, hits) if not hit]
    return cov


def _assert_complete(cov: Coverage, exceptions: dict[str, str]) -> None:
    unexplained = [m for m in cov.misses if m.split(" ", 2)[1].rstrip(":") not in exceptions]
    assert not unexplained, f"{len(unexplained)} values missing from the bundle:\n" + "\n".join(unexplained[:40])


def test_local_records_lose_nothing_in_r5(local_records: list[Record]) -> None:
    cov = _coverage(local_records, "R5", R5_FIELDS, R5View)
    print("\n" + cov.table("R5 field coverage, tests/data/ctgov"))
    _assert_complete(cov, R5_EXCEPTIONS)


def test_corpus_loses_nothing_in_r5(corpus: list[Record]) -> None:
    cov = _coverage(corpus, "R5", R5_FIELDS, R5View)
    print("\n" + cov.table(f"R5 field coverage, {len(corpus)} shared records"))
    _assert_complete(cov, R5_EXCEPTIONS)
    # every field of the table occurs somewhere in the corpus (so none is checked only in theory),
    # except the few registries never fill; the hand-built trials in test_fhir_r5_writer.py cover those
    never = set(R5_FIELDS) - set(cov.records)
    assert never == set(NOT_IN_CORPUS), f"fields no record carries: {sorted(never)}"


# --- R4B: the subset R4B can hold ------------------------------------------------------------------


class R4BView:
    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        self.study = bundle["entry"][0]["resource"]
        self.notes = [n["text"] for n in self.study.get("note", [])]
        self.group = self.by_url[self.study["enrollment"][0]["reference"]]
        self.characteristics = self.group.get("characteristic", [])
        self.locations = [self.by_url[s["reference"]] for s in self.study.get("site", [])]
        self.location_texts = [f"{l.get('name', '')}|{json.dumps(l.get('address', {}), ensure_ascii=False)}" for l in self.locations]


def _flat_criteria(items: list[Criterion], prefix: str = "") -> Iterator[tuple[str, Criterion]]:
    for item in items:
        yield f"{prefix}{item.text}", item
        yield from _flat_criteria(item.children, f"{prefix}{item.text.rstrip(':')}: ")


def _label_extensions(study: dict) -> list[str]:
    """Values of the R5 cross-version label extensions an R4B ResearchStudy carries."""
    url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ResearchStudy.label"
    return [part["valueString"] for ext in study.get("extension", []) if ext["url"] == url
            for part in ext["extension"] if part["url"] == "value"]


R4B_FIELDS: dict[str, Check] = {
    "identifiers": lambda t, v: [Expect(i.value, [x["value"] for x in v.study["identifier"]], exact=True) for i in t.identifiers],
    "title": lambda t, v: [Expect(t.brief_title or t.official_title, [v.study.get("title", "")], exact=True)] if t.official_title or t.brief_title else [],
    "official_title / acronym": lambda t, v: [Expect(x, [v.study.get("title", "")] + _label_extensions(v.study), exact=True) for x in (t.official_title, t.acronym) if x],
    "overall_status": lambda t, v: [Expect(f"registry overall status: {_words(t.overall_status)}", v.notes, fold=True)] if t.overall_status else [],
    "why_stopped": lambda t, v: [Expect(x, _opt(v.study.get("reasonStopped", {}).get("text")), exact=True) for x in _opt(t.why_stopped)],
    "phases": lambda t, v: [Expect(_words(p), _opt(v.study.get("phase", {}).get("text")), fold=True) for p in t.phases if p != "NA"],
    "design": lambda t, v: [Expect(_words(x), [c.get("text", "") for c in v.study.get("category", [])], fold=True)
                            for x in (t.study_type, t.design.allocation, t.design.intervention_model, t.design.masking,
                                      t.design.observational_model, t.design.time_perspective) if x and x != "NA"],
    "conditions": lambda t, v: [Expect(c, [x.get("text", "") for x in v.study.get("condition", [])], exact=True) for c in t.conditions],
    "keywords": lambda t, v: [Expect(k, [x.get("text", "") for x in v.study.get("keyword", [])], exact=True) for k in t.keywords],
    "summary and description": lambda t, v: [Expect(x, _opt(v.study.get("description"))) for x in (t.brief_summary, t.detailed_description) if x],
    "sponsor": lambda t, v: [Expect(t.sponsor.name, [v.by_url[v.study["sponsor"]["reference"]]["name"]] if "sponsor" in v.study else [], exact=True)] if t.sponsor else [],
    "collaborators": lambda t, v: [Expect(f"Collaborator: {c.name}", v.notes, exact=True) for c in t.collaborators],
    "oversight and results": lambda t, v: ([Expect("data monitoring committee", v.notes)] if t.oversight.has_dmc is not None else [])
                                          + ([Expect("results posted on the registry", v.notes)] if t.has_results is not None else []),
    "officials": lambda t, v: [Expect(o.name, [v.study.get("principalInvestigator", {}).get("display", "")] + v.notes) for o in t.officials if o.name],
    "contacts": lambda t, v: [Expect(x, [c.get("name", "") for c in v.study.get("contact", [])] + [p["value"] for c in v.study.get("contact", []) for p in c.get("telecom", [])])
                              for p in t.contacts for x in (p.name, p.email) if x],
    "dates": lambda t, v: [Expect(d.date, [v.study.get("period", {}).get("start", ""), v.study.get("period", {}).get("end", "")] + v.notes)
                           for d in (t.dates.start, t.dates.primary_completion, t.dates.completion) if d],
    "enrollment": lambda t, v: [Expect(str(t.enrollment.count), [str(v.group.get("quantity"))], exact=True)] if t.enrollment else [],
    "arms": lambda t, v: [Expect(x, [f"{a['name']}\n{a.get('description', '')}" for a in v.study.get("arm", [])]) for arm in t.arms for x in (arm.label, arm.description) if x],
    "interventions": lambda t, v: [Expect(i.name, [f.get("text", "") for f in v.study.get("focus", [])]) for i in t.interventions],
    "outcomes": lambda t, v: [Expect(x, [o["name"] for o in v.study.get("objective", [])]) for o in t.outcomes for x in (o.measure, o.time_frame) if x],
    "eligibility.sex": lambda t, v: [Expect(t.eligibility.sex.lower(), [c["code"] for ch in v.characteristics for c in ch.get("valueCodeableConcept", {}).get("coding", [])], exact=True)]
                                    if t.eligibility.sex in {"FEMALE", "MALE"} else [],
    "eligibility.ages": lambda t, v: [Expect(f"{bound}={int(a.value) if float(a.value).is_integer() else a.value} {_UCUM[a.unit]}",
                                             [f"{bound}={ch['valueRange'][bound]['value']} {ch['valueRange'][bound]['code']}" for ch in v.characteristics if bound in ch.get("valueRange", {})], exact=True)
                                      for bound, a in (("low", t.eligibility.minimum_age), ("high", t.eligibility.maximum_age)) if a],
    # flattened, every item of an exclusion list is itself excluded (no parent left to carry the flag)
    "eligibility.criteria (flattened)": lambda t, v: [Expect(f"{text}|{'exclude' if item.category == 'EXCLUSION' else 'include'}",
                                                             [f"{ch['code'].get('text', '')}|{'exclude' if ch['exclude'] else 'include'}" for ch in v.characteristics], exact=True)
                                                      for text, item in _flat_criteria(t.eligibility.criteria)],
    "locations": lambda t, v: [Expect(x, v.location_texts)
                               for s in t.locations for x in (s.facility, s.city, s.country) if x],
    "countries": lambda t, v: [Expect(c, [x.get("text", "") for x in v.study.get("location", [])], exact=True) for c in sorted({s.country for s in t.locations if s.country})],
    "references": lambda t, v: [Expect(r.citation, [a.get("citation", "") for a in v.study.get("relatedArtifact", [])], exact=True) for r in t.references if r.citation],
}


def test_local_records_keep_what_r4b_can_hold(local_records: list[Record]) -> None:
    cov = _coverage(local_records, "R4B", R4B_FIELDS, R4BView)
    print("\n" + cov.table("R4B field coverage, tests/data/ctgov"))
    _assert_complete(cov, {})


def test_corpus_keeps_what_r4b_can_hold(corpus: list[Record]) -> None:
    cov = _coverage(corpus, "R4B", R4B_FIELDS, R4BView)
    print("\n" + cov.table(f"R4B field coverage, {len(corpus)} shared records"))
    print("not held by R4B: " + "; ".join(f"{k} ({v})" for k, v in R4B_NOT_HELD.items()))
    _assert_complete(cov, {})


def _edge_trial() -> Trial:
    """The hand-built trial plus what the corpus lacks or rarely has: officials with telecom, a central
    contact with an affiliation and one with only an e-mail, an untyped responsible party, an arm
    naming an intervention the record never lists, two distinct sites under one name and address
    (plus an exact repeat), a country without an ISO code."""
    from test_fhir_r5_writer import _trial

    base = _trial()
    site = Location(facility="Research Site", city="Tokyo", country="Japan", status="RECRUITING")
    return base.model_copy(update={
        "officials": [Person(name="Grace Hopper", role="PRINCIPAL_INVESTIGATOR", affiliation="Example Hospital", phone="+1 555 0101", email="gh@example.org"),
                      Person(name="Alan Turing", role="STUDY_CHAIR", affiliation="Example University")],
        "contacts": [Person(name="Trial Office", role="CONTACT", phone="+1 555 0100", phone_ext="12", email="trials@example.org", affiliation="Example Cancer Centre"),
                     Person(role="CONTACT", email="backup@example.org")],
        "responsible_party": base.responsible_party.model_copy(update={"type": None}),
        "arms": [*base.arms, base.arms[0].model_copy(update={"label": "Observation", "type": "NO_INTERVENTION", "intervention_names": ["Other: Watchful waiting"]})],
        "locations": [*base.locations, site, site.model_copy(update={"status": "WITHDRAWN"}), site,
                      Location(facility="Clinical Center", city="Belgrade", country="Former Serbia and Montenegro")],
        "eligibility": base.eligibility.model_copy(update={"sex": "ALL", "gender_based": True, "gender_description": "Self-identified women"}),
        "last_known_status": "RECRUITING",
    })


def test_edge_cases_lose_nothing_in_r5() -> None:
    trial = _edge_trial()
    record = Record("edge", trial)
    assert validate_bundle(record.bundle("R5", "transaction"), "R5") == []
    assert validate_bundle(record.bundle("R4B"), "R4B") == []
    cov = _coverage([record], "R5", R5_FIELDS, R5View)
    _assert_complete(cov, R5_EXCEPTIONS)
    assert set(NOT_IN_CORPUS) <= set(cov.records)
    _assert_complete(_coverage([record], "R4B", R4B_FIELDS, R4BView), {})
    v = R5View(record.bundle("R5"))
    tokyo = [s for s in v.sites if s.get("name") == "Research Site"]
    assert len(tokyo) == 2 and len({s["id"] for s in tokyo}) == 2  # distinct sites kept, the exact repeat collapsed
    assert "Interventions: Other: Watchful waiting" in v.groups[-1]["description"]
    regions = {r["text"]: r.get("coding") for r in v.study["region"]}
    assert regions["Former Serbia and Montenegro"] is None  # no current ISO code: text only, nothing guessed
    assert regions["Japan"] == [{"system": "urn:iso:std:iso:3166", "code": "JPN"}]
    nameless = [p for p in v.of_type("Practitioner") if "name" not in p]
    assert [t["value"] for t in nameless[0]["telecom"]] == ["backup@example.org"]


def test_the_coverage_check_notices_a_loss(local_records: list[Record]) -> None:
    """The checker itself: drop the keywords from a bundle and the keyword field must report misses."""
    record = _by_name(local_records, "v2/NCT02513394.json")
    damaged = json.loads(json.dumps(record.bundle("R5")))
    damaged["entry"][0]["resource"].pop("keyword")
    misses = [e for e in R5_FIELDS["keywords"](record.trial, R5View(damaged)) if not e.found()]
    assert len(misses) == len(record.trial.keywords) > 0


# --------------------------------------------------------------------------------------------------
# 3. A FHIR reviewer's checks
# --------------------------------------------------------------------------------------------------

def _reviewed_codings(table: str) -> dict[str, dict[str, Optional[str]]]:
    """system → {code: display} for every code a terminology table may emit (its reviewed content)."""
    out: dict[str, dict[str, Optional[str]]] = {}

    def add(entries: dict[str, Any], system: Optional[str]) -> None:
        system = entries.get("_system", system)
        for key, value in entries.items():
            if key.startswith("_"):
                continue
            if isinstance(value, dict):
                add(value, system)
            elif isinstance(value, list) and system:
                out.setdefault(system, {})[value[0]] = value[1] if len(value) > 1 else None

    t = terminology(table)
    for entries in t.values():
        if isinstance(entries, dict):
            add(entries, None)
    if "progress_state" in t:
        states = t["progress_state"]
        out[states["_system"]] = {code: t["progress_state_display"][code] for code in [*states.values(), "active", "completed"]
                                  if isinstance(code, str) and code in t["progress_state_display"]}
    # coded by the shared eligibility mapping, whose tables its own tests review
    out["http://hl7.org/fhir/administrative-gender"] = {"female": "Female", "male": "Male"}
    return out


_REVIEWED = {"R5": _reviewed_codings("fhir_r5"), "R4B": _reviewed_codings("fhir_r4b")}
_ELIGIBILITY_SYSTEMS = {"http://hl7.org/fhir/characteristic-offset"}


def _assert_codes_reviewed(record: Record) -> None:
    """No code is invented on the way: every coding in an HL7 system is a reviewed table entry, display included."""
    for version, reviewed in _REVIEWED.items():
        for node in _walk(record.bundle(version)):
            system = node.get("system", "")
            if "code" not in node or not system.startswith(("http://hl7.org/fhir/", "http://terminology.hl7.org/")):
                continue
            if system in _ELIGIBILITY_SYSTEMS:
                continue
            assert system in reviewed and node["code"] in reviewed[system], (record.name, version, node)
            assert node.get("display") == reviewed[system][node["code"]], (record.name, version, node)


def test_every_hl7_code_comes_from_the_reviewed_table_with_its_display(local_records: list[Record]) -> None:
    for record in local_records:
        _assert_codes_reviewed(record)


def test_corpus_uses_only_reviewed_hl7_codes(corpus: list[Record]) -> None:
    for record in corpus:
        if record.name not in KNOWN_DEFECTS:
            _assert_codes_reviewed(record)


def _package(version: str) -> Optional[Path]:
    folder = os.environ.get("TRIALCONV_FHIR_PACKAGES")
    name = {"R5": "hl7.fhir.r5.core-5.0.0.tgz", "R4B": "hl7.fhir.r4b.core-4.3.0.tgz"}[version]
    return Path(folder) / name if folder and (Path(folder) / name).is_file() else None


@pytest.mark.parametrize("version,table", [("R5", "fhir_r5"), ("R4B", "fhir_r4b")])
def test_terminology_tables_match_the_hl7_code_systems(version: str, table: str) -> None:
    """Against the official package when one is at hand (set TRIALCONV_FHIR_PACKAGES to a folder
    holding hl7.fhir.r5.core-5.0.0.tgz / hl7.fhir.r4b.core-4.3.0.tgz): every code exists and every
    display is the CodeSystem's own."""
    package = _package(version)
    if package is None:
        pytest.skip("TRIALCONV_FHIR_PACKAGES not set to a folder with the HL7 core packages")
    systems: dict[str, dict[str, Optional[str]]] = {}
    with tarfile.open(package) as archive:
        for member in archive.getmembers():
            if member.name.startswith("package/CodeSystem-") and member.name.endswith(".json"):
                cs = json.load(archive.extractfile(member))  # type: ignore[arg-type]
                codes: dict[str, Optional[str]] = {}
                stack = list(cs.get("concept", []))
                while stack:
                    concept = stack.pop()
                    codes[concept["code"]] = concept.get("display")
                    stack += concept.get("concept", [])
                systems[cs["url"]] = codes
    problems = []

    def check(t: dict[str, Any], system: Optional[str], path: str) -> None:
        system = t.get("_system", system)
        for key, value in t.items():
            if key.startswith("_") or value is None:
                continue
            if isinstance(value, dict):
                check(value, system, f"{path}.{key}")
                continue
            code, display = (value, None) if isinstance(value, str) else (value[0], value[1] if len(value) > 1 else None)
            if system not in systems or code not in systems[system]:
                problems.append(f"{path}.{key}: {system}#{code} not in the package")
            elif display is not None and display != systems[system][code]:
                problems.append(f"{path}.{key}: display {display!r} != {systems[system][code]!r}")

    for name, value in terminology(table).items():
        if isinstance(value, dict) and "_system" in value:
            check(value, None, name)
    if table == "fhir_r5":
        states = systems["http://hl7.org/fhir/research-study-status"]
        problems += [f"progress_state_display.{c}" for c, d in terminology(table)["progress_state_display"].items() if states.get(c) != d]
    assert not problems, problems


def test_regions_carry_iso_3166_codes_with_the_registry_name_as_text(local_records: list[Record]) -> None:
    study = R5View(_by_name(local_records, "v2/NCT02513394.json").bundle("R5")).study
    regions = {r["text"]: r.get("coding", [{}])[0].get("code") for r in study["region"]}
    assert regions["United States"] == "USA" and regions["Korea, Republic of"] == "KOR" and regions["Taiwan"] == "TWN"
    assert all(c["system"] == "urn:iso:std:iso:3166" for r in study["region"] for c in r.get("coding", []))
    r4b_study = _by_name(local_records, "v2/NCT02513394.json").bundle("R4B")["entry"][0]["resource"]
    assert r4b_study["location"] == study["region"]


def test_pallas_reads_right(local_records: list[Record]) -> None:
    """NCT02513394 (PALLAS, API v2): the facts a reader of the registry page would check first."""
    v = R5View(_by_name(local_records, "v2/NCT02513394.json").bundle("R5"))
    s = v.study
    assert s["phase"]["coding"] == [{"system": "http://hl7.org/fhir/research-study-phase", "code": "phase-3", "display": "Phase 3"}]
    assert s["progressStatus"][0]["state"]["coding"][0]["code"] == "active-but-not-recruiting"
    assert "period" not in s["progressStatus"][0]  # the verification date is not when the state began
    assert {"SEVCO:01001", "SEVCO:01003", "SEVCO:01011"} <= {c["code"] for d in s["studyDesign"] for c in d.get("coding", [])}
    assert s["recruitment"]["actualNumber"] == 5796
    eudract = next(i for i in s["identifier"] if i["value"] == "2014-005181-30")
    assert eudract["type"]["text"] == "EudraCT number" and eudract["use"] == "secondary" and "system" not in eudract
    assert [p["role"]["coding"][0]["code"] for p in v.parties()][:6] == ["lead-sponsor"] + ["collaborator"] * 5
    assert len(v.sites) == 437 == len({l["id"] for l in v.sites})
    palbociclib = next(f for f in s["focus"] if f.get("concept", {}).get("text") == "Palbociclib")
    assert palbociclib["concept"]["coding"][0]["code"] == "C000500026" and "reference" in palbociclib
    div = s["text"]["div"]
    assert "Austrian Breast &amp; Colorectal Cancer Study Group" in div and "PALLAS" in div


def test_legacy_xml_breast_cancer_record_reads_right(local_records: list[Record]) -> None:
    """NCT00496288 (legacy XML): women-only eligibility coded, estimated dates kept as anticipated."""
    v = R5View(_by_name(local_records, "xml/NCT00496288.xml").bundle("R5"))
    sex = next(c for c in v.eligibility["characteristic"] if c.get("description", "").startswith("Sex"))
    assert sex["definitionByTypeAndValue"]["valueCodeableConcept"]["coding"][0]["code"] == "female"
    ages = next(c for c in v.eligibility["characteristic"] if c.get("description", "").startswith("Age"))["definitionByTypeAndValue"]["valueRange"]
    assert (ages["low"]["value"], ages["low"]["code"], ages["high"]["value"]) == (30, "a", 90)
    assert v.study["recruitment"] == {"targetNumber": 240, "eligibility": v.study["recruitment"]["eligibility"]}
    completion = v.milestone("Primary completion")[0]
    assert completion == {"state": {"text": "Primary completion"}, "period": {"start": "2023-03"}, "actual": False}
    assert [n["linkId"] for n in v.criterion_nodes][:2] == ["inclusion-1", "inclusion-2"]
    assert v.criterion_nodes[-1]["linkId"] == "exclusion-6"
    # one person named as official and as contact is one Practitioner holding the contact's telecom
    evron = [p for p in v.of_type("Practitioner") if p.get("name", [{}])[0].get("text") == "Ella Evron, MD"]
    assert len(evron) == 1 and {t["system"] for t in evron[0]["telecom"]} == {"phone", "email"}


def test_observational_record_reads_right(local_records: list[Record]) -> None:
    """NCT06823401: observational design in words, no interventional codes, registry flag kept."""
    v = R5View(_by_name(local_records, "v2/NCT06823401.json").bundle("R5"))
    codes = {c["code"] for d in v.study["studyDesign"] for c in d.get("coding", [])}
    assert codes == {"SEVCO:01002"}
    assert {"Observational model: cohort", "Time perspective: prospective", "Patient registry"} <= set(v.design_texts)
    assert "comparisonGroup" not in v.study or all("intendedExposure" not in g for g in v.groups)
    assert "Sampling method: probability sample" in v.eligibility_notes


def test_withdrawn_record_reads_right(local_records: list[Record]) -> None:
    """NCT05693090: withdrawn, nobody enrolled, the reason kept, planned dates marked as anticipated."""
    v = R5View(_by_name(local_records, "v2/NCT05693090.json").bundle("R5"))
    assert v.study["progressStatus"][0]["state"]["coding"][0]["code"] == "withdrawn"
    assert v.study["status"] == "active"  # the registry record is live; recruitment state is progressStatus
    assert v.study["recruitment"]["actualNumber"] == 0
    assert "strategic business decision" in v.study["whyStopped"]["text"]
    assert all(p.get("actual") is False for p in v.study["progressStatus"][1:])


def test_withheld_record_with_almost_nothing_still_converts(local_records: list[Record]) -> None:
    """NCT03182660: a withheld record with no conditions or sites is a minimal, valid study."""
    record = _by_name(local_records, "xml/NCT03182660.xml")
    study = record.bundle("R5")["entry"][0]["resource"]
    assert study["status"] == "unknown" and study["text"]["div"].startswith("<div")
    assert validate_bundle(record.bundle("R5"), "R5") == []


def _signature(resource: dict[str, Any]) -> str:
    """A resource's content without its identity (id, identifier, narrative)."""
    return json.dumps({k: v for k, v in resource.items() if k not in {"id", "identifier", "text"}}, sort_keys=True)


def _assert_reviewable(record: Record) -> None:
    """One resource per thing: unique ids, no content twice, one Practitioner per person, fullUrls from ids."""
    for version in ("R5", "R4B"):
        bundle = record.bundle(version)
        resources = [e["resource"] for e in bundle["entry"]]
        keys = [f"{r['resourceType']}/{r['id']}" for r in resources]
        assert len(keys) == len(set(keys)), f"{record.name} {version}: duplicate resource ids"
        signatures = Counter((r["resourceType"], _signature(r)) for r in resources)
        assert not [k for k, n in signatures.items() if n > 1], f"{record.name} {version}: the same content twice"
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert entry["fullUrl"] == full_url(resource["resourceType"], resource["id"])  # ids decide fullUrls
            assert resource["text"]["status"] == "generated"
        people = Counter(p["name"][0]["text"] for p in resources if p["resourceType"] == "Practitioner" and "name" in p)
        assert not [n for n, c in people.items() if c > 1], f"{record.name} {version}: one person, several Practitioners"
        # one Organization per name, except sponsors' stand-in site names ("Research Site"), which name
        # a different hospital in every city and so stay one Organization per place
        orgs = Counter(o["name"] for o in resources if o["resourceType"] == "Organization" and not is_stand_in_site(o["name"]))
        assert not [n for n, c in orgs.items() if c > 1], f"{record.name} {version}: one organisation, several Organizations"


def test_local_records_have_no_duplicate_resources_and_content_derived_ids(local_records: list[Record]) -> None:
    for record in local_records:
        _assert_reviewable(record)


def test_corpus_has_no_duplicate_resources_and_content_derived_ids(corpus: list[Record]) -> None:
    for record in corpus:
        if record.name not in KNOWN_DEFECTS:
            _assert_reviewable(record)


def test_narratives_escape_registry_text(local_records: list[Record]) -> None:
    """Registry text is untrusted: the narrative shows it escaped, never as markup."""
    record = _by_name(local_records, "v2/NCT02513394.json")
    hostile = record.trial.model_copy(update={"brief_title": "<img src=x onerror=alert(1)> & co", "acronym": "<b>X</b>"})
    bundle = fhir_r5.build_bundle(hostile)
    div = bundle["entry"][0]["resource"]["text"]["div"]
    assert "<img" not in div and "&lt;img src=x onerror=alert(1)&gt; &amp; co" in div and "&lt;b&gt;X&lt;/b&gt;" in div
    assert validate_bundle(bundle, "R5") == []


# --------------------------------------------------------------------------------------------------
# 4. Determinism
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v2/NCT02513394.json", "xml/NCT02513394.xml", "xml/NCT00496288.xml"])
def test_same_record_gives_byte_identical_bundles(name: str) -> None:
    path = DATA / "ctgov" / name
    for version, writer in (("R5", fhir_r5), ("R4B", fhir_r4b)):
        for bundle_type in ("collection", "transaction"):
            first = dumps(writer.build_bundle(next(read_source(path)), bundle_type))
            second = dumps(writer.build_bundle(next(read_source(path)), bundle_type))
            assert first == second, (name, version, bundle_type)


def test_bundles_do_not_depend_on_the_process() -> None:
    """Hash randomisation differs between processes; a set or dict order leaking into output would show here."""
    script = (
        "import sys, hashlib; from converter.readers import read_source; from converter.writers.fhir import r5 as fhir_r5, r4b as fhir_r4b; "
        "from converter.writers.targets import dumps; t = next(read_source(sys.argv[1])); "
        "print(hashlib.sha256(dumps(fhir_r5.build_bundle(t, 'transaction')) + dumps(fhir_r4b.build_bundle(t))).hexdigest())"
    )
    path = str(DATA / "ctgov" / "v2" / "NCT02513394.json")
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        digests.add(result.stdout.strip())
    assert len(digests) == 1
