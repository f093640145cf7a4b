"""The fast path takes query parameters and sends answers exactly as FastAPI and Starlette."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import Response
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from opsflow.service import routes_cases, routes_search
from opsflow.service.answers import Answer
from opsflow.service.fast import QueryParameters


def _route(endpoint: Any) -> APIRoute:
    routes = [*routes_cases.router.routes, *routes_search.router.routes]
    return next(r for r in routes if isinstance(r, APIRoute) and r.endpoint is endpoint)


SEARCH = _route(routes_search.search_cases)
FIRE = _route(routes_cases.fire_event)


def _fastapi(route: APIRoute, query: bytes) -> dict[str, Any] | None:
    """What FastAPI makes of ``query`` (every parameter through its validation), None
    where the fast path must leave the request to it."""
    params = QueryParams(query)
    declared = route.dependant.query_params
    names = {f.alias for f in declared}
    for name in params:
        if name not in names or (name != "state" and len(params.getlist(name)) > 1):
            return None
    values, errors = request_params_to_args([f for f in declared if f.alias in params], params)
    if errors:
        return None
    return {f.name: f.default for f in declared if f.alias not in params} | values


QUERIES = [
    {},
    {"workflow": "bench", "where": "budget >= 5000 and budget < 10000", "limit": "50"},
    {"limit": "200"},
    {"limit": "201"},
    {"limit": "0"},
    {"limit": "1"},
    {"limit": "050"},
    {"limit": "+5"},
    {"limit": " 5"},
    {"limit": "5.0"},
    {"limit": "1_0"},
    {"limit": "١٢"},  # Arabic-Indic digits
    {"limit": ""},
    {"limit": "99999999999999999999"},
    {"workflow": ""},
    {"workflow": "x" * 200},
    {"workflow": "x" * 201},
    {"workflow": "中" * 200},
    {"where": "w" * 2000, "q": "审核"},
    {"where": "w" * 2001},
    {"sort": "-updated_at", "cursor": "c" * 400},
    {"sort": "s" * 21},
    {"cursor": "c" * 401},
    {"open": "true", "created_after": "2026-01-01T00:00:00Z"},
    {"open": "maybe"},
    {"created_before": "yesterday"},
    {"state": ["a", "b"]},
    {"unknown": "1"},
    {"dry_run": "true"},
    {"dry_run": "1"},
    {"dry_run": "nope"},
]


@pytest.mark.parametrize("route", [SEARCH, FIRE], ids=["search", "fire"])
@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_parameters_are_fastapis(route: APIRoute, query: dict[str, Any]) -> None:
    raw = urlencode(query, doseq=True).encode()
    assert QueryParameters(route)(raw) == _fastapi(route, raw)


def test_a_repeated_parameter_is_left_to_fastapi() -> None:
    assert QueryParameters(SEARCH)(b"limit=5&limit=6") is None
    assert QueryParameters(SEARCH)(b"state=a&state=b") == _fastapi(SEARCH, b"state=a&state=b")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["limit", "workflow", "sort", "q", "open", "nope"]),
        st.text(max_size=30) | st.integers(-5, 300).map(str),
        max_size=4,
    )
)
def test_any_parameters_are_fastapis(query: dict[str, str]) -> None:
    raw = urlencode(query).encode()
    assert QueryParameters(SEARCH)(raw) == _fastapi(SEARCH, raw)


@pytest.mark.parametrize(
    ("status", "headers", "media_type"),
    [
        (200, {}, "application/json"),
        (200, {"ETag": '"3"', "X-Other": "é"}, "application/json"),
        (201, {"Location": "/v1/cases/x"}, "application/json"),
        (204, {}, "application/json"),
        (304, {"ETag": '"3"'}, "application/json"),
        (200, {}, "text/plain"),
        (200, {}, "text/plain; charset=latin-1"),
        (200, {"Content-Type": "application/problem+json"}, "application/json"),
        (200, {"content-length": "2"}, "application/json"),
    ],
)
def test_raw_headers_are_starlettes(status: int, headers: dict[str, str], media_type: str) -> None:
    answer = Answer(b"{}", status, headers, media_type)
    expected = Response(b"{}", status_code=status, headers=headers, media_type=media_type)
    assert answer.raw_headers() == expected.raw_headers
