"""The OpenAPI 3.1 document: FastAPI's, with the errors and the authentication it leaves out.

Every operation under ``/v1`` names the problem+json answers it may give and the two ways to
authenticate (a bearer token, a board session). The repository keeps the document as
``docs/openapi.json`` (see :mod:`opsflow.service.openapi_file`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` and `reasons` are opsflow's.",
    "required": ["type", "title", "status", "detail", "code", "reasons"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "one line saying what went wrong"},
        "code": {"type": "string", "description": "opsflow's error code"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
}

ERRORS = {
    "400": "malformed request (bad JSON, bad parameter)",
    "401": "no valid token or session",
    "403": "not permitted (read-only token, not in the team, missing CSRF token, not an admin)",
    "404": "not found, or not readable by the actor",
    "409": "refused by the workflow's rules, or a conflict",
    "412": "If-Match does not match the case's current ETag",
    "413": "body larger than 1 MiB",
    "422": "invalid data, body or query",
    "429": "too many attempts: wait Retry-After seconds",
    "503": "database busy or not ready: retry after Retry-After seconds",
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` answer the shaped document (built once, then cached)."""

    def shaped() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version="3.1.0",
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = shape(document)
        return app.openapi_schema

    app.openapi = shaped  # type: ignore[method-assign]


def shape(document: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema, the error answers and the security schemes to ``document``."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)  # answered as problem+json, see below
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM
    components["securitySchemes"] = {
        "token": {"type": "http", "scheme": "bearer", "description": "opsflow token create"},
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "opsflow_session",
            "description": "a board login; unsafe methods also need the X-CSRF-Token header",
        },
    }
    problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document.get("paths", {}).items():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            answers = op["responses"]
            answers.pop("422", None)
            for code, text in ERRORS.items():
                takes_if_match = any(p.get("name") == "If-Match" for p in op.get("parameters", ()))
                if code == "412" and not takes_if_match:
                    continue
                answers.setdefault(code, {"description": text, "content": problem_ref})
            if path.startswith("/v1/") and path not in ("/v1/openapi.json", "/v1/docs"):
                op["security"] = [{"token": []}, {"session": []}]
    return document
