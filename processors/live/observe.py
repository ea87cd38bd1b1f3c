"""The kernel worker's metrics: read off each flushed batch, never from inside the pure kernel.

Everything is taken from what a batch derived (dead letters, risk denials, applied trading states, fills) once
the broker acknowledged it, so the kernel stays free of clocks and metrics, and the per-record cost in the worker
is one list append; the counting happens once per batch.

Tick -> fill latency: an order chain starts at the input whose apply derived its ``OrderIntent`` (its correlation
id names the chain). That input's event time and its ingest wall-clock header (``aitrader-ingest-wall-ms``) are
remembered by correlation id; a fill of the chain, once acknowledged, observes its event time and the wall clock
against them. Chains started before this worker took the partition (a restart, a rebalance) are not observed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from contract.events import (
    DeadLettered,
    OrderDenied,
    OrderFilled,
    OrderIntent,
    TradingState,
    TradingStateApplied,
)
from contract.records import RawRecord
from eventlog.metrics import ProcessMetrics, ingest_wall_ms
from inference.models import ScorerResolver, load_scorer
from inference.scorer import Scorer
from kernel.runner import Routed

OPEN_CHAINS = 10_000  # chains remembered for the latency metrics; the oldest go first (fills come within seconds)
SEVERITY = (TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED)
ACCOUNT_WIDE = "*"

Applied = tuple[RawRecord, Sequence[Routed]]


class BatchObserver:
    """Updates a worker's ``ProcessMetrics`` from each batch it flushed."""

    def __init__(self, metrics: ProcessMetrics) -> None:
        self.metrics = metrics
        self._chains: OrderedDict[str, tuple[int, int | None]] = OrderedDict()  # correlation id -> (tick ms, ingest wall ms)

    def flushed(self, applied: Sequence[Applied], acked: Mapping[str, int], seconds: float) -> None:
        """One batch, acknowledged by the broker just now after ``seconds``: ``applied`` holds each input and what it derived."""
        acked_ms = time.time_ns() // 1_000_000
        metrics = self.metrics
        metrics.observe_batch(seconds)
        counts: dict[tuple[str, int], int] = {}
        for record, _ in applied:
            counts[(record.topic, record.partition)] = counts.get((record.topic, record.partition), 0) + 1
        for (topic, partition), n in counts.items():
            metrics.count_inputs(topic, partition, n)
        metrics.count_outputs(acked)
        for record, derived in applied:
            for routed in derived:
                event = routed.event
                if isinstance(event, OrderFilled):
                    self._fill(event, acked_ms)
                elif isinstance(event, OrderIntent):
                    self._chains[event.envelope.correlation_id] = (record.timestamp_ms, ingest_wall_ms(record))
                    if len(self._chains) > OPEN_CHAINS:
                        self._chains.popitem(last=False)
                elif isinstance(event, OrderDenied):
                    metrics.risk_refusals.labels(event.reason).inc()
                elif isinstance(event, DeadLettered):
                    metrics.count_dead_letters([event.error_type])
                elif isinstance(event, TradingStateApplied):
                    self._trading_state(event)

    def _fill(self, fill: OrderFilled, acked_ms: int) -> None:
        chain = self._chains.get(fill.envelope.correlation_id)
        if chain is None:
            return
        tick_ms, wall_ms = chain
        self.metrics.tick_to_fill_event.observe((fill.event_time_ms - tick_ms) / 1000)
        if wall_ms is not None:
            self.metrics.tick_to_fill_wall.observe(max(acked_ms - wall_ms, 0) / 1000)

    def _trading_state(self, applied: TradingStateApplied) -> None:
        """Each symbol's state as it trades under it: the more severe of its own and its partition's."""
        states = {ACCOUNT_WIDE: applied.partition_state}
        for symbol, own in applied.symbol_states.items():
            states[symbol] = max(TradingState(own), applied.partition_state, key=SEVERITY.index)
        for symbol, state in states.items():
            for each in SEVERITY:
                self.metrics.trading_state.labels(symbol, each.value).set(1 if each is state else 0)


class TimedScorer:
    """A scorer that times each scoring call and says which scorer is in use; scores are the wrapped one's, untouched."""

    def __init__(self, scorer: Scorer, metrics: ProcessMetrics) -> None:
        self.scorer = scorer
        self.metrics = metrics
        self._announce()

    def __getattr__(self, name: str) -> object:
        return getattr(self.scorer, name)  # name, version, sha256, provider... as the wrapped scorer has them now

    def _announce(self) -> None:
        # Read after each call: a GPU path that failed hands over to the next one, and the path label follows.
        self.metrics.scorer_in_use(self.scorer.name, self.scorer.version, self.scorer.provider)

    def score(self, features: Mapping[str, float]) -> Decimal:
        return self.score_batch([features])[0]

    def score_batch(self, rows: Sequence[Mapping[str, float]]) -> list[Decimal]:
        started = time.perf_counter()
        scores = self.scorer.score_batch(rows)
        self.metrics.scorer_batch_seconds.labels(self.scorer.provider).observe(time.perf_counter() - started)
        self._announce()
        return scores


def timed_resolver(metrics: ProcessMetrics) -> ScorerResolver:
    """``load_scorer`` for models activated on the log, timed and announced like the starting one."""
    return lambda spec: TimedScorer(load_scorer(spec), metrics)
