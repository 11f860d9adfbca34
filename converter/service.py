"""trialconv over HTTP: an ASGI app for integration engines (``trialconv serve``, extra ``trialconv[serve]``).

Endpoints: ``POST /convert?to=…`` (body: any input trialconv reads; response: the Bundle, the JSON of
the CDISC datasets, USDM, trial JSON, or the synopsis HTML), ``POST /validate`` (a FHIR resource or
Bundle, USDM or Dataset-JSON; response: an OperationOutcome), ``GET /health``, ``GET /formats`` and the
OpenAPI document at ``/openapi.json``.

Errors are FHIR OperationOutcomes carrying the same messages as the CLI. Every request is independent
(no state is kept between requests); bodies over ``max_body_bytes`` get 413, and a conversion that runs
past ``time_limit`` seconds gets 503 (its worker thread is abandoned, not waited for).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal, Optional

from . import __version__  # FastAPI, uvicorn: the 'serve' extra (trialconv serve checks for them first)
from .api import TRANSACTION_MODES, conversion
from .errors import ConversionError, ValidationError

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

log = logging.getLogger("trialconv.service")

DEFAULT_MAX_BODY_BYTES = 16 << 20
DEFAULT_TIME_LIMIT = 120.0
FHIR_JSON = "application/fhir+json"

Target = Literal["fhir-r5", "fhir-r4b", "cdisc", "usdm", "synopsis", "trial-json"]
BundleType = Literal["collection", "transaction"]
TransactionMode = Literal[TRANSACTION_MODES]  # type: ignore[valid-type]

_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/xml": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
_OUTCOME = {"description": "OperationOutcome with the problems", "content": {FHIR_JSON: {"schema": {"type": "object"}}}}


def outcome(messages: list[tuple[str, str]], code: str = "processing") -> dict[str, Any]:
    """An OperationOutcome: one issue per (severity, message); ``information`` alone when all is well."""
    issues = [{"severity": severity, "code": code if severity != "information" else "informational", "diagnostics": message}
              for severity, message in messages]
    return {"resourceType": "OperationOutcome", "issue": issues or [{"severity": "information", "code": "informational", "diagnostics": "no problems"}]}


def error_outcome(error: ConversionError) -> dict[str, Any]:
    """A ConversionError as the CLI prints it, plus each validation problem as its own issue."""
    problems = error.problems if isinstance(error, ValidationError) else []
    return outcome([("error", str(error))] + [("error", problem) for problem in problems], "invalid" if problems else "processing")


def _fhir(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def create_app(*, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, time_limit: float = DEFAULT_TIME_LIMIT) -> FastAPI:
    """A fresh ASGI app (limits are per app; nothing else is shared between requests)."""
    app = FastAPI(title="trialconv", version=__version__,
                  description="Clinical trial registry records to validated FHIR R5/R4B, CDISC SDTM trial design, USDM and a synopsis.")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        messages = [f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg')}" for item in error.errors()]
        return _fhir(400, outcome([("error", m) for m in messages], "invalid"))

    async def body_of(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            raise _TooLarge()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise _TooLarge()
            chunks.append(chunk)
        return b"".join(chunks)

    @app.exception_handler(_TooLarge)
    async def too_large(request: Request, error: Exception) -> JSONResponse:
        return _fhir(413, outcome([("error", f"request body over the {max_body_bytes}-byte limit")], "too-costly"))

    async def within_limit(function: Any, *args: Any) -> Any:
        with anyio.move_on_after(time_limit) as scope:
            return await anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True)
        if scope.cancelled_caught:
            raise _TimedOut()

    @app.exception_handler(_TimedOut)
    async def timed_out(request: Request, error: Exception) -> JSONResponse:
        return _fhir(503, outcome([("error", f"conversion took longer than the {time_limit:g}-second limit; not finished")], "timeout"))

    @app.get("/health", summary="Liveness and version")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/formats", summary="Input formats and output targets")
    def formats() -> dict[str, dict[str, str]]:
        from .readers import readers
        from .writers import writers

        return {"inputs": {name: reader.description for name, reader in sorted(readers().items())},
                "targets": {name: writer.description for name, writer in writers().items()}}

    @app.post("/convert", summary="Convert one trial record", openapi_extra={"requestBody": _BODY},
              responses={200: {"description": "The converted record (JSON; HTML for the synopsis)",
                               "content": {FHIR_JSON: {}, "application/json": {}, "text/html": {}}},
                         413: _OUTCOME, 422: _OUTCOME, 503: _OUTCOME})
    async def convert(request: Request, to: Target = Query("fhir-r5", description="Output target"),
                      bundle_type: BundleType = Query("collection", description="FHIR Bundle type"),
                      transaction_mode: TransactionMode = Query("create", description="In a transaction: create if absent, or conditional update"),
                      from_format: Optional[str] = Query(None, alias="from", description="Force the input format (see /formats)")) -> Response:
        body = await body_of(request)
        options: dict[str, Any] = {"bundle_type": bundle_type, "transaction_mode": transaction_mode} if to.startswith("fhir") else {}
        try:
            done = await within_limit(lambda: conversion(body, to, fmt=from_format, **options))
        except ConversionError as error:
            return _fhir(422, error_outcome(error))
        if to == "synopsis":
            return HTMLResponse(done.value["synopsis.html"])
        if to.startswith("fhir"):
            return JSONResponse(done.value, media_type=FHIR_JSON)
        return JSONResponse(done.value)

    @app.post("/validate", summary="Validate a FHIR resource or Bundle (also USDM, Dataset-JSON)",
              openapi_extra={"requestBody": {"required": True, "content": {FHIR_JSON: {"schema": {"type": "object"}},
                                                                          "application/json": {"schema": {"type": "object"}}}}},
              responses={200: _OUTCOME, 400: _OUTCOME, 413: _OUTCOME, 503: _OUTCOME})
    async def validate(request: Request, fhir_version: Optional[Literal["R5", "R4B"]] = Query(None, description="Default: detected"),
                       house_rules: bool = Query(False, description="Also apply trialconv's own rules beyond the standard")) -> JSONResponse:
        from .judge import judge

        body = await body_of(request)
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            return _fhir(400, outcome([("error", f"not valid JSON: {error}")], "structure"))
        verdict = await within_limit(lambda: judge(document, "<request body>", fhir_version=fhir_version, house_rules=house_rules))
        messages = [("error", p) for p in verdict.errors] + [("warning", w) for w in verdict.warnings]
        if not messages:
            messages = [("information", f"valid {verdict.kind}")]
        return _fhir(200, outcome(messages, "invalid"))

    return app


class _TooLarge(Exception):
    """The request body is over the limit (413)."""


class _TimedOut(Exception):
    """The work ran past the per-request time limit (503)."""


def serve(host: str = "127.0.0.1", port: int = 8000, **limits: Any) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(**limits), host=host, port=port, log_level="info")
