"""Prometheus metrics of the long-running processes (processors, projector, notary, monitor, api).

The names and labels are a contract: the Grafana dashboard and the alert rules under ``deploy/`` name them, so
they change only together. Each process makes one ``ProcessMetrics``: every metric of the contract lives in that
object's own ``CollectorRegistry``, never in prometheus-client's global one, so starting a process twice in one
interpreter (the tests do) registers nothing twice, and two processes in one interpreter count apart.

Latencies here are wall-clock time: metrics are where the wall clock belongs. Nothing here is ever written into
an event (derived bytes stay a function of the log).

It lives in the log layer because every process above it (processors, projections, api) uses it, and the pure
packages below never may (an import-linter contract forbids them ``prometheus_client``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import start_http_server

from contract.records import INGEST_WALL_HEADER, RawRecord

# No `*_created` series: they double every counter's series and the dashboard uses none of them.
disable_created_metrics()

PROCESSES = ("processors", "projector", "notary", "monitor", "api")
HOST_ENV = "AITRADER_METRICS_HOST"  # where --metrics-port listens; 127.0.0.1 unless a deployment says otherwise
LATENCY_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SCORING_BUCKETS_S = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class ProcessMetrics:
    """Every metric of the contract, in a registry of this process's own; ``process`` labels the shared ones."""

    def __init__(self, process: str) -> None:
        if process not in PROCESSES:
            raise ValueError(f"process must be one of {PROCESSES}, not {process!r}")
        self.process = process
        self.registry = CollectorRegistry()
        self._server: WSGIServer | None = None
        self._scorer: tuple[str, str, str] | None = None
        registry = self.registry
        self.inputs = Counter(
            "aitrader_inputs", "Records consumed and processed.", ["process", "topic", "partition"], registry=registry
        )
        self.outputs = Counter("aitrader_outputs", "Records produced and acknowledged.", ["process", "topic"], registry=registry)
        self.batch_seconds = Histogram(
            "aitrader_batch_seconds", "Wall time of one apply/produce/flush/commit step.", ["process"],
            buckets=LATENCY_BUCKETS_S, registry=registry,
        )
        self.consumer_lag = Gauge(
            "aitrader_consumer_lag", "End offset minus the committed (or next) offset.", ["process", "topic", "partition"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "aitrader_dead_letters", "Records sent to the dead-letter topic, by reason.", ["process", "reason"], registry=registry
        )
        self.risk_refusals = Counter(
            "aitrader_risk_refusals", "Orders refused by risk, by the failing check.", ["check"], registry=registry
        )
        self.trading_state = Gauge(
            "aitrader_trading_state", "1 for the state the kernel applied for the symbol ('*': account-wide), 0 for the others.",
            ["symbol", "state"], registry=registry,
        )
        self.tick_to_fill_event = Histogram(
            "aitrader_tick_to_fill_event_seconds", "Fill event time minus the causing tick's event time.",
            buckets=LATENCY_BUCKETS_S, registry=registry,
        )
        self.tick_to_fill_wall = Histogram(
            "aitrader_tick_to_fill_wall_seconds",
            "Wall clock when the fill is acknowledged minus the causing tick's ingest wall-clock header.",
            buckets=LATENCY_BUCKETS_S, registry=registry,
        )
        self.scorer_info = Gauge(
            "aitrader_scorer_info", "1 for the scorer in use.", ["model", "version", "path"], registry=registry
        )
        self.scorer_batch_seconds = Histogram(
            "aitrader_scorer_batch_seconds", "Wall time of one scoring call.", ["path"], buckets=SCORING_BUCKETS_S, registry=registry
        )
        self.projection_lag = Gauge(
            "aitrader_projection_lag", "Records the projector has not yet applied.", ["topic", "partition"], registry=registry
        )
        self.projection_stopped = Gauge(
            "aitrader_projection_stopped", "1 while the projector is stopped at a record it refuses, else 0.", registry=registry
        )
        self.api_request_seconds = Histogram(
            "aitrader_api_request_seconds", "API latency per route template.", ["method", "route"],
            buckets=LATENCY_BUCKETS_S, registry=registry,
        )
        self.api_requests = Counter(
            "aitrader_api_requests", "API requests.", ["method", "route", "status"], registry=registry
        )
        self.broker_disk_free = Gauge(
            "aitrader_broker_disk_free_bytes", "Free bytes on the filesystem holding the broker's data directory.", ["path"],
            registry=registry,
        )

    # --- exposition -------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text format of this process's metrics."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str | None = None) -> str:
        """Serves ``/metrics`` on ``port`` (0: any free one) in a daemon thread; returns its URL."""
        if port < 0:
            raise ValueError(f"a metrics port is 0 (any free port) or a port number, not {port}")
        host = host or os.environ.get(HOST_ENV, "127.0.0.1")
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        return f"http://{host}:{self._server.server_port}/metrics"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- what the processes report ----------------------------------------------

    def count_inputs(self, topic: str, partition: int, records: int) -> None:
        """Counts consumed records of one partition (once per batch, not per record)."""
        self.inputs.labels(self.process, topic, str(partition)).inc(records)

    def count_outputs(self, acked: Mapping[str, int]) -> None:
        """Counts records the broker acknowledged, per topic (``EventProducer.take_acked()``)."""
        for topic, n in acked.items():
            self.outputs.labels(self.process, topic).inc(n)

    def count_dead_letters(self, reasons: Iterable[str]) -> None:
        for reason in reasons:
            self.dead_letters.labels(self.process, reason).inc()

    def set_lag(self, topic: str, lags: Mapping[int, int]) -> None:
        for partition, lag in lags.items():
            self.consumer_lag.labels(self.process, topic, str(partition)).set(max(lag, 0))

    def observe_batch(self, seconds: float) -> None:
        """One apply/produce/flush/commit step took ``seconds`` of wall time."""
        self.batch_seconds.labels(self.process).observe(seconds)

    def scorer_in_use(self, model: str, version: str, path: str) -> None:
        """The scorer that scored last is the one in use (an activation or a GPU fallback moves the 1)."""
        if (model, version, path) != self._scorer:
            self.scorer_info.clear()
            self.scorer_info.labels(model, version, path).set(1)
            self._scorer = (model, version, path)

    def observe_disk(self, path: Path) -> None:
        """Free bytes under ``path`` (the broker's data directory, or its nearest existing parent)."""
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        self.broker_disk_free.labels(str(path)).set(shutil.disk_usage(existing).free)


def ingest_wall_ms(record: RawRecord) -> int | None:
    """The ingest wall-clock header of a record, None when it has none (not from `aitrader ingest`) or it is garbled."""
    for key, value in record.headers:
        if key == INGEST_WALL_HEADER and value is not None:
            try:
                return int(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                return None
    return None


def ingest_wall_header() -> dict[str, bytes]:
    """The header `aitrader ingest` puts on a record it produces now."""
    return {INGEST_WALL_HEADER: str(time.time_ns() // 1_000_000).encode("ascii")}
