"""The worker's consumer-lag gauge is observability: a broker that cannot answer never stops the worker.

The gauge task asks the broker every few seconds. A broker restarting (or a
topic whose metadata the client does not know yet) answers with an error;
that must leave the gauge as it was and be asked again, never crash the Faust
app: a crashed app stops the worker (or hangs it in its shutdown commit).
Here the worker's input topic does not exist when the task starts (the same
error path a restarting broker takes), then is created: the gauge appears.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from types import SimpleNamespace
from typing import Any, cast

from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.metrics import ProcessMetrics
from inference.baseline import BaselineScorer
from kernel.settings import KernelSettings
from processors.live.app import LiveWorker, PipelineConfig

APPEARS_S = 60.0


def _lags(metrics: ProcessMetrics, topic: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "aitrader_consumer_lag" and sample.labels["topic"] == topic:
                found[sample.labels["partition"]] = sample.value
    return found


def test_the_lag_gauge_outlives_a_broker_that_cannot_answer_and_recovers(kafka_bootstrap: str) -> None:
    namespace = Namespace(f"test.{secrets.token_hex(4)}.")
    metrics = ProcessMetrics("processors")
    config = PipelineConfig(kafka_bootstrap, namespace, KernelSettings.parse(), BaselineScorer(), end_offsets={}, metrics=metrics)
    worker = LiveWorker(config)
    app = SimpleNamespace(should_stop=False)  # the one attribute of the Faust app the task reads
    topic = namespace.topic(INPUTS)

    async def scenario() -> dict[str, float]:
        task = asyncio.create_task(worker._report_lag(cast(Any, app)))
        await asyncio.sleep(3.0)  # at least one pass asked for a topic the broker does not have
        assert not task.done(), f"the gauge task ended on a broker error: {task.exception() if task.done() else ''}"
        assert _lags(metrics, topic) == {}, "a gauge was set from an answer the broker never gave"
        TopicAdmin(kafka_bootstrap, namespace).create()
        deadline = time.monotonic() + APPEARS_S
        while not _lags(metrics, topic) and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.5)
        app.should_stop = True
        await asyncio.wait_for(task, APPEARS_S)  # ends cleanly once asked to stop; re-raises if it failed
        return _lags(metrics, topic)

    try:
        lags = asyncio.run(scenario())
    finally:
        TopicAdmin(kafka_bootstrap, namespace).delete(CATALOG)
    assert lags == {str(p): 0.0 for p in range(INPUTS.partitions)}
