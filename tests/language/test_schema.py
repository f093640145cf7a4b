"""The exported JSON Schema: committed copy is current, standard workflows validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsflow.language.schema import workflow_json_schema, workflow_json_schema_text
from opsflow.language.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def test_schema_is_draft_07_with_definitions() -> None:
    schema = workflow_json_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in json.dumps(schema)
    assert "TransitionSpec" in schema["definitions"]
    transition = schema["definitions"]["TransitionSpec"]
    assert "from" in transition["properties"]
    assert "from_" not in transition["properties"]
    assert transition["additionalProperties"] is False
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"workflow", "version", "states"}


def test_committed_schema_file_is_current() -> None:
    committed = (ROOT / "workflow.schema.json").read_text(encoding="utf-8")
    assert committed == workflow_json_schema_text(), (
        "regenerate: python -m opsflow.language.schema > workflow.schema.json"
    )


def _validator() -> object:
    jsonschema = pytest.importorskip("jsonschema")
    schema = workflow_json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _data(path: Path) -> object:
    doc, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    assert doc is not None
    return doc.data


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "workflows").glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_good_workflows_validate_against_the_schema(path: Path) -> None:
    validator = _validator()
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_data(path))]  # type: ignore[attr-defined]
    assert errors == []


@pytest.mark.parametrize(
    "name",
    [
        "unknown_key_top",
        "unknown_key_state",
        "bad_identifier",
        "unknown_field_type",
        "version_zero",
        "wrong_types",
    ],
)
def test_structural_mistakes_fail_the_schema(name: str) -> None:
    validator = _validator()
    assert list(validator.iter_errors(_data(FIXTURES / "invalid" / f"{name}.yaml")))  # type: ignore[attr-defined]
