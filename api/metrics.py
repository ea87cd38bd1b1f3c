"""Request counts and latencies per route template, in the API process's ``ProcessMetrics`` (``/metrics``, no key needed).

Latency is wall-clock time: metrics are where the wall clock belongs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from eventlog.metrics import ProcessMetrics


class ApiMetrics:
    def __init__(self) -> None:
        self.metrics = ProcessMetrics("api")  # one registry per app: two apps in one test process count apart

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.metrics.api_requests.labels(method, route, str(status)).inc()
        self.metrics.api_request_seconds.labels(method, route).observe(seconds)

    def response(self) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # Route templates keep the label set small; every request no route took (unknown paths, refusals before
        # routing) counts as one, so a client's raw path never becomes a label.
        label = route.path if route is not None else "unmatched"
        self.observe(request.method, label, response.status_code, time.perf_counter() - started)
        return response
