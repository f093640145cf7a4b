"""``/v1/workflows``: the workflows, one workflow's definition for forms and boards, diagrams.

Everything is taken from the engine's compiled definitions, never by reading YAML here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from opsflow.service.auth import Reader

router = APIRouter(prefix="/v1")


def _engine(request: Request) -> Any:
    return request.app.state.engine


@router.get("/workflows")
def list_workflows(request: Request, who: Reader) -> list[dict[str, Any]]:
    """The workflows: id, version, title, states and open cases (``opsflow workflows``)."""
    return [
        {key: value for key, value in w.to_json().items() if key != "path"}  # a server path
        for w in _engine(request).workflows(who.actor)
    ]


@router.get("/workflows/{workflow}")
def get_workflow(request: Request, workflow: str, who: Reader) -> dict[str, Any]:
    """One workflow's current version: states, transitions, roles and fields."""
    found: dict[str, Any] = _engine(request).workflow_detail(workflow, who.actor)
    return found


@router.get("/workflows/{workflow}/graph", response_class=PlainTextResponse)
def get_graph(
    request: Request,
    workflow: str,
    who: Reader,
    format: Annotated[Literal["mermaid", "dot"], Query()] = "mermaid",
    case: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> PlainTextResponse:
    """The diagram as ``opsflow graph`` prints it; with ``case``, its state highlighted."""
    diagram = _engine(request).graph(workflow, format, case, actor=who.actor)
    return PlainTextResponse(diagram.text)
