"""Issue 16, HTTP service: the endpoints in-process, against a live uvicorn on loopback, and a bounded
schemathesis run over the service's own OpenAPI document that must find no server error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from converter import __version__, convert
from converter.service import create_app

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "samples" / "NCT02513394.json"
XML = ROOT / "samples" / "NCT00496288.xml"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_health_and_formats(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "version": __version__}
    formats = client.get("/formats").json()
    assert {"ctgov-v2", "ctgov-xml", "trial-json"} <= set(formats["inputs"])
    assert list(formats["targets"]) == ["fhir-r5", "fhir-r4b", "cdisc", "usdm", "synopsis", "fhir-r5-ndjson", "fhir-r4b-ndjson", "trial-json"]


def test_convert_answers_what_the_library_returns(client: TestClient) -> None:
    response = client.post("/convert?to=fhir-r5", content=V2.read_bytes(), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+json")
    assert response.json() == convert(V2)
    r4b = client.post("/convert", params={"to": "fhir-r4b", "bundle_type": "transaction", "transaction_mode": "update"},
                      content=XML.read_bytes())
    assert r4b.json()["entry"][0]["request"]["method"] == "PUT"
    cdisc = client.post("/convert?to=cdisc", content=V2.read_bytes()).json()
    assert set(cdisc["datasets"]) == {"TS", "TA", "TE", "TI"} and cdisc["datasets"]["TS"]["datasetJSONVersion"]
    html = client.post("/convert?to=synopsis", content=V2.read_bytes())
    assert html.headers["content-type"].startswith("text/html") and "NCT02513394" in html.text
    assert client.post("/convert?to=usdm", content=V2.read_bytes()).json()["study"]
    assert client.post("/convert?to=trial-json", content=V2.read_bytes()).json()["id"] == "NCT02513394"


def test_errors_are_operation_outcomes_with_the_cli_messages(client: TestClient) -> None:
    bad = client.post("/convert?to=fhir-r5", content=b"no trial here")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/fhir+json")
    issue = bad.json()["issue"][0]
    assert bad.json()["resourceType"] == "OperationOutcome" and issue["severity"] == "error"
    assert issue["diagnostics"] == "[detect] record <bytes>: unrecognised input format (not a trial record any reader knows)"
    empty = client.post("/convert", content=b"")
    assert "empty file" in empty.json()["issue"][0]["diagnostics"]
    unknown = client.post("/convert?to=fhir-r6", content=V2.read_bytes())
    assert unknown.status_code == 400 and unknown.json()["resourceType"] == "OperationOutcome"
    assert "fhir-r5" in unknown.json()["issue"][0]["diagnostics"]


def test_validate_returns_an_operation_outcome(client: TestClient) -> None:
    r4b = convert(V2, to="fhir-r4b")
    good = client.post("/validate", json=r4b).json()
    assert good["issue"] == [{"severity": "information", "code": "informational", "diagnostics": "valid FHIR R4B"}]
    r4b["entry"][0]["resource"]["status"] = "bogus"
    bad = client.post("/validate", json=r4b).json()
    assert any(i["severity"] == "error" and "status" in i["diagnostics"] and "bogus" in i["diagnostics"] for i in bad["issue"])
    assert client.post("/validate", content=b"{not json").status_code == 400


def test_size_and_time_limits() -> None:
    small = TestClient(create_app(max_body_bytes=1000))
    too_big = small.post("/convert", content=V2.read_bytes())
    assert too_big.status_code == 413 and too_big.json()["resourceType"] == "OperationOutcome"
    hurried = TestClient(create_app(time_limit=0.001))
    late = hurried.post("/convert?to=cdisc", content=V2.read_bytes())
    assert late.status_code == 503 and "limit" in late.json()["issue"][0]["diagnostics"]
    assert hurried.get("/health").status_code == 200  # the service goes on


def test_openapi_document_lists_the_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/convert", "/validate", "/health", "/formats"} <= set(spec["paths"])
    to = next(p for p in spec["paths"]["/convert"]["post"]["parameters"] if p["name"] == "to")
    assert to["schema"]["enum"] == ["fhir-r5", "fhir-r4b", "cdisc", "usdm", "synopsis", "trial-json"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_live_uvicorn_on_loopback() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "converter.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        bundle = httpx.post(f"{base}/convert?to=fhir-r5", content=V2.read_bytes(), timeout=60).json()
        assert bundle == convert(V2)
        outcome = httpx.post(f"{base}/validate", json=bundle, timeout=60).json()
        assert outcome["issue"][0]["severity"] == "information"
        assert httpx.get(f"{base}/openapi.json", timeout=10).json()["info"]["title"] == "trialconv"
        assert httpx.post(f"{base}/convert", content=b"junk", timeout=10).status_code == 422
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode is not None


def test_schemathesis_finds_no_server_error() -> None:
    import schemathesis
    from hypothesis import HealthCheck, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(time_limit=10))
    seen: list[int] = []

    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=8, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call()
            seen.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"

        from hypothesis import given

        given(op.as_strategy())(check)()
    assert len(seen) >= 10 and all(code < 500 for code in seen)
    assert {400, 422} & set(seen), seen  # bodies and parameters were generated, not only valid ones


def test_serve_without_the_extra_is_refused_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from typer.testing import CliRunner

    from converter.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2 and "uvicorn" in result.output and "trialconv[serve]" in result.output
