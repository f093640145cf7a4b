"""The fast path: the hot requests answered without FastAPI's routing and dependencies.

A fire, reading a case, a search and ``/v1/me`` are most of an API client's traffic, and
FastAPI's per-request work (matching ~50 routes, solving dependencies, one threadpool
handoff for the token check and another for the handler) cost more CPU than the engine's
fire itself. This ASGI middleware recognises those four requests in their plain form —
``Authorization: Bearer TOKEN``, no cookie, a JSON or empty body, only the route's own
query parameters — and answers them with ONE threadpool handoff: the token check, the
write permission and the SAME function the FastAPI route calls (``routes_cases``'s
``fire_answer``, ``case_answer``, ``me_answer``; ``routes_search.search_answer``).

Query parameters and headers are validated by FastAPI's own parameter validation, against
the route's own declared parameters (a plain text or integer within its declared bounds is
taken as that validation takes it, without calling it: ``QueryParameters``); the body by
the route's model. The answer is sent as the two ASGI messages Starlette's ``Response``
sends, with its headers (``Answer.raw_headers``). Anything unusual — an
unknown or repeated parameter, invalid JSON, a validation error, a cookie, another
authorization scheme, a dependency override — falls through to the FastAPI application,
so every error answer is FastAPI's. Engine errors answer through ``problems.from_error``,
as the routes' do.

It sits inside the body limit and the metrics middleware (``create_app``): a request it
answers is counted under its route's template, and its body is at most 1 MiB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from annotated_types import Ge, Le, MaxLen
from anyio import to_thread
from fastapi import FastAPI
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsflow.engine.identity import authenticate_token
from opsflow.errors import OpsflowError
from opsflow.service import routes_cases, routes_search
from opsflow.service.answers import Answer
from opsflow.service.auth import Identity, token_of
from opsflow.service.problems import from_error, unexpected

_FIRE = re.compile(r"/v1/cases/([^/]+)/events/([^/]+)")
_CASE = re.compile(r"/v1/cases/([^/]+)")
_WATCHED = frozenset(
    {b"authorization", b"cookie", b"content-type", b"idempotency-key", b"if-match"}
)
Work = Callable[[Any, Identity], Answer]  # (engine, identity) -> the answer


@dataclass
class Stats:
    """How many requests the fast path answered (``app.state.fast_path``)."""

    handled: int = 0


class FastPath:
    """ASGI middleware answering the hot requests; the rest go to ``app`` unchanged."""

    def __init__(self, app: ASGIApp, service: FastAPI, stats: Stats) -> None:
        self.app = app
        self.service = service
        self.stats = stats
        routes = [*routes_cases.router.routes, *routes_search.router.routes]
        by_endpoint = {r.endpoint: r for r in routes if isinstance(r, APIRoute)}
        self.fire = by_endpoint[routes_cases.fire_event]
        self.case = by_endpoint[routes_cases.get_case]
        self.me = by_endpoint[routes_cases.me]
        self.search = by_endpoint[routes_search.search_cases]
        self.fire_params = QueryParameters(self.fire)
        self.search_params = QueryParameters(self.search)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            or self.service.dependency_overrides
            or scope["method"] not in ("GET", "POST")
        ):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = token_of(headers.get(b"authorization", b"").decode("latin-1"))
        if headers is _UNUSUAL or token is None or b"cookie" in headers:
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            if not _FIRE.fullmatch(scope["path"]):
                await self.app(scope, receive, send)
                return
            message = await receive()
            body = message.get("body", b"")
            if message["type"] != "http.request" or message.get("more_body", False):
                await self.app(scope, _replay(message, receive), send)
                return
            receive = _replay(message, receive)
        plan = self._plan(scope, headers, body)
        if plan is None:
            await self.app(scope, receive, send)
            return
        route, work = plan
        scope["route"] = route  # the metrics' label, as FastAPI's routing sets it
        self.stats.handled += 1
        engine = self.service.state.engine
        try:
            answer = await to_thread.run_sync(_run, engine, token, work)
        except OpsflowError as exc:
            await from_error(exc, scope["method"], scope["path"])(scope, receive, send)
            return
        except Exception as exc:  # as the application's handler of the unexpected
            await unexpected(scope["method"], scope["path"], exc)(scope, receive, send)
            return
        # the messages Starlette's Response would send, without making one
        raw = answer.raw_headers()
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})

    def _plan(self, scope: Scope, headers: dict[bytes, bytes], body: bytes) -> Plan | None:
        """The route and its work for a request the fast path may answer, else None."""
        path: str = scope["path"]
        query: bytes = scope["query_string"]
        if scope["method"] == "POST":
            found = _FIRE.fullmatch(path)
            return self._fire(found[1], found[2], scope, headers, body) if found else None
        if path == "/v1/cases":
            return self._search(query)
        if query:
            return None
        if path == "/v1/me":
            return self.me, routes_cases.me_answer
        found = _CASE.fullmatch(path)
        if found is None:
            return None
        case_id = found[1]
        return self.case, lambda engine, who: routes_cases.case_answer(engine, who, case_id)

    def _fire(
        self, case_id: str, event: str, scope: Scope, headers: dict[bytes, bytes], body: bytes
    ) -> Plan | None:
        kind = headers.get(b"content-type")
        if kind is not None and kind.split(b";")[0].strip() != b"application/json":
            return None
        params = self.fire_params(scope["query_string"])
        given: dict[str, Any] = {}
        if b"idempotency-key" in headers or b"if-match" in headers:
            header_params = self.fire.dependant.header_params
            given, errors = request_params_to_args(header_params, Headers(scope=scope))
            if errors:
                return None
        if params is None:
            return None
        model: routes_cases.FireBody | None = None
        if body:
            try:
                raw = json.loads(body)
                model = None if raw is None else routes_cases.FireBody.model_validate(raw)
            except (ValueError, ValidationError):  # invalid JSON or data: FastAPI answers it
                return None
        dry_run: bool = params.get("dry_run", False)
        key: str | None = given.get("key")
        if_match: str | None = given.get("if_match")

        def work(engine: Any, who: Identity) -> Answer:
            return routes_cases.fire_answer(
                engine, who, case_id, event, model, dry_run, key, if_match
            )

        return self.fire, work

    def _search(self, query: bytes) -> Plan | None:
        params = self.search_params(query)
        if params is None:
            return None
        return self.search, lambda engine, who: routes_search.search_answer(engine, who, **params)


Plan = tuple[APIRoute, Work]
_UNUSUAL: dict[bytes, bytes] = {}


def _run(engine: Any, token: str, work: Work) -> Answer:
    """In the threadpool: the token's identity, then the route's work."""
    return work(engine, authenticate_token(engine, token))


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The headers the fast path reads (``_UNUSUAL`` when one of them is repeated)."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _WATCHED:
            if name in found:
                return _UNUSUAL
            found[name] = value
    return found


class QueryParameters:
    """A route's query parameters, validated as FastAPI validates them (None: unusual,
    or invalid: FastAPI answers).

    A text parameter within its ``max_length``, or an integer written plainly (digits, no
    sign, no leading zero) within its bounds, is taken as FastAPI would take it without
    calling its validation (~15 µs a request); any other value, and every other type, is
    validated by FastAPI's own ``request_params_to_args``.
    """

    def __init__(self, route: APIRoute) -> None:
        declared = route.dependant.query_params
        self.fields = {f.alias: f for f in declared}
        # FastAPI gives the defaults of the parameters not sent (none of these routes'
        # defaults is validated or mutable)
        self.defaults = {f.name: f.default for f in declared}
        self.repeatable = {f.alias for f in declared if f.name == "state"}
        self.plain = {f.alias: check for f in declared if (check := _plain_check(f)) is not None}

    def __call__(self, query: bytes) -> dict[str, Any] | None:
        values = dict(self.defaults)
        if not query:
            return values
        params = QueryParams(query)
        others = []
        for name in params:
            field = self.fields.get(name)
            given = params.getlist(name)
            if field is None or (len(given) > 1 and name not in self.repeatable):
                return None
            check = self.plain.get(name)
            value = _OTHER if check is None else check(given[0])
            if value is _OTHER:
                others.append(field)
            else:
                values[field.name] = value
        if others:
            validated, errors = request_params_to_args(others, params)
            if errors:
                return None
            values.update(validated)
        return values


_OTHER: Any = object()  # a value FastAPI's validation must look at
_DIGITS = re.compile(r"0|[1-9][0-9]{0,8}")


def _plain_check(field: Any) -> Callable[[str], Any] | None:
    """How to take a plain value of ``field`` without FastAPI's validation (None: no way)."""
    annotation = field.field_info.annotation
    metadata = field.field_info.metadata
    if annotation in (str, str | None) and all(isinstance(m, MaxLen) for m in metadata):
        longest = min((m.max_length for m in metadata), default=None)
        if longest is None:
            return lambda text: text
        return lambda text: text if len(text) <= longest else _OTHER
    if annotation is int and all(isinstance(m, Ge | Le) for m in metadata):
        low = max((cast(int, m.ge) for m in metadata if isinstance(m, Ge)), default=None)
        high = min((cast(int, m.le) for m in metadata if isinstance(m, Le)), default=None)

        def number(text: str) -> Any:
            if not _DIGITS.fullmatch(text):
                return _OTHER
            value = int(text)
            if (low is not None and value < low) or (high is not None and value > high):
                return _OTHER
            return value

        return number
    return None


def _replay(message: Message, receive: Receive) -> Receive:
    """``receive`` with ``message`` given once more first (the body the fast path read)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return message

    return replay
