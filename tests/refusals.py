"""A log with both kinds of refused order, for the projection, API and audit tests.

``publish_refusals`` seeds the start of the sample day under ``risk.max_order_qty=0``,
so the kernel denies its first intents (``OrderDenied``, MAX_ORDER_QTY), and
appends an order refused the old way: its ``OrderInitialized`` and the very
bytes of the ``OrderRejected`` the kernel wrote for a risk refusal before
``OrderDenied`` existed, as an old log holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contract.events import (
    Envelope,
    OrderDenied,
    OrderInitialized,
    OrderRejected,
    OrderType,
    Side,
    TimeInForce,
)
from contract.partitioner import partition_for
from contract.records import decode
from contract.serde import EventCodec
from contract.topics import ORDERS, Namespace
from eventlog.consumer import LogReader
from eventlog.producer import EventProducer
from tests.seed import sample_ticks, seed

# An OrderRejected as the kernel wrote it for a risk refusal before OrderDenied existed (bytes taken from that code).
OLD_RISK_REJECTION = bytes.fromhex(
    "c301fb7988bcf36a72244835623166336135322d366631652d356430652d396133652d326637633164346238653031f6e09fc09c50"
    "186b65726e656c2f302e312e30024830633665316432612d336234662d356136622d386337642d3965306631613262336334644837"
    "643865396630612d316232632d356433652d386634612d3562366337643865396630614839613862376336642d356534662d3561"
    "33622d386332642d3165306639613862376336640445531a4d41585f4f524445525f515459207175616e74697479203132203e203130"
)
OLD_INTENT_ID = "1f2e3d4c-5b6a-5978-8a9b-0c1d2e3f4a5b"
DENYING = {"risk.max_order_qty": "0"}
TICKS = 3_600  # the sample day's first intent comes at its 3,513th tick


@dataclass(frozen=True)
class Refusals:
    denied: list[OrderDenied]  # what the kernel derived, in log order
    old_rejection: OrderRejected  # decoded from OLD_RISK_REJECTION


def old_rejection_with_its_order() -> tuple[OrderInitialized, OrderRejected]:
    """The old refusal and the order it refused (its terms are made up; only its ids and time must fit)."""
    rejected = EventCodec().decode(OLD_RISK_REJECTION)
    assert isinstance(rejected, OrderRejected)
    cause = rejected.envelope.causation_id
    assert cause is not None
    initialized = OrderInitialized(
        Envelope(cause, rejected.event_time_ms, rejected.envelope.producer, None, rejected.envelope.correlation_id),
        rejected.order_id, OLD_INTENT_ID, rejected.symbol, Side.BUY, OrderType.MARKET, Decimal(12), None,
        TimeInForce.GTC, None,
    )
    return initialized, rejected


def publish_refusals(bootstrap: str, namespace: Namespace) -> Refusals:
    report = seed(bootstrap, namespace, sample_ticks(limit=TICKS), DENYING)
    assert report.derived["OrderDenied"] > 0 and report.derived["OrderAccepted"] == 0, report.derived
    initialized, rejected = old_rejection_with_its_order()
    producer = EventProducer(bootstrap, namespace)
    partition = partition_for(rejected.symbol, ORDERS.partitions)
    producer.send(ORDERS, rejected.symbol, initialized, partition=partition)
    producer.send_raw(namespace.topic(ORDERS), rejected.symbol.encode(), OLD_RISK_REJECTION, rejected.event_time_ms, partition=partition)
    producer.flush()
    codec = EventCodec()
    topic = namespace.topic(ORDERS)
    with LogReader(bootstrap) as reader:
        events = [decode(codec, r) for batch in reader.read(topic, reader.watermarks(topic)) for r in batch]
    return Refusals([e for e in events if isinstance(e, OrderDenied)], rejected)
