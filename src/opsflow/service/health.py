"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers and Prometheus.

``/healthz`` and ``/readyz`` need no credentials and reveal nothing else. ``/metrics``
shows the backlog (outbox, overdue deadlines, worker lag, open incidents): it needs an
admin's credentials or a read-only token (a scraper's), 401 without any, 403 for others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsflow.errors import NotPermitted, OpsflowError
from opsflow.service.auth import Reader
from opsflow.service.problems import problem

router = APIRouter(include_in_schema=False)
log = logging.getLogger("opsflow.service")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers (nothing is checked)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> dict[str, str] | Response:
    """The database answers and its schema is the one this opsflow needs (else 503)."""
    from opsflow.engine.admin import database_status

    try:
        status = database_status(request.app.state.engine.db)
    except OpsflowError as exc:
        log.warning("not ready: %s", exc.message)
        return problem(503, "not ready", "not_ready", headers={"Retry-After": "5"})
    if not status.up_to_date:
        log.warning("not ready: %s", status.problem)
        return problem(503, "not ready", "not_ready", headers={"Retry-After": "5"})
    return {"status": "ready"}


@router.get("/metrics")
def metrics(request: Request, who: Reader) -> Response:
    """Prometheus text: requests by route and status, their latency, steps, refusals and
    the backlog (admins or a read-only token)."""
    engine = request.app.state.engine
    if not (who.read_only or engine.is_admin(who.actor)):
        raise NotPermitted(
            "only admins or a read-only token may read the metrics",
            ["give the scraper a token: opsflow token create --for NAME --read-only"],
        )
    registry: CollectorRegistry = request.app.state.metrics.registry
    backlog = CollectorRegistry()
    backlog.register(Backlog(engine.gauges()))
    text = generate_latest(registry) + generate_latest(backlog)
    return Response(text, media_type=CONTENT_TYPE_LATEST)


class Backlog(Collector):
    """One scrape's steps, refusals and backlog, from ``Engine.gauges()``."""

    def __init__(self, gauges: Any) -> None:
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        g = self.gauges
        steps = CounterMetricFamily(
            "opsflow_steps", "Steps this process committed, by outcome.", labels=["outcome"]
        )
        for outcome, n in sorted(g.steps.items()):
            steps.add_metric([outcome], n)
        refusals = CounterMetricFamily(
            "opsflow_refusals", "Refused fires (audited as denied), by code.", labels=["code"]
        )
        for code, n in sorted(g.refusals.items()):
            refusals.add_metric([code], n)
        outbox = GaugeMetricFamily(
            "opsflow_outbox_notifications", "Notifications waiting or failed.", labels=["status"]
        )
        for status, n in sorted(g.outbox.items()):
            outbox.add_metric([status], n)
        yield from (steps, refusals, outbox)
        yield GaugeMetricFamily(
            "opsflow_outbox_oldest_pending_seconds",
            "Age of the oldest notification not yet delivered.",
            value=g.outbox_oldest_pending_seconds,
        )
        yield GaugeMetricFamily(
            "opsflow_deadlines_overdue",
            "Deadlines due and not yet fired.",
            value=g.deadlines_overdue,
        )
        yield GaugeMetricFamily(
            "opsflow_worker_lag_seconds",
            "How long the oldest due deadline has waited for a worker.",
            value=g.worker_lag_seconds,
        )
        yield GaugeMetricFamily(
            "opsflow_incidents_open", "Incidents open or being retried.", value=g.incidents_open
        )


class Metrics:
    """The service's Prometheus metrics (one registry per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "opsflow_http_requests",
            "HTTP requests answered, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "opsflow_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["method", "route"],
            registry=self.registry,
        )


class Measure:
    """ASGI middleware counting each request by its route template and timing it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route_of(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def _route_of(scope: dict[str, Any] | Scope) -> str:
    """The matched route's template (``/v1/cases/{case_id}``): one label per route, not per id."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
