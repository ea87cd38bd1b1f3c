"""Request counts and latencies in the Prometheus text format, at /metrics (no key needed).

Latency is wall-clock time: metrics are where the wall clock belongs.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, int], int] = defaultdict(int)
        self._sum: dict[tuple[str, str], float] = defaultdict(float)
        self._hist: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS_S) + 1))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._count[(method, route, status)] += 1
            self._sum[(method, route)] += seconds
            hist = self._hist[(method, route)]
            hist[next((i for i, b in enumerate(BUCKETS_S) if seconds <= b), len(BUCKETS_S))] += 1

    def render(self) -> str:
        lines = ["# TYPE aitrader_api_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self._count.items()):
                lines.append(f'aitrader_api_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
            lines.append("# TYPE aitrader_api_request_seconds histogram")
            for (method, route), hist in sorted(self._hist.items()):
                labels = f'method="{method}",route="{route}"'
                running = 0
                for bound, n in zip((*map(str, BUCKETS_S), "+Inf"), hist):
                    running += n
                    lines.append(f'aitrader_api_request_seconds_bucket{{{labels},le="{bound}"}} {running}')
                lines.append(f"aitrader_api_request_seconds_sum{{{labels}}} {self._sum[(method, route)]:.6f}")
                lines.append(f"aitrader_api_request_seconds_count{{{labels}}} {running}")
        return "\n".join(lines) + "\n"

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # Route templates keep the label set small; every request no route took (unknown paths, refusals before
        # routing) counts as one, so a client's raw path never becomes a label.
        label = route.path if route is not None else "unmatched"
        self.observe(request.method, label, response.status_code, time.perf_counter() - started)
        return response
