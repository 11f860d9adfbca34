"""Robustness of input handling: hostile or broken registry text must never stop a batch.

Project rule: bad input gets a clear error naming the record and the field, the batch goes on, and
nothing already written is lost. Registry text is untrusted, so these tests take the real records in
``tests/data`` and ``samples`` and break them in the ways registry dumps, editors, truncated
downloads and attackers break files — wrong JSON types, deleted keys and elements, placeholder
words, 1 MB strings, control characters, lone surrogates, invalid UTF-8, truncation, deep nesting,
duplicated keys, impossible dates, ages and counts, NCT ids with path characters, markup in titles,
DTDs / entities / processing instructions, byte-order marks and CRLF line ends — then check that:

* reading raises nothing but :class:`ConversionError`, and raises at all only when the whole file
  cannot be read; a bad record is *yielded* as an error naming the record (and the field when one
  field is to blame) and the reader goes on;
* a batch over a folder mixing good and broken files gives one Result per record, converts the good
  records, and reports every failure with a useful message — never an "internal error", which would
  mean a reader or writer crashed on input it should have reported;
* a multi-study page or NDJSON file with one bad study still yields the others, in order;
* a failing re-run never damages output an earlier run wrote.

Everything is seeded and offline. The number of mutations per source file is ``FUZZ_SCALE`` times
a small base, so a developer can run ``TRIALCONV_FUZZ_SCALE=50 pytest tests/test_robustness.py``
to search much harder than CI does without changing what CI checks.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from converter.api import Result, convert, iter_convert
from converter.cli import app
from converter.errors import ConversionError
from converter.model import Trial
from converter.readers import SNIFF_BYTES, Input, as_utf8, detect, read_input, read_source

ROOT = Path(__file__).resolve().parent.parent
V2_FILES = sorted((ROOT / "tests" / "data" / "ctgov" / "v2").glob("*.json"))
XML_FILES = sorted((ROOT / "tests" / "data" / "ctgov" / "xml").glob("*.xml"))
PAGE_FILES = sorted((ROOT / "samples").glob("*.txt"))

SEED = 20240611
FUZZ_SCALE = max(1, int(os.environ.get("TRIALCONV_FUZZ_SCALE", "1")))
MEGABYTE = 1 << 20
runner = CliRunner()

# ---------------------------------------------------------------------------------------------
# Hostile values: what registry text has been seen to contain, and what an attacker would try
# ---------------------------------------------------------------------------------------------

HOSTILE_TEXT: tuple[str, ...] = (
    "", " ", "N/A", "n/a", "None", "NONE", "null", "Not Applicable", "NA", "-", "?",
    "\x00\x01\x07\x1b[31m\x7f", "tab\there\vform\ffeed", "line\r\nbreak\rmac", "\u202eevil\u202c", "\ufeffbom",
    "\ud800", "x\udfffy", "\U0001F600 emoji", "²", "١٢٣",
    "\ufffe\uffff", "C1\x85\x9f", "ls\u2028ps\u2029", "\u200b\u00ad",
    "<script>alert(1)</script>", "<b>bold</b> &amp; &lt;", "]]><x>", "{{template}}", "[/red] [bold]rich",
    "' OR 1=1 --", "${jndi:ldap://x}", "../../x", "NCT0/1", "..", "/etc/passwd", "C:\\con\\aux",
    "2023-13-45", "0000", "0000-00-00", "April 31, 2020", "31/31/2020", "9999-99-99", "2020-02-30", "1e400",
    "-5 Years", "999999 Years", "1e308 Years", "NaN Years", "18 Lightyears", "Years", "0.000001 Days",
    "-1", "99999999999999999999999999", "3.5", "Yes", "maybe",
)
HOSTILE_NUMBERS: tuple[Any, ...] = (0, -1, -5, 3.5, 2**31, 2**63, 10**30, float("nan"), float("inf"), -float("inf"), 1e308, True, False)
HOSTILE_SHAPES: tuple[Any, ...] = (None, [], {}, ["x"], [None], [[]], [{}], {"a": 1}, {"": None}, [1, "two", None])


def hostile_value(rng: random.Random) -> Any:
    """One wrong value: a wrong type, a placeholder, junk text, or (rarely) a 1 MB string."""
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(("x", "\u00e9", "NCT", "<a>")) * (MEGABYTE // 3)
    if roll < 0.45:
        return rng.choice(HOSTILE_TEXT)
    if roll < 0.70:
        return rng.choice(HOSTILE_NUMBERS)
    return rng.choice(HOSTILE_SHAPES)


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One mutated input.

    ``field`` is the path (spelt as the reader names fields) the mutation touched, when it touched
    one field of a single-record file: an error for that record must name that field, a field
    inside it, or one of ``also_fields`` (a deleted required key is reported on its parent).
    ``structural`` is False for byte-level damage (truncation, bad bytes), where refusing the whole
    file is a fair answer; a structural mutation of a well-formed file must never cost the file.
    """

    name: str
    data: bytes
    structural: bool
    field: Optional[str] = None
    also_fields: tuple[str, ...] = ()


JsonPath = tuple[Union[str, int], ...]


def json_paths(value: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    """Every path into a JSON document (objects and arrays), parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield prefix + (key,)
            yield from json_paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield prefix + (index,)
            yield from json_paths(child, prefix + (index,))


def v2_display(path: JsonPath) -> str:
    """The v2 reader's way of naming a field: ``a.b[2].c``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def dotted_display(path: JsonPath) -> str:
    """The trial-JSON reader's way (JSON schema / pydantic locations): ``a.b.2.c``."""
    return ".".join(str(part) for part in path) or "(root)"


def _parent(document: Any, path: JsonPath) -> Any:
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


def _dumps(document: Any) -> bytes:
    """Valid JSON text: lone surrogates travel as \\ud800 escapes, as they do in real dumps."""
    return json.dumps(document, ensure_ascii=True, allow_nan=True).encode("ascii")


# Fields the readers validate beyond their JSON type; mutated far more often than random paths.
V2_HOT_FIELDS: tuple[JsonPath, ...] = (
    ("protocolSection", "identificationModule", "nctId"),
    ("protocolSection", "identificationModule", "briefTitle"),
    ("protocolSection", "identificationModule", "officialTitle"),
    ("protocolSection", "statusModule", "startDateStruct", "date"),
    ("protocolSection", "statusModule", "startDateStruct", "type"),
    ("protocolSection", "statusModule", "studyFirstSubmitDate"),
    ("protocolSection", "statusModule", "overallStatus"),
    ("protocolSection", "designModule", "enrollmentInfo", "count"),
    ("protocolSection", "designModule", "phases"),
    ("protocolSection", "designModule", "designInfo", "maskingInfo", "masking"),
    ("protocolSection", "eligibilityModule", "minimumAge"),
    ("protocolSection", "eligibilityModule", "maximumAge"),
    ("protocolSection", "eligibilityModule", "eligibilityCriteria"),
    ("protocolSection", "eligibilityModule", "sex"),
    ("protocolSection", "sponsorCollaboratorsModule", "leadSponsor", "class"),
    ("protocolSection", "identificationModule", "orgStudyIdInfo", "type"),
    ("protocolSection", "contactsLocationsModule", "overallOfficials", 0, "role"),
    ("protocolSection", "contactsLocationsModule", "locations", 0, "status"),
    ("protocolSection", "contactsLocationsModule", "locations", 0, "geoPoint", "lat"),
    ("protocolSection", "conditionsModule", "conditions", 0),
)
TRIAL_HOT_FIELDS: tuple[JsonPath, ...] = (
    ("id",), ("brief_title",), ("dates", "start", "date"), ("enrollment", "count"), ("eligibility", "minimum_age", "value"),
    ("eligibility", "sex"), ("sponsor", "agency_class"), ("phases", 0), ("locations", 0, "latitude"), ("provenance",),
)


def json_structural(name: str, raw: bytes, rng: random.Random, count: int, hot: tuple[JsonPath, ...],
                    display: Callable[[JsonPath], str], suffix: str, deletes_name_parent: bool) -> Iterator[Case]:
    """Mutations of a parsed JSON record: delete one field, or give it a wrong or hostile value."""
    paths = list(json_paths(json.loads(raw)))
    for number in range(count):
        document = json.loads(raw)
        target = rng.choice(paths)
        if rng.random() < 0.35:
            wanted = rng.choice(hot)
            try:
                _parent(document, wanted)[wanted[-1]]
                target = wanted
            except (KeyError, IndexError, TypeError):
                pass
        parent = _parent(document, target)
        if rng.random() < 0.2:
            del parent[target[-1]]
            kind = "del"
            also = (display(target[:-1]),) if deletes_name_parent else ()
        else:
            parent[target[-1]] = hostile_value(rng)
            kind, also = "set", ()
        yield Case(f"{name}~{kind}{number}{suffix}", _dumps(document), True, display(target), also)


def v2_structural(path: Path, rng: random.Random, count: int) -> Iterator[Case]:
    yield from json_structural(path.stem, path.read_bytes(), rng, count, V2_HOT_FIELDS, v2_display, ".json", False)


def trial_json_structural(path: Path, rng: random.Random, count: int) -> Iterator[Case]:
    """The model's own JSON, made from a real record, then mutated like the v2 records."""
    trial = next(read_source(path))
    raw = json.dumps(trial.to_json()).encode()
    yield Case(f"{path.stem}-trial~orig.trial.json", raw, True)
    yield from json_structural(f"{path.stem}-trial", raw, rng, count, TRIAL_HOT_FIELDS, dotted_display, ".trial.json", True)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def v2_textual(path: Path, rng: random.Random) -> Iterator[Case]:
    """Damage a JSON file as text: what editors, downloads and hand-made files do."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    stem = path.stem
    for number in range(3):
        yield Case(f"{stem}~trunc{number}.json", raw[: rng.randrange(1, len(raw) - 1)], False)
    for number, junk in enumerate((b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", b"\x80")):
        at = rng.randrange(1, len(raw) - 1)
        yield Case(f"{stem}~bytes{number}.json", raw[:at] + junk + raw[at:], False)
    yield Case(f"{stem}~bom8.json", codecs.BOM_UTF8 + raw, True)
    yield Case(f"{stem}~utf16le.json", codecs.BOM_UTF16_LE + text.encode("utf-16-le"), True)
    yield Case(f"{stem}~utf16be.json", codecs.BOM_UTF16_BE + text.encode("utf-16-be"), True)
    yield Case(f"{stem}~crlf.json", json.dumps(json.loads(text), indent=2).replace("\n", "\r\n").encode(), True)
    yield Case(f"{stem}~sortkeys.json", json.dumps(json.loads(text), sort_keys=True).encode(), True)
    # Nesting deeper than the parser's stack, inside a study and as the whole document.
    opened = text.rstrip().removesuffix("}")
    yield Case(f"{stem}~deep.json", (opened + f', "deep": {_deep(5000)}}}').encode(), False)
    yield Case(f"{stem}~deeper.json", ('{"protocolSection": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001).encode(), False)
    # Nesting the parser takes but recursive code would not (the reader is called deep in pytest).
    yield Case(f"{stem}~deep400.json", (opened + f', "deep": {_deep(400)}}}').encode(), True)
    # Duplicated keys: the last wins in JSON parsers; the reader must use it and nothing else.
    duplicated = re.sub(r'"nctId"\s*:\s*"(NCT\d+)"', r'"nctId": "../../\1", "nctId": "\1"', text, count=1)
    yield Case(f"{stem}~dupkey.json", duplicated.encode(), True)
    duplicated = re.sub(r'"nctId"\s*:\s*"(NCT\d+)"', r'"nctId": "\1", "nctId": "NCT0/1"', text, count=1)
    yield Case(f"{stem}~dupkey2.json", duplicated.encode(), True, "protocolSection.identificationModule.nctId")
    yield Case(f"{stem}~bigint.json", (opened + ', "huge": ' + "9" * 5000 + "}").encode(), False)
    yield Case(f"{stem}~nan.json", (opened + ', "weird": [NaN, Infinity, -Infinity]}').encode(), True)
    junk_keys = ', "\\ud800\\u0000<k>": "\\udfff", "' + "k" * 100_000 + '": 1, "": {"": [""]}}'
    yield Case(f"{stem}~keyjunk.json", (opened + junk_keys).encode(), True)
    yield Case(f"{stem}~empty.json", b"", False)
    yield Case(f"{stem}~ws.json", b" \r\n\t", False)
    for number, scalar in enumerate((b"null", b"42", b'"text"', b"[]", b"{}", b"[null, 1, \"x\"]", b"true")):
        yield Case(f"{stem}~scalar{number}.json", scalar, True)


XmlPath = tuple[int, ...]


def xml_elements(root: ET.Element) -> list[tuple[ET.Element, Optional[ET.Element], str]]:
    """Every element below the root with its parent and its reader-style path ("a/b")."""
    out: list[tuple[ET.Element, Optional[ET.Element], str]] = []

    def walk(node: ET.Element, path: str) -> None:
        for child in node:
            child_path = f"{path}/{child.tag}" if path else child.tag
            out.append((child, node, child_path))
            walk(child, child_path)

    walk(root, "")
    return out


XML_HOT_TAGS = ("nct_id", "brief_title", "start_date", "completion_date", "enrollment", "minimum_age", "maximum_age",
                "phase", "overall_status", "gender", "masking", "criteria", "study_first_submitted", "number_of_arms", "url")


def _xml_text(value: Any) -> str:
    """A hostile value as element text; characters XML 1.0 cannot carry are kept for byte damage."""
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "", text)


def xml_structural(path: Path, rng: random.Random, count: int) -> Iterator[Case]:
    """Delete, duplicate or refill elements and attributes of a well-formed record."""
    for number in range(count):
        root = ET.fromstring(path.read_bytes())
        elements = xml_elements(root)
        hot = [item for item in elements if item[0].tag in XML_HOT_TAGS]
        element, parent, where = rng.choice(hot if hot and rng.random() < 0.4 else elements)
        roll = rng.random()
        field = where
        if roll < 0.25 and parent is not None:
            parent.remove(element)
            kind = "del"
        elif roll < 0.35 and parent is not None:
            twin = ET.Element(element.tag)
            twin.text = _xml_text(hostile_value(rng))
            parent.insert(list(parent).index(element) + 1, twin)
            kind = "dup"
        elif roll < 0.45:
            element.set(rng.choice(("type", "lang", "x")), _xml_text(hostile_value(rng)))
            kind = "attr"
        elif roll < 0.55:
            element.text = None
            ET.SubElement(element, "textblock").text = _xml_text(hostile_value(rng))
            ET.SubElement(element, "unexpected").text = "x"
            kind = "nest"
        else:
            for child in list(element):
                element.remove(child)
            element.text = _xml_text(hostile_value(rng))
            kind = "set"
        yield Case(f"{path.stem}~{kind}{number}.xml", ET.tostring(root, encoding="utf-8"), True, field)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<clinical_study><id_info><nct_id>NCT00000001</nct_id></id_info><brief_title>&lol9;</brief_title></clinical_study>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE clinical_study [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<clinical_study><id_info><nct_id>NCT00000002</nct_id></id_info><brief_title>&xxe;</brief_title></clinical_study>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE clinical_study SYSTEM "http://example.invalid/evil.dtd">
<clinical_study><id_info><nct_id>NCT00000003</nct_id></id_info></clinical_study>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE clinical_study [<!ENTITY % remote SYSTEM "http://example.invalid/x.dtd"> %remote;]>
<clinical_study><id_info><nct_id>NCT00000004</nct_id></id_info></clinical_study>"""


def xml_textual(path: Path, rng: random.Random) -> Iterator[Case]:
    """Byte-level damage, encodings and the classic XML attacks."""
    raw = path.read_bytes()
    stem = path.stem
    for number in range(3):
        yield Case(f"{stem}~trunc{number}.xml", raw[: rng.randrange(1, len(raw) - 1)], False)
    for number, junk in enumerate((b"\xff\xfe", b"\xc3\x28", b"\x00", b"&#1;", b"&undefined;", b"<<")):
        at = raw.index(b"<brief_title>") + len(b"<brief_title>") if b"<brief_title>" in raw else rng.randrange(1, len(raw) - 1)
        yield Case(f"{stem}~bytes{number}.xml", raw[:at] + junk + raw[at:], False)
    text = raw.decode("utf-8")
    yield Case(f"{stem}~bom8.xml", codecs.BOM_UTF8 + raw, True)
    utf16 = re.sub(r"encoding=[\"'][^\"']*[\"']", 'encoding="UTF-16"', text, count=1)
    yield Case(f"{stem}~utf16.xml", codecs.BOM_UTF16_LE + utf16.encode("utf-16-le"), True)
    yield Case(f"{stem}~crlf.xml", text.replace("\r\n", "\n").replace("\n", "\r\n").encode(), True)
    pi = text.replace("<clinical_study", "<?evil cmd='rm -rf /'?><!-- c --><clinical_study", 1)
    pi = pi.replace("<brief_title>", "<brief_title><?pi inside?><![CDATA[<script>x</script>]]>", 1)
    yield Case(f"{stem}~pi.xml", pi.encode(), True)
    with_doctype = re.sub(r"(<\?xml[^>]*\?>)?", r"\1<!DOCTYPE clinical_study>", text, count=1)
    yield Case(f"{stem}~doctype.xml", with_doctype.encode(), False)
    deep = text.replace("</clinical_study>", "<x>" * 50_000 + "</x>" * 50_000 + "</clinical_study>", 1)
    yield Case(f"{stem}~deep.xml", deep.encode(), True)
    ns = text.replace("<clinical_study", '<clinical_study xmlns="urn:x" xmlns:a="urn:a" a:b="c"', 1)
    yield Case(f"{stem}~ns.xml", ns.encode(), False)
    huge = text.replace("<brief_title>", "<brief_title>" + "A" * MEGABYTE, 1)
    yield Case(f"{stem}~huge.xml", huge.encode(), True)
    nct = re.search(r"<nct_id>(.*?)</nct_id>", text)
    for number, bad_id in enumerate(("../../x", "NCT0/1", "NCT\u00a0123", "", "&lt;script&gt;")):
        if nct:
            yield Case(f"{stem}~id{number}.xml", text.replace(nct.group(0), f"<nct_id>{bad_id}</nct_id>", 1).encode(), True, "id_info/nct_id")


ATTACKS = (("laughs", BILLION_LAUGHS), ("xxe", EXTERNAL_ENTITY), ("dtd", EXTERNAL_DTD), ("param", PARAMETER_ENTITY))


PAGE_INSERTS: tuple[str, ...] = (
    "NCT0/1", "../../x", "Registration Number\n../../NCT12345678", "<script>alert('x')</script>",
    "Start Date : | 2023-13-45 |", "Study Start: April 31, 2020", "Enrollment : | -5 participants |",
    "Target Recruitment\n99999999999999999999999999", "Ages Eligible for Study: | -5 Years to 999999 Years |",
    "18 years and older\n-5 years", "Phase 9", "Inclusion Criteria:\n" + "  * nested\n" * 2000,
    "Inclusion Criteria:", "Exclusion Criteria:", "\x00\x01\x1b[2J", "\ufeff", "|" * 5000, "( " * 3000,
    "Age 18" + " " * 50_000 + "x", "Overview\nEligibility\nStudy details",
)


def page_mutations(path: Path, rng: random.Random, count: int) -> Iterator[Case]:
    """Pages are lines of text: drop, duplicate, insert hostile lines, or damage the bytes."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    stem = path.stem
    for number in range(count):
        lines = text.split("\n")
        roll = rng.random()
        if roll < 0.25:
            start = rng.randrange(len(lines))
            del lines[start : start + rng.randint(1, 8)]
        elif roll < 0.35:
            at = rng.randrange(len(lines))
            lines[at:at] = lines[at : at + rng.randint(1, 5)]
        elif roll < 0.80:
            insert = rng.choice(PAGE_INSERTS) if rng.random() < 0.7 else _xml_text(hostile_value(rng))
            lines.insert(rng.randrange(len(lines) + 1), insert)
        else:
            at = rng.randrange(len(lines))
            lines[at] = lines[at] + " " + rng.choice(HOSTILE_TEXT)
        yield Case(f"{stem}~m{number}.txt", "\n".join(lines).encode("utf-8", "surrogatepass"), True)
    yield Case(f"{stem}~trunc.txt", raw[: rng.randrange(1, len(raw))], False)
    yield Case(f"{stem}~cp1252.txt", text.encode("cp1252", "replace") + b"\x93quoted\x94", True)
    yield Case(f"{stem}~badbytes.txt", raw[:200] + b"\xff\xfe\xc3\x28\xed\xa0\x80" + raw[200:], True)
    yield Case(f"{stem}~bom8.txt", codecs.BOM_UTF8 + raw, True)
    yield Case(f"{stem}~utf16.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"), True)
    yield Case(f"{stem}~crlf.txt", text.replace("\n", "\r\n").encode(), True)
    yield Case(f"{stem}~cr.txt", text.replace("\n", "\r").encode(), True)
    yield Case(f"{stem}~longline.txt", (text[:300] + "x" * MEGABYTE + "\n" + text[300:]).encode(), True)
    yield Case(f"{stem}~nul.txt", raw.replace(b"\n", b"\n\x00", 3), False)


def all_cases(scale: int = FUZZ_SCALE) -> list[Case]:
    """Every mutation, deterministic for a given scale."""
    rng = random.Random(SEED)
    cases: list[Case] = []
    for path in V2_FILES:
        big = path.stat().st_size > MEGABYTE // 2  # the 1 MB record is slow to mutate; fewer cases
        cases += v2_structural(path, rng, (4 if big else 40) * scale)
        cases += v2_textual(path, rng)
    for path in [*V2_FILES[:2], *XML_FILES[:2]]:
        cases += trial_json_structural(path, rng, 15 * scale)
    for path in XML_FILES:
        cases += xml_structural(path, rng, 20 * scale)
        cases += xml_textual(path, rng)
    cases += [Case(f"attack-{name}.xml", data, False) for name, data in ATTACKS]
    for path in PAGE_FILES:
        cases += page_mutations(path, rng, 25 * scale)
    return cases


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What reading one case gave: trials, yielded (per-record) errors, or the whole-file error."""

    trials: list[Trial]
    record_errors: list[ConversionError]
    file_error: Optional[ConversionError]


def read_case(case: Case) -> Outcome:
    """Read as a batch does, but tell record errors (yielded) from whole-file errors (raised)."""
    data = as_utf8(case.data)
    reader = detect(data[:SNIFF_BYTES])
    if reader is None:
        errors: list[ConversionError] = []
        assert list(read_input(Input(case.name, case.data), on_error=errors.append)) == []
        assert len(errors) == 1 and errors[0].stage == "detect"
        return Outcome([], [], errors[0])
    trials: list[Trial] = []
    record_errors: list[ConversionError] = []
    try:
        for item in reader.read(data, case.name):
            if isinstance(item, ConversionError):
                record_errors.append(item)
            else:
                assert isinstance(item, Trial), f"{case.name}: reader yielded {type(item).__name__}"
                trials.append(item)
    except ConversionError as error:
        return Outcome(trials, record_errors, error)
    return Outcome(trials, record_errors, None)


def _inside(field: Optional[str], touched: str) -> bool:
    """The error's field is the touched field or lies inside it."""
    return field is not None and (field == touched or field.startswith((touched + ".", touched + "[", touched + "/")))


def check_case(case: Case) -> Outcome:
    """Read one case and check every promise the readers make about errors."""
    try:
        outcome = read_case(case)
    except Exception as error:  # noqa: BLE001 - anything escaping a reader is a crash
        pytest.fail(f"{case.name}: reading raised {type(error).__name__}: {str(error)[:300]}")
    if outcome.file_error is not None:
        error = outcome.file_error
        assert not case.structural or error.stage == "detect", f"{case.name}: a well-formed file was refused whole: {error}"
        assert error.record == case.name, f"{case.name}: whole-file error names {error.record!r}: {error}"
    for error in [*outcome.record_errors, *filter(None, [outcome.file_error])]:
        assert error.message and len(str(error)) < 2000, f"{case.name}: message missing or unbounded ({len(str(error))} chars)"
        assert "internal error" not in error.message, f"{case.name}: {error}"
    for error in outcome.record_errors:
        assert error.record, f"{case.name}: record error without a record: {error}"
        assert error.field, f"{case.name}: record error without a field: {error}"
        assert error.record in str(error) and error.field in str(error)
        if case.field is not None:
            assert _inside(error.field, case.field) or error.field in case.also_fields, (
                f"{case.name}: mutated {case.field!r} but the error names {error.field!r}: {error}")
    for trial in outcome.trials:
        # Whatever was read must be writable: a file-name-safe id, and text every output format can
        # carry (no controls, lone surrogates or noncharacters: XML, XHTML and UTF-8 refuse them).
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", trial.id)
        assert not unwritable_text(trial), f"{case.name}: {unwritable_text(trial)!r} in the trial"
    return outcome


NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def unwritable_text(trial: Trial) -> list[str]:
    """Every string of the trial holding a character no output format can carry."""
    found: list[str] = []
    pending: list[Any] = [trial.model_dump()]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and NOT_TEXT.search(value):
            found.append(value[:100])
    return found


CASES = all_cases()
FAMILIES = {"v2": ".json", "trial-json": ".trial.json", "xml": ".xml", "page": ".txt"}


def _family(case: Case) -> str:
    return "trial-json" if case.name.endswith(".trial.json") else next(f for f, suffix in FAMILIES.items() if case.name.endswith(suffix))


def test_mutation_corpus_is_large_and_covers_every_source() -> None:
    assert len(CASES) >= 800
    stems = {case.name.split("~")[0].removesuffix("-trial") for case in CASES}
    assert {p.stem for p in V2_FILES + XML_FILES + PAGE_FILES} <= stems
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_reading_mutated_records_never_crashes(family: str) -> None:
    outcomes = [check_case(case) for case in CASES if _family(case) == family]
    # The mutations must bite: some records fail, some survive.
    assert any(o.trials for o in outcomes) and any(o.record_errors or o.file_error for o in outcomes)


# ---------------------------------------------------------------------------------------------
# Specific hostile values: what happens to each, not just "no crash"
# ---------------------------------------------------------------------------------------------


def _v2_with(path: JsonPath, value: Any, source: Path = V2_FILES[0]) -> tuple[list[Trial], list[ConversionError]]:
    document = json.loads(source.read_bytes())
    _parent(document, path)[path[-1]] = value
    errors: list[ConversionError] = []
    return list(read_source(_dumps(document), on_error=errors.append)), errors


NCT = ("protocolSection", "identificationModule", "nctId")


def test_control_characters_in_pages_never_reach_the_output() -> None:
    for path in PAGE_FILES:
        data = path.read_bytes().replace(b",", b",\x00\x1b\xc2\x9f", 40)
        trials = list(read_source(data))
        assert len(trials) == 1 and not unwritable_text(trials[0])
        convert(trials[0], "fhir-r5")


@pytest.mark.parametrize("bad_id", ["../../x", "NCT0/1", "NCT00000001/../../etc", "<script>", "a" * 100_000, "..", "NCT 0001"])
def test_unsafe_nct_ids_are_refused_naming_the_field(bad_id: str) -> None:
    trials, errors = _v2_with(NCT, bad_id)
    assert trials == [] and len(errors) == 1
    assert errors[0].field == "protocolSection.identificationModule.nctId" and "trial id" in errors[0].message
    assert len(str(errors[0])) < 600


@pytest.mark.parametrize("value, kept", [
    ("2023-13-45", None), ("0000", None), ("April 31, 2020", None), ("2021-02-29", None), ("9999-99-99", None),
    ("2020-02-29", "2020-02-29"), ("April 30, 2020", "2020-04-30"), ("N/A", None), ("", None),
])
def test_impossible_dates_are_listed_not_guessed(value: str, kept: Optional[str]) -> None:
    trials, errors = _v2_with(("protocolSection", "statusModule", "startDateStruct", "date"), value)
    assert not errors and len(trials) == 1
    start = trials[0].dates.start
    assert (start.date if start else None) == kept
    if kept is None and value.strip() and value != "N/A":
        assert any("startDateStruct" in item and value in item for item in trials[0].provenance.unmapped)


@pytest.mark.parametrize("value, count, error", [
    (-5, None, False), ("-5", None, True), (10**30, None, False), ("9" * 40, None, True), ("²", None, True),
    ("١٢٣", 123, False), (3.0, 3, False), (3.5, None, True), ("N/A", None, True), (None, None, False),
])
def test_enrollment_counts(value: Any, count: Optional[int], error: bool) -> None:
    trials, errors = _v2_with(("protocolSection", "designModule", "enrollmentInfo", "count"), value)
    if error:
        assert not trials and errors[0].field == "protocolSection.designModule.enrollmentInfo.count"
        assert len(errors[0].message) < 300
    else:
        assert not errors and (trials[0].enrollment.count if trials[0].enrollment else None) == count
        if value == 10**30:  # beyond what FHIR unsignedInt can carry: kept out of the model, and said so
            assert any("enrollmentInfo" in item for item in trials[0].provenance.unmapped)


@pytest.mark.parametrize("value, years", [("-5 Years", None), ("999999 Years", 999999), ("18 Lightyears", None), ("None", None), ("18 Years", 18)])
def test_ages(value: str, years: Optional[float]) -> None:
    trials, errors = _v2_with(("protocolSection", "eligibilityModule", "minimumAge"), value)
    assert not errors
    age = trials[0].eligibility.minimum_age
    assert (age.value if age else None) == years


@pytest.mark.parametrize("field, value", [
    (("protocolSection", "sponsorCollaboratorsModule", "leadSponsor", "class"), "None"),
    (("protocolSection", "identificationModule", "orgStudyIdInfo", "type"), "null"),
    (("protocolSection", "contactsLocationsModule", "overallOfficials", 0, "role"), "NONE"),
])
def test_placeholder_words_in_open_codes_are_missing_values(field: JsonPath, value: str) -> None:
    trials, errors = _v2_with(field, value)
    assert not errors and len(trials) == 1


def test_markup_and_non_text_characters_become_plain_writable_text() -> None:
    title = "<script>alert('x')</script>\x00\x1b[31m \ud800\ufffe\x9f [/red]\u2028next\x85line"
    trials, errors = _v2_with(("protocolSection", "identificationModule", "briefTitle"), title)
    assert not errors
    assert trials[0].brief_title == "<script>alert('x')</script>[31m [/red] next line"
    for target in ("fhir-r5", "fhir-r4b", "cdisc"):
        convert(trials[0], target)  # validated output, or a ConversionError; never a crash
    narrative = convert(trials[0], "fhir-r5")["entry"][0]["resource"]["text"]["div"]
    assert "<script>" not in narrative and "&lt;script&gt;" in narrative


@pytest.mark.parametrize("field, value", [
    (("protocolSection", "referencesModule", "seeAlsoLinks"), [{"url": "http://example.com/a page", "label": "x"}]),
    (("protocolSection", "referencesModule", "references"), [{"pmid": "PMID 12345", "citation": "x"}]),
    (("protocolSection", "ipdSharingStatementModule"), {"ipdSharing": "YES", "url": "see the protocol"}),
])
def test_unusable_links_are_listed_and_the_trial_still_converts(field: JsonPath, value: Any) -> None:
    trials, errors = _v2_with(field, value, V2_FILES[3])
    assert not errors
    assert any("not a URL" in item or "not a PubMed id" in item for item in trials[0].provenance.unmapped)
    convert(trials[0], "fhir-r5")


@pytest.mark.parametrize("lat", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_coordinates_are_listed_not_carried(lat: float) -> None:
    trials, errors = _v2_with(("protocolSection", "contactsLocationsModule", "locations", 0, "geoPoint", "lat"), lat)
    assert not errors and trials[0].locations[0].latitude is None
    assert any("geoPoint.lat" in item for item in trials[0].provenance.unmapped)


@pytest.mark.parametrize("name, attack", ATTACKS)
def test_xml_attacks_are_refused_before_anything_is_fetched_or_expanded(name: str, attack: bytes) -> None:
    errors: list[ConversionError] = []
    assert list(read_source(attack, on_error=errors.append)) == []
    assert len(errors) == 1 and "refused unsafe XML" in errors[0].message


def test_utf16_files_are_read_like_utf8() -> None:
    for path in (V2_FILES[0], XML_FILES[0], PAGE_FILES[0]):
        text = path.read_text(encoding="utf-8")
        expected = [t.id for t in read_source(path)]
        for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF32_LE, "utf-32-le")):
            declared = re.sub(r"^(<\?xml[^>]*\?>\s*)?", '<?xml version="1.0" encoding="UTF-16"?>\n', text, count=1) if path.suffix == ".xml" else text
            assert [t.id for t in read_source(bom + declared.encode(codec))] == expected


# ---------------------------------------------------------------------------------------------
# Several records in one file: one bad study in the middle
# ---------------------------------------------------------------------------------------------


def _studies() -> list[dict[str, Any]]:
    return [json.loads(path.read_bytes()) for path in V2_FILES if path.stat().st_size < MEGABYTE // 2][:3]


def _read_all(data: bytes, name: str = "batch") -> tuple[list[str], list[ConversionError]]:
    errors: list[ConversionError] = []
    ids = [trial.id for trial in read_input(Input(name, data), on_error=errors.append)]
    return ids, errors


def _bad_study(study: dict[str, Any]) -> dict[str, Any]:
    bad = json.loads(json.dumps(study))
    bad["protocolSection"]["designModule"] = ["not", "an", "object"]
    return bad


@pytest.mark.parametrize("shape", ["page", "array", "ndjson"])
def test_v2_multi_study_file_with_a_bad_study_in_the_middle(shape: str) -> None:
    first, middle, last = _studies()
    studies = [first, _bad_study(middle), last]
    if shape == "page":
        data = json.dumps({"studies": studies, "nextPageToken": "x"}).encode()
    elif shape == "array":
        data = json.dumps(studies).encode()
    else:
        data = "\n".join(json.dumps(study) for study in studies).encode()
    ids, errors = _read_all(data)
    nct = [study["protocolSection"]["identificationModule"]["nctId"] for study in (first, middle, last)]
    assert ids == [nct[0], nct[2]]
    assert len(errors) == 1 and errors[0].record == nct[1] and errors[0].field == "protocolSection.designModule"


@pytest.mark.parametrize("bad_line", ['{"protocolSection": {', "not json at all", "[" * 5000, '{"n": ' + "9" * 5000 + "}", "\ufeff{}", "null"])
def test_ndjson_with_an_unparsable_line_in_the_middle(bad_line: str) -> None:
    first, _, last = _studies()
    data = "\n".join([json.dumps(first), bad_line, json.dumps(last)]).encode()
    ids, errors = _read_all(data, "dump.ndjson")
    assert ids == [first["protocolSection"]["identificationModule"]["nctId"], last["protocolSection"]["identificationModule"]["nctId"]]
    assert len(errors) == 1 and errors[0].record == "dump.ndjson#1" and errors[0].field
    assert len(str(errors[0])) < 500


def test_trial_json_ndjson_and_array_with_a_bad_trial_in_the_middle() -> None:
    trials = [next(read_source(path)).to_json() for path in V2_FILES[:3]]
    bad = dict(trials[1], brief_title="N/A")
    for data in ("\n".join(json.dumps(t) for t in (trials[0], bad, trials[2])).encode(),
                 json.dumps([trials[0], bad, trials[2]]).encode()):
        ids, errors = _read_all(data)
        assert ids == [trials[0]["id"], trials[2]["id"]]
        assert len(errors) == 1 and errors[0].record == trials[1]["id"] and errors[0].field == "brief_title"
    ids, errors = _read_all("\n".join([json.dumps(trials[0]), "{oops", json.dumps(trials[2])]).encode())
    assert ids == [trials[0]["id"], trials[2]["id"]] and errors[0].record == "batch#1"


def test_xml_wrapper_with_a_bad_study_in_the_middle() -> None:
    bodies = [re.sub(r"^<\?xml[^>]*\?>", "", path.read_text(encoding="utf-8")).strip() for path in XML_FILES[:3]]
    bodies[1] = re.sub(r"<nct_id>.*?</nct_id>", "<nct_id>NCT0/1</nct_id>", bodies[1], count=1)
    data = ("<search_results>" + "".join(bodies) + "</search_results>").encode()
    ids, errors = _read_all(data, "dump.xml")
    assert ids == [XML_FILES[0].stem, XML_FILES[2].stem]
    assert len(errors) == 1 and errors[0].record == "NCT0/1" and errors[0].field == "id_info/nct_id"


def test_batch_results_keep_input_order_around_a_bad_study() -> None:
    first, middle, last = _studies()
    data = json.dumps({"studies": [first, _bad_study(middle), last]}).encode()
    results = list(iter_convert(data, to="fhir-r5"))
    assert [r.ok for r in results] == [True, False, True]
    assert [r.trial.id for r in results if r.trial] == [first["protocolSection"]["identificationModule"]["nctId"], last["protocolSection"]["identificationModule"]["nctId"]]


# ---------------------------------------------------------------------------------------------
# Batches: a folder of good and broken files
# ---------------------------------------------------------------------------------------------


def _expected_results(path: Path) -> int:
    """How many Results a file should give: one per record read plus one per error."""
    errors: list[ConversionError] = []
    return len(list(read_source(path, on_error=errors.append))) + len(errors)


def test_batch_over_a_folder_of_good_and_mutated_files(tmp_path: Path) -> None:
    good = [path for path in V2_FILES + XML_FILES + PAGE_FILES if path.stat().st_size < MEGABYTE // 2]
    for path in good:
        (tmp_path / f"good-{path.name}").write_bytes(path.read_bytes())
    rng = random.Random(SEED + 1)
    sample = rng.sample([case for case in CASES if len(case.data) < MEGABYTE // 2], 40)
    for number, case in enumerate(sample):
        (tmp_path / f"bad-{number:03d}-{case.name}").write_bytes(case.data)
    expected = sum(_expected_results(path) for path in sorted(tmp_path.iterdir()))
    results: list[Result] = list(iter_convert(tmp_path, to=["fhir-r5", "cdisc"]))
    assert len(results) == expected
    converted = {r.trial.provenance.source_file for r in results if r.ok and r.trial}
    assert {str(tmp_path / f"good-{path.name}") for path in good} <= converted
    for result in results:
        if result.ok:
            assert set(result.outputs) == {"fhir-r5", "cdisc"}
            continue
        error = result.error
        assert error is not None and error.record and error.message
        assert "internal error" not in str(error), f"a crash, not a report: {error}"
        assert len(str(error)) < 5000
    assert sum(not r.ok for r in results) >= 5  # the sample really was hostile


def test_broken_archive_members_and_missing_inputs_do_not_end_the_batch(tmp_path: Path) -> None:
    first, second = V2_FILES[0], V2_FILES[1]
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("1-broken.json", b"{" * 1000 + first.read_bytes())
        handle.writestr("2-good.json", second.read_bytes())
    damaged = bytearray(archive.read_bytes())
    damaged[50:70] = bytes(20)  # inside the first member's compressed data (its header is 43 bytes)
    archive.write_bytes(bytes(damaged))
    (tmp_path / "a.json").write_bytes(first.read_bytes())
    (tmp_path / "c.json").write_bytes(second.read_bytes())
    results = list(iter_convert([str(tmp_path / "missing.json"), str(tmp_path)], to="fhir-r5"))
    oks = [r.trial.id for r in results if r.ok and r.trial]
    assert oks == [first.stem, second.stem, second.stem]  # a.json, b.zip!2-good.json, c.json
    failures = [str(r.error) for r in results if not r.ok]
    assert any("missing.json" in f and "no such file" in f for f in failures)
    assert any("1-broken.json" in f for f in failures)
    assert not any("internal error" in f for f in failures)


def test_a_reader_crash_is_reported_and_the_batch_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: should a reader still have a bug, one input must not end the batch."""
    import dataclasses

    from converter.readers import ctgov_xml, readers

    def crash(data: bytes, source: str) -> Iterator[Any]:
        raise KeyError("boom")
        yield  # pragma: no cover

    monkeypatch.setitem(readers(), ctgov_xml.NAME, dataclasses.replace(ctgov_xml.READER, read=crash))
    (tmp_path / "a.xml").write_bytes(XML_FILES[0].read_bytes())
    (tmp_path / "b.json").write_bytes(V2_FILES[0].read_bytes())
    results = list(iter_convert(tmp_path, to="fhir-r5"))
    assert [r.ok for r in results] == [False, True]
    assert "a.xml" in str(results[0].error) and "KeyError" in str(results[0].error)


# ---------------------------------------------------------------------------------------------
# The CLI: a failing re-run must not damage what an earlier run wrote
# ---------------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every output file; the run report is excluded, since each run rewrites it by design."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "trialconv-report.ndjson"}


def _damaged_versions(source: Path) -> dict[str, bytes]:
    """The same record broken in ways that fail at each stage: reading, file parsing, writing."""
    document = json.loads(source.read_bytes())
    wrong_type = json.loads(json.dumps(document))
    wrong_type["protocolSection"]["eligibilityModule"] = "eligible"
    return {
        "wrong-type": json.dumps(wrong_type).encode(),
        "truncated": source.read_bytes()[: len(source.read_bytes()) // 2],
        "bad-bytes": source.read_bytes()[:100] + b"\xff\xfe" + source.read_bytes()[100:],
    }


@pytest.mark.parametrize("damage", ["wrong-type", "truncated", "invalid-output", "bad-bytes", "writer-crash"])
def test_failed_rerun_keeps_the_earlier_good_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    source = V2_FILES[0]
    record = tmp_path / "in" / source.name
    record.parent.mkdir()
    record.write_bytes(source.read_bytes())
    out = tmp_path / "out"
    first = runner.invoke(app, ["convert", str(record), "--to", "fhir-r5,cdisc", "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    assert f"{source.stem}.fhir-r5.json" in before
    if damage == "writer-crash":
        from converter import writers as writer_registry

        cdisc = writer_registry.writers()["cdisc"]

        def crash(trial: Trial, options: dict[str, Any]) -> Any:
            raise RuntimeError("disk on fire")

        monkeypatch.setitem(writer_registry.writers(), "cdisc", dataclasses.replace(cdisc, produce=crash))
    elif damage == "invalid-output":  # a writer defect that produces an invalid Bundle: validation must stop it
        from converter.writers.fhir import r5 as fhir_r5

        original = fhir_r5.build_bundle

        def broken(trial: Trial, bundle_type: str = "collection") -> dict[str, Any]:
            bundle = original(trial, bundle_type)
            bundle["entry"][0]["resource"]["status"] = "bogus"
            return bundle

        monkeypatch.setattr(fhir_r5, "build_bundle", broken)
    else:
        record.write_bytes(_damaged_versions(source)[damage])
    second = runner.invoke(app, ["convert", str(record), "--to", "fhir-r5,cdisc", "--out", str(out), "--quiet"])
    assert second.exit_code == 1, second.output
    assert second.exception is None or isinstance(second.exception, SystemExit), repr(second.exception)
    assert "FAILED" in second.output
    assert _snapshot(out) == before  # byte for byte, and no temp files left behind


def test_cli_prints_untrusted_error_text_literally(tmp_path: Path) -> None:
    document = json.loads(V2_FILES[0].read_bytes())
    document["protocolSection"]["identificationModule"]["nctId"] = "[/red][bold]x"
    record = tmp_path / "record.json"
    record.write_text(json.dumps(document), encoding="utf-8")
    result = runner.invoke(app, ["convert", str(record), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert "[/red][bold]x" in result.output


def test_file_names_that_are_not_utf8_are_reported_readably(tmp_path: Path) -> None:
    """A non-UTF-8 file name reaches Python with lone surrogates; it must not reach any output."""
    folder = os.fsencode(tmp_path)
    try:
        with open(os.path.join(folder, b"bad\xff.json"), "wb") as handle:
            handle.write(b"{broken")
        with open(os.path.join(folder, b"good\xfe.json"), "wb") as handle:
            handle.write(V2_FILES[0].read_bytes())
    except OSError:  # pragma: no cover - a file system that insists on UTF-8 names
        pytest.skip("file system refuses non-UTF-8 names")
    results = list(iter_convert(tmp_path, to="fhir-r5"))
    assert [r.ok for r in results] == [False, True]
    assert "bad\\xff.json" in str(results[0].error)
    assert results[1].trial is not None and results[1].trial.provenance.source_file.endswith("good\\xfe.json")
    out = tmp_path / "out"
    cli = runner.invoke(app, ["convert", str(tmp_path / "bad\udcff.json"), str(tmp_path / "good\udcfe.json"), "--out", str(out), "--quiet"])
    assert cli.exit_code == 1 and isinstance(cli.exception, SystemExit), repr(cli.exception)
    assert (out / f"{V2_FILES[0].stem}.fhir-r5.json").is_file()


# ---------------------------------------------------------------------------------------------
# Time: untrusted text must not make a reader quadratic
# ---------------------------------------------------------------------------------------------


class Overrun(BaseException):
    """Raised by :func:`deadline`; a BaseException so no reader's ``except Exception`` hides it."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail the block when it runs longer than ``seconds`` (normal runs take a tenth of that)."""

    def expire(signum: int, frame: Any) -> None:
        raise Overrun(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _page_with(path: Path, junk: str, near: str, append: bool = False) -> bytes:
    """A sample page with ``junk`` put next to the first line containing ``near``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    at = next((i for i, line in enumerate(lines) if near in line), len(lines) // 2)
    if append:
        lines[at] += junk
    else:
        lines.insert(at, junk)
    return "\n".join(lines).encode()


# Hang guards, not speed targets: inputs are sized so that a quadratic regression takes minutes
# while the linear code takes well under a second; the bound only has to tell those apart.
HANG_GUARD_SECONDS = 20.0

SLOW_PAGES = [
    ("finder-digits", "000_c680d2a7bcdf8e98.txt", "1" * 40_000, "Powered by AI", False),
    ("finder-brackets", "000_c680d2a7bcdf8e98.txt", "(" * 40_000, "Powered by AI", False),
    ("classic-blanks", "001_699d8be317e90364.txt", " " * 400_000 + "x", "Last Verified", True),
    ("classic-tabs", "001_699d8be317e90364.txt", "\t" * 400_000 + "x", "Masking", True),
    ("classic-time-frames", "001_699d8be317e90364.txt", "- a" + " [ Time Frame: " * 40_000, "Masking", False),
    ("medpath-ages", "002_e8d3faca6c80e329.txt", "18 years to " * 40_000, "Trial Locations", False),
    ("medpath-digits", "003_b89dab9eaa1bf9d2.txt", "1" * 400_000, "NameTimeMethod", False),
]


@pytest.mark.parametrize("name, sample, junk, near, append", SLOW_PAGES, ids=[case[0] for case in SLOW_PAGES])
def test_pages_with_pathological_lines_are_read_in_linear_time(name: str, sample: str, junk: str, near: str, append: bool) -> None:
    case = Case(f"{name}.txt", _page_with(ROOT / "samples" / sample, junk, near, append), True)
    with deadline(HANG_GUARD_SECONDS):
        outcome = check_case(case)
    assert outcome.trials or outcome.record_errors


def test_criteria_of_many_short_lines_are_parsed_in_linear_time() -> None:
    document = json.loads(V2_FILES[0].read_bytes())
    document["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = "Inclusion Criteria:\n" + "x\n" * 20_000
    with deadline(HANG_GUARD_SECONDS):
        trials = list(read_source(_dumps(document)))
    assert trials[0].eligibility.criteria_text
