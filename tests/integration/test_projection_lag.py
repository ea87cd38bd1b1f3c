"""The projector's lag gauges count what the log holds past what it applied, not past the ends its pass set out to read.

A pass reads each topic to the ends it saw when it reached that topic. Records appended meanwhile used to count
as no lag: CI's metrics test once scraped ``aitrader_projection_lag`` 0 on the inputs while the projector had
applied 13,795 of the 30,000 on the log, so an operator's lag alert would have stayed quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from contract.events import Envelope, Signal
from contract.ids import id_from_parts
from contract.partitioner import partition_for
from contract.topics import SIGNALS, SYMBOL_PARTITIONS, Namespace
from eventlog.metrics import ProcessMetrics
from eventlog.producer import EventProducer
from projections.projector import BatchReport, Projector
from tests.metric_scrape import parse, value
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

ES_PARTITION = partition_for("ES", SYMBOL_PARTITIONS)
START_MS = 1378184425350  # 2013-09-03, inside the ES session
FIRST, APPENDED = 6, 4


def _signal(n: int) -> Signal:
    event_id = id_from_parts("test-lag-signal", n)
    return Signal(Envelope(event_id, START_MS + n, "test", None, event_id), "ES", "p", Decimal("0.5"), {"x": 1.0})


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = fresh_schema(database_url, "test")
    yield name
    drop_with_companions(database_url, name)


def test_records_appended_while_a_pass_reads_a_topic_count_as_lag(
    kafka_bootstrap: str, database_url: str, schema: str, namespace: Namespace
) -> None:
    producer = EventProducer(kafka_bootstrap, namespace)

    def send(numbers: range) -> None:
        for n in numbers:
            producer.send(SIGNALS, "ES", _signal(n), partition=ES_PARTITION)
        producer.flush()

    send(range(FIRST))
    metrics = ProcessMetrics("projector")

    appended: list[BatchReport] = []

    def append_after_the_first_batch(report: BatchReport) -> None:
        if report.topic == namespace.topic(SIGNALS) and not appended:
            appended.append(report)
            send(range(FIRST, FIRST + APPENDED))

    projector = Projector(kafka_bootstrap, database_url, schema, namespace, batch_size=FIRST // 2, metrics=metrics)
    projector.run(stop_at_end=True, on_batch=append_after_the_first_batch)  # one pass, to the ends it began with

    assert appended, "the pass never read the signals"
    found = parse(metrics.render().decode())
    labels = {"topic": namespace.topic(SIGNALS), "partition": str(ES_PARTITION)}
    assert value(found, "aitrader_inputs_total", **labels) == FIRST
    assert value(found, "aitrader_projection_lag", **labels) == APPENDED
    assert value(found, "aitrader_consumer_lag", process="projector", **labels) == APPENDED
