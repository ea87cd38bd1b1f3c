"""Follows one order back to the tick that caused it and forward to its fills, from the log alone.

Every derived event carries its input's event time and names its cause:
order ``intent_id`` -> intent ``signal_id`` -> signal ``causation_id`` (the
tick's event id). So each step is found by a time lookup on its topic's
partition (the order's partition: everything is keyed by symbol) and a scan of
the records stamped that millisecond. The order's later events are read
forward until it is done: a terminal order event, its full quantity filled, or
its expiry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from contract.events import (
    Event,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderIntent,
    OrderRejected,
    Signal,
)
from contract.records import RawRecord, decode
from contract.serde import EventCodec
from contract.topics import (
    FILLS,
    INPUTS,
    INTENTS,
    ORDERS,
    SIGNALS,
    Namespace,
    TopicSpec,
)
from eventlog.consumer import LogReader

TERMINAL = (OrderDenied, OrderRejected, OrderCanceled, OrderExpired)


@dataclass(frozen=True, slots=True)
class TraceStep:
    role: str  # tick, signal, intent, order, fill
    record: RawRecord
    event: Event


@dataclass
class Trace:
    order_id: str
    steps: list[TraceStep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _events(reader: LogReader, codec: EventCodec, topic: str, partition: int, start: int, end: int) -> Iterator[tuple[RawRecord, Event]]:
    for batch in reader.read(topic, {partition: (start, end)}):
        for record in batch:
            yield record, decode(codec, record)


def _at_time(
    reader: LogReader, codec: EventCodec, topic: str, partition: int, time_ms: int, wanted: Callable[[Event], bool]
) -> tuple[RawRecord, Event] | None:
    """The first record stamped ``time_ms`` whose event ``wanted`` accepts."""
    start = reader.offsets_at(topic, time_ms)[partition]
    end = reader.offsets_at(topic, time_ms + 1)[partition]
    return next(((r, e) for r, e in _events(reader, codec, topic, partition, start, end) if wanted(e)), None)


def find_order(reader: LogReader, codec: EventCodec, namespace: Namespace, order_id: str) -> tuple[RawRecord, OrderInitialized] | None:
    topic = namespace.topic(ORDERS)
    for partition, bounds in sorted(reader.watermarks(topic).items()):
        for record, event in _events(reader, codec, topic, partition, *bounds):
            if isinstance(event, OrderInitialized) and event.order_id == order_id:
                return record, event
    return None


def trace_order(reader: LogReader, codec: EventCodec, namespace: Namespace, order_id: str) -> Trace:
    trace = Trace(order_id)
    found = find_order(reader, codec, namespace, order_id)
    if found is None:
        trace.problems.append(f"no OrderInitialized with order_id {order_id} on {namespace.topic(ORDERS)}")
        return trace
    order_record, order = found
    partition, when = order_record.partition, order.event_time_ms

    def back(spec: TopicSpec, role: str, event_id: str | None) -> Event | None:
        """The cause, stamped the same millisecond as the order (it was derived from the same input)."""
        step = _at_time(reader, codec, namespace.topic(spec), partition, when, lambda e: e.event_id == event_id)
        if step is None:
            trace.problems.append(f"{role} {event_id} not found on {namespace.topic(spec)}[{partition}] at {when}")
            return None
        trace.steps.append(TraceStep(role, *step))
        return step[1]

    intent = back(INTENTS, "intent", order.intent_id)
    signal = back(SIGNALS, "signal", intent.signal_id) if isinstance(intent, OrderIntent) else None
    if isinstance(signal, Signal):
        back(INPUTS, "tick", signal.envelope.causation_id)
    trace.steps.append(TraceStep("order", order_record, order))
    _forward(reader, codec, namespace, trace, order_record, order)
    return trace


def _forward(reader: LogReader, codec: EventCodec, namespace: Namespace, trace: Trace, record: RawRecord, order: OrderInitialized) -> None:
    """The order's later events and its fills, until the order is done."""
    partition = record.partition
    fills_topic = namespace.topic(FILLS)
    filled = Decimal(0)
    last_fill_ms = None
    fills_end = reader.watermarks(fills_topic)[partition][1]
    for fill_record, event in _events(reader, codec, fills_topic, partition, reader.offsets_at(fills_topic, order.event_time_ms)[partition], fills_end):
        if order.expire_time_ms is not None and fill_record.timestamp_ms > order.expire_time_ms:
            break
        if isinstance(event, OrderFilled) and event.order_id == order.order_id:
            trace.steps.append(TraceStep("fill", fill_record, event))
            filled += event.last_qty
            last_fill_ms = fill_record.timestamp_ms
            if filled >= order.quantity:
                break
    done_by = last_fill_ms if filled >= order.quantity else order.expire_time_ms
    orders_topic = namespace.topic(ORDERS)
    orders_end = reader.watermarks(orders_topic)[partition][1]
    later = []
    for order_record, event in _events(reader, codec, orders_topic, partition, record.offset + 1, orders_end):
        if done_by is not None and order_record.timestamp_ms > done_by:
            break
        if getattr(event, "order_id", None) == order.order_id:
            later.append(TraceStep("order", order_record, event))
            if isinstance(event, TERMINAL):
                break
    trace.steps += later
    # Causal order: time first; within a millisecond, tick -> signal -> intent -> order -> fill.
    trace.steps.sort(key=lambda s: (s.record.timestamp_ms, _ROLE_ORDER[s.role]))


_ROLE_ORDER = {"tick": 0, "signal": 1, "intent": 2, "order": 3, "fill": 4}
