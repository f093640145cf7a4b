"""``/v1/docs``: the API's reference page, rendered on the server from the OpenAPI document.

FastAPI's own pages load Swagger UI from a CDN; this one needs no script and nothing from
the internet: each operation with its parameters, body fields and answers, as plain HTML.
The document itself is shaped by :mod:`opsflow.service.openapi`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

router = APIRouter(include_in_schema=False)

METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 4  # nested bodies are shown this deep; deeper ones by their type's name


@dataclass
class Param:
    name: str
    where: str
    required: bool
    kind: str
    description: str


@dataclass
class BodyField:
    name: str
    kind: str
    required: bool
    description: str
    depth: int


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    params: list[Param] = field(default_factory=list)
    body: list[BodyField] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Section:
    title: str
    operations: list[Operation]


def inline_code(text: str) -> Markup:
    """Docstring text with its ````code```` spans as ``<code>``, everything else escaped."""
    parts = str(text).split("``")
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )


@lru_cache(maxsize=1)
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("opsflow.service", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["inline_code"] = inline_code
    return env


def kind_of(schema: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    """A short, readable type: ``string``, ``integer ≥ 1``, ``list of string``, ``Case``…"""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema or "oneOf" in schema:
        options = [kind_of(s, document) for s in schema.get("anyOf") or schema.get("oneOf") or ()]
        return " or ".join(o for o in options if o != "null") + (
            " (optional)" if "null" in options else ""
        )
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {kind_of(schema.get('items', {}), document)}"
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        inner = kind_of(extra, document) if isinstance(extra, dict) else "any"
        return f"object of {inner}"
    bounds = [
        f"{label} {schema[key]}"
        for key, label in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
        )
        if key in schema
    ]
    if "enum" in schema:
        bounds.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    return str(kind) + (f" ({'; '.join(bounds)})" if bounds else "")


def _resolve(schema: Mapping[str, Any], document: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
        return schema
    found: Mapping[str, Any] = (
        document.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    )
    return found


def body_fields(
    schema: Mapping[str, Any], document: Mapping[str, Any], depth: int = 0
) -> list[BodyField]:
    """The fields of a JSON body, nested objects indented (``depth``)."""
    schema = _resolve(schema, document)
    required = set(schema.get("required", ()))
    out: list[BodyField] = []
    for name, sub in (schema.get("properties") or {}).items():
        out.append(
            BodyField(
                name=name,
                kind=kind_of(sub, document),
                required=name in required,
                description=str(sub.get("description") or sub.get("title") or ""),
                depth=depth,
            )
        )
        inner = _resolve(sub, document)
        if depth + 1 < MAX_DEPTH and inner is not sub and inner.get("properties"):
            out.extend(body_fields(inner, document, depth + 1))
    return out


def operations(document: Mapping[str, Any]) -> list[Section]:
    """The document's operations grouped by the first path segment after ``/v1``."""
    sections: dict[str, list[Operation]] = {}
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            parts = [p for p in path.split("/") if p and p != "v1"]
            group = parts[0] if parts else "service"
            params = [
                Param(
                    name=p["name"],
                    where=p.get("in", ""),
                    required=bool(p.get("required")),
                    kind=kind_of(p.get("schema", {}), document),
                    description=str(p.get("description") or ""),
                )
                for p in op.get("parameters", ())
            ]
            content: Mapping[str, Any] = (op.get("requestBody") or {}).get("content", {})
            first: Mapping[str, Any] = next(iter(content.values()), {})
            body_schema = first.get("schema")
            answers = [
                (str(code), str(answer.get("description", "")))
                for code, answer in sorted(op.get("responses", {}).items())
            ]
            sections.setdefault(group, []).append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=str(op.get("summary") or ""),
                    description=str(op.get("description") or ""),
                    anchor=f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                    params=params,
                    body=body_fields(body_schema, document) if body_schema else [],
                    answers=answers,
                )
            )
    return [Section(title=name, operations=ops) for name, ops in sections.items()]


def render(document: Mapping[str, Any]) -> str:
    """The reference page for an OpenAPI document."""
    info = document.get("info", {})
    return (
        _templates()
        .get_template("api_reference.html")
        .render(
            title=info.get("title", "API"),
            version=info.get("version", ""),
            openapi=document.get("openapi", ""),
            sections=operations(document),
        )
    )


@router.get("/v1/docs", response_class=HTMLResponse)
def reference_page(request: Request) -> HTMLResponse:
    """The browsable reference of the HTTP API (no script, nothing from the internet)."""
    page = render(request.app.openapi())
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'self'",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
        },
    )
