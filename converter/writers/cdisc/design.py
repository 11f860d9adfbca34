"""SDTM trial design datasets (TS, TA, TE, TI) from the canonical Trial, per SDTMIG v3.4 section 7.

A registry record is not a protocol: it answers some Trial Summary parameters exactly (phase, design,
ages, dates, countries), some only partly (conditions without SNOMED codes, treatments without UNII)
and some not at all (add-on design, stopping rules, trial type). Every parameter a submission expects
is still written — with its value when the record has one, otherwise with a null flavor (or the
codelist's own "U"/"NA" term, SDTMIG TS assumption 11) — and everything that could not be filled is
listed in ``CdiscResult.notes`` so a data manager knows exactly what to add from the protocol.

Nothing is invented: no durations (TEDUR stays empty), no guessed categories for unclassified
eligibility items, no CT code for a registry value CDISC has no term for. Mappings live in
``converter/terminology/cdisc_ct.json`` (read by :mod:`converter.terminology.sdtm`); this module only
applies them. TS rows are built in :mod:`.ts`; TA, TE and TI and the assembled datasets live here.
Serialising is :mod:`.serialise` and :mod:`.xpt`; checking is :mod:`converter.validate.cdisc`,
called where every target is validated (:mod:`converter.writers.targets`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Iterable, Literal, Optional, Sequence

from ...errors import ValidationError
from ...model import Criterion, Trial
from ...normalize.completion import why_no_arm
from ...terminology import sdtm as ct
from .datasets import DATASET_ORDER, CdiscResult, Column, Dataset
from .text import ELLIPSIS, MAX_BYTES, nbytes, one_line, shorten, split_text, strip_type_prefix
from .ts import ts_rows as build_ts_rows


# ------------------------------------------------------------------------------------------- helpers


def _ascii_code(text: str) -> str:
    """Upper-case letters and digits only, accents folded: "Arm A: Dose 1" → "ARMADOSE1"."""
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^A-Z0-9]", "", "".join(ch for ch in folded if not unicodedata.combining(ch)).upper())


def _unique(code: str, used: set[str], limit: int, fallback: str) -> str:
    """Make ``code`` unique within ``used`` without exceeding ``limit`` characters."""
    code = code[:limit] or fallback
    candidate, n = code, 1
    while candidate in used:
        n += 1
        suffix = str(n)
        candidate = code[: limit - len(suffix)] + suffix
    used.add(candidate)
    return candidate


# ------------------------------------------------------------------------------------------- TI


def flatten_criteria(items: Sequence[Criterion], parent: Optional[str] = None, parent_category: str = "UNKNOWN") -> Iterator[tuple[str, str]]:
    """(category, text) per leaf criterion; a nested item reads "parent: child" and inherits category."""
    for item in items:
        text = one_line(item.text)
        category = item.category if item.category != "UNKNOWN" else parent_category
        if parent:
            text = f"{parent} {text}" if parent.endswith(":") else f"{parent}: {text}"
        if item.children:
            yield from flatten_criteria(item.children, text, category)
        elif text:
            yield category, text


def unique_ietest(text: str, used: set[str]) -> str:
    """IETEST for ``text``: at most 200 bytes and not yet in ``used`` (CORE-000743: IETESTCD and
    IETEST one-to-one within a study).

    Two long criteria that share their first 200 bytes would shorten to the same IETEST; the second
    and later ones end in a counter ("… (2)") instead. The full texts stay in ``long_text``.
    """
    ietest = shorten(text)
    n = 1
    while ietest in used:
        n += 1
        suffix = f" ({n})"
        ietest = shorten(text, MAX_BYTES - nbytes(suffix)).rstrip(ELLIPSIS) + ELLIPSIS + suffix
    used.add(ietest)
    return ietest


def _ti_rows(trial: Trial, notes: list[str], long_text: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    counters = {"INCLUSION": 0, "EXCLUSION": 0}
    prefix = {"INCLUSION": "INCL", "EXCLUSION": "EXCL"}
    unclassified: list[str] = []
    shortened: list[str] = []
    repeated: dict[str, str] = {}  # dropped repeat → IETESTCD of the criterion it repeats
    first: dict[str, str] = {}
    used: set[str] = set()
    for category, text in flatten_criteria(trial.eligibility.criteria):
        if category not in counters:
            unclassified.append(shorten(text, 80))
            continue
        if text in first:
            repeated.setdefault(text, first[text])
            continue
        counters[category] += 1
        testcd = f"{prefix[category]}{counters[category]:02d}"
        first[text] = testcd
        ietest = unique_ietest(text, used)
        if ietest != text:
            long_text[f"TI.{testcd}.IETEST"] = text
            shortened.append(testcd)
        rows.append(
            {
                "STUDYID": trial.id, "DOMAIN": "TI", "IETESTCD": testcd, "IETEST": ietest,
                "IECAT": ct.from_registry("IECAT", category).value,  # type: ignore[union-attr]
                "IESCAT": "", "TIRL": "", "TIVERS": "",
            }
        )
    if shortened:
        notes.append(f"TI {', '.join(shortened)}: criterion text over {MAX_BYTES} bytes; IETEST shortened at a word boundary, full text kept in long_text (for Define-XML)")
    if repeated:
        notes.append(f"TI: {len(repeated)} criteria the record repeats word for word were kept once: " + "; ".join(f"«{shorten(text, 80)}» (= {code})" for text, code in repeated.items()))
    if unclassified:
        distinct = list(dict.fromkeys(unclassified))
        notes.append(f"TI: {len(unclassified)} criteria not marked inclusion or exclusion were left out: " + "; ".join(f"«{u}»" for u in distinct))
    if not trial.eligibility.criteria:
        if trial.eligibility.criteria_text:
            notes.append("TI: eligibility text could not be split into criteria; TI is empty")
        else:
            notes.append("TI: no eligibility criteria in the record; TI is empty")
    return rows


# ------------------------------------------------------------------------------------------- TA/TE


def _arm_code(label: str, used: set[str], index: int) -> str:
    """ARMCD (≤20): the label's head before ':' or '(' ("Arm A: …" → ARMA) or the compacted label."""
    heads = [re.split(r"\s*[:(\[]", label, maxsplit=1)[0]] if re.search(r"[:(\[]", label) else []
    abbreviated = "".join(_ascii_code(word)[:3] for word in label.split())  # "Botox injections towards SPG" → BOTINJTOWSPG
    for candidate in [*(_ascii_code(h) for h in heads), _ascii_code(label), abbreviated]:
        if candidate and len(candidate) <= 20 and candidate not in used:
            used.add(candidate)
            return candidate
    return _unique(abbreviated or _ascii_code(label), used, 20, f"ARM{index:02d}")


# Registry intervention types given in doses; surgery, devices, behavioural or "other" treatments start,
# they are not dosed, so their element starts at the "Start of study treatment".
_DOSED = frozenset({"DRUG", "BIOLOGICAL", "DIETARY_SUPPLEMENT", "COMBINATION_PRODUCT", "GENETIC", "RADIATION"})


def _treatment_start(arm_names: list[str], trial: Trial) -> str:
    """TESTRL of a treatment element: "First dose of …" only when every intervention is dosed.

    An arm lists its interventions as "Procedure: Radical resection": the type is the listed
    intervention's, else the prefix's.
    """
    kinds = {one_line(i.name).casefold(): i.type for i in trial.interventions}
    names: list[str] = []
    dosed = True
    for raw in arm_names:
        name = one_line(strip_type_prefix(raw))
        prefix = re.match(r"^([A-Za-z ]+):", raw)
        kind = kinds.get(name.casefold()) or (prefix.group(1).strip().upper().replace(" ", "_") if prefix else None)
        dosed = dosed and kind in _DOSED
        names.append(name)
    return ("First dose of study treatment" if dosed else "Start of study treatment") + ", where treatment is " + ", ".join(names)


def _ta_te_rows(trial: Trial, notes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not trial.arms:
        if trial.interventions and trial.study_type == "INTERVENTIONAL":
            notes.append("TA/TE: the record lists interventions but no arms or groups, shows no single-group design and its text "
                         f"names no arms trialconv can take ({why_no_arm(trial)}), so no arm could be derived; TA and TE are empty")
        else:
            notes.append("TA/TE: the record lists no arms or groups; TA and TE are empty")
        return [], []
    interventional = trial.study_type != "OBSERVATIONAL"
    randomized = trial.design.allocation == "RANDOMIZED"
    epoch = ct.from_registry("EPOCH", "treatment" if interventional else "observation").value  # type: ignore[union-attr]
    screening_epoch = ct.from_registry("EPOCH", "screening").value  # type: ignore[union-attr]
    if interventional:
        screen_end = "Randomization" if randomized else "Start of study treatment"
    else:
        screen_end = "Enrollment"
    te: list[dict[str, Any]] = [
        {"STUDYID": trial.id, "DOMAIN": "TE", "ETCD": "SCRN", "ELEMENT": "Screening", "TESTRL": "Informed consent", "TEENRL": screen_end, "TEDUR": ""}
    ]
    ta: list[dict[str, Any]] = []
    arm_codes: set[str] = set()
    element_codes: set[str] = {"SCRN"}
    for index, arm in enumerate(trial.arms, start=1):
        label = one_line(arm.label)
        armcd = _arm_code(label, arm_codes, index)
        etcd = _unique(armcd[:8], element_codes, 8, f"E{index:02d}")
        arm_text = shorten(label)
        names = [one_line(strip_type_prefix(n)) for n in arm.intervention_names if one_line(n)]
        if not interventional:
            start, end = "Enrollment into the group", "End of observation as defined by the protocol"
        elif arm.type == "NO_INTERVENTION" or not names:
            start = ("Randomization" if randomized else "Assignment") + f" to {label}"
            end = "End of the treatment period as defined by the protocol"
        else:
            start = _treatment_start([n for n in arm.intervention_names if one_line(n)], trial)
            end = "End of study treatment as defined by the protocol"
        te.append({"STUDYID": trial.id, "DOMAIN": "TE", "ETCD": etcd, "ELEMENT": arm_text, "TESTRL": shorten(start), "TEENRL": end, "TEDUR": ""})
        branch = ""
        if len(trial.arms) > 1 and interventional:
            branch = shorten(("Randomized to " if randomized else "Assigned to ") + label)
        ta.append({"STUDYID": trial.id, "DOMAIN": "TA", "ARMCD": armcd, "ARM": arm_text, "TAETORD": 1, "ETCD": "SCRN", "ELEMENT": "Screening", "TABRANCH": branch, "TATRANS": "", "EPOCH": screening_epoch})
        ta.append({"STUDYID": trial.id, "DOMAIN": "TA", "ARMCD": armcd, "ARM": arm_text, "TAETORD": 2, "ETCD": etcd, "ELEMENT": arm_text, "TABRANCH": "", "TATRANS": "", "EPOCH": epoch})
        if arm_text != label:
            notes.append(f"TA {armcd}: arm label over {MAX_BYTES} bytes, shortened")
        if arm.derived:
            notes.append(f"TA {armcd}: arm derived by trialconv, not listed by the registry (see its description in the trial model); check it against the protocol")
    notes.append("TE: element durations and end rules are not in registry records; TEDUR is empty and TEENRL is generic, take them from the protocol")
    return ta, te


# ------------------------------------------------------------------------------------------- datasets


def _make_dataset(name: str, rows: list[dict[str, Any]], extra_tsval: int = 0) -> Dataset:
    spec = ct.structures()["datasets"][name]
    columns: list[Column] = []
    for variable in spec["variables"]:
        columns.append(_column(variable["name"], variable["label"], variable["type"], rows))
        if variable["name"] == "TSVAL":
            for n in range(1, extra_tsval + 1):
                columns.append(_column(f"TSVAL{n}", f"Parameter Value {n}", "Char", rows))
    for row in rows:
        for column in columns:
            row.setdefault(column.name, "" if column.type == "string" else None)
    ordered = [{column.name: row[column.name] for column in columns} for row in rows]
    return Dataset(name=name, label=spec["label"], columns=columns, rows=ordered)


def _column(name: str, label: str, sas_type: str, rows: list[dict[str, Any]]) -> Column:
    if sas_type == "Num":
        return Column(name, label, "integer", None)
    longest = max((nbytes(str(row.get(name) or "")) for row in rows), default=0)
    return Column(name, label, "string", max(longest, 1))


def _split_long_tsval(rows: list[dict[str, Any]]) -> int:
    """Move TSVAL text over 200 bytes into TSVAL1..TSVALn (SDTMIG TS assumption 4); returns n."""
    widest = 0
    for row in rows:
        parts = split_text(row["TSVAL"])
        row["TSVAL"] = parts[0]
        for n, part in enumerate(parts[1:], start=1):
            row[f"TSVAL{n}"] = part
        widest = max(widest, len(parts) - 1)
    return widest


def build_datasets(trial: Trial) -> CdiscResult:
    """TS, TA, TE and TI for one trial, with the list of what the record could not give.

    The result is a mapping ``{"TS": Dataset, "TA": …, "TE": …, "TI": …}`` carrying ``notes`` and
    ``long_text``; it is not validated here (the ``cdisc`` target validates before serialising).
    """
    notes: list[str] = []
    long_text: dict[str, str] = {}
    ts_rows = build_ts_rows(trial, notes)
    extra = _split_long_tsval(ts_rows)
    for row in ts_rows:
        if row.get("TSVAL1"):
            more = sum(1 for key in row if key.startswith("TSVAL") and key[5:].isdigit() and row[key])
            notes.append(f"TS {row['TSPARMCD']} (TSSEQ {row['TSSEQ']}): value over {MAX_BYTES} bytes continues in " + ("TSVAL1" if more == 1 else f"TSVAL1..TSVAL{more}"))
    ta_rows, te_rows = _ta_te_rows(trial, notes)
    ti_rows = _ti_rows(trial, notes, long_text)
    datasets = {
        "TS": _make_dataset("TS", ts_rows, extra),
        "TA": _make_dataset("TA", ta_rows),
        "TE": _make_dataset("TE", te_rows),
        "TI": _make_dataset("TI", ti_rows),
    }
    return CdiscResult(study_id=trial.id, datasets=datasets, notes=list(dict.fromkeys(notes)), long_text=long_text)


def stack(results: Iterable[CdiscResult], *, duplicates: Literal["error", "first"] = "error") -> dict[str, Dataset]:
    """One dataset per domain over many trials (batch output), columns united (TSVAL1..n widest).

    The same study read twice (e.g. its JSON and its XML record) would break the TS/TI keys, so a
    repeated STUDYID raises ValidationError, or with ``duplicates="first"`` only its first result is kept.
    """
    kept: list[CdiscResult] = []
    seen: set[str] = set()
    repeated: list[str] = []
    for result in results:
        if result.study_id in seen:
            repeated.append(result.study_id)
            continue
        seen.add(result.study_id)
        kept.append(result)
    if repeated and duplicates == "error":
        raise ValidationError("studies repeated in the batch", problems=[f"{study}: more than one result" for study in dict.fromkeys(repeated)], record="batch")
    results = kept
    stacked: dict[str, Dataset] = {}
    for name in DATASET_ORDER:
        rows = [dict(row) for result in results if name in result for row in result[name].rows]
        extra = 0
        if name == "TS":
            extra = max((int(c.name[5:]) for result in results for c in result["TS"].columns if re.fullmatch(r"TSVAL\d+", c.name)), default=0)
        stacked[name] = _make_dataset(name, rows, extra)
    return stacked


