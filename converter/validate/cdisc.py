"""Conformance checks for the SDTM trial design datasets and their Dataset-JSON form.

These are the SDTMIG v3.4 TS/TA/TE/TI rules a reviewer's validator would flag, checked before any
file is written: structure (required variables, names, labels, lengths), the TS value rules
(TSVAL xor TSVALNF, code ⇒ code system, CT codes matching their terms, ISO 8601 formats, integers,
Y/N flags) and the TI/TA/TE key rules. Every problem names trial, dataset, row (1-based), variable
and the offending value, because a batch run must be fixable from the message alone.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from functools import lru_cache
from typing import Any, Mapping, Optional

from ..errors import ValidationError
from ..resources import load_schema
from ..terminology import sdtm as ct
from ..writers.cdisc.datasets import Dataset
from ..writers.cdisc.text import MAX_BYTES, XPT_NAME, nbytes

DURATION = re.compile(r"^P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$")
PARTIAL_DATE = re.compile(r"^(\d{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
INTEGER = re.compile(r"^(0|[1-9]\d*)$")
IETESTCD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,7}$")

DURATION_PARAMETERS = frozenset({"AGEMIN", "AGEMAX", "LENGTH", "PLNTRDUR", "PTRTDUR", "TRGFUDUR", "CRMDUR", "SDMDUR"})
DATE_PARAMETERS = frozenset({"SSTDTC", "SENDTC", "DCUTDTC"})
INTEGER_PARAMETERS = frozenset({"PLANSUB", "ACTSUB", "NARMS", "NCOHORT"})


def is_iso_duration(value: str) -> bool:
    return bool(DURATION.match(value))


def is_iso_date(value: str) -> bool:
    """ISO 8601 date, complete or partial (YYYY, YYYY-MM); a complete date must exist on the calendar."""
    match = PARTIAL_DATE.match(value)
    if not match:
        return False
    if match.group(5):
        try:
            date(int(match.group(1)), int(match.group(3)), int(match.group(5)))
        except ValueError:
            return False
    return True


class _Problems:
    def __init__(self, record: str) -> None:
        self.record = record
        self.items: list[str] = []

    def add(self, dataset: str, row: int | None, variable: str | None, message: str) -> None:
        where = [self.record, dataset]
        if row is not None:
            where.append(f"row {row}")
        if variable:
            where.append(variable)
        self.items.append(f"{' '.join(where)}: {message}")


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def _check_structure(ds: Dataset, name: str, problems: _Problems) -> None:
    spec = ct.structures()["datasets"][name]
    present = ds.column_names
    for variable in spec["variables"]:
        if variable["core"] == "Req" and variable["name"] not in present:
            problems.add(name, None, variable["name"], "required variable missing")
    limits = {v["name"]: v.get("max_length") for v in spec["variables"]}
    for column in ds.columns:
        if not XPT_NAME.match(column.name):
            problems.add(name, None, column.name, "variable name must be ≤8 upper-case letters/digits/underscores, starting with a letter")
        if len(column.label) > 40:
            problems.add(name, None, column.name, f"label {column.label!r} is over 40 characters")
    required = [v["name"] for v in spec["variables"] if v["core"] == "Req" and v["name"] in present]
    for index, row in enumerate(ds.rows, start=1):
        for variable in required:
            if row.get(variable) in (None, ""):
                problems.add(name, index, variable, "required value is empty")
        if _text(row, "DOMAIN") not in ("", name):
            problems.add(name, index, "DOMAIN", f"is {_text(row, 'DOMAIN')!r}, expected {name!r}")
        for column in ds.columns:
            value = row.get(column.name)
            if column.type == "string" and isinstance(value, str):
                size = nbytes(value)
                limit = limits.get(column.name) or MAX_BYTES
                if size > limit:
                    problems.add(name, index, column.name, f"value is {size} bytes, over the {limit} allowed: {value[:60]!r}…")
                if value != value.strip() or "\n" in value:
                    problems.add(name, index, column.name, "value has leading/trailing whitespace or a line break")
            elif column.type == "integer" and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                problems.add(name, index, column.name, f"expected an integer, got {value!r}")


def _check_ts(ds: Dataset, problems: _Problems) -> None:
    flavors = ct.null_flavors()
    seqs: Counter[tuple[str, str, Any]] = Counter()
    countries = ct.known_alpha3()
    for index, row in enumerate(ds.rows, start=1):
        parmcd, tsval, nf = _text(row, "TSPARMCD"), _text(row, "TSVAL"), _text(row, "TSVALNF")
        code, ref, ver = _text(row, "TSVALCD"), _text(row, "TSVCDREF"), _text(row, "TSVCDVER")
        seqs[(_text(row, "STUDYID"), parmcd, row.get("TSSEQ"))] += 1
        if len(parmcd) > 8:
            problems.add("TS", index, "TSPARMCD", f"{parmcd!r} is over 8 characters")
        if len(_text(row, "TSPARM")) > 40:
            problems.add("TS", index, "TSPARM", "over 40 characters")
        _check_parameter(parmcd, _text(row, "TSPARM"), index, problems)
        if not isinstance(row.get("TSSEQ"), int) or isinstance(row.get("TSSEQ"), bool) or row["TSSEQ"] < 1:
            problems.add("TS", index, "TSSEQ", f"must be a positive integer, got {row.get('TSSEQ')!r}")
        if bool(tsval) == bool(nf):
            problems.add("TS", index, "TSVAL", f"{parmcd}: exactly one of TSVAL and TSVALNF must be populated (TSVAL={tsval!r}, TSVALNF={nf!r})")
        if nf and nf not in flavors:
            problems.add("TS", index, "TSVALNF", f"{nf!r} is not an ISO 21090 null flavor")
        if code and not ref:
            problems.add("TS", index, "TSVCDREF", f"{parmcd}: TSVALCD {code!r} given without its reference terminology")
        if ver and not ref:
            problems.add("TS", index, "TSVCDREF", f"{parmcd}: TSVCDVER {ver!r} given without TSVCDREF")
        continuation = [c for c in ds.column_names if re.fullmatch(r"TSVAL\d+", c) and _text(row, c)]
        if continuation and nbytes(tsval) == 0:
            problems.add("TS", index, "TSVAL", f"{parmcd}: {continuation[0]} populated but TSVAL is empty")
        if not tsval:
            continue
        if parmcd in DURATION_PARAMETERS and not is_iso_duration(tsval):
            problems.add("TS", index, "TSVAL", f"{parmcd}: {tsval!r} is not an ISO 8601 duration (e.g. P18Y)")
        if parmcd in DATE_PARAMETERS and not is_iso_date(tsval):
            problems.add("TS", index, "TSVAL", f"{parmcd}: {tsval!r} is not an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)")
        if parmcd in INTEGER_PARAMETERS and not INTEGER.match(tsval):
            problems.add("TS", index, "TSVAL", f"{parmcd}: {tsval!r} is not a non-negative integer")
        if parmcd == "FCNTRY" and tsval not in countries:
            problems.add("TS", index, "TSVAL", f"FCNTRY: {tsval!r} is not an ISO 3166-1 alpha-3 code")
        _check_coded_value(parmcd, tsval, code, ref, ver, index, problems)
    for (study, parmcd, seq), count in seqs.items():
        if count > 1:
            problems.add("TS", None, "TSSEQ", f"{study} {parmcd}: TSSEQ {seq} used {count} times (must be unique per STUDYID and TSPARMCD)")


def _check_parameter(parmcd: str, name: str, index: int, problems: _Problems) -> None:
    """TSPARMCD and TSPARM against the pinned Trial Summary Parameter codelists (C66738 / C67152).

    CORE checks neither (a made-up 8-character code passes it). The codelists are extensible, but
    trialconv writes no sponsor-defined parameter, so a code outside the pinned table is a defect
    here; a known code must carry exactly its CT name.
    """
    params = ct.parameters()
    if not parmcd:
        return
    if parmcd not in params:
        problems.add("TS", index, "TSPARMCD", f"{parmcd!r} is not a Trial Summary Parameter Test Code ({ct.ct()['tsparmcd']['codelist']}) of the pinned CT {ct.ct_version()}")
        known_names = {info["name"]: code for code, info in params.items()}
        if name and name not in known_names:
            problems.add("TS", index, "TSPARM", f"{name!r} is not a Trial Summary Parameter Test Name ({ct.ct()['tsparmcd']['tsparm_codelist']}) of the pinned CT")
    elif name != params[parmcd]["name"]:
        problems.add("TS", index, "TSPARM", f"{name!r} does not match CDISC CT {params[parmcd]['name']!r} for {parmcd}")


def _check_coded_value(parmcd: str, tsval: str, code: str, ref: str, ver: str, index: int, problems: _Problems) -> None:
    """A coded TSVAL against its codelist in the pinned CT.

    Non-extensible codelists (STYPE, INTTYPE, SEXPOP, No Yes Response) admit only their terms. A value
    of an extensible codelist outside it is allowed only as a sponsor extension, which carries no
    CDISC C-code: claiming TSVCDREF "CDISC CT" for it is an error. A CT term must carry its own
    C-code and the pinned CT version.
    """
    codelist_key = ct.PARAMETER_CODELIST.get(parmcd)
    if not codelist_key:
        if ref == ct.CT_REF and code and code not in ct.all_codes():
            problems.add("TS", index, "TSVALCD", f"{parmcd}: {code!r} is not a C-code of the pinned CDISC CT")
        return
    info = ct.codelist(codelist_key)
    expected = info["terms"].get(tsval)
    where = f"{info['name']} ({info['codelist']})"
    if expected is None:
        if codelist_key == "NY":
            problems.add("TS", index, "TSVAL", f"{parmcd}: {tsval!r} is not a No Yes Response value (Y, N, U, NA)")
        elif not info["extensible"]:
            problems.add("TS", index, "TSVAL", f"{parmcd}: {tsval!r} is not in non-extensible codelist {where}")
        elif ref == ct.CT_REF:
            problems.add("TS", index, "TSVAL", f"{parmcd}: {tsval!r} is not a term of {where}, yet TSVCDREF says {ct.CT_REF}")
    elif ref and ref != ct.CT_REF:
        problems.add("TS", index, "TSVCDREF", f"{parmcd}: CT value {tsval!r} with reference terminology {ref!r}, expected {ct.CT_REF!r}")
    elif ref == ct.CT_REF and code != expected:
        problems.add("TS", index, "TSVALCD", f"{parmcd}: {code!r} is not the C-code of {tsval!r} ({expected})")
    elif ref == ct.CT_REF and ver != ct.ct_version():
        problems.add("TS", index, "TSVCDVER", f"{parmcd}: {ver!r} is not the pinned CT version {ct.ct_version()}")
    elif not code:
        problems.add("TS", index, "TSVALCD", f"{parmcd}: CT value {tsval!r} without its C-code {expected}")


def _check_ti(ds: Dataset, problems: _Problems) -> None:
    seen: Counter[tuple[str, str, str]] = Counter()
    for index, row in enumerate(ds.rows, start=1):
        testcd, category = _text(row, "IETESTCD"), _text(row, "IECAT")
        seen[(_text(row, "STUDYID"), testcd, _text(row, "TIVERS"))] += 1
        if not IETESTCD.match(testcd):
            problems.add("TI", index, "IETESTCD", f"{testcd!r} must be ≤8 letters/digits/underscores and not start with a digit")
        if category not in ("INCLUSION", "EXCLUSION"):
            problems.add("TI", index, "IECAT", f"{category!r} is not INCLUSION or EXCLUSION")
    for (study, testcd, version), count in seen.items():
        if count > 1:
            problems.add("TI", None, "IETESTCD", f"{study} {testcd!r} used {count} times" + (f" in version {version}" if version else ""))


def _check_ta_te(ta: Optional[Dataset], te: Optional[Dataset], problems: _Problems) -> None:
    elements: set[tuple[str, str]] = set()
    if te is not None:
        counts: Counter[tuple[str, str]] = Counter()
        for index, row in enumerate(te.rows, start=1):
            etcd = _text(row, "ETCD")
            counts[(_text(row, "STUDYID"), etcd)] += 1
            elements.add((_text(row, "STUDYID"), etcd))
            if len(etcd) > 8:
                problems.add("TE", index, "ETCD", f"{etcd!r} is over 8 characters")
            if not _text(row, "TEENRL") and not _text(row, "TEDUR"):
                problems.add("TE", index, "TEENRL", "either TEENRL or TEDUR must be populated")
            if _text(row, "TEDUR") and not is_iso_duration(_text(row, "TEDUR")):
                problems.add("TE", index, "TEDUR", f"{_text(row, 'TEDUR')!r} is not an ISO 8601 duration")
        for (study, etcd), count in counts.items():
            if count > 1:
                problems.add("TE", None, "ETCD", f"{study} {etcd!r} defined {count} times")
    if ta is not None:
        orders: Counter[tuple[str, str, Any]] = Counter()
        for index, row in enumerate(ta.rows, start=1):
            armcd, etcd = _text(row, "ARMCD"), _text(row, "ETCD")
            orders[(_text(row, "STUDYID"), armcd, row.get("TAETORD"))] += 1
            if len(armcd) > 20:
                problems.add("TA", index, "ARMCD", f"{armcd!r} is over 20 characters")
            if len(etcd) > 8:
                problems.add("TA", index, "ETCD", f"{etcd!r} is over 8 characters")
            if te is not None and etcd and (_text(row, "STUDYID"), etcd) not in elements:
                problems.add("TA", index, "ETCD", f"{etcd!r} is not defined in TE")
            order = row.get("TAETORD")
            if not isinstance(order, int) or isinstance(order, bool) or order < 1:
                problems.add("TA", index, "TAETORD", f"must be a positive integer, got {order!r}")
        for (study, armcd, order), count in orders.items():
            if count > 1:
                problems.add("TA", None, "TAETORD", f"{study} arm {armcd!r} has TAETORD {order} {count} times")


def check_datasets(datasets: Mapping[str, Dataset], record: str) -> list[str]:
    """All SDTM trial design conformance problems of ``datasets`` (empty list when they pass)."""
    problems = _Problems(record)
    structures = ct.structures()["datasets"]
    for name, ds in datasets.items():
        if name not in structures:
            problems.add(name, None, None, "not a trial design dataset this checker knows (TS, TA, TE, TI)")
            continue
        if ds.name != name:
            problems.add(name, None, None, f"dataset is named {ds.name!r}")
        _check_structure(ds, name, problems)
    if "TS" in datasets:
        _check_ts(datasets["TS"], problems)
    if "TI" in datasets:
        _check_ti(datasets["TI"], problems)
    _check_ta_te(datasets.get("TA"), datasets.get("TE"), problems)
    return problems.items


@lru_cache(maxsize=1)
def _compiled_dataset_schema() -> Any:
    """The Dataset-JSON schema compiled once by jsonschema_rs: its verdict, in a fraction of the time."""
    import jsonschema_rs

    return jsonschema_rs.Draft201909Validator(load_schema("cdisc/dataset.schema.json"), validate_formats=False)


def check_dataset_json(document: Mapping[str, Any], record: str) -> list[str]:
    """Schema problems of one Dataset-JSON v1.1 document, plus row/column consistency the schema can't see.

    The compiled schema decides; only a document it refuses goes through pure-Python jsonschema,
    whose messages name the failing path (the same messages as before the compiled check existed).
    """
    name = str(document.get("name", "?"))
    problems: list[str] = []
    if not _compiled_dataset_schema().is_valid(document):
        from jsonschema import Draft201909Validator

        schema = load_schema("cdisc/dataset.schema.json")
        problems = [
            f"{record} {name} Dataset-JSON {'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in sorted(Draft201909Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
        ] or [f"{record} {name} Dataset-JSON: {error.message}" for error in _compiled_dataset_schema().iter_errors(document)]
    columns = document.get("columns") or []
    rows = document.get("rows") or []
    if document.get("records") != len(rows):
        problems.append(f"{record} {name} Dataset-JSON records: {document.get('records')!r} but {len(rows)} rows")
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != len(columns):
            problems.append(f"{record} {name} Dataset-JSON row {index}: {len(row) if isinstance(row, list) else 'not a list'} values for {len(columns)} columns")
            continue
        for column, value in zip(columns, row):
            kind = column.get("dataType")
            if value is None:
                continue
            if kind == "string" and not isinstance(value, str):
                problems.append(f"{record} {name} Dataset-JSON row {index} {column.get('name')}: string column holds {value!r}")
            if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
                problems.append(f"{record} {name} Dataset-JSON row {index} {column.get('name')}: integer column holds {value!r}")
    return problems


def check(datasets: Mapping[str, Dataset], record: str) -> None:
    """Raise ValidationError listing every SDTM conformance problem (nothing is written then)."""
    problems = check_datasets(datasets, record)
    if problems:
        raise ValidationError(f"{len(problems)} SDTM trial design conformance problem(s)", problems=problems, record=record)


def check_document(document: Mapping[str, Any]) -> None:
    """Raise ValidationError when a Dataset-JSON document fails the CDISC schema (named by its study OID)."""
    oid, name = document["studyOID"], document["name"]
    problems = check_dataset_json(document, oid)
    if problems:
        raise ValidationError(f"{name} Dataset-JSON fails the CDISC schema", problems=problems, record=oid, field=name)
