"""Request counts and latencies per route template, in the API process's ``ProcessMetrics`` (``/metrics``, no key needed).

Latency is wall-clock time: metrics are where the wall clock belongs.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventlog.metrics import ProcessMetrics


class ApiMetrics:
    def __init__(self) -> None:
        self.metrics = ProcessMetrics("api")  # one registry per app: two apps in one test process count apart

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.metrics.api_requests.labels(method, route, str(status)).inc()
        self.metrics.api_request_seconds.labels(method, route).observe(seconds)

    def response(self) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware counting every HTTP request (plain ASGI: no per-request task or stream)."""

        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500  # what the server answers when the app fails before it starts a response

            async def send_seen(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await app(scope, receive, send_seen)
            route = scope.get("route")  # the router sets it on this same scope
            # Route templates keep the label set small; every request no route took (unknown paths, refusals before
            # routing) counts as one, so a client's raw path never becomes a label.
            label = route.path if route is not None else "unmatched"
            self.observe(scope["method"], label, status, time.perf_counter() - started)

        return counted
