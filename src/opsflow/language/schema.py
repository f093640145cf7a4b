"""The JSON Schema (draft-07) of the workflow language, for editors (SPEC §2.9).

Generated from the pydantic models, then adjusted to what the loader accepts: ``$defs``
become ``definitions`` (draft-07), keys use their YAML spelling (``from``), a single name
may stand for a one-item list (``from: draft``, ``roles: editor``, ``compute: metric``), an
empty state (``archived:``) or section (``rules:``) may be null, and named sections refuse
keys that are not identifiers. Regenerate the committed copy with
``python -m opsflow.language.schema > workflow.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from opsflow.language.models import WorkflowSpec

_ONE_OR_MANY = {
    "TransitionSpec": ("from", "roles", "requires", "not_by"),
    "Action": ("compute",),
}
_NULLABLE_SECTIONS = ("roles", "fields", "transitions", "metrics", "rules")


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/$defs/", "#/definitions/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _one_or_many(prop: dict[str, Any]) -> dict[str, Any]:
    """Let a list-of-names property also take one name (or null where it could before)."""
    branches = prop.get("anyOf", [prop])
    out: list[dict[str, Any]] = []
    for branch in branches:
        if branch.get("type") == "array":
            out.append(dict(branch["items"]))
        out.append({k: v for k, v in branch.items() if k not in ("title", "default")})
    extra = {k: v for k, v in prop.items() if k in ("title", "default", "description")}
    return {"anyOf": out, **extra}


def _close_named_sections(node: Any) -> None:
    """Objects keyed by identifiers refuse other keys, as the loader does."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_named_sections(value)
    elif isinstance(node, list):
        for item in node:
            _close_named_sections(item)


def workflow_json_schema() -> dict[str, Any]:
    """Return the draft-07 JSON Schema of one workflow file."""
    raw = WorkflowSpec.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.pop("$defs", {})
    for name, keys in _ONE_OR_MANY.items():
        props = definitions[name]["properties"]
        for key in keys:
            props[key] = _one_or_many(props[key])
    props = raw["properties"]
    for key in _NULLABLE_SECTIONS:
        section = props[key]
        props[key] = {
            "anyOf": [
                {k: v for k, v in section.items() if k not in ("title", "default")},
                {"type": "null"},
            ],
            "title": section.get("title", key.title()),
            "default": section["default"],
        }
    for pattern, ref in list(props["states"]["patternProperties"].items()):
        props["states"]["patternProperties"][pattern] = {"anyOf": [ref, {"type": "null"}]}
    raw.pop("title", None)
    raw.pop("description", None)
    schema: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "opsflow workflow",
        "description": "One opsflow workflow file (workflows/<id>.yaml): roles, typed fields, "
        "states, transitions, metrics, rules and an optional schedule.",
        **raw,
        "definitions": definitions,
    }
    schema = _rewrite_refs(schema)
    _close_named_sections(schema)
    return schema


def workflow_json_schema_text() -> str:
    """The schema as the text of ``workflow.schema.json`` (indented, trailing newline)."""
    return json.dumps(workflow_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(workflow_json_schema_text(), end="")
